package rig

import (
	"context"
	"testing"
)

// Start builds (cached) and boots the rig for a test, stops it when the test
// ends, and fails the test — never skips it — when the rig cannot be built or
// booted: a release gate that cannot see its reference kernel must not pass.
func Start(tb testing.TB, opts BootOptions) *VM {
	tb.Helper()
	ctx := context.Background()
	if opts.Paths.Dir == "" {
		paths, err := Build(ctx)
		if err != nil {
			tb.Fatalf("the rig is required and could not be built: %v", err)
		}
		opts.Paths = paths
	}
	vm, err := Boot(ctx, opts)
	if err != nil {
		tb.Fatalf("the rig is required and did not boot: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("rig console tail:\n%s", vm.consoleTail())
		}
		if err := vm.Stop(); err != nil {
			tb.Errorf("stop the rig: %v", err)
		}
	})
	tb.Logf("rig up: %s (udp %d, %s), state %s", vm.Spec(), vm.UDPPort(), vm.Accel(), vm.StateDir())
	return vm
}
