package harness

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakgate/leakgate/remote"
	"github.com/leakgate/leakgate/remote/remotetest"
)

// scenario scripts how the target's /proc evolves with sample number n
// (elapsed time over the interval).
type scenario struct {
	interval time.Duration
	// startAfter moves the fake clock's start later (a second soak of the
	// same rig, the day after the first).
	startAfter time.Duration
	// leakObjects is how many kmemleak objects of the wlansim_alloc_rx_buf signature
	// exist at sample n; slabExtra the extra active objects per cache.
	leakObjects func(n int) int
	slabExtra   func(n int) map[string]int64
	// slabPerMinute gives slabExtra the minutes since the start instead of
	// the sample number: growth the fast grid sees between full samples.
	slabPerMinute bool
	// reclaimable caches lose their slabExtra growth once the reclaim probe
	// has written /proc/sys/vm/drop_caches.
	reclaimable []string
	// kernel replaces the release the target reports (6.12.117); files adds
	// fixed files to its tree.
	kernel string
	files  map[string]string
	// procAnonKB is the anonymous RSS of hostapd at sample n.
	procAnonKB func(n int) int64
	// procName, when set, replaces hostapd's name (pid 812).
	procName string
	// rebootAt, when > 0, gives the target a new boot id from sample n on.
	rebootAt int
	// down reports whether the link is down at sample n.
	down func(n int) bool
	// stallAt, when > 0, makes every read from sample stallAt on hang until
	// its context ends (a target that stops answering).
	stallAt int
	// slowScanAt, when > 0, makes the first kmemleak scan of that sample take
	// 15 minutes (longer than an interval) on the clock.
	slowScanAt int
}

// scriptedTarget is a real SSH target (remote/remotetest: the in-process
// server running commands under /bin/sh in a served folder) whose /proc and
// /sys files are rewritten to the scenario's state for the current sample
// before every read. Link faults are real: connections are dropped and
// refused by the server while the scenario says the link is down.
type scriptedTarget struct {
	remote.Target
	t     testing.TB
	srv   *remotetest.Server
	root  string
	clock *fakeClock
	start time.Time
	sc    scenario

	mu   sync.Mutex
	down bool
}

func newScriptedTarget(t testing.TB, clock *fakeClock, sc scenario) *scriptedTarget {
	srv := remotetest.New(t, remotetest.Options{})
	s := &scriptedTarget{t: t, srv: srv, root: srv.Root(), clock: clock, start: clock.Now(), sc: sc}
	s.writeTree(0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tgt, err := srv.Dial(ctx)
	if err != nil {
		t.Fatalf("dial remotetest server: %v", err)
	}
	t.Cleanup(func() { tgt.Close() })
	s.Target = tgt
	return s
}

func (s *scriptedTarget) sampleN() int {
	return int(s.clock.Now().Sub(s.start) / s.sc.interval)
}

// applyLink puts the server in the scenario's link state for now.
func (s *scriptedTarget) applyLink() {
	down := s.sc.down != nil && s.sc.down(s.sampleN())
	s.mu.Lock()
	defer s.mu.Unlock()
	if down == s.down {
		return
	}
	s.down = down
	if down {
		s.srv.SetFault(remotetest.Fault{RefuseConnections: 1 << 30})
		s.srv.DropConnections()
		return
	}
	s.srv.SetFault(remotetest.Fault{})
}

func (s *scriptedTarget) Run(ctx context.Context, argv []string, opts remote.RunOptions) (remote.Result, error) {
	s.applyLink()
	if s.sc.slowScanAt > 0 && s.sampleN() == s.sc.slowScanAt && len(argv) > 4 && argv[4] == "scan" {
		<-s.clock.After(15 * time.Minute)
	}
	return s.Target.Run(ctx, argv, opts)
}

func (s *scriptedTarget) ReadFiles(ctx context.Context, paths []string, opts remote.ReadOptions) (*remote.Snapshot, error) {
	if s.sc.stallAt > 0 && s.sampleN() >= s.sc.stallAt {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	s.applyLink()
	s.writeTree(s.sampleN())
	return s.Target.ReadFiles(ctx, paths, opts)
}

// kmemleakWrites lists what the soak wrote to the kmemleak file, in order,
// from the commands the server ran.
func (s *scriptedTarget) kmemleakWrites() []string {
	var out []string
	for _, c := range s.srv.Commands() {
		switch {
		case strings.Contains(c, "echo scan=off"):
			out = append(out, "scan=off")
		case strings.Contains(c, "kmemleak"):
			f := strings.Fields(c)
			if len(f) >= 2 {
				out = append(out, strings.Trim(f[len(f)-2], "'"))
			}
		}
	}
	return out
}

// captured reads a real fixture from the reference rig (Linux 6.12.117).
func captured(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "rig", "captured", name))
	if err != nil {
		t.Fatalf("captured fixture: %v", err)
	}
	return string(b)
}

// writeTree lays out the /proc and /sys files the target shows at sample n:
// the rig's captured 6.12 files, with the scenario's growth applied.
func (s *scriptedTarget) writeTree(n int) {
	elapsed := s.clock.Now().Sub(s.start)
	bootID := "6f1c2e5a-0b7d-4c1e-9d1a-3b2f5c7e8a90"
	uptime := 1000*time.Second + elapsed
	if s.sc.rebootAt > 0 && n >= s.sc.rebootAt {
		bootID = "0a9b8c7d-1e2f-4a3b-8c5d-6e7f8a9b0c1d"
		uptime = 40*time.Second + elapsed - time.Duration(s.sc.rebootAt)*s.sc.interval
	}
	files := map[string]string{
		"/proc/sys/kernel/random/boot_id": bootID + "\n",
		"/proc/sys/kernel/osrelease":      cmp.Or(s.sc.kernel, "6.12.117") + "\n",
		"/proc/mounts":                    "debugfs /sys/kernel/debug debugfs rw,relatime 0 0\n",
		"/proc/uptime":                    fmt.Sprintf("%.2f %.2f\n", uptime.Seconds(), uptime.Seconds()*1.8),
		"/proc/cmdline":                   "console=ttyS0 slub_debug=U kmemleak=on\n",
		"/proc/meminfo":                   captured(s.t, "meminfo"),
		"/proc/slabinfo":                  s.slabinfo(s.slabStep(n, elapsed)),
		"/sys/kernel/debug/kmemleak":      s.kmemleakReport(n),
		"/proc/40/status":                 captured(s.t, "wlansimd-status"),
		"/proc/40/smaps_rollup":           captured(s.t, "wlansimd-smaps_rollup"),
		"/proc/40/stat":                   "40 (wlansimd) S 1 40 40 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 140 5124096 999 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
	}
	for p, b := range s.sc.files {
		files[p] = b
	}
	for pid, p := range map[int]struct {
		name   string
		anonKB int64
	}{1: {"procd", 600}, 812: {cmp.Or(s.sc.procName, "hostapd"), s.procAnon(n)}} {
		dir := fmt.Sprintf("/proc/%d/", pid)
		files[dir+"status"] = statusText(p.name, pid, p.anonKB)
		files[dir+"stat"] = fmt.Sprintf("%d (%s) S 1 %d %d 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 %d 5124096 999 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", pid, p.name, pid, pid, 100+pid)
		files[dir+"smaps_rollup"] = smapsText(p.anonKB)
	}
	if err := os.MkdirAll(filepath.Join(s.root, "proc", "sys", "vm"), 0o755); err != nil {
		s.t.Errorf("scripted tree: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(s.root, "tmp"), 0o755); err != nil {
		s.t.Errorf("scripted tree: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.root, "proc", "config.gz")); err != nil {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write([]byte(captured(s.t, "config")))
		zw.Close()
		files["/proc/config.gz"] = gz.String()
	}
	for p, data := range files {
		full := filepath.Join(s.root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			s.t.Errorf("scripted tree: %v", err)
			return
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			s.t.Errorf("scripted tree: %v", err)
		}
	}
}

func (s *scriptedTarget) procAnon(n int) int64 {
	if s.sc.procAnonKB == nil {
		return 2048
	}
	return s.sc.procAnonKB(n)
}

// slabinfo is the captured slabinfo with the scenario's extra active objects
// added to their caches (and slabs grown to hold them).
// slabStep is the step slabExtra is given: the sample number, or the
// minutes since the start with slabPerMinute.
func (s *scriptedTarget) slabStep(n int, elapsed time.Duration) int {
	if s.sc.slabPerMinute {
		return int(elapsed / time.Minute)
	}
	return n
}

func (s *scriptedTarget) slabinfo(n int) string {
	extra := map[string]int64{}
	if s.sc.slabExtra != nil {
		extra = s.sc.slabExtra(n)
	}
	if b, err := os.ReadFile(filepath.Join(s.root, "proc", "sys", "vm", "drop_caches")); err == nil && strings.TrimSpace(string(b)) == "3" {
		for _, c := range s.sc.reclaimable {
			delete(extra, c)
		}
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(captured(s.t, "slabinfo"), "\n") {
		f := strings.Fields(line)
		add, ok := extra[firstField(f)]
		if !ok || len(f) < 16 {
			b.WriteString(line)
			continue
		}
		active, _ := strconv.ParseInt(f[1], 10, 64)
		num, _ := strconv.ParseInt(f[2], 10, 64)
		per, _ := strconv.ParseInt(f[4], 10, 64)
		active += add
		if active > num {
			num = (active + per - 1) / per * per
		}
		slabs := num / max(per, 1)
		fmt.Fprintf(&b, "%-17s %6d %6d %6s %4s %4s : tunables    0    0    0 : slabdata %6d %6d      0\n", f[0], active, num, f[3], f[4], f[5], slabs, slabs)
	}
	return b.String()
}

func firstField(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// kmemleakReport repeats the captured report's objects (the rig's real
// wlansim leak, 6.12.y format) until there are leakObjects(n) of them, each
// at its own address.
func (s *scriptedTarget) kmemleakReport(n int) string {
	if s.sc.leakObjects == nil {
		return ""
	}
	blocks := strings.SplitAfter(captured(s.t, "kmemleak"), "unreferenced object ")
	var objs []string
	for _, b := range blocks {
		if b = strings.TrimSuffix(b, "unreferenced object "); strings.TrimSpace(b) != "" {
			objs = append(objs, b)
		}
	}
	var out strings.Builder
	for i := range s.sc.leakObjects(n) {
		body := objs[i%len(objs)]
		if sp := strings.IndexByte(body, ' '); sp > 0 {
			body = fmt.Sprintf("0xffff8880%08x", 0x100000+i*0x200) + body[sp:]
		}
		out.WriteString("unreferenced object " + body)
	}
	return out.String()
}

func statusText(name string, pid int, anonKB int64) string {
	return fmt.Sprintf("Name:\t%s\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t1\nTracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nKthread:\t0\nVmPeak:\t    9000 kB\nVmSize:\t    9000 kB\nVmHWM:\t    %d kB\nVmRSS:\t    %d kB\nRssAnon:\t    %d kB\nRssFile:\t    1500 kB\nRssShmem:\t       0 kB\nVmData:\t    %d kB\nThreads:\t1\n",
		name, pid, pid, anonKB+1500, anonKB+1500, anonKB, anonKB+200)
}

func smapsText(anonKB int64) string {
	return fmt.Sprintf("00400000-7ffd0000 ---p 00000000 00:00 0                          [rollup]\nRss:                %d kB\nPss:                %d kB\nPss_Dirty:          %d kB\nPss_Anon:           %d kB\nPss_File:           1200 kB\nPss_Shmem:             0 kB\nShared_Clean:        300 kB\nShared_Dirty:          0 kB\nPrivate_Clean:      1200 kB\nPrivate_Dirty:      %d kB\nReferenced:         %d kB\nAnonymous:          %d kB\nSwap:                  0 kB\nSwapPss:               0 kB\nLocked:                0 kB\n",
		anonKB+1500, anonKB+1200, anonKB, anonKB, anonKB, anonKB+1500, anonKB)
}
