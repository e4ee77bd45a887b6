package harness

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/verdict"
)

// TestSoak_AHostileProcessNameStaysData soaks a target whose leaking process
// is named with HTML, shell substitution, a path escape and a closing
// parenthesis: the name must reach the findings, report.json and the message
// as the same text, be escaped in report.html, never become a path outside
// the run folder, and never reach a command run on the target.
func TestSoak_AHostileProcessNameStaysData(t *testing.T) {
	t.Parallel()
	const name = `<i>$(id)../x) S`
	sc := scenario{procName: name, procAnonKB: func(n int) int64 { return 2048 + 96*int64(n) }}
	run, tgt := soakFor(t, sc, nil)

	if run.Meta.Status != verdict.Fail {
		t.Fatalf("status %q (%s), want fail on the process leak", run.Meta.Status, run.Meta.Error)
	}
	var subject string
	for _, f := range run.Judgement.Findings {
		if f.Verdict == verdict.Leak && f.Kind == checks.KindProcess {
			subject = f.Subject
		}
	}
	if !strings.HasPrefix(subject, name+"/") {
		t.Fatalf("process leak subject %q, want the name %q unchanged (then /pid/start)", subject, name)
	}
	if !strings.Contains(run.Message(), name) {
		t.Errorf("the message does not name the process as it is:\n%s", run.Message())
	}

	var rep struct {
		Findings []struct{ Subject string } `json:"findings"`
	}
	b, err := os.ReadFile(filepath.Join(run.Dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report.json is not JSON: %v", err)
	}
	inJSON := false
	for _, f := range rep.Findings {
		inJSON = inJSON || f.Subject == subject
	}
	if !inJSON {
		t.Errorf("report.json findings %+v lack %q", rep.Findings, subject)
	}
	html, err := os.ReadFile(filepath.Join(run.Dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(html), "<i>$(id)") {
		t.Errorf("report.html carries the name's markup unescaped")
	}
	if !strings.Contains(string(html), "&lt;i&gt;$(id)") {
		t.Errorf("report.html does not show the escaped name")
	}

	// Everything the soak wrote is inside its run folder, which is alone in --out.
	out := filepath.Dir(run.Dir)
	err = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != out && p != run.Dir && !strings.HasPrefix(p, run.Dir+string(filepath.Separator)) {
			t.Errorf("%s was written outside the run folder", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(out), "x) S")); err == nil {
		t.Errorf("the name's ../ escaped --out")
	}
	for _, c := range tgt.srv.Commands() {
		if strings.Contains(c, "$(id)") {
			t.Errorf("a command run on the target carries the process name: %q", c)
		}
	}
	assertRunFolder(t, run)
}
