package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run leakgate as main does (signals, exit status) in
// a child process: the test binary re-executes itself with
// LEAKGATE_CLI_ARGS, and says on fd 3 when its signal handler is in place.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("LEAKGATE_CLI_ARGS"); ok {
		sigs := make(chan os.Signal, 2)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		ready := os.NewFile(3, "ready")
		ready.Write([]byte("ready\n"))
		ready.Close()
		os.Exit(runStoppable(sigs, stopGrace, func(ctx context.Context) int {
			return dispatch(ctx, strings.Split(args, "\x1f"), os.Stdout, os.Stderr)
		}, os.Stderr))
	}
	os.Exit(m.Run())
}

// startCLI starts leakgate with args in a child process, stdin a pipe left
// open; it returns the command and its stdin's write end.
func startCLI(t *testing.T, args ...string) (*exec.Cmd, *os.File, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "LEAKGATE_CLI_ARGS="+strings.Join(args, "\x1f"))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stderr = r, &stderr
	readyR, readyW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{readyW}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	readyW.Close()
	// Wait for the child's signal handler: a signal before it would kill
	// the child the default way.
	if _, err := io.ReadAll(readyR); err != nil {
		t.Fatal(err)
	}
	readyR.Close()
	t.Cleanup(func() {
		w.Close()
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, w, &stderr
}

func TestCLI_EveryReadingCommandStopsOnASignalWithTheShellsStatus(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		sig  syscall.Signal
		want int
	}{
		{"parse of stdin left open, SIGINT", []string{"parse", "kmemleak"}, syscall.SIGINT, 130},
		{"parse of a FIFO nobody writes, SIGTERM", []string{"parse", "slabinfo", fifo}, syscall.SIGTERM, 143},
		{"parse of /dev/zero, SIGINT", []string{"parse", "kmemleak", "/dev/zero"}, syscall.SIGINT, 130},
		{"trend of stdin left open, SIGTERM", []string{"trend"}, syscall.SIGTERM, 143},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd, _, stderr := startCLI(t, c.args...)
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			cmd.Process.Signal(c.sig)
			select {
			case <-exited:
			case <-time.After(time.Minute):
				t.Fatalf("leakgate %v did not stop on %v within a minute", c.args, c.sig)
			}
			if got := cmd.ProcessState.ExitCode(); got != c.want {
				t.Errorf("exit %d (%v), want %d; stderr %s", got, cmd.ProcessState, c.want, stderr)
			}
		})
	}
}

func TestRunStoppable_ReturnsTheSignalsStatusWhenTheBodyDoesNotStop(t *testing.T) {
	cases := []struct {
		sig  os.Signal
		want int
	}{{os.Interrupt, exitInterrupted}, {syscall.SIGTERM, exitTerminated}}
	for _, c := range cases {
		t.Run(c.sig.String(), func(t *testing.T) {
			sigs := make(chan os.Signal, 1)
			sigs <- c.sig
			block := make(chan struct{})
			defer close(block)
			var stderr bytes.Buffer

			code := runStoppable(sigs, time.Millisecond, func(context.Context) int { <-block; return 0 }, &stderr)

			if code != c.want || !strings.Contains(stderr.String(), "stopped without waiting longer for the input") {
				t.Errorf("exit %d stderr %q, want %d", code, stderr.String(), c.want)
			}
		})
	}
}

func TestRunStoppable_ABodyThatStopsOnCancelStillExitsWithTheSignalsStatus(t *testing.T) {
	sigs := make(chan os.Signal, 1)
	sigs <- os.Interrupt

	code := runStoppable(sigs, time.Hour, func(ctx context.Context) int { <-ctx.Done(); return exitOK }, &bytes.Buffer{})

	if code != exitInterrupted {
		t.Errorf("exit %d, want %d", code, exitInterrupted)
	}
}

func TestTrend_DevZeroIsRefusedAtItsFirstLine(t *testing.T) {
	code, _, errOut := runCLI("trend", "/dev/zero")

	if code != exitUsage || errOut != "leakgate trend /dev/zero: bad trend CSV: line 1: longer than 65536 bytes; want series,t,value\n" {
		t.Errorf("exit %d stderr %q", code, errOut)
	}
}

func TestTrend_AnEndlessLineIsRefusedNamingIt(t *testing.T) {
	p := filepath.Join(t.TempDir(), "long.csv")
	os.WriteFile(p, []byte("series,t,value\na,0,"+strings.Repeat("1", trendMaxLineBytes+1)+"\n"), 0o600)

	code, _, errOut := runCLI("trend", p)

	if code != exitUsage || !strings.Contains(errOut, "bad trend CSV: line 2: longer than 65536 bytes") {
		t.Errorf("exit %d stderr %q", code, errOut)
	}
}
