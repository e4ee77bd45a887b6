package report

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite_LaysOutPrivateFilesAtomically(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")

	if err := Write(dir, slabLeakRun()); err != nil {
		t.Fatal(err)
	}

	want := map[string]bool{
		"report.json": true, "report.html": true, "series": true,
		"series/slab.csv": true, "series/kmemleak.csv": true, "series/meminfo.csv": true, "series/process.csv": true,
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if !want[rel] {
			t.Errorf("unexpected file %s (a temporary left behind?)", rel)
		}
		delete(want, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		perm := info.Mode().Perm()
		if d.IsDir() && perm != 0o700 || !d.IsDir() && perm != 0o600 {
			t.Errorf("%s has mode %v", rel, perm)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for missing := range want {
		t.Errorf("%s not written", missing)
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("run folder: %v %v", info.Mode(), err)
	}
}

func TestWrite_ReplacesAnEarlierReport(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, slabLeakRun()); err != nil {
		t.Fatal(err)
	}

	if err := Write(dir, baseRun()); err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile(filepath.Join(dir, JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"verdict": "pass"`) {
		t.Error("report.json still holds the earlier verdict")
	}
}

func TestWrite_FailsClearlyWhenTheFolderCannotBeMade(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	err := Write(filepath.Join(file, "run"), slabLeakRun())

	if err == nil || !strings.Contains(err.Error(), "create report folder") {
		t.Errorf("error %v", err)
	}
}
