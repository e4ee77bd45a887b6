package kmemleak

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCulprit_AgreesWithSyzbotTitles parses real syzkaller/syzbot kmemleak
// reports (testdata/kmemleak/syzbot, sources in its README) and checks that
// the culprit is the function the report's title names ("memory leak in
// FUNC"): the file name is that function.
func TestCulprit_AgreesWithSyzbotTitles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "kmemleak", "syzbot", "*.txt"))
	if err != nil || len(files) < 10 {
		t.Fatalf("want at least 10 syzbot fixtures, found %d (%v)", len(files), err)
	}
	for _, path := range files {
		want := strings.TrimSuffix(filepath.Base(path), ".txt")
		t.Run(want, func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rep, err := Parse(f, Options{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(rep.Objects) != 1 {
				t.Fatalf("%d objects, want 1", len(rep.Objects))
			}
			if got := culpritName(rep.Objects[0]); got != want {
				t.Errorf("culprit %q, want %q (frames %v)", got, want, functions(rep.Objects[0].Frames))
			}
		})
	}
}
