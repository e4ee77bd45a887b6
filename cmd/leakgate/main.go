// Command leakgate is the command-line face of the leak gate: it preflights a
// target, reads and parses kernel memory files, judges series and re-judges
// recorded soaks. Each subcommand lives in its own file and registers itself.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/leakgate/leakgate/remote"
)

// Exit codes shared by every subcommand: the README's table.
const (
	exitOK       = 0
	exitFindings = 1 // a leak found, a target not ready, a remote command's own failure
	exitUsage    = 2 // bad input, flags or configuration
	// exitTimeout is run's --timeout expiring, timeout(1)'s status: the
	// target answered, the command did not finish in time.
	exitTimeout = 124
	// exitRemote is a target that could not be reached or used: the
	// connection, the host key or the authentication failed.
	exitRemote = 255
	// exitInterrupted and exitTerminated are the shell's 128+signal for
	// SIGINT and SIGTERM.
	exitInterrupted = 130
	exitTerminated  = 143
)

// remoteExit is the exit status of a failed operation on a connected
// target: 255 when the link, the host key or the authentication failed
// (or the connection stalled), otherwise other, the command's own status
// for a failure that is not the connection's.
func remoteExit(err error, other int) int {
	var hk *remote.HostKeyError
	var ae *remote.AuthError
	var le *remote.LinkError
	if errors.As(err, &hk) || errors.As(err, &ae) || errors.As(err, &le) {
		return exitRemote
	}
	return other
}

// command is one subcommand: its name, a one-line summary and its body.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands is the static table of subcommands, filled by register in each
// subcommand file's init.
var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("leakgate: subcommand registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	code := runStoppable(sigs, stopGrace, func(ctx context.Context) int {
		return dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}, os.Stderr)
	signal.Stop(sigs)
	os.Exit(code)
}

// stopGrace is how long a subcommand has, after SIGINT or SIGTERM cancelled
// its context, to stop on its own before leakgate exits without it.
const stopGrace = 3 * time.Second

// runStoppable runs body with a context that a signal on sigs cancels.
// After the first signal body has grace to return (every write leakgate
// makes is to a temporary file renamed into place, so stopping mid-way
// leaves nothing half-written); a second signal or the end of grace
// stops waiting. A signalled run exits with 130 (SIGINT) or 143 (SIGTERM)
// whatever body returned.
func runStoppable(sigs <-chan os.Signal, grace time.Duration, body func(context.Context) int, stderr io.Writer) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := make(chan int, 1)
	go func() { done <- body(ctx) }()
	select {
	case code := <-done:
		return code
	case sig := <-sigs:
		cancel(fmt.Errorf("%w: %s", errStopped, sig))
		code := exitInterrupted
		if sig == syscall.SIGTERM {
			code = exitTerminated
		}
		select {
		case <-done:
		case <-sigs:
			fmt.Fprintf(stderr, "leakgate: second signal; stopped at once\n")
		case <-time.After(grace):
			fmt.Fprintf(stderr, "leakgate: %s: stopped without waiting longer for the input\n", sig)
		}
		return code
	}
}

// errStopped is the cause of a context a signal cancelled.
var errStopped = errors.New("stopped by a signal")

// contextReader returns r that fails with the context's cause once ctx is
// done, checked before every read: an endless input (/dev/zero, a pipe
// that never closes) stops at the next read after a signal.
func contextReader(ctx context.Context, r io.Reader) io.Reader { return &ctxReader{ctx: ctx, r: r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "leakgate: unknown subcommand %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: leakgate SUBCOMMAND [flags] [args]")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}
