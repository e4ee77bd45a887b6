package results

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Filter selects runs; empty fields match everything.
type Filter struct {
	Rig     string
	Profile string
	Release string
	Verdict string
	// Limit is the most runs returned (newest first); 0 for all.
	Limit int
}

const runColumns = `id, release_label, firmware, kernel, rig, profile, config_digest, policy, started_ms, ended_ms, verdict, run_dir, imported_ms`

// Runs lists the recorded runs matching f, newest first.
func (s *Store) Runs(ctx context.Context, f Filter) ([]Run, error) {
	q := `SELECT ` + runColumns + ` FROM runs WHERE 1 = 1`
	var args []any
	for _, c := range []struct{ col, val string }{{"rig", f.Rig}, {"profile", f.Profile}, {"release_label", f.Release}, {"verdict", f.Verdict}} {
		if c.val != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.val)
		}
	}
	q += ` ORDER BY started_ms DESC, id DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	return s.queryRuns(ctx, "list runs", q, args...)
}

// ErrNotFound is wrapped when a run, release or baseline is not in the store.
var ErrNotFound = errors.New("not in the results store")

// Run returns the run with id.
func (s *Store) Run(ctx context.Context, id string) (Run, error) {
	rs, err := s.queryRuns(ctx, "read run "+id, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id)
	if err != nil {
		return Run{}, err
	}
	if len(rs) == 0 {
		return Run{}, fmt.Errorf("run %q: %w; list runs with leakgate history --db %s", id, ErrNotFound, s.where)
	}
	return rs[0], nil
}

func (s *Store) queryRuns(ctx context.Context, op, q string, args ...any) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return nil, s.classify(op, err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var started, ended, imported int64
		if err := rows.Scan(&r.ID, &r.Release, &r.Firmware, &r.Kernel, &r.Rig, &r.Profile, &r.ConfigDigest, &r.Policy,
			&started, &ended, &r.Verdict, &r.RunDir, &imported); err != nil {
			return nil, s.classify(op, err)
		}
		r.Started, r.Ended, r.Imported = fromMillis(started), fromMillis(ended), fromMillis(imported)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.classify(op, err)
	}
	return out, nil
}

// Series returns a run's judged series with their points, by kind and subject.
func (s *Store) Series(ctx context.Context, runID string) ([]Series, error) {
	op := "read series of run " + runID
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT kind, subject, unit, slope_per_hour, slope_low_per_hour, slope_high_per_hour,
		p_value, growth, end_level, verdict, points_count, points FROM series WHERE run_id = ? ORDER BY kind, subject`), runID)
	if err != nil {
		return nil, s.classify(op, err)
	}
	defer rows.Close()
	var out []Series
	for rows.Next() {
		sr := Series{RunID: runID}
		var pts []byte
		if err := rows.Scan(&sr.Kind, &sr.Subject, &sr.Unit, &sr.SlopePerHour, &sr.SlopeLowPerHour, &sr.SlopeHighPerHour,
			&sr.P, &sr.Growth, &sr.EndLevel, &sr.Verdict, &sr.Points, &pts); err != nil {
			return nil, s.classify(op, err)
		}
		if sr.Seconds, sr.Values, err = decodePoints(pts); err != nil {
			return nil, fmt.Errorf("results store %s: %s: %s %s: %w", s.where, op, sr.Kind, sr.Subject, err)
		}
		out = append(out, sr)
	}
	if err := rows.Err(); err != nil {
		return nil, s.classify(op, err)
	}
	return out, nil
}

// Baseline finds the run to compare candidate with, by spec:
//
//   - "auto" (or ""): the newest passing run of the candidate's rig and
//     profile that started before it;
//   - "release:LABEL": the newest run of that release on the candidate's
//     rig and profile, passing runs first;
//   - anything else: the run with that id.
//
// Nothing to compare with wraps ErrNotFound.
func (s *Store) Baseline(ctx context.Context, candidate Run, spec string) (Run, error) {
	var q string
	var args []any
	switch {
	case spec == "" || spec == "auto":
		q = `SELECT ` + runColumns + ` FROM runs WHERE rig = ? AND profile = ? AND verdict = 'pass' AND id <> ? AND started_ms < ?
			ORDER BY started_ms DESC, id DESC LIMIT 1`
		start := candidate.Started
		if start.IsZero() {
			start = time.Now()
		}
		args = []any{candidate.Rig, candidate.Profile, candidate.ID, millis(start)}
	case strings.HasPrefix(spec, "release:"):
		label := strings.TrimPrefix(spec, "release:")
		if label == "" {
			return Run{}, errors.New("baseline release: is missing its label; give --baseline release:LABEL")
		}
		q = `SELECT ` + runColumns + ` FROM runs WHERE rig = ? AND profile = ? AND release_label = ? AND id <> ?
			ORDER BY CASE WHEN verdict = 'pass' THEN 0 ELSE 1 END, started_ms DESC, id DESC LIMIT 1`
		args = []any{candidate.Rig, candidate.Profile, label, candidate.ID}
	default:
		return s.Run(ctx, spec)
	}
	rs, err := s.queryRuns(ctx, "find baseline "+spec, q, args...)
	if err != nil {
		return Run{}, err
	}
	if len(rs) == 0 {
		what := "no passing run"
		if spec != "" && spec != "auto" {
			what = "no run of " + strings.TrimPrefix(spec, "release:")
		}
		return Run{}, fmt.Errorf("baseline %s: %s on rig %s with profile %q before run %s: %w", firstNonEmpty(spec, "auto"), what, candidate.Rig, candidate.Profile, candidate.ID, ErrNotFound)
	}
	return rs[0], nil
}

// HistoryEntry is one run in a rig's history, with the named series'
// figures when History was asked for one (HasSeries is then set when the
// run recorded it).
type HistoryEntry struct {
	Run       Run     `json:"run"`
	HasSeries bool    `json:"has_series,omitempty"`
	Series    *Series `json:"series,omitempty"`
}

// History lists the runs of rig (all rigs when empty), oldest first, and for
// each the series named by series ("kind/subject", or a subject of any
// kind; none when empty) without its points.
func (s *Store) History(ctx context.Context, rig, series string) ([]HistoryEntry, error) {
	runs, err := s.Runs(ctx, Filter{Rig: rig})
	if err != nil {
		return nil, err
	}
	out := make([]HistoryEntry, 0, len(runs))
	for i := len(runs) - 1; i >= 0; i-- {
		e := HistoryEntry{Run: runs[i]}
		if series != "" {
			sr, ok, err := s.seriesFigures(ctx, runs[i].ID, series)
			if err != nil {
				return nil, err
			}
			if ok {
				e.HasSeries, e.Series = true, &sr
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// seriesFigures reads one series' figures (no points) of a run.
func (s *Store) seriesFigures(ctx context.Context, runID, name string) (Series, bool, error) {
	q := `SELECT kind, subject, unit, slope_per_hour, slope_low_per_hour, slope_high_per_hour, p_value, growth, end_level, verdict, points_count
		FROM series WHERE run_id = ? AND subject = ?`
	args := []any{runID, name}
	if kind, subject, ok := strings.Cut(name, "/"); ok && unitOf(kind) != "" {
		q += ` AND kind = ?`
		args = []any{runID, subject, kind}
	}
	q += ` ORDER BY kind LIMIT 1`
	sr := Series{RunID: runID}
	err := s.db.QueryRowContext(ctx, s.rebind(q), args...).Scan(&sr.Kind, &sr.Subject, &sr.Unit, &sr.SlopePerHour, &sr.SlopeLowPerHour,
		&sr.SlopeHighPerHour, &sr.P, &sr.Growth, &sr.EndLevel, &sr.Verdict, &sr.Points)
	if errors.Is(err, sql.ErrNoRows) {
		return Series{}, false, nil
	}
	if err != nil {
		return Series{}, false, s.classify("read series "+name+" of run "+runID, err)
	}
	return sr, true, nil
}
