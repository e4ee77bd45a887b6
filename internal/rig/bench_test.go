package rig

import (
	"context"
	"testing"
)

// BenchmarkRigSSHRoundTrip measures one command through /usr/bin/ssh into the
// rig (a fresh connection each time, as VM.Run does).
func BenchmarkRigSSHRoundTrip(b *testing.B) {
	vm := Start(b, BootOptions{})
	ctx := context.Background()
	for b.Loop() {
		if _, err := vm.Run(ctx, "true"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRigKmemleakScan measures one synchronous kmemleak scan of the
// idle guest (the harness runs two per sample), including the SSH round trip.
func BenchmarkRigKmemleakScan(b *testing.B) {
	vm := Start(b, BootOptions{})
	ctx := context.Background()
	if _, err := vm.Run(ctx, "sh", "-c", "echo scan=off > /sys/kernel/debug/kmemleak"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := vm.Run(ctx, "sh", "-c", "echo scan > /sys/kernel/debug/kmemleak"); err != nil {
			b.Fatal(err)
		}
	}
}
