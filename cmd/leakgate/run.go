package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/leakgate/leakgate/remote"
)

func init() {
	register(command{name: "run", summary: "run one command on a target: run --target T [target flags] -- CMD ARGS...", run: runRun})
}

// runRun runs one command on the target and passes its exit status through;
// 255 means the target could not be reached (connection, host key, auth),
// 124 that --timeout expired first.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var tf remote.Flags
	tf.Register(fs)
	timeout := fs.Duration("timeout", 0, "give up on the command after this long (0: never)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: leakgate run --target T [target flags] -- CMD ARGS...")
		fmt.Fprintln(stderr, "Runs CMD on the target (each argument quoted, never interpreted by the remote shell) and exits with its status;")
		fmt.Fprintln(stderr, "exit status 255 means the target could not be reached, 124 that --timeout expired before the command ended.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	argv := fs.Args()
	if len(argv) == 0 {
		fmt.Fprintln(stderr, "leakgate run: no command given (write: leakgate run --target T -- CMD ARGS...)")
		return exitUsage
	}
	if err := tf.Validate(); err != nil {
		fmt.Fprintf(stderr, "leakgate run: %v\n", err)
		return exitUsage
	}
	if *timeout < 0 {
		fmt.Fprintf(stderr, "leakgate run: --timeout %s: want 0 (never) or a positive duration\n", *timeout)
		return exitUsage
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, *timeout, errTimedOut)
		defer cancel()
	}
	// timedOut is whether --timeout, not the link, ended the command.
	timedOut := func() bool { return errors.Is(context.Cause(ctx), errTimedOut) }
	tgt, err := tf.Dial(ctx)
	if err != nil {
		if timedOut() {
			fmt.Fprintf(stderr, "leakgate run: timed out after --timeout %s while connecting\n", *timeout)
			return exitTimeout
		}
		fmt.Fprintf(stderr, "leakgate run: %s\n", describeRemoteError(err))
		return exitRemote
	}
	defer tgt.Close()
	res, err := tgt.Run(ctx, argv, remote.RunOptions{})
	_, _ = stdout.Write(res.Stdout)
	_, _ = stderr.Write(res.Stderr)
	if err != nil {
		if timedOut() {
			fmt.Fprintf(stderr, "leakgate run: timed out after --timeout %s; the command was stopped\n", *timeout)
			return exitTimeout
		}
		fmt.Fprintf(stderr, "leakgate run: %s\n", describeRemoteError(err))
		return exitRemote
	}
	if res.Truncated {
		fmt.Fprintf(stderr, "leakgate run: output cut at %d bytes per stream\n", remote.DefaultMaxOutputBytes)
	}
	return res.ExitStatus
}

// errTimedOut is the cause of a context run's --timeout ended.
var errTimedOut = errors.New("--timeout expired")

// describeRemoteError prefixes an error with the kind of failure, so the
// user knows at a glance whether to fix keys, known_hosts or the network.
func describeRemoteError(err error) string {
	var hk *remote.HostKeyError
	var ae *remote.AuthError
	var le *remote.LinkError
	switch {
	case errors.As(err, &hk):
		return "host key check failed: " + err.Error()
	case errors.As(err, &ae):
		return "authentication failed: " + err.Error()
	case errors.As(err, &le):
		return "connection failed: " + err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out: " + err.Error()
	case errors.Is(err, context.Canceled):
		return "interrupted: " + err.Error()
	default:
		return err.Error()
	}
}
