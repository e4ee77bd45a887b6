// Package wifi_soak is the release gate's soak: it preflights a wifi access
// point, soaks it under the profile's workloads for --duration, and fails
// naming the leaking slab cache, kmemleak culprit or process.
//
// The specs are behind the soak build tag, because without --target they
// fail (a gate that runs nowhere must not pass) and plain `go test ./...`
// must not:
//
//	ginkgo --tags soak --timeout 13h ./suites/wifi_soak -- --target rig7 \
//	  --profile "$PWD/testdata/profiles/openwrt-ap.yaml" --out "$PWD/out/wifi_soak"
//
// harness's TestSuite builds and runs them in make test. See docs/harness.md.
package wifi_soak
