package procmem

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/leakgate/leakgate/internal/benchfloor"

	"github.com/prometheus/procfs"
)

// fixtureSet reads <prefix>-{status,stat,smaps_rollup}.txt; a missing file is nil.
func fixtureSet(t testing.TB, prefix string) (status, stat, smaps []byte) {
	t.Helper()
	read := func(kind string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "procmem", prefix+"-"+kind+".txt"))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return read("status"), read("stat"), read("smaps_rollup")
}

const kB = 1024

func TestParseProcess_RealProcessesOf6_18(t *testing.T) {
	tests := []struct {
		name       string
		prefix     string
		pid        int
		wantUser   bool
		wantName   string
		wantRSS    uint64
		wantAnon   uint64
		wantSource string
		wantPSS    uint64
		wantStart  uint64
	}{
		{name: "a shell has Pss_Anon from smaps_rollup", prefix: "6.18.44-bash", pid: 9278, wantUser: true, wantName: "bash",
			wantAnon: 587 * kB, wantSource: "Pss_Anon", wantPSS: 1018 * kB, wantStart: 179027},
		{name: "kthreadd is a kernel thread by its stat flags", prefix: "6.18.44-kthreadd", pid: 2, wantUser: false, wantName: "kthreadd", wantStart: 25},
		{name: "init without a readable smaps_rollup falls back to status RssAnon", prefix: "6.18.44-init", pid: 1, wantUser: true, wantName: "process_api",
			wantRSS: 14864 * kB, wantAnon: 8452 * kB, wantSource: "RssAnon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, stat, smaps := fixtureSet(t, tt.prefix)
			p, user, err := ParseProcess(tt.pid, status, stat, smaps)
			if err != nil {
				t.Fatalf("ParseProcess: %v", err)
			}
			if user != tt.wantUser || p.Name != tt.wantName {
				t.Fatalf("user=%v name=%q, want %v %q", user, p.Name, tt.wantUser, tt.wantName)
			}
			if tt.wantRSS != 0 && p.RSSBytes != tt.wantRSS {
				t.Errorf("RSS = %d, want %d", p.RSSBytes, tt.wantRSS)
			}
			if p.PSSAnonBytes != tt.wantAnon || p.AnonSource != tt.wantSource || p.HasPSSAnon != (tt.wantSource == "Pss_Anon") {
				t.Errorf("anon = %d from %q, want %d from %q", p.PSSAnonBytes, p.AnonSource, tt.wantAnon, tt.wantSource)
			}
			if p.PSSBytes != tt.wantPSS {
				t.Errorf("PSS = %d, want %d", p.PSSBytes, tt.wantPSS)
			}
			if tt.wantStart != 0 && p.StartTicks != tt.wantStart {
				t.Errorf("StartTicks = %d, want %d", p.StartTicks, tt.wantStart)
			}
		})
	}
}

const userStatus = "Name:\tsh\nPPid:\t1\nVmRSS:\t    2000 kB\nRssAnon:\t     500 kB\n"

func statLine(pid int, comm string, flags uint64, start uint64) []byte {
	f := make([]string, 0, 50)
	f = append(f, strconv.Itoa(pid), "("+comm+")", "S", "7")
	for i := 5; i <= 52; i++ {
		switch i {
		case 9:
			f = append(f, strconv.FormatUint(flags, 10))
		case 22:
			f = append(f, strconv.FormatUint(start, 10))
		default:
			f = append(f, "0")
		}
	}
	return []byte(strings.Join(f, " ") + "\n")
}

func TestParseProcess_Rules(t *testing.T) {
	tests := []struct {
		name                string
		status, stat, smaps []byte
		wantUser            bool
		wantName            string
		wantStart           uint64
		wantSource          string
		wantErr             bool
	}{
		{name: "a comm with spaces and parentheses ends at the last paren",
			status: nil, stat: statLine(42, "my (odd) proc)", 0x400000, 777), wantUser: true, wantName: "my (odd) proc)", wantStart: 777},
		{name: "PF_KTHREAD in stat flags marks a kernel thread even with memory lines",
			status: []byte(userStatus), stat: statLine(42, "sh", 0x00208040, 5), wantUser: false, wantName: "sh", wantStart: 5, wantSource: "RssAnon"},
		{name: "status Kthread 1 marks a kernel thread without stat",
			status: []byte("Name:\tkworker/0:1\nKthread:\t1\nVmRSS:\t0 kB\n"), wantUser: false, wantName: "kworker/0:1"},
		{name: "a 4.9 status without Vm or Rss lines is a kernel thread",
			status: []byte("Name:\tksoftirqd/0\nState:\tS (sleeping)\nPPid:\t2\n"), wantUser: false, wantName: "ksoftirqd/0"},
		{name: "a bracketed name is the last resort",
			status: []byte("Name:\t[kswapd0]\ngarbage line\n"), wantUser: false, wantName: "[kswapd0]", wantErr: true},
		{name: "a 4.19 smaps_rollup without Pss_Anon falls back to Anonymous",
			status: []byte(userStatus), stat: statLine(42, "sh", 0, 9),
			smaps:    []byte("00400000-7ffd ---p 00000000 00:00 0 [rollup]\nRss:  2000 kB\nPss:  1500 kB\nPrivate_Dirty:  400 kB\nAnonymous:  450 kB\n"),
			wantUser: true, wantName: "sh", wantStart: 9, wantSource: "Anonymous"},
		{name: "a stat naming another pid is reported but kept",
			status: []byte(userStatus), stat: statLine(43, "sh", 0, 9), wantUser: true, wantName: "sh", wantStart: 9, wantSource: "RssAnon", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, user, err := ParseProcess(42, tt.status, tt.stat, tt.smaps)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if user != tt.wantUser || p.Name != tt.wantName || p.StartTicks != tt.wantStart {
				t.Errorf("user=%v name=%q start=%d, want %v %q %d", user, p.Name, p.StartTicks, tt.wantUser, tt.wantName, tt.wantStart)
			}
			if tt.wantSource != "" && p.AnonSource != tt.wantSource {
				t.Errorf("anon source = %q, want %q", p.AnonSource, tt.wantSource)
			}
		})
	}
}

func TestParseProcess_NothingReadableIsUnidentified(t *testing.T) {
	_, user, err := ParseProcess(5, nil, []byte("garbage"), nil)
	if user || !errors.Is(err, ErrUnidentified) {
		t.Fatalf("user=%v err=%v, want ErrUnidentified", user, err)
	}
}

// TestParseProcess_AgreesWithProcfsOnThisMachine parses every live process
// and compares identity and RSS with prometheus/procfs.
func TestParseProcess_AgreesWithProcfsOnThisMachine(t *testing.T) {
	fs, err := procfs.NewFS("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	sawSelf, sawKthreadd := false, false
	for _, pid := range []int{self, 2} {
		dir := filepath.Join("/proc", strconv.Itoa(pid))
		status, _ := os.ReadFile(filepath.Join(dir, "status"))
		stat, _ := os.ReadFile(filepath.Join(dir, "stat"))
		smaps, _ := os.ReadFile(filepath.Join(dir, "smaps_rollup"))
		p, user, err := ParseProcess(pid, status, stat, smaps)
		if err != nil {
			t.Fatalf("pid %d: %v", pid, err)
		}
		proc, err := fs.Proc(pid)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := proc.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if p.StartTicks != ps.Starttime || p.PPID != ps.PPID || p.Name != ps.Comm {
			t.Errorf("pid %d: got start=%d ppid=%d name=%q, procfs %d %d %q", pid, p.StartTicks, p.PPID, p.Name, ps.Starttime, ps.PPID, ps.Comm)
		}
		switch pid {
		case self:
			sawSelf = user && p.RSSBytes > 0 && p.HasPSSAnon
		case 2:
			sawKthreadd = !user
		}
	}
	if !sawSelf || !sawKthreadd {
		t.Errorf("self is a user process with Pss_Anon: %v; kthreadd is a kernel thread: %v", sawSelf, sawKthreadd)
	}
}

func FuzzParseProcess(f *testing.F) {
	for _, pre := range []string{"6.18.44-bash", "6.18.44-kthreadd"} {
		status, stat, smaps := fixtureSet(f, pre)
		f.Add(status, stat, smaps)
	}
	f.Fuzz(func(t *testing.T, status, stat, smaps []byte) {
		p, user, err := ParseProcess(1, status, stat, smaps)
		if errors.Is(err, ErrUnidentified) && user {
			t.Fatalf("unidentified process %+v reported as user", p)
		}
	})
}

func BenchmarkParseProcess(b *testing.B) {
	status, stat, smaps := fixtureSet(b, "6.18.44-bash")
	b.SetBytes(int64(len(status) + len(stat) + len(smaps)))
	for b.Loop() {
		if _, _, err := ParseProcess(9278, status, stat, smaps); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanFloorProcess(b *testing.B) {
	status, stat, smaps := fixtureSet(b, "6.18.44-bash")
	b.SetBytes(int64(len(status) + len(stat) + len(smaps)))
	for b.Loop() {
		for _, in := range [][]byte{status, stat, smaps} {
			s := bufio.NewScanner(bytes.NewReader(in))
			for s.Scan() {
			}
		}
	}
}

// BenchmarkVsFloor compares ParseProcess with a bufio line scan of the same three files, interleaved.
func BenchmarkVsFloor(b *testing.B) {
	status, stat, smaps := fixtureSet(b, "6.18.44-bash")
	floor := func() {
		for _, in := range [][]byte{status, stat, smaps} {
			s := bufio.NewScanner(bytes.NewReader(in))
			for s.Scan() {
			}
		}
	}
	b.Run("bash-6.18", func(b *testing.B) {
		benchfloor.VsFloor(b, len(status)+len(stat)+len(smaps), func() { ParseProcess(9278, status, stat, smaps) }, floor)
	})
}
