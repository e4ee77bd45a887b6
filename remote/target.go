// Package remote reaches the device under test: it runs commands, reads many
// files in one round trip and moves files, over SSH or on the local machine.
// It knows nothing about memory, slabs or Ginkgo.
package remote

import (
	"context"
	"time"
)

// Target is one device the harness observes. Implementations are safe for use
// by one goroutine at a time unless documented otherwise.
type Target interface {
	// Name is the human name of the target (the alias or host the user gave).
	Name() string
	// Run executes argv on the target. Each argument is quoted for the remote
	// POSIX shell, so no argument is ever interpreted by it. A non-zero exit
	// status is reported in Result.ExitStatus with a nil error; a lost link or
	// a cancelled context is an error (see IsRetryable).
	Run(ctx context.Context, argv []string, opts RunOptions) (Result, error)
	// ReadFiles reads every path and glob in one round trip. Missing or
	// unreadable files are recorded in Snapshot.Errors, not returned as error.
	ReadFiles(ctx context.Context, paths []string, opts ReadOptions) (*Snapshot, error)
	// Upload copies a local file to remotePath with the given mode.
	Upload(ctx context.Context, localPath, remotePath string, mode uint32) error
	// Download copies remotePath into localDir (never outside it) and returns
	// the local path written.
	Download(ctx context.Context, remotePath, localDir string) (string, error)
	// Close releases the connection. It is safe to call more than once.
	Close() error
}

// RunOptions tunes one Run call.
type RunOptions struct {
	// Stdin, when non-nil, is sent to the command's standard input.
	Stdin []byte
	// MaxOutputBytes caps stdout and stderr each; 0 means DefaultMaxOutputBytes.
	MaxOutputBytes int64
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
