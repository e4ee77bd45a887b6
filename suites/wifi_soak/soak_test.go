package wifi_soak

import (
	"github.com/leakgate/leakgate/harness/gate"
	. "github.com/onsi/ginkgo/v2"
)

// One ordered container per rig (--target, or each of --targets).
var _ = Describe("wifi access point soak", func() {
	for _, s := range gate.Suites(&flags) {
		Describe(s.Name(), s.Decorators(), func() {
			BeforeAll(s.Connect)

			It("configuration: the flags and the profile make a soak", s.CheckConfig)

			It("preflight: the kernel can see leaks", s.CheckPreflight)

			It("soak: kernel and process memory stay flat under load", s.Soak, s.SpecTimeout())
		})
	}
})
