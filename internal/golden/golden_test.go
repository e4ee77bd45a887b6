package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// TestEach_ComparesWithTheWantFile writes a fixture and its .want, then checks
// that Each passes on the matching .want and that the written .want after an
// update is exactly the indented JSON of the parse.
func TestEach_ComparesWithTheWantFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("x<y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	parse := func(in []byte) any { return map[string]string{"in": string(in)} }
	Each(t, dir, "*.txt", true, parse)
	got, err := os.ReadFile(filepath.Join(dir, "a.txt.want"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"in\": \"x<y\\n\"\n}\n"; string(got) != want {
		t.Fatalf(".want = %q, want %q", got, want)
	}
	Each(t, dir, "*.txt", false, parse)
}

// TestFiles_FailsOnAnEmptyFolder: a fixture folder that moved or emptied is a
// failure, not a pass over zero files.
func TestFiles_FailsOnAnEmptyFolder(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		Files(ft, t.TempDir(), "*.txt")
	}()
	if !ft.failed {
		t.Fatal("Files on an empty folder did not fail the test")
	}
}

type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Fatalf(string, ...any) { f.failed = true; panic("fatal") }
func (f *fatalRecorder) Helper()               {}
