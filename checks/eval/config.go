package eval

import (
	"github.com/leakgate/leakgate/checks"
)

// DefaultConfig evaluates pol's slab thresholds on 12 h soaks at 10 min.
func DefaultConfig(pol checks.Policy, seed uint64, perClass, runs int) Config {
	return Config{
		Seed:            seed,
		PerClass:        perClass,
		Runs:            runs,
		RunSize:         300,
		Points:          73,
		IntervalSeconds: 600,
		Options:         pol.TrendOptions(checks.KindSlab, true),
		EarlyOptions:    pol.TrendOptions(checks.KindSlab, false),
	}
}
