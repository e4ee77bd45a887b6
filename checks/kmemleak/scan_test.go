package kmemleak

import (
	"strings"
	"testing"
)

func TestBaselineSteps_StopAutoScanThenScanTwiceSpacedFromTheFirstStart(t *testing.T) {
	steps := BaselineSteps()
	want := []string{"write scan=off", "write scan", "wait", "write scan"}
	assertSteps(t, steps, want)
	if steps[2].Wait < MinObjectAge {
		t.Errorf("wait %v is shorter than kmemleak's minimum age %v", steps[2].Wait, MinObjectAge)
	}
}

func TestSampleSteps_ScanWaitScanRead(t *testing.T) {
	steps := SampleSteps()
	assertSteps(t, steps, []string{"write scan", "wait", "write scan", "read"})
	if steps[1].Wait < MinObjectAge {
		t.Errorf("wait %v is shorter than %v", steps[1].Wait, MinObjectAge)
	}
}

func TestSteps_NeverClearAndGiveWritesALongTimeout(t *testing.T) {
	for _, steps := range [][]Step{BaselineSteps(), SampleSteps()} {
		for _, s := range steps {
			if strings.Contains(s.Command, "clear") {
				t.Errorf("step %+v clears: reported leaks would vanish for good", s)
			}
			if s.Action == ActionWrite && s.Timeout < ScanTimeout {
				t.Errorf("write %q has timeout %v, want the long %v", s.Command, s.Timeout, ScanTimeout)
			}
		}
	}
}

func assertSteps(t *testing.T, steps []Step, want []string) {
	t.Helper()
	var got []string
	for _, s := range steps {
		d := string(s.Action)
		if s.Command != "" {
			d += " " + s.Command
		}
		got = append(got, d)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("steps %v, want %v", got, want)
	}
}

func TestClassifyWriteError_DisabledPerKernelGeneration(t *testing.T) {
	tests := []struct {
		name, text, errno, remedyHas string
	}{
		{"4.19–5.2 refuse with EBUSY", "sh: write error: Device or resource busy", "EBUSY", "kmemleak=on"},
		{"5.3+ refuse with EPERM", "sh: 1: echo: echo: I/O error: Operation not permitted", "EPERM", "kmemleak=on"},
		{"old kernels or no debugfs have no file", "sh: can't create /sys/kernel/debug/kmemleak: No such file or directory", "ENOENT", "mount -t debugfs"},
		{"a Go error naming the errno", "write /sys/kernel/debug/kmemleak: EPERM", "EPERM", "run as root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := ClassifyWriteError(tt.text)
			if !ok || d.Errno != tt.errno || !strings.Contains(d.Remediation, tt.remedyHas) {
				t.Errorf("got %+v, %v; want %s with %q", d, ok, tt.errno, tt.remedyHas)
			}
			if !strings.HasPrefix(d.Error(), "kmemleak disabled") {
				t.Errorf("message %q", d.Error())
			}
		})
	}
	if d, ok := ClassifyWriteError("sh: write error: Invalid argument"); ok {
		t.Errorf("EINVAL classified as disabled: %+v", d)
	}
}

func TestScanDmesg_FindsDisablingAndCounts(t *testing.T) {
	log := `[    0.000000] Booting Linux on physical CPU 0x0
[   12.345678] kmemleak: Memory pool empty, consider increasing CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE
[   12.345690] kmemleak: Cannot allocate a kmemleak_object structure
[   12.345701] kmemleak: Kernel memory leak detector disabled
[    1.000000] kmemleak: Early log buffer exceeded (3012), please increase DEBUG_KMEMLEAK_EARLY_LOG_SIZE
[  700.100000] kmemleak: 14 new suspected memory leaks (see /sys/kernel/debug/kmemleak)
[  701.000000] usb 1-1: new high-speed USB device number 2
`
	ev := ScanDmesg(log)
	kinds := []EventKind{EventPoolEmpty, EventCannotAllocate, EventDisabled, EventEarlyLogExceeded, EventNewLeaks}
	if len(ev) != len(kinds) {
		t.Fatalf("got %d events %+v, want %d", len(ev), ev, len(kinds))
	}
	for i, k := range kinds {
		if ev[i].Kind != k {
			t.Errorf("event %d kind %s, want %s", i, ev[i].Kind, k)
		}
	}
	if ev[4].Count != 14 {
		t.Errorf("new leaks count %d, want 14", ev[4].Count)
	}
	if !strings.Contains(ev[0].Remediation, "CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE") {
		t.Errorf("pool-empty remediation %q", ev[0].Remediation)
	}
	if got := ScanDmesg("nothing here\n"); len(got) != 0 {
		t.Errorf("events in a clean log: %+v", got)
	}
}
