package main

import "testing"

func TestMessageID(t *testing.T) {
	for _, tc := range []struct {
		tags map[string]string
		data string
		want string
	}{
		// The test vector of the top-level README (the TypeScript and Python code agree).
		{map[string]string{"Execution-Device": "counter@1.0", "Initial": "5"}, "hi", "LbjUkGUm43wwERnB2NDGVabkwVNwkRyyp7ayB0TIDQk"},
		// The process of the README's grpcurl walk-through.
		{map[string]string{"Execution-Device": "counter@1.0", "Initial": "10"}, "", "UW-pehRsJzMSUDfk8lbUj7lo76wZ4W1kWC5J6O4QgYc"},
	} {
		if got := MessageID(tc.tags, []byte(tc.data)); got != tc.want {
			t.Errorf("MessageID(%v, %q) = %s, want %s", tc.tags, tc.data, got, tc.want)
		}
	}
}
