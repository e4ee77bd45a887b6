package verdict

import "testing"

func TestCheck_BlocksOnlyFailuresAndUnknownOutcomes(t *testing.T) {
	for _, tc := range []struct {
		c    Check
		want bool
	}{{CheckOK, false}, {CheckWarn, false}, {CheckFail, true}, {"", true}, {"pass", true}} {
		if got := tc.c.Blocks(); got != tc.want {
			t.Errorf("Check(%q).Blocks() = %v, want %v", tc.c, got, tc.want)
		}
	}
}
