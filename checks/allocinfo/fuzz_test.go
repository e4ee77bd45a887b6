package allocinfo

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/leakgate/leakgate/internal/golden"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic; it either
// refuses the input as not allocinfo or returns sites whose keys parse back
// to themselves; every error is one of the documented kinds.
func FuzzParse(f *testing.F) {
	golden.Seed(f, fixtureDir, "*.txt")
	f.Add([]byte("allocinfo - version: 1.0\n1 1 a:b:3 [m] func:f accurate:no\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		info, err := Parse(in)
		if info == nil {
			if !errors.Is(err, ErrNotAllocinfo) {
				t.Fatalf("nil Info with error %v, want ErrNotAllocinfo", err)
			}
			return
		}
		var le *LineErrors
		if err != nil && !errors.As(err, &le) && !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		for _, s := range info.Sites {
			if s.Func == "" || s.File == "" || s.Line < 0 || s.Calls < 0 {
				t.Fatalf("site with an empty or negative field: %+v", s)
			}
			if !utf8.ValidString(s.Key()) {
				continue // the kernel prints bytes; JSON replaces invalid ones
			}
			if strings.ContainsAny(s.Key(), "\n") {
				t.Fatalf("key spans lines: %q", s.Key())
			}
			back, err := Parse([]byte("allocinfo - version: 1.0\n0 0 " + s.Key() + "\n"))
			if err != nil || len(back.Sites) != 1 || back.Sites[0].Key() != s.Key() {
				t.Fatalf("key %q does not parse back to itself: %+v, %v", s.Key(), back, err)
			}
		}
		merged := Merge(info.Sites)
		var sum, msum int64
		for _, s := range info.Sites {
			sum += s.Bytes
		}
		for _, s := range merged {
			msum += s.Bytes
		}
		if sum != msum || len(merged) > len(info.Sites) {
			t.Fatalf("Merge changed the total: %d -> %d bytes, %d -> %d sites", sum, msum, len(info.Sites), len(merged))
		}
		if _, err := json.Marshal(info); err != nil {
			t.Fatalf("info does not marshal: %v", err)
		}
	})
}
