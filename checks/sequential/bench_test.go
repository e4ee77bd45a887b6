package sequential

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkReplay12hAt1Min replays one 12 h series sampled every minute
// (721 points, about 660 looks): what the judge pays per series each time it
// judges early.
func BenchmarkReplay12hAt1Min(b *testing.B) {
	times := minutes(721)
	values := ar1(rand.New(rand.NewPCG(1, 1)), len(times), 0.7, mib)
	opts := DefaultOptions()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Replay(times, values, opts); err != nil {
			b.Fatal(err)
		}
	}
}
