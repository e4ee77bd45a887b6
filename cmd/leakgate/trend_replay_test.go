package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func decodeReplayLines(t *testing.T, out string) map[string]replayLine {
	t.Helper()
	got := map[string]replayLine{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var l replayLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		got[l.Series] = l
	}
	return got
}

func TestTrendReplay_LeakStopsEarlyAndCleanSeriesHaveNullStop(t *testing.T) {
	code, out, errs := runTrendCLI(t, "", trendFixtures+"/soak-12h-leak.csv", "--replay", "--json")
	if code != exitFindings {
		t.Fatalf("exit %d (%s), want 1", code, errs)
	}
	got := decodeReplayLines(t, out)
	if len(got) != 3 {
		t.Fatalf("%d series, want 3: %s", len(got), out)
	}
	leak := got["slab:kmalloc-128"]
	// 10 min samples, 1 h warm-up, first look at the 12th judged sample
	// (t = 3600 + 11×600 = 10200 s); the soak ends at 43200 s.
	if leak.Verdict != "leak" || leak.Final != "leak" || leak.StoppedAt == nil ||
		*leak.StoppedAt < 10200 || *leak.StoppedAt >= 43200 || int(*leak.StoppedAt)%600 != 0 ||
		!strings.HasPrefix(leak.Reason, "stopped at ") {
		t.Fatalf("kmalloc-128: %+v, want a leak stopped on a sample between 10200 s and the end", leak)
	}
	for _, name := range []string{"slab:dentry", "slab:inode_cache"} {
		if l := got[name]; l.Verdict != "ok" || l.Final != "ok" || l.StoppedAt != nil {
			t.Fatalf("%s: %+v, want ok and never stopped", name, l)
		}
	}
	if !strings.Contains(out, `"stopped_at":null`) {
		t.Fatalf("a series that never stopped must print stopped_at null: %s", out)
	}
}

func TestTrendReplay_StopIsTheFirstPrefixTheEarlyRuleFails(t *testing.T) {
	// Differential: cut the leak series at every sample and replay each
	// prefix; the first prefix that stops ends at stopped_at (no floors
	// here, so the shorter planned length of a prefix does not matter).
	_, out, _ := runTrendCLI(t, "", trendFixtures+"/soak-12h-leak.csv", "--replay", "--json")
	want := *decodeReplayLines(t, out)["slab:kmalloc-128"].StoppedAt
	rows := strings.Split(strings.TrimSpace(string(mustRead(t, trendFixtures+"/soak-12h-leak.csv"))), "\n")
	var kept []string
	first := -1.0
	for _, row := range rows[1:] {
		if !strings.HasPrefix(row, "slab:kmalloc-128,") {
			continue
		}
		kept = append(kept, row)
		_, prefixOut, _ := runTrendCLI(t, "series,t,value\n"+strings.Join(kept, "\n")+"\n", "-", "--replay", "--json")
		if l := decodeReplayLines(t, prefixOut)["slab:kmalloc-128"]; l.StoppedAt != nil {
			first = *l.StoppedAt
			break
		}
	}
	if first != want {
		t.Fatalf("first stopping prefix ends at %v, whole-series replay says %v", first, want)
	}
}

func TestTrendReplay_TextOutputHasAHeaderAndADashForNoStop(t *testing.T) {
	code, out, errs := runTrendCLI(t, "", trendFixtures+"/soak-12h-clean.csv", "--replay")
	if code != exitOK {
		t.Fatalf("exit %d (%s), want 0", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "SERIES") || !strings.Contains(lines[0], "STOPPED AT") {
		t.Fatalf("header %q, want SERIES … STOPPED AT …", lines[0])
	}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) < 4 || f[1] != "ok" || f[2] != "-" || f[3] != "ok" {
			t.Fatalf("row %q, want <series> ok - ok <reason>", l)
		}
	}
}

func TestTrendReplay_BadInputExitsTwoWithTheLine(t *testing.T) {
	code, _, errs := runTrendCLI(t, "series,t,value\na,0,1\na,60,x\n", "-", "--replay")
	if code != exitUsage || !strings.Contains(errs, "line 3") {
		t.Fatalf("exit %d, stderr %q; want 2 naming line 3", code, errs)
	}
}
