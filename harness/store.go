package harness

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/remote"
)

// Names inside a run folder.
const (
	RunFile      = "run.json"
	SamplesFile  = "samples.jsonl"
	RawDir       = "raw"
	WorkloadsDir = "workloads"
	EvidenceDir  = "evidence"

	// snapshotMetaEntry is the first entry of every raw tarball: when the
	// snapshot was taken and which files could not be read.
	snapshotMetaEntry = "leakgate-snapshot.json"
)

// Artifact modes: evidence about a lab device is not for other users.
const (
	dirMode  = 0o700
	fileMode = 0o600
)

// Record is one line of samples.jsonl: a sample or a gap.
type Record struct {
	Sample *checks.Sample `json:"sample,omitempty"`
	Gap    *Gap           `json:"gap,omitempty"`
}

// Gap is a sample that could not be taken, with the reason.
type Gap struct {
	Index  int       `json:"index"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// store writes one run folder. Its methods are called from the soak loop only.
type store struct {
	dir     string
	samples *os.File
	// zw and raw are reused for every raw snapshot (a gzip writer is ~600 KiB
	// of state; one per sample was most of the soak's allocation).
	zw  *gzip.Writer
	raw bytes.Buffer
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// safeName turns target-provided text into one path element.
func safeName(s string) string {
	s = unsafeName.ReplaceAllString(s, "_")
	s = strings.Trim(s, "._")
	if len(s) > 64 {
		s = s[:64]
	}
	if s == "" {
		s = "target"
	}
	return s
}

// createStore makes a new run folder under root named after the start time
// and the target, never reusing an existing folder.
func createStore(root, target string, start time.Time) (*store, error) {
	if err := os.MkdirAll(root, dirMode); err != nil {
		return nil, fmt.Errorf("create output folder %s: %w; choose a writable --out", root, err)
	}
	base := start.UTC().Format("20060102T150405Z") + "-" + safeName(target)
	var dir string
	for i := 0; ; i++ {
		dir = filepath.Join(root, base)
		if i > 0 {
			dir = fmt.Sprintf("%s.%d", dir, i)
		}
		err := os.Mkdir(dir, dirMode)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return nil, fmt.Errorf("create run folder %s: %w; choose a writable --out", dir, err)
		}
	}
	return openStore(dir)
}

// openStore opens an existing run folder for appending (analyze does not use it).
func openStore(dir string) (*store, error) {
	for _, sub := range []string{RawDir, WorkloadsDir, EvidenceDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), dirMode); err != nil {
			return nil, fmt.Errorf("create %s in %s: %w", sub, dir, err)
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, SamplesFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, fileMode)
	if err != nil {
		return nil, fmt.Errorf("open %s in %s: %w", SamplesFile, dir, err)
	}
	return &store{dir: dir, samples: f}, nil
}

func (s *store) close() error {
	if s == nil || s.samples == nil {
		return nil
	}
	err := s.samples.Close()
	s.samples = nil
	return err
}

// writeRaw stores a snapshot as raw/NNNN.tar.gz and syncs it before anyone
// parses it, so a parser bug or a crash never loses evidence.
func (s *store) writeRaw(index int, at time.Time, snap *remote.Snapshot) (string, error) {
	return s.writeRawAs(filepath.Join(s.dir, RawDir, fmt.Sprintf("%04d.tar.gz", index)), index, at, snap)
}

// writeRawAs writes a raw snapshot under name (synced).
func (s *store) writeRawAs(name string, index int, at time.Time, snap *remote.Snapshot) (string, error) {
	s.raw.Reset()
	if s.zw == nil {
		s.zw = gzip.NewWriter(&s.raw)
	} else {
		s.zw.Reset(&s.raw)
	}
	if err := encodeSnapshotWith(s.zw, index, at, snap); err != nil {
		return "", fmt.Errorf("encode snapshot %d: %w", index, err)
	}
	if err := writeFileSync(name, s.raw.Bytes()); err != nil {
		return "", err
	}
	return name, nil
}

// snapshotMeta is what a raw tarball records besides the files.
type snapshotMeta struct {
	Index int `json:"index"`
	// At is the harness clock's time of the sample; Taken the reader's.
	At        time.Time         `json:"at"`
	Taken     time.Time         `json:"taken"`
	Errors    map[string]string `json:"errors,omitempty"`
	Truncated []string          `json:"truncated,omitempty"`
	Duration  time.Duration     `json:"duration_ns"`
	ReaderPID int               `json:"reader_pid,omitempty"`
}

func encodeSnapshot(w io.Writer, index int, at time.Time, snap *remote.Snapshot) error {
	return encodeSnapshotWith(gzip.NewWriter(w), index, at, snap)
}

// encodeSnapshotWith writes the tarball through zw and closes it.
func encodeSnapshotWith(zw *gzip.Writer, index int, at time.Time, snap *remote.Snapshot) error {
	tw := tar.NewWriter(zw)
	meta, err := json.Marshal(snapshotMeta{Index: index, At: at, Taken: snap.Taken, Errors: snap.Errors, Truncated: snap.Truncated, Duration: snap.Duration, ReaderPID: snap.ReaderPID})
	if err != nil {
		return err
	}
	mtime := at
	if mtime.IsZero() {
		mtime = time.Unix(0, 0)
	}
	add := func(name string, data []byte) error {
		hdr := &tar.Header{Name: name, Mode: fileMode, Size: int64(len(data)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("tar entry %q: %w", name, err)
		}
		_, err := tw.Write(data)
		return err
	}
	if err := add(snapshotMetaEntry, meta); err != nil {
		return err
	}
	paths := make([]string, 0, len(snap.Files))
	for p := range snap.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := add(strings.TrimPrefix(p, "/"), snap.Files[p]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// maxRawBytes bounds what one raw tarball may expand to when read back.
const maxRawBytes = 1 << 30

// ReadRaw reads a raw snapshot tarball back into a Snapshot with absolute
// target paths. A torn tarball (a crash mid-write) is an error.
func ReadRaw(path string) (*remote.Snapshot, error) {
	snap, _, err := readRawMeta(path)
	return snap, err
}

func readRawMeta(path string) (*remote.Snapshot, snapshotMeta, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, snapshotMeta{}, fmt.Errorf("open raw snapshot: %w", err)
	}
	defer f.Close()
	return decodeRaw(f, path)
}

// decodeRaw reads a raw snapshot tarball from r; name (its path) is for
// errors. It is ReadRaw without the file, so it can be fuzzed in memory.
func decodeRaw(r io.Reader, name string) (*remote.Snapshot, snapshotMeta, error) {
	var m snapshotMeta
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, m, fmt.Errorf("read raw snapshot %s: %w", name, err)
	}
	tr := tar.NewReader(zr)
	snap := &remote.Snapshot{Files: map[string][]byte{}}
	var total int64
	sawMeta := false
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, m, fmt.Errorf("read raw snapshot %s: %w", name, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		total += hdr.Size
		if hdr.Size < 0 || total > maxRawBytes {
			return nil, m, fmt.Errorf("read raw snapshot %s: expands beyond %d bytes", name, maxRawBytes)
		}
		data, err := io.ReadAll(io.LimitReader(tr, hdr.Size))
		if err != nil {
			return nil, m, fmt.Errorf("read raw snapshot %s entry %q: %w", name, hdr.Name, err)
		}
		if hdr.Name == snapshotMetaEntry && !sawMeta {
			sawMeta = true
			if err := json.Unmarshal(data, &m); err != nil {
				return nil, m, fmt.Errorf("read raw snapshot %s metadata: %w", name, err)
			}
			snap.Taken, snap.Errors, snap.Truncated, snap.Duration, snap.ReaderPID = m.Taken, m.Errors, m.Truncated, m.Duration, m.ReaderPID
			continue
		}
		snap.Files["/"+hdr.Name] = data
	}
	if !sawMeta {
		return nil, m, fmt.Errorf("read raw snapshot %s: no %s entry; not a leakgate snapshot", name, snapshotMetaEntry)
	}
	return snap, m, nil
}

// appendRecord writes one samples.jsonl line and syncs it.
func (s *store) appendRecord(r Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	line = append(line, '\n')
	if _, err := s.samples.Write(line); err != nil {
		return fmt.Errorf("append to %s: %w", filepath.Join(s.dir, SamplesFile), diskHint(err))
	}
	if err := s.samples.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Join(s.dir, SamplesFile), diskHint(err))
	}
	return nil
}

// writeJSON writes v as indented JSON to name in the run folder, atomically.
func (s *store) writeJSON(name string, v any) error {
	return writeJSONFile(filepath.Join(s.dir, name), v)
}

func writeJSONFile(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	data = append(data, '\n')
	tmp := path + ".tmp"
	if err := writeFileSync(tmp, data); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

// writeFileSync creates name with fileMode, writes data and fsyncs it.
func writeFileSync(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fileMode)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, diskHint(err))
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", name, diskHint(err))
	}
	return f.Close()
}

// ErrDiskFull marks an artifact write that failed for lack of space.
var ErrDiskFull = errors.New("artifact disk full; free space in the --out folder and re-run")

func diskHint(err error) error {
	if isNoSpace(err) {
		return fmt.Errorf("%w (%v)", ErrDiskFull, err)
	}
	return err
}

// readRecords reads samples.jsonl, tolerating a torn last line (a run killed
// mid-write). A bad line elsewhere is an error: the file was tampered with.
func readRecords(path string) ([]Record, error) {
	var recs []Record
	err := scanRecords(path, func(_ int64, r Record) { recs = append(recs, r) })
	if err != nil {
		return nil, err
	}
	return recs, nil
}

// scanRecords streams samples.jsonl to fn, one record at a time with the
// byte offset of its line, tolerating a torn last line.
func scanRecords(path string, fn func(offset int64, r Record)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return decodeRecords(f, path, fn)
}

// decodeRecords is scanRecords over a reader; name (the file's path) is for
// errors. It is the parsing without the file, so it can be fuzzed in memory.
func decodeRecords(rd io.Reader, name string, fn func(offset int64, r Record)) error {
	br := bufio.NewReaderSize(rd, 1<<20)
	lineNo := 0
	var offset int64
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			lineNo++
			complete := line[len(line)-1] == '\n'
			var r Record
			if uerr := json.Unmarshal(line, &r); uerr != nil || (r.Sample == nil && r.Gap == nil) {
				if !complete {
					break // torn last line
				}
				if uerr == nil {
					uerr = errors.New("neither sample nor gap")
				}
				return fmt.Errorf("%s line %d: %w", name, lineNo, uerr)
			}
			fn(offset, r)
			offset += int64(len(line))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
	}
	return nil
}

// readRecordAt reads the samples.jsonl record whose line starts at offset.
func readRecordAt(f *os.File, offset int64) (Record, error) {
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return Record{}, err
	}
	line, err := bufio.NewReader(f).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return Record{}, err
	}
	var r Record
	if err := json.Unmarshal(line, &r); err != nil || r.Sample == nil {
		return Record{}, fmt.Errorf("%s at byte %d: not a sample record (%v)", f.Name(), offset, err)
	}
	return r, nil
}
