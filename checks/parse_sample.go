package checks

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leakgate/leakgate/checks/procmem"
)

// Paths one sample reads on the target.
const (
	PathBootID      = "/proc/sys/kernel/random/boot_id"
	PathUptime      = "/proc/uptime"
	PathMeminfo     = "/proc/meminfo"
	PathSlabinfo    = "/proc/slabinfo"
	PathVmallocinfo = "/proc/vmallocinfo"
	PathKmemleak    = "/sys/kernel/debug/kmemleak"
	// Globs for every process; the target expands them.
	GlobProcStatus      = "/proc/[0-9]*/status"
	GlobProcStat        = "/proc/[0-9]*/stat"
	GlobProcSmapsRollup = "/proc/[0-9]*/smaps_rollup"
	// GlobAllocTraces lists the caches with owner tracking (slab_debug=U) on ≥ 5.14.
	GlobAllocTraces = "/sys/kernel/debug/slab/*/alloc_traces"
)

// SampleOptions tune what one sample reads and parses.
type SampleOptions struct {
	// OwnModules are the user's modules or symbol prefixes, blamed first in kmemleak culprits.
	OwnModules []string
	// SkipProcesses leaves out the per-process files.
	SkipProcesses bool
	// AllocTraces reads /sys/kernel/debug/slab/*/alloc_traces (kernels ≥ 5.14,
	// only caches booted with slab_debug=U have the file).
	AllocTraces bool
	// AllocCallsCaches are caches whose sysfs alloc_calls to read (kernels ≤
	// 5.13; the file is ENOSYS without slub_debug=U). Names with '/', glob
	// characters or spaces are skipped.
	AllocCallsCaches []string
	// Fast reads only the cheap counters (the sources marked Fast: slabinfo,
	// meminfo, vmallocinfo), for a sample between the full ones.
	Fast bool
	// ReaderPID is the pid of the shell that read the snapshot on the target
	// (remote.Snapshot.ReaderPID; 0 when unknown). That shell and its
	// ancestors below the first child of init (the SSH server's per-connection
	// processes, or on a local target the harness itself) are the observer:
	// they are left out of Procs and listed in Sample.Observer, because they
	// grow with the harness's own traffic, not with the firmware.
	ReaderPID int
}

// SnapshotPaths is every path and glob the harness reads for one sample, in
// one round trip.
func SnapshotPaths(opts SampleOptions) []string {
	paths := []string{PathBootID, PathUptime}
	for _, src := range sources {
		if opts.Fast && !src.Fast {
			continue
		}
		paths = append(paths, src.Paths(opts)...)
	}
	return paths
}

// ValidCacheName is true for a slab cache name safe to put in a path: no
// '/', no glob or shell metacharacters, no whitespace, not "." or "..".
func ValidCacheName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(":-_.()@", r)) {
			return false
		}
	}
	return true
}

// NewSample parses one snapshot's files (keyed by target path, globs
// expanded) into a Sample. A file that is missing or does not parse is
// recorded in Sample.Errors under its path; the rest of the sample still
// counts. ParseSnapshot also merges the snapshot's read errors.
func NewSample(index int, at time.Time, files map[string][]byte, opts SampleOptions) Sample {
	return ParseSnapshot(index, at, files, nil, opts)
}

// ParseSnapshot is NewSample plus the snapshot's own read errors
// (remote.Snapshot.Errors), merged over the parse errors: "permission
// denied" says more than "not in the snapshot". Read errors that carry no
// news are dropped: files of kernel threads (smaps_rollup is ESRCH without an
// mm), of the observer's processes, of processes that exited between the
// listing and the read, and alloc_traces globs that matched no cache.
func ParseSnapshot(index int, at time.Time, files map[string][]byte, readErrs map[string]string, opts SampleOptions) Sample {
	s := Sample{Index: index, At: at, Fast: opts.Fast, Errors: map[string]string{}}
	c := &ParseContext{Files: files, Opts: opts, s: &s}
	if b, ok := c.File(PathBootID); ok {
		s.BootID = ParseBootID(b)
		if s.BootID == "" {
			s.Errors[PathBootID] = "empty boot_id"
		}
	}
	if b, ok := c.File(PathUptime); ok {
		var err error
		s.Uptime, err = ParseUptime(b)
		c.Fail(PathUptime, err)
	}
	for _, src := range sources {
		if opts.Fast && !src.Fast {
			continue
		}
		src.Parse(c, &s)
	}
	for p, e := range readErrs {
		if c.isQuiet(p) {
			continue
		}
		if prev, ok := s.Errors[p]; !ok || prev == "not in the snapshot" {
			s.Errors[p] = e
		}
	}
	if len(s.Errors) == 0 {
		s.Errors = nil
	}
	return s
}

// ParseBootID trims /proc/sys/kernel/random/boot_id; a change between
// samples means the target rebooted.
func ParseBootID(b []byte) string {
	return string(bytes.TrimSpace(b))
}

// ParseUptime reads /proc/uptime's first figure ("12345.67 23456.78").
func ParseUptime(b []byte) (time.Duration, error) {
	f := bytes.Fields(b)
	if len(f) == 0 {
		return 0, fmt.Errorf("parse %s: empty", PathUptime)
	}
	secs, err := strconv.ParseFloat(string(f[0]), 64)
	if err != nil || secs < 0 || secs > float64(1<<62)/float64(time.Second) {
		return 0, fmt.Errorf("parse %s: %q is not a number of seconds", PathUptime, f[0])
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// procTable is every process of one snapshot: the user processes (judged)
// and, by pid, the parent and name of every process seen, kernel threads
// included, so the observer chain and quiet errors can be worked out.
type procTable struct {
	user    []procmem.Process
	parent  map[int]int
	name    map[int]string
	kthread map[int]bool
}

// parseProcs groups /proc/<pid>/{status,stat,smaps_rollup} by pid and keeps
// the user processes, ordered by pid. Problems of kernel threads are not
// recorded: they are not judged.
func parseProcs(files map[string][]byte, errs map[string]string) procTable {
	type procFiles struct{ status, stat, smaps []byte }
	byPID := map[int]*procFiles{}
	for p, b := range files {
		pid, name, ok := procFile(p)
		if !ok {
			continue
		}
		pf := byPID[pid]
		if pf == nil {
			pf = &procFiles{}
			byPID[pid] = pf
		}
		switch name {
		case "status":
			pf.status = b
		case "stat":
			pf.stat = b
		case "smaps_rollup":
			pf.smaps = b
		}
	}
	pids := make([]int, 0, len(byPID))
	for pid := range byPID {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	t := procTable{parent: make(map[int]int, len(pids)), name: make(map[int]string, len(pids)), kthread: map[int]bool{}}
	for _, pid := range pids {
		pf := byPID[pid]
		p, user, err := procmem.ParseProcess(pid, pf.status, pf.stat, pf.smaps)
		t.parent[pid], t.name[pid] = p.PPID, p.Name
		if !user {
			t.kthread[pid] = true
			continue
		}
		if err != nil {
			errs["/proc/"+strconv.Itoa(pid)] = err.Error()
		}
		t.user = append(t.user, p)
	}
	return t
}

// procFile splits "/proc/<pid>/<name>" into pid and name.
func procFile(p string) (int, string, bool) {
	rest, ok := strings.CutPrefix(p, "/proc/")
	if !ok {
		return 0, "", false
	}
	pidText, name, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, "", false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return 0, "", false
	}
	return pid, name, true
}

// maxObserverDepth bounds the walk up the parent chain (a corrupt snapshot
// could hold a cycle).
const maxObserverDepth = 64

// splitObserver separates the observer's processes from the user
// processes: the reader shell and each ancestor whose parent is not init
// (pid 1) or the kernel (pid 0). The first child of init is the service
// the harness came through (dropbear, sshd) and stays judged: only its
// per-connection children belong to the harness.
func (t procTable) splitObserver(reader int) ([]procmem.Process, []ObserverProcess) {
	if reader <= 0 {
		return t.user, nil
	}
	mine := map[int]bool{}
	var obs []ObserverProcess
	for pid, depth := reader, 0; pid > 1 && depth < maxObserverDepth && !mine[pid]; depth++ {
		parent, seen := t.parent[pid]
		if !seen || (pid != reader && parent <= 1) {
			break
		}
		mine[pid] = true
		obs = append(obs, ObserverProcess{PID: pid, Name: t.name[pid]})
		pid = parent
	}
	if len(obs) == 0 {
		return t.user, nil
	}
	kept := make([]procmem.Process, 0, len(t.user))
	for _, p := range t.user {
		if !mine[p.PID] {
			kept = append(kept, p)
		}
	}
	return kept, obs
}

// quiet is true for a read error under /proc/<pid>/ that carries no news:
// the pid is a kernel thread, one of the observer's, or left no readable
// file at all (it exited between the listing and the read).
func (t procTable) quiet(p string, obs []ObserverProcess) bool {
	pid, _, ok := procFile(p)
	if !ok || t.parent == nil {
		return false
	}
	if _, seen := t.parent[pid]; !seen || t.kthread[pid] {
		return true
	}
	for _, o := range obs {
		if o.PID == pid {
			return true
		}
	}
	return false
}
