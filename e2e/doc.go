// Package e2e soaks the QEMU reference target (internal/rig: a real 6.12
// kernel with kmemleak and the leaky wlansim driver) with the real wifi_soak
// suite and asserts on the reports it leaves. It has no library code; the
// tests are the product's end-to-end acceptance.
package e2e
