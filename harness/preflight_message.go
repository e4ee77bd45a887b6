package harness

import (
	"fmt"
	"strings"
)

// PreflightMessage is the not-ready diagnosis: what failed, what was seen,
// and the one line that fixes each.
func PreflightMessage(p PreflightResult) string {
	var b strings.Builder
	kernel := p.Kernel
	if kernel == "" {
		kernel = "unknown kernel"
	}
	fmt.Fprintf(&b, "target not ready for leak detection (%s):\n", kernel)
	for _, c := range p.Checks {
		if !c.Failed() {
			continue
		}
		fmt.Fprintf(&b, "  %s: %s\n", c.Name, oneLine(c.Seen))
		fmt.Fprintf(&b, "    fix: %s\n", c.Remediation)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	return strings.TrimRight(b.String(), "\n")
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "not available"
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
