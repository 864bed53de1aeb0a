// Command go-client is a procworker client in Go, on stubs that buf generates from the
// project's protos (examples/go/gen/). It spawns a counter@1.0 process, schedules
// messages, follows the process with Subscribe, awaits a slot before it is scheduled,
// cancels the stream, lets a deadline pass, shows how status codes arrive and stops the
// process. It checks every answer and prints one line per check; the exit code is 1 when
// any check failed.
//
//	go run . -address 127.0.0.1:50051
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	pb "procworker/examples/go/gen/procworker/v1"
)

// deadline bounds every call but Subscribe, which is open-ended and ends by cancellation.
const deadline = 10 * time.Second

func main() {
	address := flag.String("address", "127.0.0.1:50051", "host:port of a procworker server")
	flag.Parse()

	// NewClient connects lazily: the first call dials, and fails with UNAVAILABLE if
	// nothing listens there.
	conn, err := grpc.NewClient(*address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-client:", err)
		os.Exit(2)
	}
	c := &checks{}
	run(pb.NewProcessWorkerServiceClient(conn), c)
	conn.Close()
	if c.failed > 0 {
		fmt.Printf("go client: %d of %d checks failed\n", c.failed, c.total)
		os.Exit(1)
	}
	fmt.Printf("go client: all %d checks passed\n", c.total)
}

// call is the context of one call with the client's deadline.
func call() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), deadline)
}

func run(client pb.ProcessWorkerServiceClient, c *checks) {
	// Spawn. A process is its spawn message, and its id is that message's id: spawning the
	// same definition again gives the same process. The Run tag makes each run's process new.
	tags := map[string]string{
		"Execution-Device": "counter@1.0",
		"Initial":          "10",
		"Run":              time.Now().UTC().Format(time.RFC3339Nano),
	}
	ctx, cancel := call()
	spawned, err := client.Spawn(ctx, &pb.SpawnRequest{Process: &pb.Message{Tags: tags}})
	cancel()
	c.must("Spawn", err)
	pid := spawned.GetProcessId()
	c.equal("Spawn: the process id is the spawn message's id", pid, MessageID(tags, nil))

	// Schedule appends messages atomically, each at the next slot; the reply means they
	// are durable. Slots are uint64, bytes are []byte.
	msgs := []*pb.Message{
		{Tags: map[string]string{"Amount": "5"}},
		{Tags: map[string]string{"Amount": "2"}, Data: []byte("hi")},
	}
	ctx, cancel = call()
	scheduled, err := client.Schedule(ctx, &pb.ScheduleRequest{ProcessId: pid, Messages: msgs})
	cancel()
	c.must("Schedule", err)
	c.equal("Schedule: slots and message ids", assignments(scheduled.GetAssignments()),
		[]string{"1 " + MessageID(msgs[0].Tags, nil), "2 " + MessageID(msgs[1].Tags, msgs[1].Data)})

	// Subscribe: the stored results from FromSlot, then each new one as it completes. It
	// never ends by itself, so it has no deadline: cancelling its context ends it.
	// MaxResultsPerResponse lets a response carry several results (in Results, not Result):
	// far cheaper for the server when catching up, and a live result still comes at once.
	subCtx, cancelSub := context.WithCancel(context.Background())
	defer cancelSub()
	sub, err := client.Subscribe(subCtx, &pb.SubscribeRequest{
		ProcessId: pid, FromSlot: 0, MaxResultsPerResponse: proto.Uint32(64),
	})
	c.must("Subscribe", err)
	results := make(chan *pb.SlotResult, 16)
	ended := make(chan error, 1)
	go func() {
		for {
			res, err := sub.Recv()
			if err != nil {
				ended <- err // io.EOF for a stream the server ended, a status otherwise
				return
			}
			for _, r := range res.GetResults() {
				results <- r
			}
		}
	}()
	c.equal("Subscribe: the stored slots", totals(receive(results, 3)), []string{"0 10", "1 15", "2 17"})

	// Await a slot that is not scheduled yet: the server holds the call until the slot is
	// computed (or the deadline passes).
	type awaitReply struct {
		res *pb.AwaitResponse
		err error
	}
	awaited := make(chan awaitReply, 1)
	go func() {
		ctx, cancel := call()
		defer cancel()
		res, err := client.Await(ctx, &pb.AwaitRequest{ProcessId: pid, Slot: proto.Uint64(3)})
		awaited <- awaitReply{res, err}
	}()
	ctx, cancel = call()
	_, err = client.Schedule(ctx, &pb.ScheduleRequest{ProcessId: pid, Messages: []*pb.Message{
		{Tags: map[string]string{"Amount": "3"}},
	}})
	cancel()
	c.must("Schedule slot 3", err)
	reply := <-awaited // the Await's own deadline bounds this wait
	c.code("Await slot 3", reply.err, codes.OK)
	c.equal("Await: slot 3's result", totals([]*pb.SlotResult{reply.res.GetResult()}), []string{"3 20"})
	c.equal("Subscribe: the live slot", totals(receive(results, 1)), []string{"3 20"})

	// Cancelling the stream's context ends it on both sides; Recv returns CANCELED.
	cancelSub()
	c.code("Subscribe: the cancelled stream", <-ended, codes.Canceled)

	// A deadline that passes: nobody schedules slot 4.
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err = client.Await(ctx, &pb.AwaitRequest{ProcessId: pid, Slot: proto.Uint64(4)})
	cancel()
	c.code("Await an unscheduled slot for 200 ms", err, codes.DeadlineExceeded)

	// Errors are gRPC statuses (status.Code(err)); a stream's arrives from Recv.
	ctx, cancel = call()
	stream, err := client.Compute(ctx, &pb.ComputeRequest{ProcessId: pid, Slot: proto.Uint64(math.MaxUint64)})
	if err == nil {
		_, err = stream.Recv()
	}
	cancel()
	c.code("Compute to slot 2^64-1", err, codes.OutOfRange)

	ctx, cancel = call()
	_, err = client.Schedule(ctx, &pb.ScheduleRequest{
		ProcessId: MessageID(map[string]string{"Note": "never spawned"}, nil),
		Messages:  []*pb.Message{{}},
	})
	cancel()
	c.code("Schedule to a process never spawned", err, codes.NotFound)

	// ListWorkers: the live workers (other clients' ones too). AtSlot is an optional
	// uint64: nil (absent) is not slot 0.
	ctx, cancel = call()
	workers, err := client.ListWorkers(ctx, &pb.ListWorkersRequest{})
	cancel()
	c.must("ListWorkers", err)
	listed := "not listed"
	for _, w := range workers.GetWorkers() {
		if w.GetProcessId() == pid {
			listed = fmt.Sprintf("%s at slot %s", w.GetState(), slot(w.AtSlot))
		}
	}
	c.equal("ListWorkers: this process's worker", listed, "idle at slot 3")

	// Stop: the worker snapshots and ends; the next request for the process restores it.
	ctx, cancel = call()
	stopped, err := client.Stop(ctx, &pb.StopRequest{ProcessId: pid})
	cancel()
	c.must("Stop", err)
	c.equal("Stop", fmt.Sprintf("stopped %v at slot %s", stopped.GetStopped(), slot(stopped.AtSlot)),
		"stopped true at slot 3")
}

// receive takes n results from the subscription, or fewer if they do not come in time.
func receive(results <-chan *pb.SlotResult, n int) []*pb.SlotResult {
	var got []*pb.SlotResult
	timeout := time.After(deadline)
	for len(got) < n {
		select {
		case r := <-results:
			got = append(got, r)
		case <-timeout:
			return got
		}
	}
	return got
}

// totals describes results as "slot Total" (a counter's output also carries the total as
// its data bytes), or "slot error: …" for a slot that failed.
func totals(results []*pb.SlotResult) []string {
	out := []string{}
	for _, r := range results {
		switch total := r.GetOutput().GetTags()["Total"]; {
		case r.GetError() != nil:
			out = append(out, fmt.Sprintf("%d error: %s", r.GetSlot(), r.GetError().GetMessage()))
		case string(r.GetOutput().GetData()) != total:
			out = append(out, fmt.Sprintf("%d %s (data %q)", r.GetSlot(), total, r.GetOutput().GetData()))
		default:
			out = append(out, fmt.Sprintf("%d %s", r.GetSlot(), total))
		}
	}
	return out
}

func assignments(as []*pb.Assignment) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, fmt.Sprintf("%d %s", a.GetSlot(), a.GetMessageId()))
	}
	return out
}

// slot prints an optional uint64 slot: "none" when absent.
func slot(s *uint64) string {
	if s == nil {
		return "none"
	}
	return fmt.Sprint(*s)
}
