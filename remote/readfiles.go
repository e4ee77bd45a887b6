package remote

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ReadFiles reads every path and glob in one process on the target: the
// read script below, its output split as it arrives. The same pipeline runs
// over every transport.
func (t *target) ReadFiles(ctx context.Context, paths []string, opts ReadOptions) (*Snapshot, error) {
	req, err := newReadRequest(paths, opts, t.root)
	if err != nil {
		return nil, fmt.Errorf("read files on %s: %w", t.Name(), err)
	}
	pr, pw := io.Pipe()
	stderr := newCapBuffer(64 << 10)
	type parsed struct {
		snap *Snapshot
		err  error
	}
	done := make(chan parsed, 1)
	go func() {
		snap, err := req.parse(pr)
		if err != nil {
			_, _ = io.Copy(io.Discard, pr)
		}
		done <- parsed{snap, err}
	}()
	argv := append([]string{"sh", "-c", readScript, readScriptName}, req.args...)
	status, err := t.tr.Exec(ctx, Process{Argv: argv, Stdout: pw, Stderr: stderr})
	pw.Close()
	p := <-done
	if err != nil {
		return nil, fmt.Errorf("read files on %s: %w", t.Name(), err)
	}
	if p.err != nil {
		return nil, fmt.Errorf("read files on %s: %w (exit status %d, stderr: %q; the target needs a POSIX sh and head -c)",
			t.Name(), p.err, status, strings.TrimSpace(string(stderr.Bytes())))
	}
	p.snap.Duration = time.Since(req.taken)
	return p.snap, nil
}

// readScript is the one POSIX-sh program a ReadFiles round trip runs on the
// target. It uses only sh builtins, printf and head -c, so it runs under
// dash, bash and busybox ash. Arguments: $1 and $2 are the two halves of the
// per-call boundary (passed apart so the joined boundary never appears in
// the script's own /proc/PID/cmdline), $3 is the per-file byte cap plus one,
// then one argument per request: "L" + literal path or "G" + glob pattern.
//
// Output is a sequence of frames, each introduced by a marker line
// "\n" BOUNDARY TAG "\n"; the payload runs to the next marker:
//
//	I pid                                             (the script's own pid, first)
//	P path   D contents   S "status [error]"   (one file)
//	N pattern                                         (a glob that matched nothing)
//	Z                                                 (end: the stream is complete)
//
// File contents cannot forge a marker: the boundary is 128 random bits
// chosen per call. A file costs one head process (none where busybox runs
// head as a NOFORK applet); only a failed read runs head again to capture
// its error message.
const readScript = `B="$1$2"; n=$3; shift 3
IFS=''
printf '\n%sI\n%s' "$B" "$$"
emit() {
	printf '\n%sP\n%s\n%sD\n' "$B" "$1" "$B"
	head -c "$n" -- "$1" 2>/dev/null; s=$?
	if [ "$s" = 0 ]; then printf '\n%sS\n0 ' "$B"; return; fi
	e=$(head -c 1 -- "$1" 2>&1 >/dev/null)
	printf '\n%sS\n%s %s' "$B" "$s" "$e"
}
for a in "$@"; do
	p=${a#?}
	case $a in
	L*) emit "$p" ;;
	G*) m=0
		for f in $p; do
			if [ -e "$f" ] || [ -h "$f" ]; then m=1; emit "$f"; fi
		done
		[ "$m" = 1 ] || printf '\n%sN\n%s' "$B" "$p" ;;
	esac
done
printf '\n%sZ\n' "$B"
`

// readScriptName is $0 of the read script, visible in the target's ps.
const readScriptName = "leakgate-read"

// Frame payload limits other than file contents.
const (
	maxPathFrameBytes   = 64 << 10
	maxStatusFrameBytes = 64 << 10
	maxLeadingJunkBytes = 64 << 10
)

// readRequest is one prepared ReadFiles call: the boundary and the argv of
// the read script (without the shell), with target paths mapped under root.
type readRequest struct {
	boundary string
	args     []string // $1.. of the script
	root     string
	capBytes int64
	taken    time.Time
}

// newReadRequest prepares a ReadFiles call for paths on a target whose
// filesystem is seen under root ("" for none).
func newReadRequest(paths []string, opts ReadOptions, root string) (*readRequest, error) {
	capBytes := opts.MaxFileBytes
	if capBytes <= 0 {
		capBytes = DefaultMaxFileBytes
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("make read boundary: %w", err)
	}
	h := hex.EncodeToString(raw[:])
	req := &readRequest{boundary: "LG" + h, root: root, capBytes: capBytes, taken: time.Now()}
	req.args = append(req.args, "LG"+h[:16], h[16:], strconv.FormatInt(capBytes+1, 10))
	for _, p := range paths {
		if p == "" || strings.ContainsRune(p, 0) {
			return nil, fmt.Errorf("read %q: empty path or NUL byte in path (give absolute paths)", p)
		}
		kind := "L"
		if isGlob(p) {
			kind = "G"
		}
		req.args = append(req.args, kind+root+p)
	}
	return req, nil
}

// isGlob reports whether p holds a shell pattern character.
func isGlob(p string) bool { return strings.ContainsAny(p, "*?[") }

// errIncompleteRead marks a read stream that ended before its end frame.
var errIncompleteRead = errors.New("read stream ended before its end marker")

// parse splits the script's output into a Snapshot. It streams: memory is
// bounded by the frames' contents and limits, never by junk.
func (r *readRequest) parse(out io.Reader) (*Snapshot, error) {
	snap := &Snapshot{Taken: r.taken, Files: map[string][]byte{}, Errors: map[string]string{}}
	br := bufio.NewReaderSize(out, 64<<10)
	sp := &splitter{br: br, boundary: []byte(r.boundary)}
	// Anything before the first marker (a chatty login shell) is skipped.
	if _, err := sp.payload(maxLeadingJunkBytes); err != nil {
		return snap, err
	}
	var path string
	for {
		tag, err := sp.marker()
		if err != nil {
			return snap, err
		}
		switch tag {
		case 'Z':
			if path != "" {
				return snap, fmt.Errorf("read stream: file %q has no status frame", path)
			}
			return snap, nil
		case 'P':
			p, err := sp.payload(maxPathFrameBytes)
			if err != nil {
				return snap, err
			}
			path = r.unroot(string(p))
		case 'D':
			if path == "" {
				return snap, errors.New("read stream: contents frame without a path frame")
			}
			data, err := sp.payload(r.capBytes + 1)
			if err != nil {
				return snap, fmt.Errorf("read stream: contents of %s: %w", path, err)
			}
			if int64(len(data)) > r.capBytes {
				data = data[:r.capBytes]
				snap.Truncated = append(snap.Truncated, path)
			}
			snap.Files[path] = data
		case 'S':
			st, err := sp.payload(maxStatusFrameBytes)
			if err != nil {
				return snap, err
			}
			if path == "" {
				return snap, errors.New("read stream: status frame without a path frame")
			}
			code, msg, _ := strings.Cut(string(st), " ")
			if code != "0" {
				delete(snap.Files, path)
				if n := len(snap.Truncated); n > 0 && snap.Truncated[n-1] == path {
					snap.Truncated = snap.Truncated[:n-1]
				}
				msg = strings.TrimSpace(msg)
				if msg == "" {
					msg = "head exited with status " + code
				}
				snap.Errors[path] = msg
			}
			path = ""
		case 'I':
			p, err := sp.payload(maxPathFrameBytes)
			if err != nil {
				return snap, err
			}
			pid, err := strconv.Atoi(string(p))
			if err != nil || pid <= 0 {
				return snap, fmt.Errorf("read stream: reader pid %q is not a pid", p)
			}
			snap.ReaderPID = pid
		case 'N':
			p, err := sp.payload(maxPathFrameBytes)
			if err != nil {
				return snap, err
			}
			snap.Errors[r.unroot(string(p))] = "no file matches the pattern"
		default:
			return snap, fmt.Errorf("read stream: unknown frame tag %q", tag)
		}
	}
}

// unroot maps a path seen on the target back to the path the caller asked for.
func (r *readRequest) unroot(p string) string {
	if r.root != "" && strings.HasPrefix(p, r.root) {
		return p[len(r.root):]
	}
	return p
}

// splitter cuts a stream at "\n" + boundary markers.
type splitter struct {
	br       *bufio.Reader
	boundary []byte
	scratch  []byte
}

// marker consumes "BOUNDARY TAG \n" (the leading newline was consumed by
// payload) and returns TAG.
func (s *splitter) marker() (byte, error) {
	head := make([]byte, len(s.boundary)+2)
	if _, err := io.ReadFull(s.br, head); err != nil {
		return 0, fmt.Errorf("read stream marker: %w", errIncompleteRead)
	}
	if !bytes.Equal(head[:len(s.boundary)], s.boundary) || head[len(head)-1] != '\n' {
		return 0, errors.New("read stream: malformed frame marker")
	}
	return head[len(s.boundary)], nil
}

// payload returns the bytes up to the next "\n" BOUNDARY, leaving the
// boundary unread. More than limit bytes is a protocol error. Lines gather
// in a scratch buffer reused across frames; the result is one exact copy.
func (s *splitter) payload(limit int64) ([]byte, error) {
	s.scratch = s.scratch[:0]
	for {
		chunk, err := s.br.ReadSlice('\n')
		if int64(len(s.scratch)+len(chunk)) > limit+1 {
			return nil, fmt.Errorf("read stream: frame exceeds %d bytes", limit)
		}
		s.scratch = append(s.scratch, chunk...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			return nil, errIncompleteRead
		case err != nil:
			return nil, err
		}
		peek, _ := s.br.Peek(len(s.boundary))
		if bytes.Equal(peek, s.boundary) {
			out := make([]byte, len(s.scratch)-1)
			copy(out, s.scratch)
			return out, nil
		}
	}
}
