//go:build tools

// This file is never built. It keeps the Ginkgo CLI's dependencies in go.mod
// through go mod tidy: harness's TestSuite builds the CLI (go build
// github.com/onsi/ginkgo/v2/ginkgo) to run the suite with ginkgo -p, the way
// CI soaks many rigs at once.
package harness

import _ "github.com/onsi/ginkgo/v2/ginkgo"
