package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// NewTarget layers Run, ReadFiles and path mapping over a transport. A
// non-empty root says the target's filesystem is served from that folder
// (remotetest servers, a rooted Local): every target path ReadFiles reads
// and every RunOptions.PathArgs argument is mapped under it. A real device
// has root "". When tr also moves files (FileTransfer), so does the result,
// with the same mapping.
func NewTarget(tr Transport, root string) Target {
	if root != "" {
		root = filepath.Clean(root)
		if root == "/" {
			root = ""
		}
	}
	t := &target{tr: tr, root: root}
	if ft, ok := tr.(FileTransfer); ok {
		return &fileTarget{target: t, ft: ft}
	}
	return t
}

// TransportOf returns the transport under a target made by NewTarget (Dial
// and NewLocal make them that way), or nil for any other Target.
func TransportOf(tgt Target) Transport {
	switch t := tgt.(type) {
	case *target:
		return t.tr
	case *fileTarget:
		return t.tr
	}
	return nil
}

// target is a Transport with everything the harness uses layered on top.
// It holds no state of its own beyond its fields, so it is as safe for
// concurrent use as its transport, which must be.
type target struct {
	tr   Transport
	root string
}

// Name is the transport's name.
func (t *target) Name() string { return t.tr.Name() }

// Close closes the transport.
func (t *target) Close() error { return t.tr.Close() }

// Run executes argv with its output capped, target paths mapped under root.
func (t *target) Run(ctx context.Context, argv []string, opts RunOptions) (Result, error) {
	if len(argv) == 0 {
		return Result{}, fmt.Errorf("run on %s: empty command", t.Name())
	}
	argv, err := t.mapArgs(argv, opts.PathArgs)
	if err != nil {
		return Result{}, fmt.Errorf("run %s on %s: %w", argv[0], t.Name(), err)
	}
	start := time.Now()
	stdout, stderr := newCapBuffer(opts.MaxOutputBytes), newCapBuffer(opts.MaxOutputBytes)
	p := Process{Argv: argv, Stdout: stdout, Stderr: stderr}
	if opts.Stdin != nil {
		p.Stdin = bytes.NewReader(opts.Stdin)
	}
	status, err := t.tr.Exec(ctx, p)
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitStatus: status,
		Truncated: stdout.truncated || stderr.truncated, Duration: time.Since(start)}
	if err != nil {
		return res, fmt.Errorf("run %s on %s: %w", argv[0], t.Name(), err)
	}
	return res, nil
}

// mapArgs checks that every marked argument is an absolute path and maps it
// under root. argv itself is never modified.
func (t *target) mapArgs(argv []string, pathArgs []int) ([]string, error) {
	if len(pathArgs) == 0 {
		return argv, nil
	}
	out := append([]string(nil), argv...)
	for _, i := range pathArgs {
		if i < 0 || i >= len(argv) {
			return argv, fmt.Errorf("RunOptions.PathArgs names argument %d of %d (mark only arguments that exist)", i, len(argv))
		}
		if !strings.HasPrefix(argv[i], "/") {
			return argv, fmt.Errorf("argument %d (%q) is marked as a target path but is not absolute (give absolute paths)", i, argv[i])
		}
		out[i] = t.root + argv[i]
	}
	return out, nil
}

// fileTarget is a target whose transport also moves files.
type fileTarget struct {
	*target
	ft FileTransfer
}

// Upload copies localPath to remotePath (under root).
func (f *fileTarget) Upload(ctx context.Context, localPath, remotePath string, mode uint32) error {
	if !strings.HasPrefix(remotePath, "/") {
		return fmt.Errorf("upload %s to %s: target path %q is not absolute (give an absolute path)", localPath, f.Name(), remotePath)
	}
	return f.ft.Upload(ctx, localPath, f.root+remotePath, mode)
}

// Download copies remotePath (under root) into localDir, never outside it.
func (f *fileTarget) Download(ctx context.Context, remotePath, localDir string) (string, error) {
	if !strings.HasPrefix(remotePath, "/") {
		return "", fmt.Errorf("download %s from %s: target path is not absolute (give an absolute path)", remotePath, f.Name())
	}
	return f.ft.Download(ctx, f.root+remotePath, localDir)
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

// errEmptyCommand is returned by a transport given no argv.
var errEmptyCommand = errors.New("empty command")
