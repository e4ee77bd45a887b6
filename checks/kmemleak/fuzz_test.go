package kmemleak

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, never fail
// without a read error, keep every string valid UTF-8 for JSON and stay
// within its per-object limits.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "kmemleak", "*.txt"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("unreferenced object 0x1 (size 1):\n  comm \"\xff\", pid 1, jiffies 1\n  backtrace:\n    [<\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		rep, err := Parse(bytes.NewReader(in), Options{OwnModules: []string{"mt7916_ap", "wl_"}})
		if err != nil {
			t.Fatalf("Parse of in-memory bytes failed: %v", err)
		}
		total := 0
		for _, g := range rep.Groups {
			total += g.Count
		}
		if total+rep.Ungrouped != rep.ObjectCount {
			t.Fatalf("groups count %d + ungrouped %d != objects %d", total, rep.Ungrouped, rep.ObjectCount)
		}
		for _, o := range rep.Objects {
			if len(o.Frames) > MaxFrames || len(o.HexDump) > MaxHexDumpLines || len(o.Comm) > 4*MaxLineBytes {
				t.Fatalf("object over its limits: %d frames, %d hex lines, comm %d bytes", len(o.Frames), len(o.HexDump), len(o.Comm))
			}
			if !utf8.ValidString(o.Comm) {
				t.Fatalf("comm %q not valid UTF-8", o.Comm)
			}
		}
		if _, err := json.Marshal(rep); err != nil {
			t.Fatalf("report does not marshal: %v", err)
		}
	})
}
