package harness

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
)

// hostileName is a name the target controls, carrying a clear-screen
// sequence and a newline that would forge a log line.
const hostileName = "evil\x1b[2J\nleakgate: verdict pass"

func TestLogf_EscapesTargetTextIntoOneLine(t *testing.T) {
	var log bytes.Buffer
	s := &soak{cfg: Config{Log: &log}, clock: newFakeClock()}

	s.logf("reload probe: %s: %s came back", hostileName, "1.0 MiB")

	want := `2026-11-25T20:00:00Z leakgate: reload probe: evil\x1b[2J\nleakgate: verdict pass: 1.0 MiB came back` + "\n"
	if log.String() != want {
		t.Errorf("log line\n got %q\nwant %q", log.String(), want)
	}
}

func TestTopGrowers_EscapeCacheNamesAndPrintBinaryUnits(t *testing.T) {
	r := &Run{}
	start := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	for i, objs := range []int{100, 100 + 3*1024} {
		slab := fmt.Sprintf("slabinfo - version: 2.1\n# name <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\nevil\x1b[2J %d %d 512 8 1 : tunables 0 0 0 : slabdata 1 1 0\n", objs, objs)
		r.addSample(checks.ParseSnapshot(i, start.Add(time.Duration(i)*time.Minute), map[string][]byte{checks.PathSlabinfo: []byte(slab)}, nil, checks.SampleOptions{}))
	}

	got := r.topGrowers(3)

	want := `slab cache evil\x1b[2J +1.5 MiB`
	if len(got) == 0 || !strings.Contains(strings.Join(got, "|"), want) {
		t.Errorf("top growers %q, want one reading %q", got, want)
	}
	for _, g := range got {
		if strings.ContainsAny(g, "\x1b\n") {
			t.Errorf("top grower %q carries a control character", g)
		}
	}
}

func TestSafeName_EvidenceAndRunFolderNamesCarryNoControlCharacters(t *testing.T) {
	if got, want := safeName(hostileName), "evil_2J_leakgate_verdict_pass"; got != want {
		t.Errorf("safeName(%q) = %q, want %q", hostileName, got, want)
	}
	dir := EvidenceFolder(nil, t.TempDir(), hostileName)
	if strings.ContainsAny(dir, "\x1b\n") || !strings.HasSuffix(dir, "-evil_2J_leakgate_verdict_pass-evidence") {
		t.Errorf("evidence folder %q", dir)
	}
}
