package remote

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLocal_RootedRunSeesItsRoot(t *testing.T) {
	root := t.TempDir()
	tgt := NewLocal(root)

	res, err := tgt.Run(context.Background(), []string{"sh", "-c", `pwd; echo "$LEAKGATE_ROOT"; echo e >&2; exit 4`}, RunOptions{})

	if err != nil || string(res.Stdout) != root+"\n"+root+"\n" || string(res.Stderr) != "e\n" || res.ExitStatus != 4 {
		t.Errorf("got %+v, %v", res, err)
	}
	if tgt.Name() != "local:"+root {
		t.Errorf("name = %q", tgt.Name())
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

func TestLocal_UploadAndDownloadStayUnderTheRoot(t *testing.T) {
	root := t.TempDir()
	tgt := NewLocal(root)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, []byte("payload"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := tgt.Upload(context.Background(), src, "/tool", 0o700); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, "tool"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("uploaded: %v %v", fi, err)
	}
	dir := t.TempDir()
	got, err := tgt.Download(context.Background(), "/tool", dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); string(b) != "payload" || got != filepath.Join(dir, "tool") {
		t.Errorf("downloaded %s: %q", got, b)
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
