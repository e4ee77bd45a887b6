// Package wifi_soak is the release gate's soak: it preflights a wifi access
// point, soaks it under the profile's workloads for --duration, and fails
// naming the leaking slab cache, kmemleak culprit or process.
//
//	go tool ginkgo --timeout 13h ./suites/wifi_soak -- --target rig7 \
//	  --profile "$PWD/testdata/profiles/openwrt-ap.yaml" --out "$PWD/out/wifi_soak"
//
// Without --target the suite fails (a gate that runs nowhere must not pass),
// so `make test` leaves this package out of its `go test` list and exercises
// it instead through harness's TestSuite and the end-to-end tests in e2e,
// which build it and assert on its reports. See docs/harness.md.
package wifi_soak
