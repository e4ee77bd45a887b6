//go:build soak

// Package wifi_soak is the release gate's soak: it preflights a wifi access
// point, soaks it under the profile's workloads for --duration, and fails
// naming the leaking slab cache, kmemleak culprit or process.
//
//	ginkgo --timeout 13h ./suites/wifi_soak -- --target rig7 --profile testdata/profiles/openwrt-ap.yaml
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
