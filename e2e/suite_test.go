package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildOut  []byte
	binDir    string
)

// TestMain owns the folder the suite binary is built into.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "leakgate-e2e-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// suiteBinary compiles suites/wifi_soak once for all tests of this package.
func suiteBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		builtBin = filepath.Join(binDir, "wifi_soak.test")
		cmd := exec.Command("go", "test", "-c", "-o", builtBin, "./suites/wifi_soak")
		cmd.Dir = moduleRoot(t)
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("build the suite: %v\n%s", buildErr, buildOut)
	}
	return builtBin
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}
