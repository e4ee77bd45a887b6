package kmemleak

import (
	"os"
	"path/filepath"
	"regexp"
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

// TestSignature_ASymbolizedReportGroupsWithItsRawForm strips each syzbot
// fixture back to what the target's debugfs file prints — no [inline]
// frames, no source locations — and checks that both forms get the same
// culprit and signature.
func TestSignature_ASymbolizedReportGroupsWithItsRawForm(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "kmemleak", "syzbot", "*.txt"))
	location := regexp.MustCompile(` \(?[\w./-]+\.[chS]:\d+\)?$`)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var raw []string
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasSuffix(l, "[inline]") {
					continue
				}
				raw = append(raw, location.ReplaceAllString(l, ""))
			}
			sym, err1 := Parse(strings.NewReader(string(b)), Options{})
			plain, err2 := Parse(strings.NewReader(strings.Join(raw, "\n")), Options{})
			if err1 != nil || err2 != nil || len(sym.Objects) != 1 || len(plain.Objects) != 1 {
				t.Fatalf("parse: %v %v", err1, err2)
			}
			if s, p := sym.Objects[0].Signature, plain.Objects[0].Signature; s != p {
				t.Errorf("signatures differ:\n symbolized %s\n raw        %s", s, p)
			}
			if s, p := culpritName(sym.Objects[0]), culpritName(plain.Objects[0]); s != p {
				t.Errorf("culprit %q symbolized, %q raw", s, p)
			}
		})
	}
}
