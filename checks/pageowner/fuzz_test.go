package pageowner

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/leakgate/leakgate/internal/golden"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic; it refuses
// the input or returns stacks within their limits whose pages add up to the
// report's total, each with a signature, and whose culprit is one of its frames.
func FuzzParse(f *testing.F) {
	golden.Seed(f, fixtureDir, "*.txt")
	f.Add([]byte(" [<ffff>] f+0x1/0x2 [m]\nnr_base_pages: 1\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		rep, err := Parse(in, own)
		if rep == nil {
			if !errors.Is(err, ErrNotShowStacks) {
				t.Fatalf("nil Report with error %v, want ErrNotShowStacks", err)
			}
			return
		}
		var le *LineErrors
		if err != nil && !errors.As(err, &le) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		var total int64
		for _, s := range rep.Stacks {
			if len(s.Frames) == 0 || len(s.Frames) > MaxFrames || s.Pages < 0 || s.Signature == "" || s.Bookkeeping != BookkeepingReason(s.Frames) {
				t.Fatalf("stack out of its limits: %d frames, %d pages, signature %q", len(s.Frames), s.Pages, s.Signature)
			}
			if s.Culprit != nil {
				found := false
				for _, f := range s.Frames {
					if f == *s.Culprit {
						found = true
					}
				}
				if !found {
					t.Fatalf("culprit %+v is not one of the stack's frames", s.Culprit)
				}
			}
			total += s.Pages
		}
		if total != rep.Pages {
			t.Fatalf("pages %d, stacks sum to %d", rep.Pages, total)
		}
		var merged int64
		for _, s := range Merge(rep.Stacks) {
			merged += s.Pages
		}
		if merged != total {
			t.Fatalf("Merge changed the total: %d -> %d", total, merged)
		}
		if _, err := json.Marshal(rep); err != nil {
			t.Fatalf("report does not marshal: %v", err)
		}
	})
}
