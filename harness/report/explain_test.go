package report

import (
	"strings"
	"testing"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/checks/verdict"
)

func TestMessage_AnAggregateSaysWhichCausesExplainIt(t *testing.T) {
	fill := &kmemleak.Frame{Function: "wlansim_rx_fill", Module: "wlansim"}
	r := Run{Target: "rig", Verdict: verdict.Fail, Findings: []checks.Finding{
		{Kind: checks.KindPageOwner, Subject: "0123456789abcdef wlansim_rx_fill", Verdict: verdict.Leak, Unit: "bytes", Culprit: fill,
			Growth: 4 << 20, GrowthBytes: 4 << 20, SlopePerHour: 1 << 20, Samples: 67, Rising: 66},
		{Kind: checks.KindMeminfo, Subject: checks.SubjectUnaccounted, Verdict: verdict.Leak, Unit: "bytes",
			Growth: 4.2 * (1 << 20), GrowthBytes: 4404019, SlopePerHour: 1 << 20, Samples: 67, Rising: 60,
			ExplainedBy: []checks.Explanation{{Kind: checks.KindPageOwner, Subject: "0123456789abcdef wlansim_rx_fill", Culprit: "wlansim_rx_fill [wlansim]", GrowthBytes: 4 << 20, Share: 0.9524}}},
	}}

	msg := Message(r)

	lines := strings.Split(msg, "\n")
	if !strings.HasPrefix(lines[0], "leak: page stack 0123456789abcdef +4.0 MiB") {
		t.Errorf("first line %q, want the page stack (the cause) first", lines[0])
	}
	want := "  explained by: 95 % — wlansim_rx_fill [wlansim] (page stack 0123456789abcdef)"
	if lines[len(lines)-1] != want {
		t.Errorf("message lacks the line %q:\n%s", want, msg)
	}
}
