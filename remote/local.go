package remote

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// Local is the transport to the machine leakgate runs on: commands run
// directly, without a shell, so nothing in argv is interpreted. NewLocal
// wraps it into a Target.
type Local struct {
	name string
}

// NewLocal returns the local machine as a Target. root "" is the machine
// itself; a non-empty root serves that folder as the target's filesystem:
// ReadFiles paths and RunOptions.PathArgs are mapped under it (harness tests
// use it to serve scripted /proc trees).
func NewLocal(root string) Target {
	name := "local"
	if root != "" && filepath.Clean(root) != "/" {
		name = "local:" + filepath.Clean(root)
	}
	return NewTarget(&Local{name: name}, root)
}

// Name is "local", or "local:ROOT" for a rooted target.
func (l *Local) Name() string { return l.name }

// Exec runs p.Argv directly. A command that cannot be started (not found,
// not executable) is exit status 127 with the reason on stderr, as a shell
// reports it; a process killed by signal N is 128+N.
func (l *Local) Exec(ctx context.Context, p Process) (int, error) {
	if len(p.Argv) == 0 {
		return 0, errEmptyCommand
	}
	cmd := exec.CommandContext(ctx, p.Argv[0], p.Argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.Stdin, p.Stdout, p.Stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	case errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist):
		if p.Stderr != nil {
			_, _ = io.WriteString(p.Stderr, err.Error()+"\n")
		}
		return 127, nil
	default:
		return 0, err
	}
}

// Close does nothing: a local target holds no connection.
func (l *Local) Close() error { return nil }
