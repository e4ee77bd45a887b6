package results

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/trend"
	"github.com/leakgate/leakgate/checks/verdict"
)

// Run is one recorded soak as the store indexes it.
type Run struct {
	ID       string `json:"id"`
	Release  string `json:"release,omitempty"`
	Firmware string `json:"firmware,omitempty"`
	Kernel   string `json:"kernel,omitempty"`
	// Rig is the target as the run named it.
	Rig          string `json:"rig"`
	Profile      string `json:"profile,omitempty"`
	ConfigDigest string `json:"config_digest,omitempty"`
	// Policy is the judging policy as JSON.
	Policy  string    `json:"policy,omitempty"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	// Verdict is pass, fail or error (report.json's).
	Verdict string `json:"verdict"`
	// RunDir is the run folder as it was imported from.
	RunDir   string    `json:"run_dir,omitempty"`
	Imported time.Time `json:"imported,omitzero"`
}

// Label names the run for messages: "release r41" when it has a release,
// else "run ID".
func (r Run) Label() string {
	if r.Release != "" {
		return "release " + r.Release
	}
	return "run " + r.ID
}

// Series is one judged series of a recorded run. Slopes are per hour in
// Unit; Seconds and Values are its points (thinned to at most
// MaxStoredPoints, first and last kept).
type Series struct {
	RunID            string  `json:"run_id"`
	Kind             string  `json:"kind"`
	Subject          string  `json:"subject"`
	Unit             string  `json:"unit,omitempty"`
	SlopePerHour     float64 `json:"slope_per_hour"`
	SlopeLowPerHour  float64 `json:"slope_low_per_hour"`
	SlopeHighPerHour float64 `json:"slope_high_per_hour"`
	P                float64 `json:"p_value"`
	Growth           float64 `json:"growth"`
	EndLevel         float64 `json:"end_level"`
	// Verdict is the run's verdict on the series: a finding's (leak,
	// suspect, allowed, insufficient) or ok.
	Verdict string    `json:"verdict"`
	Points  int       `json:"points"`
	Seconds []float64 `json:"seconds,omitempty"`
	Values  []float64 `json:"values,omitempty"`
}

// MaxStoredPoints bounds the points kept per series: a day at 10 s is 8640
// points, and a comparison's slope and level need far fewer. The run
// folder keeps every point.
const MaxStoredPoints = 2048

// RecordOption adjusts what Record stores.
type RecordOption func(*Folder)

// WithRelease labels the run with a release (overriding the label the run
// folder recorded, if any).
func WithRelease(label string) RecordOption {
	return func(f *Folder) {
		if label != "" {
			f.Release = label
		}
	}
}

// Record imports a run folder: its run, series and findings replace any
// earlier import of the same folder, in one transaction, so a store that
// fails mid-write keeps the earlier state and a later Record restores the
// row. It only reads the folder.
func (s *Store) Record(ctx context.Context, runDir string, opts ...RecordOption) (Run, error) {
	f, err := ReadFolder(runDir)
	if err != nil {
		return Run{}, err
	}
	for _, o := range opts {
		o(&f)
	}
	series := judgeFolder(f)
	run := Run{ID: f.ID, Release: f.Release, Firmware: f.Firmware, Kernel: f.Kernel, Rig: f.Rig, Profile: f.Profile,
		ConfigDigest: f.ConfigDigest, Policy: f.Policy, Started: f.Started, Ended: f.Ended, Verdict: f.Verdict,
		RunDir: runDir, Imported: time.Now().UTC()}
	if err := s.write(ctx, run, series, f.Findings); err != nil {
		return Run{}, err
	}
	return run, nil
}

// write replaces the run's rows in one transaction.
func (s *Store) write(ctx context.Context, run Run, series []Series, findings []checks.Finding) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.classify("begin record of run "+run.ID, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	op := "record run " + run.ID
	// Children first: a store without foreign keys enforced still ends clean.
	for _, q := range []string{`DELETE FROM series WHERE run_id = ?`, `DELETE FROM findings WHERE run_id = ?`, `DELETE FROM runs WHERE id = ?`} {
		if _, err := tx.ExecContext(ctx, s.rebind(q), run.ID); err != nil {
			return s.classify(op, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO runs (id, release_label, firmware, kernel, rig, profile, config_digest, policy,
		started_ms, ended_ms, verdict, run_dir, imported_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		run.ID, run.Release, run.Firmware, run.Kernel, run.Rig, run.Profile, run.ConfigDigest, run.Policy,
		millis(run.Started), millis(run.Ended), run.Verdict, run.RunDir, millis(run.Imported)); err != nil {
		return s.classify(op, err)
	}
	if s.afterRunRow != nil {
		s.afterRunRow()
	}
	ins, err := tx.PrepareContext(ctx, s.rebind(`INSERT INTO series (run_id, kind, subject, unit, slope_per_hour, slope_low_per_hour,
		slope_high_per_hour, p_value, growth, end_level, verdict, points_count, points) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`))
	if err != nil {
		return s.classify(op, err)
	}
	defer ins.Close()
	for _, sr := range series {
		if _, err := ins.ExecContext(ctx, run.ID, sr.Kind, sr.Subject, sr.Unit, sr.SlopePerHour, sr.SlopeLowPerHour, sr.SlopeHighPerHour,
			sr.P, sr.Growth, sr.EndLevel, sr.Verdict, sr.Points, encodePoints(sr.Seconds, sr.Values)); err != nil {
			return s.classify(fmt.Sprintf("%s series %s %s", op, sr.Kind, sr.Subject), err)
		}
	}
	for i, fd := range findings {
		js, err := json.Marshal(fd)
		if err != nil {
			return fmt.Errorf("%s: encode finding %d: %w", op, i, err)
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO findings (run_id, position, kind, subject, verdict, reason, finding)
			VALUES (?, ?, ?, ?, ?, ?, ?)`), run.ID, i, string(fd.Kind), fd.Subject, string(fd.Verdict), fd.Reason, string(js)); err != nil {
			return s.classify(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.classify("commit "+op, err)
	}
	return nil
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// judgeFolder gives every series its statistics: the judge's own figures
// where the run has a finding on it, Theil–Sen under the run's warm-up
// otherwise (report.json lists findings only).
func judgeFolder(f Folder) []Series {
	opts := trend.DefaultOptions()
	var pol struct {
		Warmup *time.Duration `json:"Warmup"`
	}
	if f.Policy != "" && json.Unmarshal([]byte(f.Policy), &pol) == nil && pol.Warmup != nil {
		opts.Warmup = *pol.Warmup
	}
	type key struct{ kind, subject string }
	found := map[key]checks.Finding{}
	for _, fd := range f.Findings {
		found[key{string(fd.Kind), fd.Subject}] = fd
	}
	out := make([]Series, 0, len(f.Series))
	for _, fs := range f.Series {
		sr := Series{RunID: f.ID, Kind: fs.Kind, Subject: fs.Subject, Unit: fs.Unit, Verdict: string(verdict.OK), P: 1, Points: len(fs.Values)}
		if n := len(fs.Values); n > 0 {
			sr.EndLevel = fs.Values[n-1]
		}
		if r, err := trend.Analyze(fs.Seconds, fs.Values, opts); err == nil {
			sr.SlopePerHour, sr.SlopeLowPerHour, sr.SlopeHighPerHour, sr.P, sr.Growth = r.SlopePerHour, r.SlopeLow, r.SlopeHigh, r.P, r.Growth
			if r.Verdict == trend.Insufficient {
				sr.Verdict = string(verdict.Insufficient)
			}
		}
		if fd, ok := found[key{fs.Kind, fs.Subject}]; ok {
			sr.Verdict = string(fd.Verdict)
			sr.SlopePerHour, sr.SlopeLowPerHour, sr.SlopeHighPerHour, sr.P, sr.Growth = fd.SlopePerHour, fd.SlopeLowPerHour, fd.SlopeHighPerHour, fd.P, fd.Growth
			if fd.Unit != "" {
				sr.Unit = fd.Unit
			}
		}
		sr.Seconds, sr.Values = thin(fs.Seconds, fs.Values, MaxStoredPoints)
		out = append(out, sr)
	}
	return out
}

// thin keeps at most limit points at an even stride, always the first and
// the last.
func thin(t, v []float64, limit int) ([]float64, []float64) {
	n := len(t)
	if n <= limit {
		return t, v
	}
	ot, ov := make([]float64, 0, limit), make([]float64, 0, limit)
	for k := range limit {
		i := int(math.Round(float64(k) * float64(n-1) / float64(limit-1)))
		ot = append(ot, t[i])
		ov = append(ov, v[i])
	}
	return ot, ov
}

// encodePoints packs points as little-endian float64 (t, value) pairs.
func encodePoints(t, v []float64) []byte {
	b := make([]byte, 0, 16*len(t))
	for i := range t {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(t[i]))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v[i]))
	}
	return b
}

// decodePoints unpacks encodePoints; a length that is not a whole number
// of pairs is an error.
func decodePoints(b []byte) ([]float64, []float64, error) {
	if len(b)%16 != 0 {
		return nil, nil, fmt.Errorf("points blob of %d bytes is not whole (t, value) pairs", len(b))
	}
	n := len(b) / 16
	t, v := make([]float64, n), make([]float64, n)
	for i := range n {
		t[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[16*i:]))
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[16*i+8:]))
	}
	return t, v, nil
}
