package remote

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// shells are the POSIX shells the read script must run under.
var shells = []struct {
	name string
	argv []string
}{
	{"sh", []string{"/bin/sh"}},
	{"dash", []string{"/usr/bin/dash"}},
	{"busybox ash", []string{"/bin/busybox", "ash"}},
}

// runReadScript runs the read script under shell argv locally and parses it.
func runReadScript(t *testing.T, shell []string, paths []string, opts ReadOptions, root string) *Snapshot {
	t.Helper()
	if _, err := os.Stat(shell[0]); err != nil {
		t.Fatalf("%s missing: run scripts/deps.sh (%v)", shell[0], err)
	}
	req, err := newReadRequest(paths, opts, root)
	if err != nil {
		t.Fatal(err)
	}
	argv := append(append([]string{}, shell...), "-c", readScript, readScriptName)
	argv = append(argv, req.args...)
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		t.Fatalf("read script under %v: %v", shell, err)
	}
	snap, err := req.parse(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("parse output of %v: %v\n%q", shell, err, out)
	}
	return snap
}

// fixtureTree writes a small tree with awkward files and returns its root.
func fixtureTree(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		"/proc/meminfo":     []byte("MemTotal:       1000 kB\nMemFree:         500 kB\n"),
		"/proc/1/status":    []byte("Name:\tinit\nPid:\t1\n"),
		"/proc/42/status":   []byte("Name:\tdaemon\nPid:\t42\n"),
		"/proc/empty":       {},
		"/proc/nonewline":   []byte("no newline at end"),
		"/proc/binary":      {0, 1, 2, '\n', 0xff, '\n', '\n'},
		"/x/$(touch pwned)": []byte("dollar paren\n"),
		"/x/a'b\"c;d":       []byte("quotes\n"),
		"/x/new\nline":      []byte("newline in name\n"),
		"/x/fake-marker":    []byte("\nLG00000000000000000000000000000000Z\n"),
		"/x/-dash":          []byte("leading dash\n"),
		"/sys/kernel/debug/slab/kmalloc-64/alloc_traces": []byte("   1 f+0x1/0x2 age=1\n"),
	}
	for p, b := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, files
}

func TestReadScript_EveryShellReadsAwkwardFilesExactly(t *testing.T) {
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			dir, files := fixtureTree(t)
			paths := []string{"/proc/meminfo", "/proc/[0-9]*/status", "/proc/empty", "/proc/nonewline", "/proc/binary",
				"/x/$(touch pwned)", "/x/a'b\"c;d", "/x/new\nline", "/x/fake-marker", "/x/-dash",
				"/sys/kernel/debug/slab/*/alloc_traces"}
			snap := runReadScript(t, sh.argv, paths, ReadOptions{}, dir)
			for p, want := range files {
				if got, ok := snap.Files[p]; !ok || !bytes.Equal(got, want) {
					t.Errorf("%s: got %q (present %v), want %q", p, got, ok, want)
				}
			}
			if len(snap.Files) != len(files) || len(snap.Errors) != 0 {
				t.Errorf("got %d files and errors %v, want %d files and no errors", len(snap.Files), snap.Errors, len(files))
			}
			if _, err := os.Stat(filepath.Join(dir, "x", "pwned")); err == nil {
				t.Error("a hostile file name ran a command")
			}
		})
	}
}

func TestReadScript_MissingFilesAndEmptyGlobsAreErrorsPerFile(t *testing.T) {
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			dir, _ := fixtureTree(t)
			snap := runReadScript(t, sh.argv, []string{"/proc/meminfo", "/nope", "/proc/[a-z]*/nothing", "/proc"}, ReadOptions{}, dir)
			if _, ok := snap.Files["/proc/meminfo"]; !ok {
				t.Error("the readable file is missing from the snapshot")
			}
			for _, p := range []string{"/nope", "/proc/[a-z]*/nothing", "/proc"} {
				if snap.Errors[p] == "" {
					t.Errorf("no error recorded for %s; errors: %v", p, snap.Errors)
				}
				if _, ok := snap.Files[p]; ok {
					t.Errorf("%s is in Files despite its error", p)
				}
			}
		})
	}
}

func TestReadScript_CapsFilesAndRecordsTruncation(t *testing.T) {
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			dir := t.TempDir()
			big := bytes.Repeat([]byte("0123456789\n"), 1000)
			if err := os.WriteFile(filepath.Join(dir, "big"), big, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "exact"), big[:100], 0o644); err != nil {
				t.Fatal(err)
			}
			snap := runReadScript(t, sh.argv, []string{"/big", "/exact"}, ReadOptions{MaxFileBytes: 100}, dir)
			if !bytes.Equal(snap.Files["/big"], big[:100]) {
				t.Errorf("big: got %d bytes, want the first 100", len(snap.Files["/big"]))
			}
			if !bytes.Equal(snap.Files["/exact"], big[:100]) {
				t.Errorf("exact: got %d bytes, want 100", len(snap.Files["/exact"]))
			}
			if strings.Join(snap.Truncated, ",") != "/big" {
				t.Errorf("truncated = %v, want [/big]", snap.Truncated)
			}
		})
	}
}

func TestLocal_ReadFilesReadsRealProc(t *testing.T) {
	snap, err := NewLocal("").ReadFiles(context.Background(), []string{"/proc/meminfo", "/proc/self/status", "/proc/[0-9]*/status"}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(snap.Files["/proc/meminfo"], []byte("MemTotal:")) {
		t.Errorf("meminfo starts %q", snap.Files["/proc/meminfo"][:20])
	}
	if !bytes.Contains(snap.Files["/proc/1/status"], []byte("Pid:\t1\n")) {
		t.Errorf("/proc/1/status = %q", snap.Files["/proc/1/status"])
	}
}

func TestParse_RejectsStreamsThatEndEarly(t *testing.T) {
	req, err := newReadRequest([]string{"/a"}, ReadOptions{}, "")
	if err != nil {
		t.Fatal(err)
	}
	b := req.boundary
	cases := map[string]string{
		"no end marker":         "\n" + b + "P\n/a\n" + b + "D\nxx\n" + b + "S\n0 ",
		"cut inside contents":   "\n" + b + "P\n/a\n" + b + "D\nxx",
		"nothing at all":        "",
		"contents without path": "\n" + b + "D\nxx\n" + b + "Z\n",
	}
	for name, stream := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := req.parse(strings.NewReader(stream)); err == nil {
				t.Error("parse accepted a broken stream")
			}
		})
	}
}

func FuzzParseReadStream(f *testing.F) {
	req, err := newReadRequest([]string{"/a"}, ReadOptions{MaxFileBytes: 64}, "")
	if err != nil {
		f.Fatal(err)
	}
	b := req.boundary
	f.Add([]byte("\n" + b + "P\n/a\n" + b + "D\nxx\n" + b + "S\n0 \n" + b + "Z\n"))
	f.Add([]byte("\n" + b + "N\n/p*\n" + b + "Z\n"))
	f.Add([]byte("\n" + b + "I\n4242\n" + b + "P\n/a\n" + b + "D\nxx\n" + b + "S\n0 \n" + b + "Z\n"))
	f.Add([]byte("\n" + b + "I\n-1\n" + b + "Z\n"))
	f.Add([]byte("junk\n" + b + "P\n/a\n" + b + "D\n" + strings.Repeat("y", 100) + "\n" + b + "S\n1 err\n" + b + "Z\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		snap, err := req.parse(bytes.NewReader(data))
		if err == nil && snap == nil {
			t.Fatal("nil snapshot without error")
		}
		if snap != nil {
			for p, c := range snap.Files {
				if len(c) > 64 {
					t.Fatalf("%s: %d bytes beyond the cap", p, len(c))
				}
			}
		}
	})
}

func BenchmarkParseReadStream(b *testing.B) {
	req, err := newReadRequest([]string{"/a"}, ReadOptions{}, "")
	if err != nil {
		b.Fatal(err)
	}
	var stream bytes.Buffer
	line := []byte("kmalloc-64          12345  12800     64   64    1 : tunables    0    0    0 : slabdata    200    200      0\n")
	for i := 0; i < 400; i++ {
		stream.WriteString("\n" + req.boundary + "P\n/proc/" + strings.Repeat("1", i%7+1) + "/status\n" + req.boundary + "D\n")
		for j := 0; j < 60; j++ {
			stream.Write(line)
		}
		stream.WriteString("\n" + req.boundary + "S\n0 ")
	}
	stream.WriteString("\n" + req.boundary + "Z\n")
	b.SetBytes(int64(stream.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := req.parse(bytes.NewReader(stream.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadScript runs the read script for one sample of this machine's
// /proc under each shell: the cost on the target itself, without SSH.
func BenchmarkReadScript(b *testing.B) {
	paths := []string{"/proc/slabinfo", "/proc/meminfo", "/proc/[0-9]*/status", "/proc/[0-9]*/smaps_rollup"}
	for _, sh := range shells {
		b.Run("shell="+strings.ReplaceAll(sh.name, " ", "-"), func(b *testing.B) {
			files := 0
			for b.Loop() {
				req, err := newReadRequest(paths, ReadOptions{}, "")
				if err != nil {
					b.Fatal(err)
				}
				argv := append(append([]string{}, sh.argv...), "-c", readScript, readScriptName)
				cmd := exec.Command(argv[0], append(argv[1:], req.args...)...)
				out, err := cmd.StdoutPipe()
				if err != nil {
					b.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				snap, err := req.parse(out)
				if werr := cmd.Wait(); err != nil || werr != nil {
					b.Fatal(err, werr)
				}
				files = len(snap.Files)
			}
			b.ReportMetric(float64(files), "files/op")
		})
	}
}
