package gate

import (
	"flag"
	"strings"
	"testing"

	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/harness"
	"github.com/leakgate/leakgate/harness/report"
	"github.com/onsi/ginkgo/v2"
)

func TestLeak_NegatedFailureIsTheWholeDiagnosis(t *testing.T) {
	run, err := harness.LoadRun("../../testdata/harness/leak-run")
	if err != nil {
		t.Fatal(err)
	}
	run.Rejudge(nil)
	m := Leak()

	matched, err := m.Match(run)

	if err != nil || !matched {
		t.Fatalf("Leak() on a leaking run: matched %v, err %v", matched, err)
	}
	msg := m.NegatedFailureMessage(run)
	if msg != report.Message(run.Report()) {
		t.Errorf("the failure message is not report.Message:\n%s", msg)
	}
	if !strings.Contains(msg, "wlansim_rxbuf") || !strings.Contains(msg, "wlansim_alloc_rx_buf") {
		t.Errorf("the message lacks the cache or the culprit:\n%s", msg)
	}
}

func TestLeak_PassingRunDoesNotMatchAndNilIsAnError(t *testing.T) {
	run := &harness.Run{Meta: harness.RunMeta{Target: "rig", Status: verdict.Pass}}
	if ok, err := Leak().Match(run); ok || err != nil {
		t.Errorf("passing run: matched %v err %v, want no match", ok, err)
	}
	var nilRun *harness.Run
	if _, err := Leak().Match(nilRun); err == nil {
		t.Errorf("a nil run must be an error, not a pass")
	}
	if _, err := Leak().Match("run"); err == nil {
		t.Errorf("a string must be an error")
	}
}

func TestBeReady_FailureListsEachRemediation(t *testing.T) {
	pf := harness.PreflightResult{Kernel: "6.12.57", Checks: []report.Check{
		{Name: "CONFIG_DEBUG_KMEMLEAK", Status: verdict.CheckFail, Seen: "is not set", Remediation: "rebuild with CONFIG_DEBUG_KMEMLEAK=y"},
		{Name: "slab merging", Status: verdict.CheckWarn, Seen: "merged", Remediation: "boot with slab_nomerge"},
		{Name: "debugfs mounted", Status: verdict.CheckOK},
	}}

	ok, err := BeReady().Match(pf)
	msg := BeReady().FailureMessage(pf)

	if ok || err != nil {
		t.Fatalf("matched %v err %v on a not-ready target", ok, err)
	}
	if !strings.Contains(msg, "fix: rebuild with CONFIG_DEBUG_KMEMLEAK=y") || strings.Contains(msg, "slab_nomerge") {
		t.Errorf("message must list the failed check's fix and only failed ones:\n%s", msg)
	}
}

func TestSuites_OneContainerPerTargetSerialOnlyWhenAlone(t *testing.T) {
	cases := []struct {
		name        string
		args        []string
		wantTargets []string
		wantSerial  bool
		wantErr     string
	}{
		{"--targets gives one parallel container per rig", []string{"--targets", "rig1,rig2, rig3"}, []string{"rig1", "rig2", "rig3"}, false, ""},
		{"--target gives one serial container", []string{"--target", "a"}, []string{"a"}, true, ""},
		{"--target and --targets together are refused", []string{"--target", "a", "--targets", "b"}, []string{"b"}, true, "not both"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var f harness.Flags
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			f.Register(fs)
			if err := fs.Parse(c.args); err != nil {
				t.Fatal(err)
			}
			suites := Suites(&f)
			var got []string
			for _, s := range suites {
				got = append(got, s.Name())
				serial := false
				for _, d := range s.Decorators() {
					if d == any(ginkgo.Serial) {
						serial = true
					}
				}
				if serial != c.wantSerial {
					t.Errorf("%s: serial %v, want %v", s.Name(), serial, c.wantSerial)
				}
				err := s.Flags.Validate()
				if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
					t.Errorf("validate %v, want %q", err, c.wantErr)
				}
			}
			if strings.Join(got, ",") != strings.Join(c.wantTargets, ",") {
				t.Errorf("containers %v, want %v", got, c.wantTargets)
			}
		})
	}
}
