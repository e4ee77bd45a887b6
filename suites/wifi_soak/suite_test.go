package wifi_soak

import (
	"flag"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/leakgate/leakgate/harness"
)

// flags are this suite's flags, registered with go test's own.
var flags harness.Flags

func init() { flags.Register(flag.CommandLine) }

func TestWifiSoak(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "wifi soak")
}
