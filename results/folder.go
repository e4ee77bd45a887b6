package results

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/harness/report"
)

// The files of a run folder the store reads (harness and harness/report
// write them; the names are theirs).
const (
	runFile    = "run.json"
	reportFile = report.JSONFile
	seriesDir  = "series"
)

// Folder is what a run folder says about its soak, as the store indexes it.
type Folder struct {
	// ID is the run's id in the store: the run folder's name (its start
	// time and target).
	ID       string
	Dir      string
	Release  string
	Firmware string
	Kernel   string
	// Rig is the target as the run named it.
	Rig          string
	Profile      string
	ConfigDigest string
	// Policy is the judging policy as JSON, as run.json recorded it.
	Policy   string
	Started  time.Time
	Ended    time.Time
	Verdict  string
	Findings []checks.Finding
	Series   []FolderSeries
}

// FolderSeries is one series of a run folder's CSV exports.
type FolderSeries struct {
	Kind    string
	Subject string
	Unit    string
	Seconds []float64
	Values  []float64
}

// runJSON is the part of harness's run.json the store reads. It is decoded
// here rather than through harness, which imports this package.
type runJSON struct {
	Target       string            `json:"target"`
	Kernel       string            `json:"kernel"`
	ConfigDigest string            `json:"config_digest"`
	Profile      string            `json:"profile"`
	Policy       json.RawMessage   `json:"policy"`
	Versions     map[string]string `json:"versions"`
	Release      string            `json:"release"`
	Firmware     string            `json:"firmware"`
	Started      time.Time         `json:"started"`
	Ended        time.Time         `json:"ended"`
	Status       string            `json:"status"`
}

// maxRunJSONBytes bounds run.json; it is kilobytes.
const maxRunJSONBytes = 64 << 20

// ReadFolder reads a run folder's run.json, report.json and series/*.csv.
// It never writes into the folder. A folder without report.json (a soak
// killed before its report) is an error that says to run analyze first.
func ReadFolder(dir string) (Folder, error) {
	f := Folder{Dir: dir, ID: filepath.Base(filepath.Clean(dir))}
	rf, err := os.Open(filepath.Join(dir, reportFile))
	if errors.Is(err, os.ErrNotExist) {
		return f, fmt.Errorf("read run folder %s: no %s; write it with leakgate analyze %s, then import again", dir, reportFile, dir)
	}
	if err != nil {
		return f, fmt.Errorf("read run folder %s: %w", dir, err)
	}
	rep, err := report.ReadJSON(rf)
	rf.Close()
	if err != nil {
		return f, fmt.Errorf("read %s: %w", filepath.Join(dir, reportFile), err)
	}
	f.Rig, f.Kernel, f.Started, f.Ended, f.Verdict, f.Findings = rep.Target, rep.Kernel, rep.Started, rep.Ended, string(rep.Verdict), rep.Findings
	f.ConfigDigest = rep.Meta["config_digest"]
	f.Release = rep.Meta["release"]
	f.Firmware = rep.Meta["firmware"]
	if rep.Policy != nil {
		if b, err := json.Marshal(rep.Policy); err == nil {
			f.Policy = string(b)
		}
	}

	var meta runJSON
	data, err := readLimited(filepath.Join(dir, runFile), maxRunJSONBytes)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// report.json alone is enough to index the run.
	case err != nil:
		return f, fmt.Errorf("read run folder %s: %w", dir, err)
	default:
		if err := json.Unmarshal(data, &meta); err != nil {
			return f, fmt.Errorf("read %s: %w", filepath.Join(dir, runFile), err)
		}
		f.Rig = firstNonEmpty(meta.Target, f.Rig)
		f.Kernel = firstNonEmpty(meta.Kernel, f.Kernel)
		f.ConfigDigest = firstNonEmpty(meta.ConfigDigest, f.ConfigDigest)
		f.Profile = meta.Profile
		f.Release = firstNonEmpty(meta.Release, meta.Versions["release"], f.Release)
		f.Firmware = firstNonEmpty(meta.Firmware, meta.Versions["firmware"], f.Firmware)
		if len(meta.Policy) > 0 && string(meta.Policy) != "null" {
			var compact bytes.Buffer
			if err := json.Compact(&compact, meta.Policy); err == nil {
				f.Policy = compact.String()
			}
		}
		if f.Started.IsZero() {
			f.Started = meta.Started
		}
		if f.Ended.IsZero() {
			f.Ended = meta.Ended
		}
	}

	files, err := filepath.Glob(filepath.Join(dir, seriesDir, "*.csv"))
	if err != nil {
		return f, fmt.Errorf("list series in %s: %w", dir, err)
	}
	sort.Strings(files)
	for _, name := range files {
		kind := strings.TrimSuffix(filepath.Base(name), ".csv")
		file, err := os.Open(name)
		if err != nil {
			return f, fmt.Errorf("read series %s: %w", name, err)
		}
		ss, err := ParseSeriesCSV(file, kind)
		file.Close()
		if err != nil {
			return f, fmt.Errorf("read series %s: %w", name, err)
		}
		f.Series = append(f.Series, ss...)
	}
	return f, nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return io.ReadAll(io.LimitReader(file, limit))
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// unitOf is the unit a kind's series are recorded in (checks.SeriesBuilder).
func unitOf(kind string) string {
	if src, ok := checks.SourceOf(checks.Kind(kind)); ok {
		return src.Unit
	}
	return ""
}

// ParseSeriesCSV reads a series/<kind>.csv export (`series,t,value` rows, t
// in seconds) into series of that kind, in the order they first appear.
// A bad row is an error naming its line; the series read before it are
// returned with it.
func ParseSeriesCSV(r io.Reader, kind string) ([]FolderSeries, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 64<<10))
	cr.FieldsPerRecord = 3
	cr.ReuseRecord = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("line 1: %w", err)
	}
	if head[0] != "series" || head[1] != "t" || head[2] != "value" {
		return nil, fmt.Errorf("line 1: header %q, want series,t,value", strings.Join(head, ","))
	}
	var out []FolderSeries
	index := map[string]int{}
	lastLine := 1
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			// A record that failed to parse has no field positions; the
			// error carries its line.
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return out, fmt.Errorf("line %d: %w", pe.Line, pe.Err)
			}
			return out, fmt.Errorf("after line %d: %w", lastLine, err)
		}
		line, _ := cr.FieldPos(0)
		lastLine = line
		name := unSpreadsheet(rec[0])
		t, err := strconv.ParseFloat(rec[1], 64)
		if err != nil || math.IsNaN(t) || math.IsInf(t, 0) {
			return out, fmt.Errorf("line %d: time %q is not a number of seconds", line, rec[1])
		}
		v, err := strconv.ParseFloat(rec[2], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return out, fmt.Errorf("line %d: value %q is not a finite number", line, rec[2])
		}
		i, ok := index[name]
		if !ok {
			i = len(out)
			index[name] = i
			out = append(out, FolderSeries{Kind: kind, Subject: name, Unit: unitOf(kind)})
		}
		s := &out[i]
		if n := len(s.Seconds); n > 0 && t <= s.Seconds[n-1] {
			return out, fmt.Errorf("line %d: series %q time %v does not follow %v", line, name, t, s.Seconds[n-1])
		}
		s.Seconds = append(s.Seconds, t)
		s.Values = append(s.Values, v)
	}
}

// unSpreadsheet undoes report.WriteCSV's formula defusing: a leading
// apostrophe before = + - @ tab or CR.
func unSpreadsheet(s string) string {
	if len(s) >= 2 && s[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(s[1])) {
		return s[1:]
	}
	return s
}
