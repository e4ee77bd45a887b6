package rig

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The end-to-end tests boot the real rig (a 6.12 kernel in QEMU) and talk to
// it through /usr/bin/ssh. They fail, never skip, when the rig cannot be built.
//
// With LEAKGATE_RIG_CAPTURE=1 the first test also refreshes the real-kernel
// fixtures in testdata/rig/captured.

func TestRigServesAKmemleakKernelWithTheLeakyWlansimDriver(t *testing.T) {
	t.Parallel()
	vm := Start(t, BootOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	r := remote{t: t, vm: vm, ctx: ctx}
	captured := map[string][]byte{}

	t.Run("the host key is checked strictly and the key logs in as root", func(t *testing.T) {
		r := r.with(t)
		if got := strings.TrimSpace(r.run("id", "-u")); got != "0" {
			t.Fatalf("id -u = %q, want 0", got)
		}
		// A known_hosts file without the guest's key must be refused.
		empty := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(empty, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		args := vm.sshArgs()
		for i, a := range args {
			if strings.HasPrefix(a, "UserKnownHostsFile=") {
				args[i] = "UserKnownHostsFile=" + empty
			}
		}
		out, err := exec.CommandContext(ctx, "/usr/bin/ssh", append(args, "true")...).CombinedOutput()
		if err == nil {
			t.Fatalf("ssh with an empty known_hosts succeeded; want host key verification to fail: %s", out)
		}
	})

	t.Run("the kernel config has kmemleak, SLUB debugging and ORC", func(t *testing.T) {
		r := r.with(t)
		cfg := r.run("sh", "-c", "zcat /proc/config.gz")
		for _, want := range []string{"CONFIG_DEBUG_KMEMLEAK=y", "CONFIG_SLUB_DEBUG=y", "CONFIG_UNWINDER_ORC=y",
			"CONFIG_KALLSYMS_ALL=y", "CONFIG_PROC_PAGE_MONITOR=y", "# CONFIG_RANDOM_KMALLOC_CACHES is not set"} {
			if !strings.Contains(cfg, want+"\n") {
				t.Errorf("/proc/config.gz lacks %q", want)
			}
		}
		captured["config"] = []byte(cfg)
	})

	t.Run("slabinfo is readable and lists the driver's caches", func(t *testing.T) {
		r := r.with(t)
		info := r.run("cat", "/proc/slabinfo")
		if !strings.HasPrefix(info, "slabinfo - version: 2.1\n") {
			t.Fatalf("/proc/slabinfo starts %q", firstLine(info))
		}
		for _, c := range []string{"wlansim_rxbuf", "wlansim_pool", "kmemleak_object", "kmalloc-256"} {
			if _, ok := slabActive(info, c); !ok {
				t.Errorf("/proc/slabinfo has no %s row", c)
			}
		}
	})

	t.Run("the module is loaded with writable parameters", func(t *testing.T) {
		r := r.with(t)
		if mods := r.run("cat", "/proc/modules"); !strings.HasPrefix(mods, "wlansim ") && !strings.Contains(mods, "\nwlansim ") {
			t.Fatalf("/proc/modules lacks wlansim:\n%s", mods)
		}
		if got := r.param("leak"); got != "N" {
			t.Errorf("leak = %q at boot, want N", got)
		}
		r.setParam("leak_every", "7")
		if got := r.param("leak_every"); got != "7" {
			t.Errorf("leak_every = %q after writing 7", got)
		}
	})

	t.Run("kmemleak is present and scans on demand", func(t *testing.T) {
		r := r.with(t)
		r.run("sh", "-c", "echo scan=off > /sys/kernel/debug/kmemleak")
		r.run("sh", "-c", "echo scan > /sys/kernel/debug/kmemleak")
		r.run("test", "-r", "/sys/kernel/debug/kmemleak")
	})

	t.Run("host traffic drives the RX path and moves wlansim_rxbuf", func(t *testing.T) {
		r := r.with(t)
		before, _ := slabActive(r.run("cat", "/proc/slabinfo"), "wlansim_rxbuf")
		frames0 := r.intParam("rx_frames")
		r.send(400)
		frames := r.waitParamAtLeast("rx_frames", frames0+200)
		after, _ := slabActive(r.run("cat", "/proc/slabinfo"), "wlansim_rxbuf")
		// Delivered buffers are recycled through a 32-slot ring: at least 32 live.
		if after <= before || after < 32 {
			t.Errorf("wlansim_rxbuf active_objs %d -> %d after %d frames, want at least the 32 ring slots", before, after, frames-frames0)
		}
		if got, want := r.intParam("pool_entries"), frames/4; got < want-1 || got > want+1 {
			t.Errorf("pool_entries = %d after %d frames, want about %d (one per 4)", got, frames, want)
		}
	})

	t.Run("the benign pool stops at its cap and empties on reset", func(t *testing.T) {
		r := r.with(t)
		r.setParam("reset_pool", "1")
		if got := r.intParam("pool_entries"); got != 0 {
			t.Fatalf("pool_entries = %d after reset_pool, want 0", got)
		}
		r.setParam("pool_cap", "20")
		frames0 := r.intParam("rx_frames")
		r.send(400)
		frames := r.waitParamAtLeast("rx_frames", frames0+200)
		if got := r.intParam("pool_entries"); got != 20 {
			t.Errorf("pool_entries = %d with pool_cap=20 after %d frames, want 20", got, frames-frames0)
		}
		r.setParam("pool_cap", "512")
	})

	t.Run("with leak=1 kmemleak reports the RX buffers with the handler chain", func(t *testing.T) {
		r := r.with(t)
		info0 := r.run("cat", "/proc/slabinfo")
		before, _ := slabActive(info0, "wlansim_rxbuf")
		r.setParam("leak_every", "4")
		r.setParam("leak", "1")
		r.send(200)
		time.Sleep(3 * time.Second)
		r.setParam("leak", "0")
		leaked := r.intParam("leaked_frames")
		if leaked < 10 {
			t.Fatalf("leaked_frames = %d after 200 frames with leak_every=4, want at least 10", leaked)
		}
		info := r.run("cat", "/proc/slabinfo")
		after, _ := slabActive(info, "wlansim_rxbuf")
		if after < before+leaked-16 || after < leaked {
			t.Errorf("wlansim_rxbuf active_objs %d -> %d, want growth by about %d leaked buffers", before, after, leaked)
		}
		// A new leak is reported by the second scan at least 5 s after the
		// allocation (the first one records the object's checksum).
		var report string
		for try := 0; try < 4 && !strings.Contains(report, "wlansim_alloc_rx_buf"); try++ {
			time.Sleep(6 * time.Second)
			r.run("sh", "-c", "echo scan > /sys/kernel/debug/kmemleak")
			report = r.run("cat", "/sys/kernel/debug/kmemleak")
		}
		checkKmemleakReport(t, report)
		captured["kmemleak"] = []byte(report)
		captured["slabinfo"] = []byte(info)
		captured["alloc_traces"] = []byte(r.run("cat", "/sys/kernel/debug/slab/wlansim_rxbuf/alloc_traces"))
		if !strings.Contains(string(captured["alloc_traces"]), "wlansim_alloc_rx_buf+") {
			t.Errorf("alloc_traces of wlansim_rxbuf lacks wlansim_alloc_rx_buf:\n%s", captured["alloc_traces"])
		}
		captured["meminfo"] = []byte(r.run("cat", "/proc/meminfo"))
	})

	t.Run("the daemon's leak knob grows its anonymous memory", func(t *testing.T) {
		r := r.with(t)
		pid := strings.TrimSpace(r.run("pidof", "wlansimd"))
		if _, err := strconv.Atoi(pid); err != nil {
			t.Fatalf("pidof wlansimd = %q", pid)
		}
		anon0 := smapsKB(t, r.run("cat", "/proc/"+pid+"/smaps_rollup"), "Anonymous")
		r.run("sh", "-c", "echo 8192 > /run/wlansimd.leak && kill -USR1 "+pid)
		r.send(300)
		time.Sleep(3 * time.Second)
		r.run("rm", "/run/wlansimd.leak")
		rollup := r.run("cat", "/proc/"+pid+"/smaps_rollup")
		anon := smapsKB(t, rollup, "Anonymous")
		// 300 requests x 8 KiB = 2400 KiB; UDP may drop some.
		if anon-anon0 < 1024 {
			t.Errorf("wlansimd Anonymous %d kB -> %d kB after 300 leaking requests, want +1024 kB or more", anon0, anon)
		}
		captured["wlansimd-smaps_rollup"] = []byte(rollup)
		captured["wlansimd-status"] = []byte(r.run("cat", "/proc/"+pid+"/status"))
	})

	if os.Getenv("LEAKGATE_RIG_CAPTURE") == "1" && !t.Failed() {
		saveCaptured(t, captured)
	}
}

func TestRigBootedWithKmemleakOffRefusesScans(t *testing.T) {
	t.Parallel()
	vm := Start(t, BootOptions{Cmdline: []string{"kmemleak=off"}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := vm.Run(ctx, "test", "-e", "/sys/kernel/debug/kmemleak"); err != nil {
		t.Fatalf("kmemleak file missing with kmemleak=off (6.12 keeps it): %v", err)
	}
	_, err := vm.Run(ctx, "sh", "-c", "echo scan > /sys/kernel/debug/kmemleak")
	var re *RunError
	if !errors.As(err, &re) {
		t.Fatalf("writing scan with kmemleak=off: err = %v, want a failed command", err)
	}
	if !strings.Contains(re.Stderr, "Operation not permitted") {
		t.Errorf("writing scan with kmemleak=off failed with %q, want EPERM (Operation not permitted)", re.Stderr)
	}

	// Stop ends QEMU by its pid and can be called again.
	pid := vm.pid
	if err := vm.Stop(); err != nil {
		t.Fatal(err)
	}
	if processRuns(pid) {
		t.Errorf("QEMU pid %d still runs after Stop", pid)
	}
	if err := vm.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := os.Stat(vm.StateDir()); !os.IsNotExist(err) {
		t.Errorf("state folder %s left after Stop: %v", vm.StateDir(), err)
	}
}

// checkKmemleakReport asserts the 6.12.y format: "backtrace (crc …):" and
// frames without a "[<addr>]" prefix, through the driver's handler chain.
func checkKmemleakReport(t *testing.T, report string) {
	t.Helper()
	if !strings.Contains(report, "unreferenced object 0x") {
		t.Fatalf("no kmemleak report after traffic with leak=1:\n%.2000s", report)
	}
	for _, want := range []string{"backtrace (crc ", "wlansim_alloc_rx_buf+", "wlansim_rx_handler+", "wlansim_rx_dma_done+", " [wlansim]"} {
		if !strings.Contains(report, want) {
			t.Errorf("kmemleak report lacks %q:\n%.3000s", want, report)
		}
	}
	inTrace := false
	sc := bufio.NewScanner(strings.NewReader(report))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "  backtrace"):
			inTrace = true
		case strings.HasPrefix(line, "unreferenced object"):
			inTrace = false
		case inTrace && strings.Contains(line, "[<"):
			t.Errorf("frame %q has an [<addr>] prefix; 6.12.y prints none", line)
			return
		}
	}
}

// remote wraps a VM for one (sub)test: commands fail the test on error.
type remote struct {
	t   *testing.T
	vm  *VM
	ctx context.Context
}

func (r remote) with(t *testing.T) remote { r.t = t; return r }

func (r remote) run(argv ...string) string {
	r.t.Helper()
	out, err := r.vm.Run(r.ctx, argv...)
	if err != nil {
		r.t.Fatal(err)
	}
	return string(out)
}

func (r remote) param(name string) string {
	r.t.Helper()
	return strings.TrimSpace(r.run("cat", "/sys/module/wlansim/parameters/"+name))
}

func (r remote) intParam(name string) int {
	r.t.Helper()
	v := r.param(name)
	n, err := strconv.Atoi(v)
	if err != nil {
		r.t.Fatalf("wlansim parameter %s = %q, not a number", name, v)
	}
	return n
}

func (r remote) setParam(name, value string) {
	r.t.Helper()
	// The value goes as an argument, never into the shell text.
	r.run("sh", "-c", `printf '%s\n' "$1" > "/sys/module/wlansim/parameters/$2"`, "sh", value, name)
}

// waitParamAtLeast polls a counter parameter until it reaches min (30 s).
func (r remote) waitParamAtLeast(name string, min int) int {
	r.t.Helper()
	var n int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if n = r.intParam(name); n >= min {
			return n
		}
	}
	r.t.Fatalf("wlansim parameter %s = %d, want at least %d within 30 s", name, n, min)
	return n
}

// send pushes count datagrams from the host into the VM at 100/s (the rate
// the profile uses; the emulated guest keeps up with it on a busy host).
func (r remote) send(count int) {
	r.t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(r.vm.UDPPort()))
	n, err := SendTraffic(r.ctx, addr, TrafficOptions{PacketsPerSecond: 100, Count: count})
	if err != nil || n != count {
		r.t.Fatalf("send %d datagrams to %s: sent %d: %v", count, addr, n, err)
	}
}

// slabActive returns active_objs of cache in a /proc/slabinfo text.
func slabActive(info, cache string) (int, bool) {
	for _, line := range strings.Split(info, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == cache {
			n, err := strconv.Atoi(f[1])
			return n, err == nil
		}
	}
	return 0, false
}

func smapsKB(t *testing.T, rollup, field string) int {
	t.Helper()
	for _, line := range strings.Split(rollup, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == field+":" && f[2] == "kB" {
			n, err := strconv.Atoi(f[1])
			if err == nil {
				return n
			}
		}
	}
	t.Fatalf("smaps_rollup has no %s line:\n%s", field, rollup)
	return 0
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func saveCaptured(t *testing.T, files map[string][]byte) {
	t.Helper()
	dir, err := ScriptsDir()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "captured")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(out, name), bytes.TrimRight(b, "\x00"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("refreshed %d fixtures in %s", len(files), out)
}

// processRuns reports whether pid exists and is not a zombie.
func processRuns(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}
