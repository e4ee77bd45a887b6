package results

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/compare"
	"github.com/leakgate/leakgate/results/resultstest"
)

func TestWriteHTML_OverlaysBothRunsForTheRegressedSeriesAndEscapesNames(t *testing.T) {
	root := t.TempDir()
	mk := func(name, release string, at time.Time, perHour float64) string {
		return resultstest.WriteRunFolder(t, root, resultstest.RunFolder{Name: name, Target: "rig1", Profile: "wifi", Release: release, Started: at,
			Series: []resultstest.SeriesValues{
				{Kind: checks.KindProcess, Subject: "<script>x</script>", Unit: "bytes", Values: resultstest.Line(25, mib, perHour)},
				{Kind: checks.KindSlab, Subject: "dentry", Unit: "bytes", Values: resultstest.Line(25, mib, 0)},
			}})
	}
	a, b := mk("a", "r41", t0, 0), mk("b", "r42", t0.Add(24*time.Hour), mib)
	c, err := CompareRuns(context.Background(), nil, Source{Dir: a}, Source{Dir: b}, compare.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer

	if err := c.WriteHTML(&out); err != nil {
		t.Fatal(err)
	}

	page := out.String()
	if strings.Contains(page, "<script>") {
		t.Error("a process name reached the page unescaped")
	}
	for _, want := range []string{
		"<h1>release r42 against release r41 (a) on rig1: 1 regressed, 0 unknown, 0 improved, 1 same</h1>",
		"<h3>process &lt;script&gt;x&lt;/script&gt; grows 1.0 MiB/h, release r41 grew 0 B/h on the same rig</h3>",
		`fill="#888">release r41</text>`, `fill="#c00">release r42</text>`,
		// The time axis ends at the soak's length; sizes in the one style.
		`text-anchor="end">4 h</text>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Differences in binary units, the time in the one duration style
	// (html/template writes "+" as &#43;).
	if want := "<td>&#43;1.0 MiB [&#43;1.0 MiB, &#43;1.0 MiB]</td>\n<td>&#43;3.8 MiB [&#43;3.6 MiB, &#43;4.0 MiB] at 4 h</td>"; !strings.Contains(page, want) {
		t.Errorf("page lacks the row's differences %q:\n%s", want, page)
	}
	if n := strings.Count(page, "<polyline"); n != 2 {
		t.Errorf("%d lines drawn, want 2 (one chart, both runs)", n)
	}
	if filepath.Base(c.Candidate.RunDir) != "b" {
		t.Errorf("candidate %+v", c.Candidate)
	}
}
