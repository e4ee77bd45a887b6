package rig

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBuildPrunesOldBuildsKeepingTheNewest runs build.sh (warm) against a
// cache holding this build and older ones: it keeps the three newest rig
// builds and the two newest kernel trees, this build's among them.
func TestBuildPrunesOldBuildsKeepingTheNewest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	p, err := Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	khash, err := os.ReadFile(filepath.Join(p.Dir, "kernel.hash"))
	if err != nil {
		t.Fatal(err)
	}
	kernel := "kernel-" + strings.TrimSpace(string(khash))
	stage := filepath.Base(p.Dir)

	cache := t.TempDir()
	if err := os.Symlink(filepath.Join(filepath.Dir(p.Dir), kernel), filepath.Join(cache, kernel)); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", p.Dir, filepath.Join(cache, stage)).CombinedOutput(); err != nil {
		t.Fatalf("copy the build: %v\n%s", err, out)
	}
	old := []string{"0000000000000001", "0000000000000002", "0000000000000003", "0000000000000004", "kernel-00000000000000aa", "kernel-00000000000000bb"}
	for i, name := range old {
		dir := filepath.Join(cache, name)
		if err := os.MkdirAll(filepath.Join(dir, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-time.Duration(len(old)-i) * time.Hour) // later names are newer
		if err := os.Chtimes(dir, at, at); err != nil {
			t.Fatal(err)
		}
	}
	scripts, err := ScriptsDir()
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(ctx, filepath.Join(scripts, "build.sh"))
	cmd.Env = append(os.Environ(), "LEAKGATE_RIG_CACHE="+cache)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("build.sh: %v", err)
	}

	if got := strings.TrimSpace(string(out)); got != filepath.Join(cache, stage) {
		t.Errorf("build.sh printed %q, want the warm build %s", got, filepath.Join(cache, stage))
	}
	ents, err := os.ReadDir(cache)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			left = append(left, e.Name())
		}
	}
	want := []string{"0000000000000003", "0000000000000004", kernel, "kernel-00000000000000bb", stage}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("cache holds %v, want %v", left, want)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(p.Dir), kernel, ".done")); err != nil {
		t.Errorf("the real kernel tree was touched: %v", err)
	}
}
