package checks

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// procTree lays out the stat and status files of processes given as
// pid → (name, ppid, kernel thread).
type procEntry struct {
	name    string
	ppid    int
	kthread bool
}

func procTree(procs map[int]procEntry) map[string][]byte {
	files := map[string][]byte{}
	for pid, p := range procs {
		flags := 0x400100 // PF_RANDOMIZE | PF_FORKNOEXEC-ish user flags
		if p.kthread {
			flags = 0x00208040 // PF_KTHREAD set
		}
		files[fmt.Sprintf("/proc/%d/stat", pid)] = fmt.Appendf(nil,
			"%d (%s) S %d %d %d 0 -1 %d 0 0 0 0 0 0 0 0 20 0 1 0 %d 1000000 100 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n",
			pid, p.name, p.ppid, pid, pid, flags, 1000+pid)
		files[fmt.Sprintf("/proc/%d/status", pid)] = fmt.Appendf(nil,
			"Name:\t%s\nPid:\t%d\nPPid:\t%d\nVmRSS:\t    1024 kB\nRssAnon:\t     512 kB\n", p.name, pid, p.ppid)
	}
	return files
}

// A dropbear target as the rig runs it: init respawns the dropbear
// listener; each connection gets its own dropbear child; the read script's
// shell is that child's child.
var rigProcs = map[int]procEntry{
	1:   {name: "init", ppid: 0},
	2:   {name: "kthreadd", ppid: 0, kthread: true},
	9:   {name: "kworker/0:1", ppid: 2, kthread: true},
	100: {name: "dropbear", ppid: 1},
	150: {name: "wlansimd", ppid: 1},
	200: {name: "dropbear", ppid: 100},
	300: {name: "sh", ppid: 200},
	400: {name: "traffic", ppid: 200}, // a workload the harness started: judged
}

func TestParseSnapshot_TheReaderAndItsSessionAreTheObserverTheListenerIsJudged(t *testing.T) {
	files := procTree(rigProcs)

	s := ParseSnapshot(0, time.Time{}, files, nil, SampleOptions{ReaderPID: 300})

	wantObs := []ObserverProcess{{PID: 300, Name: "sh"}, {PID: 200, Name: "dropbear"}}
	if !reflect.DeepEqual(s.Observer, wantObs) {
		t.Errorf("observer = %+v, want %+v", s.Observer, wantObs)
	}
	var judged []int
	for _, p := range s.Procs {
		judged = append(judged, p.PID)
	}
	if want := []int{1, 100, 150, 400}; !reflect.DeepEqual(judged, want) {
		t.Errorf("judged pids = %v, want %v (init, the dropbear listener, wlansimd, the workload)", judged, want)
	}
}

func TestParseSnapshot_WithoutAReaderEveryUserProcessIsJudged(t *testing.T) {
	s := ParseSnapshot(0, time.Time{}, procTree(rigProcs), nil, SampleOptions{})
	if len(s.Observer) != 0 || len(s.Procs) != 6 {
		t.Errorf("observer %+v, %d judged processes; want none and 6", s.Observer, len(s.Procs))
	}
}

func TestParseSnapshot_AnUnknownOrOrphanReaderIsOnlyItself(t *testing.T) {
	cases := []struct {
		name   string
		reader int
		want   []ObserverProcess
	}{
		{"the reader is not in the snapshot", 999, nil},
		{"the reader's parent is init", 150, []ObserverProcess{{PID: 150, Name: "wlansimd"}}},
		{"the reader is init", 1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := ParseSnapshot(0, time.Time{}, procTree(rigProcs), nil, SampleOptions{ReaderPID: c.reader})
			if !reflect.DeepEqual(s.Observer, c.want) {
				t.Errorf("observer = %+v, want %+v", s.Observer, c.want)
			}
		})
	}
}

func TestParseSnapshot_AParentCycleEnds(t *testing.T) {
	files := procTree(map[int]procEntry{10: {name: "a", ppid: 11}, 11: {name: "b", ppid: 10}})
	s := ParseSnapshot(0, time.Time{}, files, nil, SampleOptions{ReaderPID: 10})
	if len(s.Observer) != 2 {
		t.Errorf("observer = %+v, want a and b once each", s.Observer)
	}
}

func TestParseSnapshot_ReadErrorsWithoutNewsAreDropped(t *testing.T) {
	files := procTree(rigProcs)
	readErrs := map[string]string{
		"/proc/9/smaps_rollup":   "No such process",           // a kernel thread has no mm
		"/proc/200/smaps_rollup": "Permission denied",         // the observer's own session
		"/proc/777/status":       "No such file or directory", // exited between listing and read
		"/proc/777/stat":         "No such file or directory",
		GlobAllocTraces:          "no file matches the pattern", // no cache has slab_debug=U
		"/proc/150/smaps_rollup": "Permission denied",           // news: a judged process lacks PSS
		PathKmemleak:             "Device or resource busy",     // news, and better than "not in the snapshot"
	}

	s := ParseSnapshot(0, time.Time{}, files, readErrs, SampleOptions{ReaderPID: 300})

	for p := range readErrs {
		_, kept := s.Errors[p]
		wantKept := p == "/proc/150/smaps_rollup" || p == PathKmemleak
		if kept != wantKept {
			t.Errorf("error for %s kept = %v, want %v (errors %v)", p, kept, wantKept, s.Errors)
		}
	}
	if s.Errors[PathKmemleak] != "Device or resource busy" {
		t.Errorf("kmemleak error = %q, want the read error", s.Errors[PathKmemleak])
	}
}
