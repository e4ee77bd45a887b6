package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Local is the machine leakgate runs on, seen as a Target. With a root, every
// absolute target path is mapped under root: harness tests use it to serve
// scripted /proc trees.
type Local struct {
	root string
}

// NewLocal returns the local machine as a Target. root "" is the machine
// itself; a non-empty root maps target paths under it, and Run runs commands
// on the host with working directory root and LEAKGATE_ROOT=root.
func NewLocal(root string) Target {
	if root != "" {
		root = filepath.Clean(root)
		if root == "/" {
			root = ""
		}
	}
	return &Local{root: root}
}

// Name is "local", or "local:ROOT" for a rooted target.
func (l *Local) Name() string {
	if l.root == "" {
		return "local"
	}
	return "local:" + l.root
}

// Run executes argv directly (no shell, so nothing in it is interpreted).
func (l *Local) Run(ctx context.Context, argv []string, opts RunOptions) (Result, error) {
	if len(argv) == 0 {
		return Result{}, errors.New("run on local: empty command")
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if l.root != "" {
		cmd.Dir = l.root
		cmd.Env = append(os.Environ(), "LEAKGATE_ROOT="+l.root)
	}
	if opts.Stdin != nil {
		cmd.Stdin = bytes.NewReader(opts.Stdin)
	}
	stdout, stderr := newCapBuffer(opts.MaxOutputBytes), newCapBuffer(opts.MaxOutputBytes)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Truncated: stdout.truncated || stderr.truncated, Duration: time.Since(start)}
	if ctx.Err() != nil {
		return res, fmt.Errorf("run %s on local: %w", argv[0], ctx.Err())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.ExitStatus = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.ExitStatus = 128 + int(ws.Signal())
		}
	case errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist):
		// Like a shell: command not found is exit status 127.
		res.ExitStatus = 127
		res.Stderr = append(res.Stderr, []byte(err.Error()+"\n")...)
	default:
		return res, fmt.Errorf("run %s on local: %w", argv[0], err)
	}
	return res, nil
}

// ReadFiles runs the same read script an SSH target runs, under /bin/sh.
func (l *Local) ReadFiles(ctx context.Context, paths []string, opts ReadOptions) (*Snapshot, error) {
	req, err := newReadRequest(paths, opts, l.root)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", readScript, readScriptName}, req.args...)...)
	stderr := newCapBuffer(64 << 10)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("read files on local: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("read files on local: %w", err)
	}
	snap, perr := req.parse(out)
	if perr != nil {
		_, _ = io.Copy(io.Discard, out)
	}
	werr := cmd.Wait()
	snap.Duration = time.Since(req.taken)
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("read files on local: %w", ctx.Err())
	case perr != nil:
		return nil, fmt.Errorf("read files on local: %w (stderr: %s)", perr, strings.TrimSpace(string(stderr.Bytes())))
	case werr != nil:
		return nil, fmt.Errorf("read files on local: %w (stderr: %s)", werr, strings.TrimSpace(string(stderr.Bytes())))
	}
	return snap, nil
}

// Upload copies localPath to remotePath (under root) with mode.
func (l *Local) Upload(ctx context.Context, localPath, remotePath string, mode uint32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	src, err := os.Open(localPath)
	if err != nil {
		return fmt.Errorf("upload %s to local: %w", localPath, err)
	}
	defer src.Close()
	dst := l.root + remotePath
	tmp := dst + ".leakgate-upload"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, os.FileMode(mode&0o7777))
	if err != nil {
		return fmt.Errorf("upload %s to local %s: %w", localPath, remotePath, err)
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("upload %s to local %s: %w", localPath, remotePath, err)
	}
	if err := f.Chmod(os.FileMode(mode & 0o7777)); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("upload %s to local %s: %w", localPath, remotePath, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("upload %s to local %s: %w", localPath, remotePath, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("upload %s to local %s: %w", localPath, remotePath, err)
	}
	return nil
}

// Download copies remotePath (under root) into localDir, never outside it.
func (l *Local) Download(ctx context.Context, remotePath, localDir string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	src, err := os.Open(l.root + remotePath)
	if err != nil {
		return "", fmt.Errorf("download %s from local: %w", remotePath, err)
	}
	defer src.Close()
	return writeDownload(remotePath, localDir, src)
}

// Close does nothing: a local target holds no connection.
func (l *Local) Close() error { return nil }

// writeDownload writes r into localDir under the base name of remotePath.
// os.Root keeps every write inside localDir, whatever symlinks it holds.
func writeDownload(remotePath, localDir string, r io.Reader) (string, error) {
	name, err := downloadName(remotePath)
	if err != nil {
		return "", err
	}
	root, err := os.OpenRoot(localDir)
	if err != nil {
		return "", fmt.Errorf("download %s: open destination folder: %w", remotePath, err)
	}
	defer root.Close()
	if fi, err := root.Lstat(name); err == nil && !fi.Mode().IsRegular() {
		return "", fmt.Errorf("download %s: %s already exists in %s and is not a regular file; remove it", remotePath, name, localDir)
	}
	tmp := "." + name + ".partial"
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return "", fmt.Errorf("download %s into %s: %w", remotePath, localDir, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		root.Remove(tmp)
		return "", fmt.Errorf("download %s into %s: %w", remotePath, localDir, err)
	}
	if err := f.Close(); err != nil {
		root.Remove(tmp)
		return "", fmt.Errorf("download %s into %s: %w", remotePath, localDir, err)
	}
	if err := root.Rename(tmp, name); err != nil {
		root.Remove(tmp)
		return "", fmt.Errorf("download %s into %s: %w", remotePath, localDir, err)
	}
	return filepath.Join(localDir, name), nil
}

// downloadName is the local file name for remotePath: its base name, which
// must be a plain name.
func downloadName(remotePath string) (string, error) {
	trimmed := strings.TrimRight(remotePath, "/")
	name := trimmed[strings.LastIndexByte(trimmed, '/')+1:]
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, 0) || strings.ContainsRune(name, '\\') {
		return "", fmt.Errorf("download %q: no usable file name in the path; name a file", remotePath)
	}
	return name, nil
}

// capBuffer keeps up to max bytes and records whether more were written.
type capBuffer struct {
	buf       bytes.Buffer
	max       int64
	truncated bool
}

func newCapBuffer(max int64) *capBuffer {
	if max <= 0 {
		max = DefaultMaxOutputBytes
	}
	return &capBuffer{max: max}
}

func (c *capBuffer) Write(p []byte) (int, error) {
	room := c.max - int64(c.buf.Len())
	if int64(len(p)) > room {
		c.truncated = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	c.buf.Write(p)
	return len(p), nil
}

// Bytes returns what was kept.
func (c *capBuffer) Bytes() []byte { return c.buf.Bytes() }
