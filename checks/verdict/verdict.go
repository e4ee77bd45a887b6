// Package verdict is leakgate's one vocabulary of outcomes, shared from the
// statistics to report.json: what a series or finding was judged to be
// (Finding), how a run ended (Run) and what a preflight check found (Check).
// It is a leaf package so that every layer can use the same words.
package verdict

// Finding is the judgement on one series or finding.
type Finding string

// The finding verdicts, from worst to best.
const (
	// Leak: a significant, persistent upward trend above the materiality floors.
	Leak Finding = "leak"
	// Suspect: growth worth a look that does not meet every leak criterion.
	Suspect Finding = "suspect"
	// Insufficient: too few points after warm-up to say.
	Insufficient Finding = "insufficient"
	// Allowed: growth the policy's allow list explains; never fails a run.
	Allowed Finding = "allowed"
	// Reclaimable: growth the kernel gave back when asked (drop_caches, a
	// slab cache's shrink) at the end of the run: a cache, not a leak.
	Reclaimable Finding = "reclaimable"
	// OK: no such trend.
	OK Finding = "ok"
)

// Run is the outcome of a whole run, as run.json and report.json record it.
type Run string

// The run outcomes.
const (
	// Pass: judged in full, nothing leaks.
	Pass Run = "pass"
	// Fail: a leak, a reboot or another failure the gate exists to catch.
	Fail Run = "fail"
	// Error: no verdict could be reached (preflight, lost samples, a broken
	// target or harness); never a pass.
	Error Run = "error"
	// Running: the soak is in progress, or was killed before it ended.
	Running Run = "running"
)

// Check is what one preflight item found.
type Check string

// The preflight outcomes; any other value counts as a failure.
const (
	CheckOK   Check = "ok"
	CheckWarn Check = "warn"
	CheckFail Check = "fail"
)

// Blocks reports whether a check with this outcome stops the soak.
func (c Check) Blocks() bool { return c != CheckOK && c != CheckWarn }
