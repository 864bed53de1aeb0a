package main

import (
	"fmt"
	"os"
	"reflect"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// checks counts and prints what the client asserts: one line per check, "ok" or "FAIL"
// with what it got. main exits non-zero when any failed, so a test only needs the exit code.
type checks struct{ total, failed int }

// equal checks got == want (deeply, so slices and maps compare by content).
func (c *checks) equal(what string, got, want any) {
	c.total++
	if reflect.DeepEqual(got, want) {
		fmt.Printf("ok    %s: %v\n", what, got)
		return
	}
	c.failed++
	fmt.Printf("FAIL  %s: got %v, want %v\n", what, got, want)
}

// code checks that err is a gRPC status with the wanted code (codes.OK for no error).
func (c *checks) code(what string, err error, want codes.Code) {
	c.equal(what, status.Code(err).String(), want.String())
	if err != nil && status.Code(err) == want {
		fmt.Printf("        (%s)\n", status.Convert(err).Message())
	}
}

// must stops the client at once when a step it cannot go on without fails.
func (c *checks) must(what string, err error) {
	if err != nil {
		fmt.Printf("FAIL  %s: %v\n", what, err)
		os.Exit(1)
	}
}
