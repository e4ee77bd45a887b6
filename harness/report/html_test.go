package report

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/checks/verdict"
)

// hostile is a name a target could hand us: markup, quotes, newlines and
// bytes that are not UTF-8.
const hostile = "<script>alert(\"x\")</script>'\n<img src=x onerror=alert(1)>\xff\xfe"

func hostileRun() Run {
	r := slabLeakRun()
	r.Target = "rig\"><script>alert(0)</script>"
	r.Kernel = "6.12<script>"
	r.Findings[0].Subject = hostile
	r.Findings[0].Reason = hostile
	r.Findings[0].Evidence[0].Frames = append(r.Findings[0].Evidence[0].Frames, kmemleak.Frame{Function: hostile, Module: hostile})
	r.Series[0].Subject = hostile
	r.Series = append(r.Series, ramp(checks.KindProcess, hostile, "bytes", 73, 1<<20, 1<<16))
	r.Gaps[0].Reason = hostile
	r.Preflight[0].Seen = hostile
	r.Meta[hostile] = hostile
	r.Reboot = &Reboot{AtSample: 3, OldBootID: hostile, NewBootID: "b", Evidence: hostile}
	r.Error = hostile
	r.Observer = []checks.ObserverProcess{{PID: 812, Name: hostile}}
	return r
}

func TestWriteHTML_EscapesHostileNames(t *testing.T) {
	var b strings.Builder

	if err := WriteHTML(&b, hostileRun()); err != nil {
		t.Fatal(err)
	}

	page := b.String()
	for _, raw := range []string{"<script>", "<img src=x", "\"><script"} {
		if strings.Contains(page, raw) {
			t.Errorf("raw %q reached the page", raw)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(") {
		t.Error("the hostile name is not shown escaped")
	}
	if !utf8.ValidString(page) {
		t.Error("the page is not valid UTF-8")
	}
	if n := strings.Count(page, "<svg"); n < 2 {
		t.Errorf("%d charts, want the hostile series charted too", n)
	}
}

func TestWriteHTML_ShowsVerdictFindingsChartsAndSections(t *testing.T) {
	var b strings.Builder

	if err := WriteHTML(&b, slabLeakRun()); err != nil {
		t.Fatal(err)
	}

	page := b.String()
	for _, want := range []string{
		`<span class="badge bad">fail</span>`,
		"slab cache kmalloc-8192",
		"corroborated by:",
		`<li class="culprit">pci_rx_dma_done_handle`,
		"meminfo MemAvailable",
		"top 3 slab caches by growth",
		"top 2 processes by growth",
		"warm-up cache of the wifi driver",
		"ssh: link dropped",
		"CONFIG_DEBUG_KMEMLEAK",
		"p&lt;1e-9",
		`<a href="#finding-0"><span class="badge bad">leak</span> slab cache kmalloc-8192</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<?xml") {
		t.Error("an XML prologue was left inside the HTML")
	}
	if strings.Index(page, "id=\"verdict\"") > strings.Index(page, "id=\"finding-0\"") {
		t.Error("the verdict is not first")
	}
}

func TestWriteHTML_NamesTheObserverAsNotJudged(t *testing.T) {
	r := slabLeakRun()
	r.Observer = []checks.ObserverProcess{{PID: 812, Name: "dropbear"}}
	var b strings.Builder

	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}

	if !strings.Contains(b.String(), "<th>not judged</th><td>dropbear (pid 812): the harness") {
		t.Errorf("the page does not list the observer as not judged")
	}
}

func TestWriteHTML_LoadsNothingFromOutside(t *testing.T) {
	var b strings.Builder

	if err := WriteHTML(&b, slabLeakRun()); err != nil {
		t.Fatal(err)
	}

	page := b.String()
	page = strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, "")
	page = strings.ReplaceAll(page, `xmlns:xlink="http://www.w3.org/1999/xlink"`, "")
	for _, external := range []string{"http:", "https:", "<link", "<script", "@import", "url("} {
		if strings.Contains(page, external) {
			t.Errorf("page refers to something external: %q", external)
		}
	}
}

func TestWriteHTML_CapsChartsForManySeries(t *testing.T) {
	var b strings.Builder

	if err := WriteHTML(&b, manySeriesRun(300, 73)); err != nil {
		t.Fatal(err)
	}

	page := b.String()
	// 30 leak findings, each with a series: only maxFindingCharts are drawn,
	// plus the meminfo-less overview's top caches chart.
	if n, want := strings.Count(page, "<svg"), maxFindingCharts+1; n != want {
		t.Errorf("%d charts, want %d", n, want)
	}
	if !strings.Contains(page, "14 finding charts left out") {
		t.Error("the page does not say charts were left out")
	}
}

func TestChartSVG_SurvivesDegenerateSeries(t *testing.T) {
	tests := []struct {
		name   string
		series []Series
	}{
		{"no points at all", []Series{{Kind: checks.KindSlab, Subject: "a"}}},
		{"a single point", []Series{{Kind: checks.KindSlab, Subject: "a", Points: []Point{{At: start, Value: 1}}}}},
		{"a flat line", []Series{ramp(checks.KindSlab, "a", "objects", 5, 7, 0)}},
		{"not-a-number values", []Series{{Kind: checks.KindSlab, Subject: "a", Points: []Point{{At: start, Value: nan()}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := chart("x", timeline{start: start}, tt.series, &trendLine{perHour: 1, label: "slope"})

			if c.SVG == "" && c.Error == "" {
				t.Error("neither a chart nor a reason")
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }

func TestWriteHTML_ListsAllowedSeriesBeforeTheManyCleanOnes(t *testing.T) {
	r := slabLeakRun()
	for i := range 150 {
		r.Findings = append(r.Findings, checks.Finding{Kind: checks.KindSlab, Subject: "clean-" + string(rune('a'+i%26)), Verdict: verdict.OK})
	}
	r.Findings = append(r.Findings, checks.Finding{Kind: checks.KindSlab, Subject: "late-allowed", Verdict: verdict.Allowed, AllowReason: "known"})
	var b strings.Builder

	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}

	page := b.String()
	if !strings.Contains(page, "late-allowed") {
		t.Error("an allowed series was cut by the row cap")
	}
	if !strings.Contains(page, "… and 52 more series judged ok") {
		t.Error("the page does not say how many clean series it left out")
	}
}

func TestWriteHTML_AFailedRunsSummaryIsANoteNotAnError(t *testing.T) {
	r := slabLeakRun()
	r.Error = "ended early at sample 40 of 73"
	var b strings.Builder

	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}

	page := b.String()
	if strings.Contains(page, "could not reach a verdict") {
		t.Error("a failed run is shown as one without a verdict")
	}
	if !strings.Contains(page, "<tr><th>note</th><td>ended early at sample 40 of 73</td></tr>") {
		t.Error("the harness's note is missing")
	}
}

func TestFigureRows_ShowWhatTheJudgeMeasured(t *testing.T) {
	tests := []struct {
		name    string
		finding checks.Finding
		want    [][2]string
		absent  []string
	}{{
		name: "a slab cache in bytes shows objects, adjusted and raw p, steadiness and allocation sites",
		finding: checks.Finding{Kind: checks.KindSlab, Subject: "kmalloc-8192", Unit: "bytes", ObjectSizeBytes: 8192,
			Growth: 1533 * 8192, SlopePerHour: 1 << 20, P: 3e-5, PRaw: 2e-7, Samples: 67, Rising: 60, Monotonic: 0.91,
			AllocCallers: []string{"__alloc_skb", "<script>"}},
		want: [][2]string{
			{"growth", "+12.0 MiB (+1533 objects of 8.0 KiB)"},
			{"significance", "p=3.0e-05 after adjusting across the run's series (p=2.0e-07 alone)"},
			{"steadiness", "Kendall τ 0.91 (1 is a steady rise)"},
			{"allocation sites", "__alloc_skb, <script>"},
		},
	}, {
		name: "a kmemleak signature shows its whole signature and no p-value",
		finding: checks.Finding{Kind: checks.KindKmemleak, Subject: "9f86d081884c7d65 wl_add_sta [wlansim]", Unit: "objects",
			Growth: 40, Samples: 12, Rising: 11, SizesBytes: []int64{256, 512}},
		want: [][2]string{
			{"signature", "9f86d081884c7d65 wl_add_sta [wlansim]"},
			{"object sizes", "256 B, 512 B"},
		},
		absent: []string{"significance"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := figureRows(tt.finding)

			got := map[string]string{}
			for _, r := range rows {
				got[r[0]] = r[1]
			}
			for _, w := range tt.want {
				if got[w[0]] != w[1] {
					t.Errorf("%s = %q, want %q", w[0], got[w[0]], w[1])
				}
			}
			for _, a := range tt.absent {
				if _, ok := got[a]; ok {
					t.Errorf("row %q should be absent", a)
				}
			}
		})
	}
}

func TestWriteHTML_ShowsOnlyTheTailOfAHugeConsoleLog(t *testing.T) {
	r := slabLeakRun()
	r.Reboot = &Reboot{AtSample: 9, OldBootID: "a", NewBootID: "b",
		Evidence: strings.Repeat("[ 1.0] noise line\n", 20000) + "[ 9.9] Kernel panic - not syncing: last words\n"}
	var b strings.Builder

	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}

	page := b.String()
	if !strings.Contains(page, "Kernel panic - not syncing: last words") || !strings.Contains(page, "earlier lines in the run folder") {
		t.Error("the tail or the note about the cut is missing")
	}
	if len(page) > 600<<10 {
		t.Errorf("page is %d bytes", len(page))
	}
}
