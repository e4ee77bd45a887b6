package compare

import (
	"math"
	"testing"
	"time"
)

// rigPool is wlansim_pool as the release e2e soaks it on a loaded host
// (e2e/release_test.go): a sample every 75 s, 18 of them, 512 entries of
// 320 B plus extra entries added one a second from 20 s up to a cap, and a
// jitter of one entry alternating, as slabinfo's active count shows.
func rigPool(extraCap float64) Series {
	s := Series{Kind: "slab", Subject: "wlansim_pool", Unit: "bytes"}
	for i := range 18 {
		t := float64(i) * 75
		extra := math.Min(math.Max(math.Floor(t-20), 0), extraCap)
		jitter := float64(i % 2)
		s.Seconds = append(s.Seconds, t)
		s.Values = append(s.Values, (512+extra+jitter)*320)
	}
	return s
}

// A pool that filled 180 entries (56 KiB) higher in its first minutes and
// sat there for the last 18 is a clear level regression. The residual about
// one line through the whole difference took the fill for noise (the level
// came out [+30, +85] KiB against a 32 KiB minimum: unknown); the later
// half, less its own line, is what the end level is read against.
func TestCompare_APoolThatFilledHigherEarlyIsALevelRegression(t *testing.T) {
	pol := DefaultPolicy()
	pol.Warmup = 30 * time.Second
	pol.MinSlopeChangeBytesPerHour = 256 << 10
	pol.MinLevelChangeBytes = 32 << 10
	pol.ConfidenceLevel = 1 - 0.05/300 // Runs over 300 series

	r, err := Compare(rigPool(0), rigPool(180), pol)

	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != Regressed || r.LevelVerdict != Regressed {
		t.Fatalf("verdict %s, level %s (%s); want a level regression", r.Verdict, r.LevelVerdict, r.Reason)
	}
	// 180 entries × 320 B = 57600 B higher at the end, give or take the
	// jitter; the levels are the last 3 points' means, (692 + 2/3) × 320 B
	// and (512 + 2/3) × 320 B, at 17 × 75 s.
	if math.Abs(r.LevelDiff-57600) > 320 {
		t.Errorf("level difference %.0f B, want 57600 ± 320", r.LevelDiff)
	}
	if got, want := r.Message("release A"), "wlansim_pool sits at 216.5 KiB after 21 min, release A sat at 160.2 KiB on the same rig"; got != want {
		t.Errorf("message\n got %q\nwant %q", got, want)
	}
}
