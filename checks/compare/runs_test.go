package compare

import (
	"testing"
)

func TestRuns_MatchesByKindAndSubjectAndSortsWorstFirst(t *testing.T) {
	a := []Series{
		linear("slab", "dentry", 4, mib, 0),
		linear("slab", "kmalloc-512", 4, mib, 0),
		linear("slab", "gone", 4, mib, 0),
	}
	b := []Series{
		linear("slab", "dentry", 4, mib, 0),
		linear("slab", "kmalloc-512", 4, mib, 2*mib),
		linear("slab", "wlansim_new", 4, mib, mib),
	}

	rs, err := Runs(a, b, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}

	want := []struct {
		subject string
		verdict Verdict
		onlyA   bool
		onlyB   bool
	}{
		{"kmalloc-512", Regressed, false, false},
		{"wlansim_new", Regressed, false, true},
		{"dentry", Same, false, false},
		{"gone", Same, true, false},
	}
	if len(rs) != len(want) {
		t.Fatalf("got %d results, want %d", len(rs), len(want))
	}
	for i, w := range want {
		r := rs[i]
		if r.Subject != w.subject || r.Verdict != w.verdict || r.OnlyInBaseline != w.onlyA || r.OnlyInCandidate != w.onlyB {
			t.Errorf("result %d: %s %s onlyA=%v onlyB=%v, want %s %s %v %v", i, r.Subject, r.Verdict, r.OnlyInBaseline, r.OnlyInCandidate, w.subject, w.verdict, w.onlyA, w.onlyB)
		}
	}
	if !AnyFails(rs) || !AnyRegressed(rs) {
		t.Error("AnyFails/AnyRegressed missed the regression")
	}
	if got, want := rs[3].Message("release r41"), "slab gone: only in release r41"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}

func TestRuns_NothingRegressedFailsNothing(t *testing.T) {
	a := []Series{linear("slab", "dentry", 4, mib, 4096)}
	b := []Series{linear("slab", "dentry", 4, mib, 0)}

	rs, err := Runs(a, b, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}

	if AnyFails(rs) || AnyRegressed(rs) || rs[0].Verdict != Same {
		t.Errorf("got %s, want same (4 KiB/h is below the 16 KiB/h minimum)", rs[0].Verdict)
	}
}

func TestMessage_Units(t *testing.T) {
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{
		{3.1 * mib, "bytes", "3.1 MiB"},
		{0.02 * mib, "bytes", "20.5 KiB"},
		{2048, "bytes", "2.0 KiB"},
		{12, "bytes", "12 B"},
		{1024, "kB", "1.0 MiB"},
		{18, "objects", "18 objects"},
	} {
		if got := amount(c.v, c.unit); got != c.want {
			t.Errorf("amount(%v, %s) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
}
