// Package remote reaches the device under test: it runs commands and reads
// many files in one round trip, over SSH or on the local machine. It knows
// nothing about memory, slabs or Ginkgo.
//
// It is built in two layers. A Transport (SSH, Local) only starts a process
// on the target and streams its input and output. NewTarget layers
// everything the harness uses on top of that, once for every transport: the
// output caps of Run, the one-round-trip ReadFiles pipeline, and the mapping
// of target paths under a folder for targets served from one in tests.
package remote

import (
	"context"
	"io"
	"time"
)

// Target is one device the harness observes: what the harness uses of it.
// A Target is safe for concurrent use by many goroutines: workloads call
// Run while the sampler calls ReadFiles.
type Target interface {
	// Name is the human name of the target (the alias or host the user gave).
	Name() string
	// Run executes argv on the target. Each argument is passed on as one
	// word, so no argument is ever interpreted by a shell. A non-zero exit
	// status is reported in Result.ExitStatus with a nil error; a lost link
	// or a cancelled context is an error (see IsRetryable).
	Run(ctx context.Context, argv []string, opts RunOptions) (Result, error)
	// ReadFiles reads every path and glob in one round trip. Missing or
	// unreadable files are recorded in Snapshot.Errors, not returned as error.
	ReadFiles(ctx context.Context, paths []string, opts ReadOptions) (*Snapshot, error)
	// Close releases the connection. It is safe to call more than once.
	Close() error
}

// RunOptions tunes one Run call.
type RunOptions struct {
	// Stdin, when non-nil, is sent to the command's standard input.
	Stdin []byte
	// MaxOutputBytes caps stdout and stderr each; 0 means DefaultMaxOutputBytes.
	MaxOutputBytes int64
	// PathArgs are the indexes in argv of the arguments that are absolute
	// paths on the target. A real device gets them as they are; a target
	// served from a folder (tests) maps them under the folder, as ReadFiles
	// maps its paths. Scripts therefore take every target path as a
	// positional argument and never spell one in their text.
	PathArgs []int
}

// DefaultMaxOutputBytes caps the output kept from one Run call.
const DefaultMaxOutputBytes = 64 << 20

// Result is what one command produced on the target.
type Result struct {
	Stdout     []byte
	Stderr     []byte
	ExitStatus int
	// Truncated is true when stdout or stderr was cut at MaxOutputBytes.
	Truncated bool
	Duration  time.Duration
}

// ReadOptions tunes one ReadFiles call.
type ReadOptions struct {
	// MaxFileBytes caps each file; 0 means DefaultMaxFileBytes. A capped file
	// is kept up to the cap and listed in Snapshot.Truncated.
	MaxFileBytes int64
}

// DefaultMaxFileBytes caps each file read by ReadFiles.
const DefaultMaxFileBytes = 32 << 20

// Snapshot is what one ReadFiles round trip saw: file contents keyed by the
// path on the target (globs expanded), and per-file errors.
type Snapshot struct {
	Taken time.Time `json:"taken"`
	// Files maps an absolute target path to its bytes.
	Files map[string][]byte `json:"-"`
	// Errors maps a path (or an unmatched glob) to why it could not be read.
	Errors map[string]string `json:"errors,omitempty"`
	// Truncated lists paths cut at the size cap.
	Truncated []string      `json:"truncated,omitempty"`
	Duration  time.Duration `json:"duration_ns"`
	// ReaderPID is the target pid of the shell that read the files (0 when
	// unknown). Its ancestors up to the service the harness came through are
	// the observer's own processes: see checks.SampleOptions.ReaderPID.
	ReaderPID int `json:"reader_pid,omitempty"`
}

// Transport is the one thing a way of reaching a device must provide:
// start a process there and stream its input and output. Run, ReadFiles and
// path mapping are layered on top by NewTarget, the same for every
// transport. Implementations must be safe for concurrent Exec calls.
type Transport interface {
	// Name is the human name of the target.
	Name() string
	// Exec runs p.Argv on the target, each argument passed on as one word,
	// streaming p.Stdin to it and its output to p.Stdout and p.Stderr until
	// it exits, and returns its exit status (128+N for a death by signal N,
	// 127 for a command not found). A lost link is a *LinkError; a
	// cancelled context stops the process and returns the context's error.
	Exec(ctx context.Context, p Process) (exitStatus int, err error)
	// Close releases the transport. It is safe to call more than once.
	Close() error
}

// Process is one command for Transport.Exec. Nil Stdin means no input; nil
// Stdout or Stderr discards that stream.
type Process struct {
	Argv   []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// FileTransfer is implemented by targets whose transport can move whole
// files (SSH: SFTP, or cat over exec without it). Nothing in the harness
// needs it; a caller that does asserts for it:
//
//	ft, ok := tgt.(remote.FileTransfer)
type FileTransfer interface {
	// Upload copies a local file to remotePath with the given mode.
	Upload(ctx context.Context, localPath, remotePath string, mode uint32) error
	// Download copies remotePath into localDir (never outside it) and returns
	// the local path written.
	Download(ctx context.Context, remotePath, localDir string) (string, error)
}
