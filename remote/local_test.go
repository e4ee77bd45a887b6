package remote

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLocal_RootedRunMapsOnlyTheMarkedPathArguments(t *testing.T) {
	root := t.TempDir()
	tgt := NewLocal(root)

	res, err := tgt.Run(context.Background(), []string{"sh", "-c", `echo "$1|$2"; echo e >&2; exit 4`, "sh", "/proc/x", "/proc/y"},
		RunOptions{PathArgs: []int{4}})

	if err != nil || string(res.Stdout) != root+"/proc/x|/proc/y\n" || string(res.Stderr) != "e\n" || res.ExitStatus != 4 {
		t.Errorf("got stdout %q stderr %q exit %d, %v; want %q, \"e\\n\", 4", res.Stdout, res.Stderr, res.ExitStatus, err, root+"/proc/x|/proc/y\n")
	}
	if tgt.Name() != "local:"+root {
		t.Errorf("name = %q, want local:%s", tgt.Name(), root)
	}
}

func TestLocal_UnrootedRunPassesPathArgumentsAsGiven(t *testing.T) {
	res, err := NewLocal("").Run(context.Background(), []string{"echo", "/proc/x"}, RunOptions{PathArgs: []int{1}})
	if err != nil || string(res.Stdout) != "/proc/x\n" {
		t.Errorf("got %q, %v; want \"/proc/x\\n\"", res.Stdout, err)
	}
}

func TestRun_RejectsPathArgumentsThatAreNotAbsolutePaths(t *testing.T) {
	cases := []struct {
		name     string
		argv     []string
		pathArgs []int
		want     string
	}{
		{"a relative path", []string{"cat", "proc/x"}, []int{1}, `argument 1 ("proc/x") is marked as a target path but is not absolute`},
		{"an index past the end", []string{"cat"}, []int{1}, "names argument 1 of 1"},
		{"a negative index", []string{"cat"}, []int{-1}, "names argument -1 of 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewLocal(t.TempDir()).Run(context.Background(), c.argv, RunOptions{PathArgs: c.pathArgs})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
}

func TestLocal_MissingCommandIsExitStatus127(t *testing.T) {
	res, err := NewLocal("").Run(context.Background(), []string{"/nonexistent/leakgate-no-such-tool"}, RunOptions{})
	if err != nil || res.ExitStatus != 127 {
		t.Errorf("got %+v, %v", res, err)
	}
}

func TestLocal_CancelledRunReturnsTheContextError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := NewLocal("").Run(ctx, []string{"sleep", "10"}, RunOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v", err)
	}
}

func TestDownloadName_KeepsOnlyAPlainBaseName(t *testing.T) {
	cases := map[string]string{"/a/b": "b", "/a/../etc/passwd": "passwd", "b/": "b", "/x/.hidden": ".hidden"}
	for in, want := range cases {
		if got, err := downloadName(in); err != nil || got != want {
			t.Errorf("downloadName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/", "/a/..", "/a/.", "..", `a\b`} {
		if got, err := downloadName(bad); err == nil {
			t.Errorf("downloadName(%q) = %q, want an error", bad, got)
		}
	}
}

func TestLocalReadFiles_NamesTheShellThatRead(t *testing.T) {
	tgt := NewLocal("")

	snap, err := tgt.ReadFiles(context.Background(), []string{"/proc/self/stat"}, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// head read /proc/self/stat; its parent (field 4) is the read script's shell.
	stat := snap.Files["/proc/self/stat"]
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if snap.ReaderPID <= 0 || len(fields) < 2 || fields[1] != strconv.Itoa(snap.ReaderPID) {
		t.Errorf("ReaderPID = %d, but head's stat says its parent is %v", snap.ReaderPID, fields)
	}
	if snap.ReaderPID == os.Getpid() {
		t.Errorf("ReaderPID is the harness itself, not the shell")
	}
}

func TestNewLocal_IsALocalTransportThatMovesNoFiles(t *testing.T) {
	tgt := NewLocal("")
	if _, ok := TransportOf(tgt).(*Local); !ok {
		t.Errorf("TransportOf(NewLocal) = %T, want *remote.Local", TransportOf(tgt))
	}
	if _, ok := tgt.(FileTransfer); ok {
		t.Errorf("a local target offers FileTransfer; nothing implements it for Local")
	}
}
