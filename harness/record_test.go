package harness

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks/verdict"
)

var record = flag.Bool("record", false, "rewrite the recorded runs in testdata/harness from scripted soaks")

// TestRecordRuns rewrites testdata/harness/{leak-run,interrupted-run} (with
// -record) and otherwise checks that the recorded runs still load. The
// interrupted run is the leak run cut as SIGKILL leaves it: run.json still
// says running, samples.jsonl ends in a torn line, the last raw snapshot is
// cut short.
func TestRecordRuns(t *testing.T) {
	dir := filepath.Join("..", "testdata", "harness")
	if *record {
		sc := scenario{
			leakObjects: func(n int) int { return 3 * n },
			slabExtra:   func(n int) map[string]int64 { return map[string]int64{"wlansim_rxbuf": int64(160 * n)} },
		}
		run, _ := soakFor(t, sc, func(c *Config) { c.Duration = 4 * time.Hour })
		for _, name := range []string{"leak-run", "interrupted-run"} {
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			if err := os.CopyFS(filepath.Join(dir, name), os.DirFS(run.Dir)); err != nil {
				t.Fatal(err)
			}
		}
		cut := filepath.Join(dir, "interrupted-run")
		for _, f := range []string{"report.json", "report.html"} {
			os.Remove(filepath.Join(cut, f))
		}
		os.RemoveAll(filepath.Join(cut, "series"))
		meta, err := os.ReadFile(filepath.Join(cut, RunFile))
		if err != nil {
			t.Fatal(err)
		}
		meta = []byte(replaceJSONString(string(meta), "status", string(verdict.Running)))
		if err := os.WriteFile(filepath.Join(cut, RunFile), meta, 0o600); err != nil {
			t.Fatal(err)
		}
		// Keep samples 0-19, then a torn line; raw 0020 cut in half, raws after it gone.
		recs, err := os.ReadFile(filepath.Join(cut, SamplesFile))
		if err != nil {
			t.Fatal(err)
		}
		lines := splitLines(recs, 20)
		torn := append(lines, []byte(`{"sample":{"index":20,"at":"2026-11-25T22:00:`)...)
		if err := os.WriteFile(filepath.Join(cut, SamplesFile), torn, 0o600); err != nil {
			t.Fatal(err)
		}
		raws, _ := filepath.Glob(filepath.Join(cut, RawDir, "*.tar.gz"))
		for _, r := range raws {
			switch filepath.Base(r) {
			case "0020.tar.gz":
				b, _ := os.ReadFile(r)
				os.WriteFile(r, b[:len(b)/2], 0o600)
			default:
				if filepath.Base(r) > "0020.tar.gz" {
					os.Remove(r)
				}
			}
		}
	}
	for _, name := range []string{"leak-run", "interrupted-run"} {
		r, err := LoadRun(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("LoadRun %s: %v", name, err)
		}
		if len(r.Samples) < 12 {
			t.Errorf("%s: %d samples, want at least 12", name, len(r.Samples))
		}
	}
}

func splitLines(b []byte, n int) []byte {
	count := 0
	for i, c := range b {
		if c == '\n' {
			count++
			if count == n {
				return b[:i+1]
			}
		}
	}
	return b
}

func replaceJSONString(doc, key, value string) string {
	needle := `"` + key + `": "`
	i := indexOf(doc, needle)
	if i < 0 {
		return doc
	}
	j := i + len(needle)
	k := j
	for k < len(doc) && doc[k] != '"' {
		k++
	}
	return doc[:j] + value + doc[k:]
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
