//go:build soak

package wifi_soak

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/leakgate/leakgate/harness"
)

var _ = Describe("wifi access point soak", harness.SoakDecorators(), func() {
	s := harness.NewSuite(&flags)

	BeforeAll(s.Connect)

	It("preflight: the kernel can see leaks", s.CheckPreflight)

	It("soak: kernel and process memory stay flat under load", s.Soak, s.SpecTimeout())
})
