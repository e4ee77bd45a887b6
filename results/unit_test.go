package results

import (
	"strconv"
	"strings"
	"testing"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/compare"
)

// The page-level kinds were read back without a unit, so the comparison
// judged their bytes against the objects' minimum changes (8, 2/h) and
// called a 2 KiB difference of the dentry allocation site a regression (the
// rig's release e2e, e2e/release_test.go).
func TestParseSeriesCSV_EveryKindGetsItsSourcesUnit(t *testing.T) {
	for _, c := range []struct {
		kind checks.Kind
		want string
	}{
		{checks.KindSlab, "bytes"},
		{checks.KindProcess, "bytes"},
		{checks.KindMeminfo, "bytes"},
		{checks.KindVmalloc, "bytes"},
		{checks.KindAllocinfo, "bytes"},
		{checks.KindPageOwner, "bytes"},
		{checks.KindKmemleak, "objects"},
		{"no-such-kind", ""},
	} {
		t.Run(string(c.kind), func(t *testing.T) {
			got, err := ParseSeriesCSV(strings.NewReader("series,t,value\na,0,1\n"), string(c.kind))
			if err != nil || len(got) != 1 {
				t.Fatalf("%d series (%v)", len(got), err)
			}
			if got[0].Unit != c.want {
				t.Errorf("unit %q, want %q", got[0].Unit, c.want)
			}
		})
	}
}

// An allocation site 2 KiB higher at the end, flat in both runs, is the
// same release to the comparison once its unit is bytes (minimum 1 MiB).
func TestFolderSeriesList_AnAllocationSiteAFewKiBHigherIsNotARegression(t *testing.T) {
	csv := func(base float64) string {
		var b strings.Builder
		b.WriteString("series,t,value\n")
		for i := range 30 {
			// flat at base, ±512 B of noise that alternates
			v := base + float64(512*(i%2))
			b.WriteString("fs/dcache.c:1650 func:__d_alloc," + strconv.Itoa(i*600) + "," + strconv.Itoa(int(v)) + "\n")
		}
		return b.String()
	}
	a, err := ParseSeriesCSV(strings.NewReader(csv(424400)), string(checks.KindAllocinfo))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseSeriesCSV(strings.NewReader(csv(426500)), string(checks.KindAllocinfo))
	if err != nil {
		t.Fatal(err)
	}
	r, err := compare.Compare(FolderSeriesList(a)[0], FolderSeriesList(b)[0], compare.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict == compare.Regressed {
		t.Errorf("verdict %s (%s), want not regressed: 2.1 KiB is below the 1 MiB minimum level change", r.Verdict, r.Reason)
	}
}
