package report

import (
	"fmt"
	"math"
	"strconv"
)

// Sizes, rates, counts, durations and escaping come from internal/human,
// the one formatter set every output shares; what is left here is the
// report's own notation.

// pValue prints a p-value the way people quote them: "p<1e-9", "p=2.1e-05",
// "p=0.013".
func pValue(p float64) string {
	switch {
	case math.IsNaN(p) || p < 0:
		return "p=n/a"
	case p < 1e-9:
		return "p<1e-9"
	case p < 1e-3:
		return fmt.Sprintf("p=%.1e", p)
	}
	return "p=" + strconv.FormatFloat(p, 'f', 3, 64)
}
