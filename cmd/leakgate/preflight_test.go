package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rigTree lays out a target filesystem from the rig's captured 6.12 files,
// served by a rooted local target (--target local:ROOT).
func rigTree(t *testing.T, withKmemleak bool) string {
	t.Helper()
	root := t.TempDir()
	cap := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "rig", "captured", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(cap("config"))
	zw.Close()
	files := map[string][]byte{
		"/proc/sys/kernel/osrelease":      []byte("6.12.117\n"),
		"/proc/sys/kernel/random/boot_id": []byte("6f1c2e5a-0b7d-4c1e-9d1a-3b2f5c7e8a90\n"),
		"/proc/uptime":                    []byte("1000.00 1800.00\n"),
		"/proc/mounts":                    []byte("debugfs /sys/kernel/debug debugfs rw 0 0\n"),
		"/proc/cmdline":                   []byte("console=ttyS0 slub_debug=U kmemleak=on\n"),
		"/proc/config.gz":                 gz.Bytes(),
		"/proc/slabinfo":                  cap("slabinfo"),
		"/proc/meminfo":                   cap("meminfo"),
		"/proc/40/status":                 cap("wlansimd-status"),
		"/proc/40/smaps_rollup":           cap("wlansimd-smaps_rollup"),
	}
	if withKmemleak {
		files["/sys/kernel/debug/kmemleak"] = cap("kmemleak")
	}
	for p, b := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestPreflight_CapturedRigIsReady(t *testing.T) {
	root := rigTree(t, true)

	code, out, errOut := runCLI("preflight", "--target", "local:"+root)

	if code != exitOK || !strings.HasPrefix(out, "ready: 6.12.117") {
		t.Errorf("exit %d, want 0 and ready; stdout:\n%s\nstderr: %s", code, out, errOut)
	}
	// The probe writes scan=off (the write shows whether kmemleak is usable),
	// then a check leaves the target as it found it: the auto-scan back on.
	if got, _ := os.ReadFile(filepath.Join(root, "sys/kernel/debug/kmemleak")); strings.TrimSpace(string(got)) != "scan=on" {
		t.Errorf("preflight did not leave kmemleak's auto-scan on (file holds %.40q)", got)
	}
	if !strings.Contains(out, "note  turned kmemleak's automatic scan back on") {
		t.Errorf("the output does not say the scan was turned back on:\n%s", out)
	}
}

func TestPreflight_WithoutKmemleakIsNotReadyWithTheFix(t *testing.T) {
	root := rigTree(t, false)

	code, out, _ := runCLI("preflight", "--target", "local:"+root, "--json")

	var pf struct {
		Ready  bool
		Checks []struct{ Name, Status, Remediation string }
	}
	if err := json.Unmarshal([]byte(out), &pf); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if code != exitFindings || pf.Ready {
		t.Fatalf("exit %d ready %v, want 1 and not ready", code, pf.Ready)
	}
	var fix bool
	for _, c := range pf.Checks {
		if c.Status == "fail" && (strings.Contains(c.Remediation, "debugfs") || strings.Contains(c.Remediation, "kmemleak")) {
			fix = true
		}
	}
	if !fix {
		t.Errorf("no failed check says how to get kmemleak: %+v", pf.Checks)
	}
}

func TestPreflight_CouldNotCheckExits2(t *testing.T) {
	cases := map[string][]string{
		"no target":        {"preflight"},
		"not a Linux tree": {"preflight", "--target", "local:" + t.TempDir()},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runCLI(args...)
			if code != exitUsage || errOut == "" {
				t.Errorf("exit %d stderr %q, want 2 with a reason", code, errOut)
			}
		})
	}
}

func TestSample_WritesRawThenParsedSample(t *testing.T) {
	root := rigTree(t, true)
	out := filepath.Join(t.TempDir(), "snap")

	code, stdout, errOut := runCLI("sample", "--target", "local:"+root, "--out", out, "--own-modules", "wlansim", "--json")

	if code != exitOK && code != exitFindings {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var smp struct {
		BootID   string `json:"boot_id"`
		Slabs    []any  `json:"slabs"`
		Kmemleak []struct {
			Culprit *struct{ Function string }
		} `json:"kmemleak"`
	}
	if err := json.Unmarshal([]byte(stdout), &smp); err != nil {
		t.Fatalf("--json: %v", err)
	}
	if smp.BootID == "" || len(smp.Slabs) < 50 || len(smp.Kmemleak) == 0 || smp.Kmemleak[0].Culprit == nil || smp.Kmemleak[0].Culprit.Function != "wlansim_alloc_rx_buf" {
		t.Errorf("sample boot %q, %d caches, kmemleak %+v: want the captured rig's", smp.BootID, len(smp.Slabs), smp.Kmemleak)
	}
	for _, f := range []string{"raw.tar.gz", "sample.json"} {
		fi, err := os.Stat(filepath.Join(out, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want a private file", f, err, fi)
		}
	}
}
