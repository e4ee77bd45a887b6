package e2e

import (
	"strings"
	"testing"

	"github.com/leakgate/leakgate/internal/rig"
)

// TestRigSoak_PageLevelLeaksAreNamedByPageStackAndSite soaks a rig whose
// driver pins one RX page or page fragment in ten on a list that never
// drains (page_leak=1 with rx_pages and rx_frags): slabinfo and kmemleak see
// nothing, yet the suite must fail naming wlansim's function from
// page_owner's stack, with its allocinfo site, and lead with it.
func TestRigSoak_PageLevelLeaksAreNamedByPageStackAndSite(t *testing.T) {
	t.Parallel()
	vm := rig.Start(t, rig.BootOptions{ModuleParams: map[string]string{
		"rx_pages": "1", "rx_frags": "1", "page_leak": "1", "leak_every": "10",
	}})
	res := soak(t, vm)

	if res.exitCode == 0 || res.report.Verdict != "fail" {
		t.Fatalf("exit %d, verdict %q on a rig pinning RX pages; want a fail\n%s", res.exitCode, res.report.Verdict, res.output)
	}
	stack := res.find("page_owner", checksLeak)
	if stack == nil {
		t.Fatalf("no page stack leak; findings: %s", res.summary())
	}
	if c := res.culpritOf(stack); !strings.HasPrefix(c, "wlansim_") {
		t.Errorf("page stack culprit %q, want a wlansim function; findings: %s", c, res.summary())
	}
	site := false
	for _, f := range append([]finding{*stack}, stack.Evidence...) {
		if f.Kind == "allocinfo" && strings.Contains(f.Subject, "[wlansim] func:wlansim_") {
			site = true
		}
	}
	for _, f := range res.report.Findings {
		if f.Kind == "allocinfo" && strings.Contains(f.Subject, "[wlansim] func:wlansim_") {
			site = true
		}
		if f.Kind == "kmemleak" && f.Verdict == checksLeak {
			t.Errorf("kmemleak named a leak (%s) on a rig whose only leak is pinned pages", f.Subject)
		}
	}
	if !site {
		t.Errorf("no allocinfo site in wlansim named; findings: %s", res.summary())
	}
	first := strings.SplitN(res.failure(), "\n", 2)[0]
	if !strings.HasPrefix(first, "leak: page stack ") && !strings.HasPrefix(first, "leak: allocation site ") {
		t.Errorf("the failure message leads with %q, want the cause (the page stack or its site)", first)
	}
}

// failure is the suite's failure message: the text after the first
// "[FAILED] " of its output ("" when it did not fail).
func (r soakResult) failure() string {
	_, msg, ok := strings.Cut(r.output, "[FAILED] ")
	if !ok {
		return ""
	}
	return msg
}
