package results

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/compare"
	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/results/resultstest"
)

const mib = 1 << 20

var t0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

// backends runs body against a SQLite file and a real PostgreSQL server.
func backends(t *testing.T, body func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		body(t, filepath.Join(t.TempDir(), "results.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		pg := resultstest.StartPostgres(t)
		body(t, pg.DSN)
	})
}

func open(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// folder writes a 4 h run (25 samples at 10 min) with a flat dentry cache
// and a kmalloc-512 growing perHour.
func folder(t *testing.T, root, name, release, verdict string, started time.Time, perHour float64) string {
	t.Helper()
	return resultstest.WriteRunFolder(t, root, resultstest.RunFolder{
		Name: name, Target: "rig1", Profile: "wifi", Release: release, Kernel: "6.12.117", Verdict: verdict, Started: started,
		Series: []resultstest.SeriesValues{
			{Kind: checks.KindSlab, Subject: "dentry", Unit: "bytes", Values: resultstest.Line(25, 2*mib, 0)},
			{Kind: checks.KindSlab, Subject: "kmalloc-512", Unit: "bytes", Values: resultstest.Line(25, mib, perHour)},
			{Kind: checks.KindMeminfo, Subject: checks.SubjectMemAvailable, Unit: "bytes", Values: resultstest.Line(25, 100*mib, 0)},
		},
	})
}

func TestRecord_ImportsARunFolderAndAReimportReplacesIt(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn)
		dir := folder(t, t.TempDir(), "run-a", "r41", "pass", t0, 0)

		run, err := s.Record(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}

		got, err := s.Run(ctx, "run-a")
		if err != nil {
			t.Fatal(err)
		}
		want := Run{ID: "run-a", Release: "r41", Kernel: "6.12.117", Rig: "rig1", Profile: "wifi", Policy: `{"Warmup":3600000000000}`,
			Started: t0, Ended: t0.Add(4 * time.Hour), Verdict: "pass", RunDir: dir, Imported: got.Imported}
		if got != want {
			t.Errorf("run row\n got %+v\nwant %+v", got, want)
		}
		if got.Imported.Sub(run.Imported).Abs() > time.Millisecond {
			t.Errorf("imported %v, Record said %v", got.Imported, run.Imported)
		}
		series, err := s.Series(ctx, "run-a")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, sr := range series {
			names = append(names, sr.Kind+"/"+sr.Subject)
		}
		if want := []string{"meminfo/MemAvailable", "slab/dentry", "slab/kmalloc-512"}; !slices.Equal(names, want) {
			t.Fatalf("series %v, want %v", names, want)
		}
		k := series[2]
		if k.Points != 25 || len(k.Values) != 25 || k.Seconds[24] != 14400 || k.EndLevel != mib || k.Unit != "bytes" || k.Verdict != "ok" {
			t.Errorf("kmalloc-512 stored as %d points (%d kept, last t %v), end %v, unit %q, verdict %q",
				k.Points, len(k.Values), k.Seconds[len(k.Seconds)-1], k.EndLevel, k.Unit, k.Verdict)
		}

		// The same folder judged again (a leak found by analyze) replaces the row.
		dir2 := resultstest.WriteRunFolder(t, filepath.Dir(dir), resultstest.RunFolder{
			Name: "run-a", Target: "rig1", Profile: "wifi", Release: "r41", Kernel: "6.12.117", Verdict: "fail", Started: t0,
			Series: []resultstest.SeriesValues{{Kind: checks.KindSlab, Subject: "kmalloc-512", Unit: "bytes", Values: resultstest.Line(25, mib, mib)}},
			Findings: []checks.Finding{{Kind: checks.KindSlab, Subject: "kmalloc-512", Verdict: verdict.Leak, Unit: "bytes",
				SlopePerHour: mib, SlopeLowPerHour: mib, SlopeHighPerHour: mib, P: 1e-6, Growth: 4 * mib, Reason: "grows"}},
		})
		if err := os.Remove(filepath.Join(dir2, "series", "meminfo.csv")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Record(ctx, dir2); err != nil {
			t.Fatal(err)
		}
		runs, err := s.Runs(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 1 || runs[0].Verdict != "fail" {
			t.Fatalf("after re-import: %d runs, first %+v; want one failing run", len(runs), runs)
		}
		series, err = s.Series(ctx, "run-a")
		if err != nil {
			t.Fatal(err)
		}
		if len(series) != 1 || series[0].Subject != "kmalloc-512" || series[0].Verdict != "leak" || series[0].SlopePerHour != mib || series[0].P != 1e-6 {
			t.Errorf("after re-import: %+v; want kmalloc-512 alone, with the finding's figures", series)
		}
	})
}

func TestRecord_OnlyReadsTheRunFolder(t *testing.T) {
	dir := folder(t, t.TempDir(), "run-a", "r41", "pass", t0, 0)
	before := snapshotTree(t, dir)
	s := open(t, filepath.Join(t.TempDir(), "results.db"))

	if _, err := s.Record(context.Background(), dir); err != nil {
		t.Fatal(err)
	}

	if after := snapshotTree(t, dir); after != before {
		t.Errorf("the run folder changed:\nbefore %s\nafter  %s", before, after)
	}
}

// snapshotTree lists every file under dir with its size, mode and time.
func snapshotTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		data := []byte{}
		if !info.IsDir() {
			data, err = os.ReadFile(path)
			if err != nil {
				return err
			}
		}
		fmt.Fprintf(&b, "%s %v %d %v %x;", path, info.Mode(), info.Size(), info.ModTime().UnixNano(), data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestOpen_MigratesAnEmptyStoreAndOneAtThePreviousSchema(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		// A store left at schema 1 by an older leakgate, with a run in it.
		old, err := openAt(ctx, dsn, 1)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := old.SchemaVersion(ctx); v != 1 {
			t.Fatalf("old store at version %d, want 1", v)
		}
		if _, err := old.db.ExecContext(ctx, old.rebind(`INSERT INTO runs (id, rig, profile, started_ms, verdict) VALUES (?, ?, ?, ?, ?)`),
			"old-run", "rig1", "wifi", t0.UnixMilli(), "pass"); err != nil {
			t.Fatal(err)
		}
		old.Close()

		s := open(t, dsn)

		v, err := s.SchemaVersion(ctx)
		if err != nil || v != len(migrations) || v != 2 {
			t.Fatalf("schema version %d (%v), want %d", v, err, len(migrations))
		}
		r, err := s.Run(ctx, "old-run")
		if err != nil {
			t.Fatal(err)
		}
		if r.Rig != "rig1" || !r.Started.Equal(t0) || !r.Imported.IsZero() {
			t.Errorf("old run after migration: %+v", r)
		}
		// Opening again is a no-op at the current version.
		s.Close()
		s = open(t, dsn)
		if v, _ := s.SchemaVersion(ctx); v != 2 {
			t.Errorf("reopened at version %d, want 2", v)
		}
	})
}

// openAt opens dsn migrated only up to version target.
func openAt(ctx context.Context, dsn string, target int) (*Store, error) {
	s := &Store{where: dsn}
	var err error
	if isPostgres(dsn) {
		s.dialect = dialectPostgres
		s.db, err = sqlOpenPgx(dsn)
	} else {
		s.db, err = openSQLite(dsn)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx, target); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

func TestRecord_EightConcurrentWritersLoseNothing(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		root := t.TempDir()
		const writers, each = 8, 3
		var dirs [writers][each]string
		for w := range writers {
			for i := range each {
				dirs[w][i] = folder(t, root, fmt.Sprintf("runner%d-run%d", w, i), "r1", "pass", t0.Add(time.Duration(w*each+i)*time.Hour), float64(w))
			}
		}

		// Every runner opens the store itself, all at once (the first
		// opens also race to create the schema).
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := Open(ctx, dsn)
				if err != nil {
					errs <- fmt.Errorf("runner %d: %w", w, err)
					return
				}
				defer s.Close()
				for i := range each {
					if _, err := s.Record(ctx, dirs[w][i]); err != nil {
						errs <- fmt.Errorf("runner %d run %d: %w", w, i, err)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}

		s := open(t, dsn)
		runs, err := s.Runs(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != writers*each {
			t.Fatalf("%d runs recorded, want %d", len(runs), writers*each)
		}
		for _, r := range runs {
			ss, err := s.Series(ctx, r.ID)
			if err != nil || len(ss) != 3 {
				t.Errorf("run %s: %d series (%v), want 3", r.ID, len(ss), err)
			}
		}
	})
}

func TestRecord_StoreStoppedMidWriteIsTypedAndAReimportRestoresTheRow(t *testing.T) {
	check := func(t *testing.T, s *Store, stop func(), restart func(), reopen func() *Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		dir := folder(t, t.TempDir(), "run-a", "r41", "pass", t0, 0)
		s.afterRunRow = func() { stop(); cancel() }

		_, err := s.Record(ctx, dir)

		var ue *UnavailableError
		if !errors.As(err, &ue) {
			t.Fatalf("got %v (%T), want an *UnavailableError", err, err)
		}
		if !strings.Contains(err.Error(), "leakgate import RUN_DIR") {
			t.Errorf("error %q does not say how to catch up", err)
		}
		restart()
		s2 := reopen()
		runs, err := s2.Runs(context.Background(), Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 0 {
			t.Fatalf("a half-written run is visible: %+v", runs)
		}
		if _, err := s2.Record(context.Background(), dir); err != nil {
			t.Fatal(err)
		}
		if r, err := s2.Run(context.Background(), "run-a"); err != nil || r.Verdict != "pass" {
			t.Errorf("after import: %+v, %v", r, err)
		}
		if ss, err := s2.Series(context.Background(), "run-a"); err != nil || len(ss) != 3 {
			t.Errorf("after import: %d series, %v", len(ss), err)
		}
	}
	t.Run("sqlite: the write's deadline passes", func(t *testing.T) {
		dsn := filepath.Join(t.TempDir(), "results.db")
		s := open(t, dsn)
		check(t, s, func() {}, func() {}, func() *Store { return open(t, dsn) })
	})
	t.Run("postgres: the server stops", func(t *testing.T) {
		pg := resultstest.StartPostgres(t)
		s := open(t, pg.DSN)
		check(t, s, pg.Stop, pg.Start, func() *Store { return open(t, pg.DSN) })
	})
}

func TestOpen_APostgresServerThatIsDownIsUnavailable(t *testing.T) {
	pg := resultstest.StartPostgres(t)
	pg.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, err := Open(ctx, pg.DSN)

	var ue *UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("got %v (%T), want an *UnavailableError", err, err)
	}
	if err := RecordRun(ctx, pg.DSN, t.TempDir(), "r1"); !errors.As(err, &ue) {
		t.Errorf("RecordRun: got %v, want an *UnavailableError", err)
	}
}

func TestOpen_RedactsThePasswordInErrors(t *testing.T) {
	pg := resultstest.StartPostgres(t)
	pg.Stop()
	dsn := strings.Replace(pg.DSN, "leakgate@", "leakgate:hunter2@", 1)

	_, err := Open(context.Background(), dsn)

	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v, want one without the password", err)
	}
}

func TestOpen_ACorruptedSQLiteFileIsAClearErrorNamingItAndNothingIsTouched(t *testing.T) {
	for _, c := range []struct {
		name    string
		corrupt func(t *testing.T, path string)
	}{
		{"not a database at all", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("these are not the tables you are looking for\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"a real store with its pages overwritten", func(t *testing.T, path string) {
			s := open(t, path)
			if _, err := s.Record(context.Background(), folder(t, t.TempDir(), "run-a", "r1", "pass", t0, 0)); err != nil {
				t.Fatal(err)
			}
			s.Close()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for i := 4096; i < len(data); i++ {
				data[i] = 0xA5
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, extra := range []string{"-wal", "-shm"} {
				os.Remove(path + extra)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "results.db")
			c.corrupt(t, path)
			before := snapshotTree(t, dir)

			_, err := Open(context.Background(), path)

			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v (%T), want a *CorruptError", err, err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "results store "+path+" is not a usable SQLite database (") ||
				!strings.HasSuffix(msg, "it was left untouched: move it aside and rebuild the index with leakgate import RUN_DIR... --db "+path) {
				t.Errorf("message %q", msg)
			}
			if after := snapshotTree(t, dir); after != before {
				t.Errorf("the store's folder changed")
			}
		})
	}
}

func TestBaseline_AutoReleaseAndRunID(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn)
		root := t.TempDir()
		for _, r := range []struct {
			name, release, verdict string
			at                     time.Duration
		}{
			{"r40-pass", "r40", "pass", 0},
			{"r41-pass", "r41", "pass", 24 * time.Hour},
			{"r41-fail", "r41", "fail", 36 * time.Hour},
			{"r42-fail", "r42", "fail", 48 * time.Hour},
		} {
			if _, err := s.Record(ctx, folder(t, root, r.name, r.release, r.verdict, t0.Add(r.at), 0)); err != nil {
				t.Fatal(err)
			}
		}
		// Another rig's passing run must never be chosen.
		other := resultstest.WriteRunFolder(t, root, resultstest.RunFolder{Name: "rig2-pass", Target: "rig2", Profile: "wifi", Started: t0.Add(40 * time.Hour),
			Series: []resultstest.SeriesValues{{Kind: checks.KindSlab, Subject: "dentry", Unit: "bytes", Values: resultstest.Line(25, 0, 0)}}})
		if _, err := s.Record(ctx, other); err != nil {
			t.Fatal(err)
		}
		cand := Run{ID: "r43", Rig: "rig1", Profile: "wifi", Started: t0.Add(60 * time.Hour)}

		for _, c := range []struct{ spec, want string }{
			{"auto", "r41-pass"},
			{"", "r41-pass"},
			{"release:r41", "r41-pass"},
			{"release:r42", "r42-fail"},
			{"r40-pass", "r40-pass"},
		} {
			got, err := s.Baseline(ctx, cand, c.spec)
			if err != nil || got.ID != c.want {
				t.Errorf("Baseline(%q) = %s, %v; want %s", c.spec, got.ID, err, c.want)
			}
		}
		for _, spec := range []string{"release:r99", "no-such-run"} {
			if _, err := s.Baseline(ctx, cand, spec); !errors.Is(err, ErrNotFound) {
				t.Errorf("Baseline(%q): %v, want ErrNotFound", spec, err)
			}
		}
		first := Run{ID: "r40-pass", Rig: "rig1", Profile: "wifi", Started: t0}
		if _, err := s.Baseline(ctx, first, "auto"); !errors.Is(err, ErrNotFound) {
			t.Errorf("the first run found a baseline: %v", err)
		}
	})
}

func TestHistory_ListsRunsOldestFirstWithTheSeriesSlope(t *testing.T) {
	backends(t, testHistory)
}

func testHistory(t *testing.T, dsn string) {
	ctx := context.Background()
	s := open(t, dsn)
	root := t.TempDir()
	for i, perHour := range []float64{0, 0.5 * mib} {
		if _, err := s.Record(ctx, folder(t, root, fmt.Sprintf("run%d", i), fmt.Sprintf("r%d", 41+i), "pass", t0.Add(time.Duration(i)*24*time.Hour), perHour)); err != nil {
			t.Fatal(err)
		}
	}

	h, err := s.History(ctx, "rig1", "slab/kmalloc-512")
	if err != nil {
		t.Fatal(err)
	}

	if len(h) != 2 || h[0].Run.Release != "r41" || h[1].Run.Release != "r42" {
		t.Fatalf("history %+v, want r41 then r42", h)
	}
	if !h[0].HasSeries || h[0].Series.SlopePerHour != 0 || h[1].Series.SlopePerHour != 0.5*mib {
		t.Errorf("slopes %v then %v, want 0 then 0.5 MiB/h", h[0].Series, h[1].Series)
	}
	h, err = s.History(ctx, "rig1", "no-such-cache")
	if err != nil || len(h) != 2 || h[0].HasSeries {
		t.Errorf("an unknown series: %+v, %v", h, err)
	}
}

func TestCompareWithBaseline_NamesTheRegressedCacheAgainstTheLastPassingRelease(t *testing.T) {
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "results.db")
	root := t.TempDir()
	if err := RecordRun(ctx, dsn, folder(t, root, "a", "r41", "pass", t0, 0.02*mib), ""); err != nil {
		t.Fatal(err)
	}
	cand := folder(t, root, "b", "", "pass", t0.Add(24*time.Hour), 3.1*mib)

	c, err := CompareWithBaseline(ctx, dsn, cand, "auto", compare.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}

	if !c.Failed() || c.Baseline.ID != "a" || len(c.Regressed()) != 1 {
		t.Fatalf("comparison %+v, want one regression against run a", c)
	}
	want := "run b against release r41 (a) on rig1: 1 regressed, 0 unknown, 0 improved, 2 same\n" +
		"  regressed: slab kmalloc-512 grows 3.1 MiB/h, release r41 grew 20.5 KiB/h on the same rig"
	if got := c.Message(); got != want {
		t.Errorf("message\n got %q\nwant %q", got, want)
	}
}

func TestCompareWithBaseline_NoBaselineYetIsNotFound(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "results.db")
	cand := folder(t, t.TempDir(), "b", "", "pass", t0, 0)

	_, err := CompareWithBaseline(context.Background(), dsn, cand, "auto", compare.DefaultPolicy())

	if !errors.Is(err, ErrNotFound) {
		t.Errorf("got %v, want ErrNotFound", err)
	}
}

func TestReadFolder_WithoutReportSaysToAnalyzeFirst(t *testing.T) {
	dir := t.TempDir()

	_, err := ReadFolder(dir)

	if err == nil || !strings.Contains(err.Error(), "leakgate analyze "+dir) {
		t.Errorf("got %v, want a pointer to leakgate analyze", err)
	}
}

func TestReadFolder_TheRecordedLeakRun(t *testing.T) {
	f, err := ReadFolder("../testdata/harness/leak-run")
	if err != nil {
		t.Fatal(err)
	}
	if f.Rig != "ssh://leakgate@127.0.0.1:43499" || f.Verdict != "fail" || f.Kernel != "6.12.117" || len(f.Findings) != 2 ||
		f.ConfigDigest != "sha256:ae288ba5b36ef75b3be41f554d7a8544a948370dd4acee01c268478f23281eb7" {
		t.Errorf("folder %+v", f)
	}
	var rx *FolderSeries
	for i := range f.Series {
		if f.Series[i].Kind == "slab" && f.Series[i].Subject == "wlansim_rxbuf" {
			rx = &f.Series[i]
		}
	}
	if rx == nil || rx.Unit != "bytes" || len(rx.Values) < 20 {
		t.Fatalf("wlansim_rxbuf: %+v", rx)
	}
}

func TestEncodePoints_RoundTripsAndRejectsATornBlob(t *testing.T) {
	ts, vs := []float64{0, 600, 1200}, []float64{1, -2.5, 3e9}
	b := encodePoints(ts, vs)
	gt, gv, err := decodePoints(b)
	if err != nil || !slices.Equal(gt, ts) || !slices.Equal(gv, vs) {
		t.Errorf("round trip: %v %v %v", gt, gv, err)
	}
	if _, _, err := decodePoints(b[:len(b)-1]); err == nil {
		t.Error("a torn blob was accepted")
	}
}

func TestThin_KeepsFirstLastAndTheLimit(t *testing.T) {
	var ts, vs []float64
	for i := range 10 {
		ts = append(ts, float64(i))
		vs = append(vs, float64(i*i))
	}
	gt, gv := thin(ts, vs, 4)
	// Indexes round(k·9/3): 0, 3, 6, 9.
	if !slices.Equal(gt, []float64{0, 3, 6, 9}) || !slices.Equal(gv, []float64{0, 9, 36, 81}) {
		t.Errorf("thin: %v %v", gt, gv)
	}
}

func TestParseSeriesCSV(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     int
		err      string
	}{
		{"two series", "series,t,value\na,0,1\nb,0,2\na,10,3\n", 2, ""},
		{"a defused name", "series,t,value\n'=cmd,0,1\n", 1, ""},
		{"bad header", "name,t,value\n", 0, "line 1: header"},
		{"a value that is not a number", "series,t,value\na,0,1\na,10,x\n", 1, `line 3: value "x" is not a finite number`},
		{"time going back", "series,t,value\na,10,1\na,5,1\n", 1, `line 3: series "a" time 5 does not follow 10`},
		{"a short row", "series,t,value\na,0\n", 0, "line 2:"},
		{"empty", "", 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseSeriesCSV(strings.NewReader(c.in), "slab")
			if len(got) != c.want {
				t.Errorf("%d series, want %d", len(got), c.want)
			}
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)) {
				t.Errorf("error %v, want prefix %q", err, c.err)
			}
		})
	}
	got, _ := ParseSeriesCSV(strings.NewReader("series,t,value\n'=cmd,0,1\n"), "process")
	if got[0].Subject != "=cmd" || got[0].Unit != "bytes" {
		t.Errorf("defused name read back as %q (%s)", got[0].Subject, got[0].Unit)
	}
}

func FuzzParseSeriesCSV(f *testing.F) {
	f.Add([]byte("series,t,value\na,0,1\nb,0,2\na,10,3\n"))
	f.Add([]byte("series,t,value\n\"x,y\",0,1e9\n'=a,1,2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ss, err := ParseSeriesCSV(bytes.NewReader(data), "slab")
		for _, s := range ss {
			if len(s.Seconds) != len(s.Values) || len(s.Seconds) == 0 {
				t.Fatalf("series %q: %d times, %d values", s.Subject, len(s.Seconds), len(s.Values))
			}
			for i := 1; i < len(s.Seconds); i++ {
				if s.Seconds[i] <= s.Seconds[i-1] {
					t.Fatalf("series %q: times not increasing", s.Subject)
				}
			}
		}
		if err != nil && !strings.Contains(err.Error(), "line ") {
			t.Fatalf("error without a line: %v", err)
		}
	})
}

func BenchmarkRecordSQLite(b *testing.B) {
	ctx := context.Background()
	dir := resultstest.WriteRunFolder(b, b.TempDir(), resultstest.RunFolder{Name: "run", Target: "rig1", Started: t0,
		Series: func() []resultstest.SeriesValues {
			var ss []resultstest.SeriesValues
			for i := range 200 {
				ss = append(ss, resultstest.SeriesValues{Kind: checks.KindSlab, Subject: fmt.Sprintf("cache-%d", i), Unit: "bytes", Values: resultstest.Line(73, mib, float64(i))})
			}
			return ss
		}()})
	s, err := Open(ctx, filepath.Join(b.TempDir(), "results.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Record(ctx, dir); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOpen_ACorruptedStoreInUseIsConfirmedThroughALockingConnection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.db")
	s := open(t, path)
	if _, err := s.Record(context.Background(), folder(t, t.TempDir(), "run-a", "r1", "pass", t0, 0)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 4096; i < len(data); i++ {
		data[i] = 0xA5
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	// A WAL beside it, as while another runner has the store open.
	if err := os.WriteFile(path+"-wal", nil, 0o600); err != nil {
		t.Fatal(err)
	}

	_, err = Open(context.Background(), path)

	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != path {
		t.Fatalf("got %v (%T), want a *CorruptError naming %s", err, err, path)
	}
}

func TestAfterSoak_RecordsComparesAndReportsAStoreThatIsDown(t *testing.T) {
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "results.db")
	root := t.TempDir()
	opts := SoakOptions{DSN: dsn, Release: "r41", Baseline: "auto", Policy: compare.DefaultPolicy()}

	first := AfterSoak(ctx, folder(t, root, "a", "", "pass", t0, 0.02*mib), opts)
	if !first.Recorded || !first.NoBaseline || first.Failed() || first.Message() != "comparison: no baseline yet (no earlier passing run of this rig and profile)" {
		t.Fatalf("first run: %+v, %q", first, first.Message())
	}

	opts.Release = "r42"
	second := AfterSoak(ctx, folder(t, root, "b", "", "pass", t0.Add(24*time.Hour), 3.1*mib), opts)
	if !second.Recorded || !second.Failed() {
		t.Fatalf("second run: %+v", second)
	}
	if want := "release r42 against release r41 (a) on rig1: 1 regressed, 0 unknown, 0 improved, 2 same\n" +
		"  regressed: slab kmalloc-512 grows 3.1 MiB/h, release r41 grew 20.5 KiB/h on the same rig"; second.Message() != want {
		t.Errorf("message\n got %q\nwant %q", second.Message(), want)
	}

	pg := resultstest.StartPostgres(t)
	pg.Stop()
	opts.DSN = pg.DSN
	down := AfterSoak(ctx, folder(t, root, "c", "", "pass", t0.Add(48*time.Hour), 0), opts)
	var ue *UnavailableError
	if down.Recorded || !errors.As(down.RecordErr, &ue) || !errors.As(down.CompareErr, &ue) || down.Failed() {
		t.Errorf("store down: %+v", down)
	}
	if msg := down.Message(); !strings.HasPrefix(msg, "results store: not recorded: results store postgres://") {
		t.Errorf("store down: message %q", msg)
	}

	nothing := AfterSoak(ctx, folder(t, root, "d", "", "pass", t0, 0), SoakOptions{})
	if nothing.Recorded || nothing.Message() != "" {
		t.Errorf("no --db: %+v", nothing)
	}
}
