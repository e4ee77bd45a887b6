package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/results/resultstest"
)

const mib = 1 << 20

var t0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

// twoReleases writes release r41 (kmalloc-512 +20.5 KiB/h) and release r42
// (+perHour) run folders on rig1 under root.
func twoReleases(t *testing.T, root string, perHour float64) (a, b string) {
	t.Helper()
	mk := func(name, release string, at time.Time, rate float64) string {
		return resultstest.WriteRunFolder(t, root, resultstest.RunFolder{
			Name: name, Target: "rig1", Profile: "wifi", Release: release, Started: at,
			Series: []resultstest.SeriesValues{
				{Kind: checks.KindSlab, Subject: "dentry", Unit: "bytes", Values: resultstest.Line(25, 2*mib, 0)},
				{Kind: checks.KindSlab, Subject: "kmalloc-512", Unit: "bytes", Values: resultstest.Line(25, mib, rate)},
			},
		})
	}
	return mk("run-r41", "r41", t0, 0.02*mib), mk("run-r42", "r42", t0.Add(24*time.Hour), perHour)
}

func TestCompare_ARegressedCacheExitsOneWithTheReleaseManagersLine(t *testing.T) {
	a, b := twoReleases(t, t.TempDir(), 3.1*mib)

	code, out, errOut := runCLI("compare", a, b)

	if code != exitFindings {
		t.Fatalf("exit %d, want 1; stderr %s", code, errOut)
	}
	want := "release r42 against release r41 (run-r41) on rig1: 1 regressed, 0 unknown, 0 improved, 1 same\n" +
		"  regressed: slab kmalloc-512 grows 3.1 MiB/h, release r41 grew 20.5 KiB/h on the same rig\n"
	if out != want {
		t.Errorf("output\n got %q\nwant %q", out, want)
	}
}

func TestCompare_TheSameBehaviourExitsZero(t *testing.T) {
	a, b := twoReleases(t, t.TempDir(), 0.02*mib)

	code, out, errOut := runCLI("compare", a, b, "--json")

	if code != exitOK {
		t.Fatalf("exit %d, want 0; stderr %s", code, errOut)
	}
	var c struct {
		Results []struct{ Subject, Verdict string }
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if len(c.Results) != 2 || c.Results[0].Verdict != "same" || c.Results[1].Verdict != "same" {
		t.Errorf("results %+v, want both same", c.Results)
	}
}

func TestCompare_ByRunIDsInTheStoreAfterImport(t *testing.T) {
	root := t.TempDir()
	a, b := twoReleases(t, root, 3.1*mib)
	db := filepath.Join(t.TempDir(), "results.db")

	code, out, errOut := runCLI("import", a, b, "--db", db)
	if code != exitOK {
		t.Fatalf("import: exit %d; stderr %s", code, errOut)
	}
	if want := "imported run-r41 (release r41, pass on rig1) from " + a + "\nimported run-r42 (release r42, pass on rig1) from " + b + "\n"; out != want {
		t.Errorf("import output\n got %q\nwant %q", out, want)
	}

	code, out, errOut = runCLI("compare", "run-r41", "run-r42", "--db", db)
	if code != exitFindings || !strings.Contains(out, "regressed: slab kmalloc-512 grows 3.1 MiB/h, release r41 grew 20.5 KiB/h on the same rig") {
		t.Errorf("compare by id: exit %d, out %q, stderr %q", code, out, errOut)
	}
}

func TestCompare_BadInputExitsTwo(t *testing.T) {
	a, _ := twoReleases(t, t.TempDir(), 0)
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte("regression: explode\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Valid YAML one byte over the 1 MiB cap on a policy file.
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, []byte("regression: warn\n#"+strings.Repeat("x", mib-len("regression: warn\n#"))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"one run", []string{"compare", a}, "usage: leakgate compare"},
		{"a run id without a store", []string{"compare", a, "no-such-run"}, `run "no-such-run" is not a run folder, and no --db store was given`},
		{"a run id not in the store", []string{"compare", a, "no-such-run", "--db", filepath.Join(t.TempDir(), "r.db")}, `run "no-such-run": not in the results store`},
		{"a bad policy", []string{"compare", a, a, "--policy", policy}, `regression "explode" is neither "fail" nor "warn"`},
		{"a policy over the cap", []string{"compare", a, a, "--policy", big},
			"read comparison policy " + big + ": larger than the 1 MiB (1048576 bytes) a comparison policy file may hold; check the path, real ones are a few KiB\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runCLI(c.args...)
			if code != exitUsage || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr %q; want 2 with %q", code, errOut, c.want)
			}
		})
	}
}

func TestHistory_ListsBothReleasesWithTheSeriesSlope(t *testing.T) {
	a, b := twoReleases(t, t.TempDir(), 3.1*mib)
	db := filepath.Join(t.TempDir(), "results.db")
	if code, _, errOut := runCLI("import", a, b, "--db", db); code != exitOK {
		t.Fatalf("import: %s", errOut)
	}

	code, out, errOut := runCLI("history", "--db", db, "--rig", "rig1", "--series", "slab/kmalloc-512")

	if code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, errOut)
	}
	want := "STARTED            RELEASE  RUN      RIG   PROFILE  VERDICT  SLAB/KMALLOC-512 SLOPE                  SERIES VERDICT\n" +
		"2026-11-25 20:00Z  r41      run-r41  rig1  wifi     pass     +20.5 KiB/h [+20.5 KiB/h, +20.5 KiB/h]  ok\n" +
		"2026-11-26 20:00Z  r42      run-r42  rig1  wifi     pass     +3.1 MiB/h [+3.1 MiB/h, +3.1 MiB/h]     ok\n"
	if out != want {
		t.Errorf("history\n got %q\nwant %q", out, want)
	}

	code, out, _ = runCLI("history", "--db", db, "--json", "--rig", "rig2")
	if code != exitOK || strings.TrimSpace(out) != "[]" {
		t.Errorf("another rig: exit %d, %q; want an empty list", code, out)
	}
}

func TestImport_BadFoldersAndStores(t *testing.T) {
	a, _ := twoReleases(t, t.TempDir(), 0)
	corrupt := filepath.Join(t.TempDir(), "results.db")
	if err := os.WriteFile(corrupt, []byte("not sqlite"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no store", []string{"import", a}, exitUsage, "usage: leakgate import"},
		{"a folder without a report", []string{"import", t.TempDir(), "--db", filepath.Join(t.TempDir(), "r.db")}, exitUsage, "no report.json; write it with leakgate analyze"},
		{"a corrupted store", []string{"import", a, "--db", corrupt}, exitUsage, "results store " + corrupt + " is not a usable SQLite database"},
		{"a store that is down", []string{"import", a, "--db", "postgres://leakgate@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"}, exitFindings, "unavailable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runCLI(c.args...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr %q; want %d with %q", code, errOut, c.code, c.want)
			}
		})
	}
}

func TestCompare_AWarnPolicyStillExitsOneAndTagsTheLine(t *testing.T) {
	a, b := twoReleases(t, t.TempDir(), 3.1*mib)
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte("regression: warn\nwarmup: 30m\nmin_slope_change_bytes_per_hour: 65536\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCLI("compare", a, b, "--policy", policy, "--json")

	if code != exitFindings {
		t.Fatalf("exit %d, want 1; stderr %s", code, errOut)
	}
	var c struct {
		Results []struct {
			Subject, Verdict string
			Fails            bool
		}
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	if c.Results[0].Subject != "kmalloc-512" || c.Results[0].Verdict != "regressed" || c.Results[0].Fails {
		t.Errorf("results %+v, want kmalloc-512 regressed, not failing", c.Results)
	}
	_, out, _ = runCLI("compare", a, b, "--policy", policy)
	if !strings.Contains(out, "  regressed (warn): slab kmalloc-512 grows 3.1 MiB/h") {
		t.Errorf("output %q lacks the warn tag", out)
	}
}

func TestLoadComparePolicy_ReadsDurationsAndMinimums(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte("warmup: 30m\nmin_level_change_bytes: 2097152\nconfidence_level: 0.99\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	pol, err := loadComparePolicy(path)

	if err != nil || pol.Warmup != 30*time.Minute || pol.MinLevelChangeBytes != 2<<20 || pol.ConfidenceLevel != 0.99 || pol.Regression != "fail" {
		t.Errorf("policy %+v, %v", pol, err)
	}
}

func TestCompare_ARunFolderAgainstItsAutoBaselineInTheStore(t *testing.T) {
	root := t.TempDir()
	a, b := twoReleases(t, root, 3.1*mib)
	db := filepath.Join(t.TempDir(), "results.db")
	if code, _, errOut := runCLI("import", a, "--db", db); code != exitOK {
		t.Fatalf("import: %s", errOut)
	}

	code, out, errOut := runCLI("compare", a, "--baseline", "auto", "--db", db)
	if code != exitOK || !strings.HasPrefix(out, "no baseline yet: baseline auto: no passing run on rig rig1") {
		t.Errorf("the first run: exit %d, output %q (stderr %q); want 0 and no baseline yet", code, out, errOut)
	}

	code, out, errOut = runCLI("compare", b, "--baseline", "auto", "--db", db)

	want := "release r42 against release r41 (run-r41) on rig1: 1 regressed, 0 unknown, 0 improved, 1 same\n" +
		"  regressed: slab kmalloc-512 grows 3.1 MiB/h, release r41 grew 20.5 KiB/h on the same rig\n"
	if code != exitFindings || out != want {
		t.Errorf("exit %d, output %q (stderr %q); want 1 and %q", code, out, errOut, want)
	}
	code, _, errOut = runCLI("compare", b, "--baseline", "release:r99", "--db", db)
	if code != exitUsage || !strings.Contains(errOut, "no run of r99 on rig rig1") {
		t.Errorf("an unknown release: exit %d, stderr %q", code, errOut)
	}
}

// hostile is a name a target controls: a clear-screen sequence and a
// newline that would forge an output line.
const hostile = "evil\x1b[2J\nregressed: nothing"

func TestImportCompareAndHistory_EscapeTargetNames(t *testing.T) {
	root := t.TempDir()
	mk := func(name, release string, at time.Time, rate float64) string {
		return resultstest.WriteRunFolder(t, root, resultstest.RunFolder{
			Name: name, Target: "rig" + hostile, Profile: "wifi", Release: release, Started: at,
			Series: []resultstest.SeriesValues{
				{Kind: checks.KindSlab, Subject: "cache" + hostile, Unit: "bytes", Values: resultstest.Line(25, mib, rate)},
			},
		})
	}
	a, b := mk("run-r41", "r41", t0, 0.02*mib), mk("run-r42", "r42", t0.Add(24*time.Hour), 3.1*mib)
	db := filepath.Join(t.TempDir(), "results.db")
	code, importOut, errOut := runCLI("import", a, b, "--db", db)
	if code != exitOK {
		t.Fatalf("import: %s", errOut)
	}

	_, compareOut, _ := runCLI("compare", a, b)
	_, historyOut, _ := runCLI("history", "--db", db)

	for name, out := range map[string]string{"import": importOut, "compare": compareOut, "history": historyOut} {
		if strings.Contains(out, "\x1b") || strings.Contains(out, "\nregressed: nothing") {
			t.Errorf("%s prints a raw control character:\n%q", name, out)
		}
		if !strings.Contains(out, `evil\x1b[2J\nregressed: nothing`) {
			t.Errorf("%s does not show the name escaped:\n%q", name, out)
		}
	}
	if want := `  regressed: slab cacheevil\x1b[2J\nregressed: nothing grows 3.1 MiB/h, release r41 grew 20.5 KiB/h on the same rig`; !strings.Contains(compareOut, want+"\n") {
		t.Errorf("compare\n got %q\nwant a line %q", compareOut, want)
	}
}
