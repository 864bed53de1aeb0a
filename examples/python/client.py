#!/usr/bin/env python3
"""A procworker client in Python, on stubs generated from the project's protos.

    python3 -m venv .venv && .venv/bin/pip install -r examples/python/requirements.txt
    PYTHON=.venv/bin/python examples/python/generate.sh   # writes examples/python/gen/
    npm start                                             # in another terminal
    .venv/bin/python examples/python/client.py [--address 127.0.0.1:50051]

It spawns a counter@1.0 process, schedules messages, computes them (a server stream),
follows the process with Subscribe in a background thread, awaits a slot that is not yet
scheduled, shows how errors arrive (grpc.StatusCode), lists the workers and stops the
process. Every step prints one JSON object per line, {"event": ..., ...}, so a test can
check the output; lines printed by the subscriber thread interleave with the others.

Slots are uint64 on the wire and plain Python ints here: exact at any size.
"""

import argparse
import base64
import hashlib
import json
import struct
import sys
import threading
from pathlib import Path

# The generated modules: from PYTHONPATH if it has them, else from generate.sh's default
# output directory next to this file.
sys.path.append(str(Path(__file__).resolve().parent / "gen"))

try:
    import grpc
    from procworker.v1 import process_worker_service_pb2 as pw
    from procworker.v1 import process_worker_service_pb2_grpc as pw_grpc
    from procworker.v1 import types_pb2
except ImportError as e:
    sys.exit(
        f"client.py: {e}\n"
        "  install the runtime with `pip install -r examples/python/requirements.txt` (in a venv)\n"
        "  and generate the stubs with `PYTHON=<that venv's python> examples/python/generate.sh`"
    )

# Every unary call and the Compute stream get a deadline (seconds); without one a call
# waits for as long as the server lets it.
DEADLINE = 10.0

_print_lock = threading.Lock()


def emit(event: str, **fields) -> None:
    """Prints one JSON line; a lock keeps the subscriber thread's lines whole."""
    with _print_lock:
        print(json.dumps({"event": event, **fields}), flush=True)


def message_id(tags: dict[str, str], data: bytes = b"") -> str:
    """The id procworker gives a message (the same in every language): base64url, no padding,
    of SHA-256 over u32be(tag count), then per tag in ascending UTF-8 order
    u32be(len) name u32be(len) value, then u64be(len(data)) data."""
    canonical = bytearray(struct.pack(">I", len(tags)))
    for name in sorted(tags, key=lambda n: n.encode()):
        for part in (name.encode(), tags[name].encode()):
            canonical += struct.pack(">I", len(part)) + part
    canonical += struct.pack(">Q", len(data)) + data
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def describe(result: types_pb2.SlotResult) -> dict:
    """A slot result as plain data. A failed slot is a result too, with `error` set."""
    if result.HasField("error"):
        return {"slot": result.slot, "error": {"phase": result.error.phase, "message": result.error.message}}
    return {"slot": result.slot, "tags": dict(result.output.tags)}


def optional_slot(msg, field: str) -> int | None:
    """Reads a proto3 `optional uint64`: None when absent (0 is a real slot)."""
    return getattr(msg, field) if msg.HasField(field) else None


class Subscription:
    """A Subscribe stream read by a background thread; use it as a context manager.

    Subscribe never ends on its own, so it has no deadline: leaving the `with` block
    cancels the call (the thread then sees CANCELLED and ends) and joins the thread.
    """

    def __init__(self, stub: pw_grpc.ProcessWorkerServiceStub, process_id: str, from_slot: int = 0):
        self._call = stub.Subscribe(pw.SubscribeRequest(process_id=process_id, from_slot=from_slot))
        self._latest: int | None = None
        self._ended = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, name="subscribe", daemon=True)

    def __enter__(self) -> "Subscription":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._call.cancel()
        self._thread.join()

    def wait_for(self, slot: int, timeout: float) -> bool:
        """Waits until the stream has delivered `slot`; False on timeout or a failed stream."""
        with self._changed:
            self._changed.wait_for(lambda: self._ended or (self._latest is not None and self._latest >= slot), timeout)
            return self._latest is not None and self._latest >= slot

    def _read(self) -> None:
        try:
            for response in self._call:  # blocks for each next result
                emit("subscribed", **describe(response.result))
                with self._changed:
                    self._latest = response.result.slot
                    self._changed.notify_all()
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:  # CANCELLED: we ended it ourselves
                emit("subscribe_failed", code=e.code().name, details=e.details())
        finally:
            with self._changed:
                self._ended = True
                self._changed.notify_all()


def run(stub: pw_grpc.ProcessWorkerServiceStub) -> None:
    # Spawn: the process is defined by its spawn message, and its id is that message's id.
    # Spawning the same definition again returns the same process (Spawn is idempotent).
    spawn_tags = {"Execution-Device": "counter@1.0", "Initial": "10"}
    spawned = stub.Spawn(pw.SpawnRequest(process=types_pb2.Message(tags=spawn_tags)), timeout=DEADLINE)
    process_id = spawned.process_id
    emit("spawned", process_id=process_id, local_id=message_id(spawn_tags))

    # Schedule appends messages atomically; each gets the next slot. "two" is not an
    # integer, so that slot will fail: a failed slot is a result, not an RPC error.
    amounts = ["5", "2", "two"]
    scheduled = stub.Schedule(
        pw.ScheduleRequest(process_id=process_id, messages=[types_pb2.Message(tags={"Amount": a}) for a in amounts]),
        timeout=DEADLINE,
    )
    emit("scheduled", assignments=[{"slot": a.slot, "message_id": a.message_id} for a in scheduled.assignments])
    last = scheduled.assignments[-1].slot

    # Compute is a server stream of every slot computed, in order, then the end. With
    # max_results_per_response a response carries up to that many results (in `results`):
    # far cheaper for the server in a long catch-up.
    request = pw.ComputeRequest(process_id=process_id, slot=last, max_results_per_response=64)
    for response in stub.Compute(request, timeout=DEADLINE):
        for result in response.results:
            emit("computed", **describe(result))

    # Subscribe from slot 0: the stored results first, then each new slot as it completes.
    with Subscription(stub, process_id, from_slot=0) as subscription:
        # Await a slot that is not scheduled yet: the server holds the call until the slot
        # is computed (or the deadline passes). `.future()` makes the call without blocking.
        next_slot = last + 1
        pending = stub.Await.future(pw.AwaitRequest(process_id=process_id, slot=next_slot), timeout=DEADLINE)
        stub.Schedule(
            pw.ScheduleRequest(process_id=process_id, messages=[types_pb2.Message(tags={"Amount": "3"})]),
            timeout=DEADLINE,
        )
        emit("awaited", **describe(pending.result().result))
        if not subscription.wait_for(next_slot, timeout=DEADLINE):
            sys.exit(f"client.py: the subscription did not deliver slot {next_slot}")

    # Errors arrive as grpc.RpcError; .code() is a grpc.StatusCode. A stream's error is
    # raised while iterating it.
    try:
        # uint64 slots are exact Python ints: 2**64 - 1 is the largest slot there is.
        list(stub.Compute(pw.ComputeRequest(process_id=process_id, slot=2**64 - 1), timeout=DEADLINE))
    except grpc.RpcError as e:
        emit("error", rpc="Compute", code=e.code().name, details=e.details())  # OUT_OF_RANGE

    unknown = message_id({"Execution-Device": "counter@1.0", "Note": "never spawned"})  # a well-formed id
    try:
        stub.Schedule(pw.ScheduleRequest(process_id=unknown, messages=[types_pb2.Message()]), timeout=DEADLINE)
    except grpc.RpcError as e:
        emit("error", rpc="Schedule", code=e.code().name, details=e.details())  # NOT_FOUND

    try:
        # Nobody schedules this slot, so the call's own deadline ends the wait.
        stub.Await(pw.AwaitRequest(process_id=process_id, slot=next_slot + 1), timeout=0.2)
    except grpc.RpcError as e:
        emit("error", rpc="Await", code=e.code().name, details=e.details())  # DEADLINE_EXCEEDED

    # ListWorkers: the live workers on the server (other clients' ones too).
    for worker in stub.ListWorkers(pw.ListWorkersRequest(), timeout=DEADLINE).workers:
        emit("worker", process_id=worker.process_id, state=worker.state, at_slot=optional_slot(worker, "at_slot"))

    # Stop: the worker snapshots and ends; the next request for the process restores it.
    stopped = stub.Stop(pw.StopRequest(process_id=process_id), timeout=DEADLINE)
    emit("stopped", stopped=stopped.stopped, at_slot=optional_slot(stopped, "at_slot"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", default="127.0.0.1:50051", help="host:port of a procworker server")
    parser.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to wait for the server")
    args = parser.parse_args()

    # Leaving the `with` block closes the channel (its connection and any call still open).
    with grpc.insecure_channel(args.address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=args.connect_timeout)
        except grpc.FutureTimeoutError:
            sys.exit(f"client.py: no server at {args.address} (start one with `npm start`)")
        run(pw_grpc.ProcessWorkerServiceStub(channel))
    emit("done")


if __name__ == "__main__":
    main()
