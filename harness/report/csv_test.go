package report

import (
	"encoding/csv"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
)

func TestWriteCSV_HostileNamesReadBackQuotedWithControlsEscaped(t *testing.T) {
	names := []string{
		"kmalloc-8192",
		`a,b "quoted"`,
		"two\nlines",
		"\xff\xfe not utf-8",
		"=HYPERLINK(\"http://x\")",
		"@sum",
		"retitle\x1b]0;pwned\x07",
	}
	var ss []Series
	for _, n := range names {
		ss = append(ss, Series{Kind: checks.KindProcess, Subject: n, Points: []Point{
			{At: start, Value: 1}, {At: start.Add(90 * time.Second), Value: 2.5}}})
	}
	var b strings.Builder

	if err := WriteCSV(&b, start, ss); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v\n%s", err, b.String())
	}

	if !reflect.DeepEqual(rows[0], []string{"series", "t", "value"}) {
		t.Errorf("header %v", rows[0])
	}
	if len(rows) != 1+2*len(names) {
		t.Fatalf("%d rows, want %d", len(rows), 1+2*len(names))
	}
	// Control characters come out escaped (a terminal printing the CSV is
	// safe), invalid UTF-8 as U+FFFD.
	want := []string{"kmalloc-8192", `a,b "quoted"`, `two\nlines`, "\uFFFD\uFFFD not utf-8", "'=HYPERLINK(\"http://x\")", "'@sum", `retitle\x1b]0;pwned\a`}
	for i, w := range want {
		if got := rows[1+2*i][0]; got != w {
			t.Errorf("name %d read back as %q, want %q", i, got, w)
		}
	}
	if !reflect.DeepEqual(rows[2], []string{"kmalloc-8192", "90", "2.5"}) {
		t.Errorf("second row %v, want t in seconds from start", rows[2])
	}
}

func TestSeriesFiles_GroupByKindAndKeepOddKindsSafe(t *testing.T) {
	r := Run{Series: []Series{
		{Kind: checks.KindSlab, Subject: "a"},
		{Kind: "../../etc/passwd", Subject: "b"},
		{Kind: checks.KindSlab, Subject: "c"},
	}}

	files := seriesFiles(r)

	if len(files) != 2 || files[0].name != "other.csv" || files[1].name != "slab.csv" || len(files[1].series) != 2 {
		t.Errorf("files %+v", files)
	}
}

func TestOrigin_IsTheFirstSampleWhenTheBaselineCameBeforeTheStart(t *testing.T) {
	r := slabLeakRun()
	r.Started = start.Add(30 * time.Minute)

	if got := origin(r); !got.Equal(start) {
		t.Errorf("origin %v, want the first sample at %v", got, start)
	}
}
