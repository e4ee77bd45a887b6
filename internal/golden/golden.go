// Package golden holds the fixture loop the kernel-file parsers share: each
// fixture file in a folder is parsed, the result encoded as indented JSON and
// compared with the .want file beside it; `go test -update` rewrites the .want
// files for review.
package golden

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Files returns the fixtures in dir matching glob, failing the test when
// there are none: a fixture folder that moved must not pass silently.
func Files(tb testing.TB, dir, glob string) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(dir, glob))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no fixtures %s in %s: %v", glob, dir, err)
	}
	return files
}

// Each runs one subtest per fixture in dir matching glob: it reads the file,
// hands its bytes to parse, and compares parse's result, encoded as indented
// JSON, with the file's .want beside it; with update it writes the .want
// instead.
func Each(t *testing.T, dir, glob string, update bool, parse func(in []byte) any) {
	t.Helper()
	for _, name := range Files(t, dir, glob) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			in, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(parse(in)); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			if update {
				if err := os.WriteFile(name+".want", got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(name + ".want")
			if err != nil {
				t.Fatalf("%v (create it with go test -update and review it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: parse differs from %s.want (go test -update rewrites it):\n got: %s\nwant: %s",
					name, filepath.Base(name), got, want)
			}
		})
	}
}

// Seed adds every fixture in dir matching glob to f's seed corpus.
func Seed(f *testing.F, dir, glob string) {
	f.Helper()
	for _, name := range Files(f, dir, glob) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}
