package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/verdict"
)

// Write puts the run's reports in dir: report.json, report.html and
// series/<kind>.csv. Folders are created 0700 and files 0600; each file is
// written to a temporary name, synced and renamed, so a reader never sees a
// half-written report and a crash leaves the previous one.
func Write(dir string, r Run) error {
	if err := os.MkdirAll(filepath.Join(dir, seriesDir), 0o700); err != nil {
		return fmt.Errorf("create report folder %s: %w", dir, err)
	}
	t0 := origin(r)
	for _, f := range seriesFiles(r) {
		if err := writeAtomic(filepath.Join(dir, seriesDir, f.name), func(w io.Writer) error {
			return WriteCSV(w, t0, f.series)
		}); err != nil {
			return err
		}
	}
	if err := writeAtomic(filepath.Join(dir, JSONFile), func(w io.Writer) error {
		return WriteJSON(w, r)
	}); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, HTMLFile), func(w io.Writer) error {
		return WriteHTML(w, r)
	}); err != nil {
		return err
	}
	return syncDir(dir)
}

// The report files inside a run folder.
const (
	JSONFile  = "report.json"
	HTMLFile  = "report.html"
	seriesDir = "series"
)

// writeAtomic writes path through a temporary file in the same folder:
// fill (streamed through a buffer), sync, close, rename.
func writeAtomic(path string, fill func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Straight to the file: a day's CSV is tens of megabytes, and a reader
	// never sees the temporary name.
	bw := bufio.NewWriterSize(tmp, 64<<10)
	if err := fill(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	return nil
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// document is report.json's shape: the run, plus the run's headline so a
// dashboard needs no rendering of its own.
type document struct {
	Run
	Summary string `json:"summary"`
	// SeriesFiles lists the CSV exports, relative to the run folder.
	SeriesFiles []string `json:"series_files,omitempty"`
}

// WriteJSON writes report.json's content: verdict, findings (kind, subject,
// verdict, culprit, figures), gaps, preflight, reboot, target and times.
func WriteJSON(w io.Writer, r Run) error {
	if r.Findings == nil {
		r.Findings = []checks.Finding{}
	}
	d := document{Run: r, Summary: firstLine(Message(r))}
	for _, f := range seriesFiles(r) {
		d.SeriesFiles = append(d.SeriesFiles, seriesDir+"/"+f.name)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return fmt.Errorf("encode report.json: %w", err)
	}
	return nil
}

// maxJSONBytes bounds what ReadJSON accepts; a report is kilobytes.
const maxJSONBytes = 64 << 20

// ReadJSON loads a report.json written by WriteJSON. Series are not in it;
// they live in series/*.csv.
func ReadJSON(rd io.Reader) (Run, error) {
	var d document
	dec := json.NewDecoder(io.LimitReader(rd, maxJSONBytes))
	if err := dec.Decode(&d); err != nil {
		return Run{}, fmt.Errorf("decode report.json: %w", err)
	}
	switch d.Verdict {
	case verdict.Pass, verdict.Fail, verdict.Error:
	default:
		return Run{}, fmt.Errorf("decode report.json: verdict %q is not pass, fail or error; rewrite the report with leakgate analyze", d.Verdict)
	}
	return d.Run, nil
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
