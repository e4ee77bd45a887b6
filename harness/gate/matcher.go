package gate

import (
	"fmt"

	"github.com/onsi/gomega/types"

	"github.com/leakgate/leakgate/harness"
)

// Leak matches a *Run that did not pass: a leak, a reboot, a target that was
// not ready, or a run that could not reach a verdict. Use it negated,
// Expect(run).NotTo(Leak()), and the failure message is the whole diagnosis
// (report.Message): findings, culprit backtrace, time to exhaustion, evidence.
func Leak() types.GomegaMatcher { return leakMatcher{} }

type leakMatcher struct{}

func (leakMatcher) Match(actual any) (bool, error) {
	r, err := asRun(actual)
	if err != nil {
		return false, err
	}
	return r.Failed(), nil
}

func (leakMatcher) FailureMessage(actual any) string {
	r, err := asRun(actual)
	if err != nil {
		return err.Error()
	}
	return "expected the soak on " + r.Meta.Target + " to find a leak, but it passed:\n" + r.Message()
}

func (leakMatcher) NegatedFailureMessage(actual any) string {
	r, err := asRun(actual)
	if err != nil {
		return err.Error()
	}
	return r.Message()
}

func asRun(actual any) (*harness.Run, error) {
	switch r := actual.(type) {
	case *harness.Run:
		if r == nil {
			return nil, fmt.Errorf("Leak() got a nil *harness.Run: the soak did not start (see the error before this assertion)")
		}
		return r, nil
	case harness.Run:
		return &r, nil
	}
	return nil, fmt.Errorf("Leak() expects a *harness.Run, got %T", actual)
}

// BeReady matches a harness.PreflightResult whose target can see leaks. Its failure
// message has one remediation line per missing piece.
func BeReady() types.GomegaMatcher { return readyMatcher{} }

type readyMatcher struct{}

func (readyMatcher) Match(actual any) (bool, error) {
	p, ok := actual.(harness.PreflightResult)
	if !ok {
		pp, okp := actual.(*harness.PreflightResult)
		if !okp || pp == nil {
			return false, fmt.Errorf("BeReady() expects a harness.PreflightResult, got %T", actual)
		}
		p = *pp
	}
	return p.Ready, nil
}

func (m readyMatcher) FailureMessage(actual any) string {
	p, _ := actual.(harness.PreflightResult)
	if pp, ok := actual.(*harness.PreflightResult); ok && pp != nil {
		p = *pp
	}
	return harness.PreflightMessage(p)
}

func (readyMatcher) NegatedFailureMessage(any) string {
	return "expected the target not to be ready for leak detection, but it is"
}
