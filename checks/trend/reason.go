package trend

import (
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"strings"
	"time"
)

// vetoDetailFloors is the growth, in multiples of the floor, above which an
// ok verdict's reason names every check that vetoed the leak with its
// figures, so a person can disagree with a judgement that let a large
// growth through.
const vetoDetailFloors = 4

// reason writes r.Reason for the verdict Decide reached; p is the p Decide
// judged (adjusted in a run), strictAlpha the strict level it applied.
func reason(r *Result, p, strictAlpha float64, strictOK, atLow bool, opts Options) string {
	u := units{bytes: opts.Bytes}
	switch {
	case r.Verdict == Leak:
		s := fmt.Sprintf("grows %s/h [%s, %s], p=%.3g, still growing on the later half",
			u.v(r.SlopePerHour), u.v(r.SlopeLow), u.v(r.SlopeHigh), p)
		switch r.Shape {
		case "change point":
			s += "; " + vetoes(r, strictAlpha, strictOK, atLow, opts, u) + ", overruled by the " + changeText(r, changeAlpha(opts), u)
		case "increments":
			s += "; " + vetoes(r, strictAlpha, strictOK, atLow, opts, u) + ", overruled by the " + incrementsText(r, strictAlpha, u)
		case "steps":
			s += "; " + vetoes(r, strictAlpha, strictOK, atLow, opts, u) + ", overruled by the " + stepsText(r, strictAlpha, u)
		}
		return s
	case !r.Significant:
		var s string
		switch {
		case r.SlopePerHour <= 0:
			s = fmt.Sprintf("no upward trend (slope %s/h)", u.v(r.SlopePerHour))
		case p > opts.Alpha:
			s = fmt.Sprintf("no significant upward trend: p=%.3g > %.3g (Mann–Kendall, variance ×%.2f for serial correlation)",
				p, opts.Alpha, r.VarianceInflation)
		case r.Monotonic < opts.MinMonotonic:
			s = fmt.Sprintf("rise not steady: Kendall tau=%.2f < %.2f", r.Monotonic, opts.MinMonotonic)
		default:
			s = fmt.Sprintf("trend significant (p=%.3g ≤ %.3g, tau=%.2f) but %s", p, opts.Alpha, r.Monotonic,
				vetoes(r, strictAlpha, strictOK, true, opts, u))
		}
		return grewPrefix(r, opts, u) + s + shapeDetail(r, strictAlpha, opts, u)
	case !r.Persistent:
		return grewPrefix(r, opts, u) + fmt.Sprintf("trend does not persist: later-half slope %s/h (at most %s/h, p=%.3g) vs earlier %s/h",
			u.v(r.PersistSlopePerHour), u.v(r.PersistSlopeHighPerHour), r.PersistP, u.v(r.EarlierSlopePerHour))
	default:
		return grewPrefix(r, opts, u) + fmt.Sprintf("growth %s (%s/h, at least %s/h under the AR(1) model) below the floor %s (%s/h)",
			u.v(r.FittedGrowth), u.v(r.SlopePerHour), u.v(r.StrictSlopeLowPerHour), u.v(opts.MinGrowth), u.v(opts.MinSlopePerHour)) +
			shapeDetail(r, strictAlpha, opts, u)
	}
}

// grewPrefix opens the reason of a series that grew vetoDetailFloors times
// the floor or more with that growth, so the figure that makes a person
// doubt an ok verdict comes first.
func grewPrefix(r *Result, opts Options, u units) string {
	if opts.MinGrowth <= 0 || r.FittedGrowth < vetoDetailFloors*opts.MinGrowth {
		return ""
	}
	return fmt.Sprintf("grew %s (%.0f× the %s floor, %s/h, tau=%.2f) yet ok: ",
		u.v(r.FittedGrowth), r.FittedGrowth/opts.MinGrowth, u.v(opts.MinGrowth), u.v(r.SlopePerHour), r.Monotonic)
}

// vetoes names the AR(1) checks that failed.
func vetoes(r *Result, strictAlpha float64, strictOK, atLow bool, opts Options, u units) string {
	var parts []string
	if !strictOK {
		parts = append(parts, fmt.Sprintf("the AR(1) check vetoed it: p=%.3g > %.3g under a bias-corrected AR(1) model (variance ×%.1f on the whole window)",
			r.PStrict, strictAlpha, r.StrictInflation))
	}
	if !atLow {
		parts = append(parts, fmt.Sprintf("at the slope's lower bound under the AR(1) model, %s/h over %s, it is below the floor %s",
			u.v(r.StrictSlopeLowPerHour), hoursText(r.SpanHours), u.v(opts.MinGrowth)))
	}
	if len(parts) == 0 {
		return "the AR(1) check passed"
	}
	return strings.Join(parts, "; ")
}

// shapeDetail reports, for a large growth judged ok with the shape checks
// on, why neither shape check stood in for the AR(1) check.
func shapeDetail(r *Result, strictAlpha float64, opts Options, u units) string {
	if !opts.ShapeChecks || opts.WholeWindowOnly || opts.MinGrowth <= 0 || r.FittedGrowth < vetoDetailFloors*opts.MinGrowth {
		return ""
	}
	return "; not overruled: " + changeText(r, changeAlpha(opts), u) + "; " + stepsText(r, strictAlpha, u) + "; " + incrementsText(r, strictAlpha, u)
}

// changeText describes the change-point check's figures.
func changeText(r *Result, strictAlpha float64, u units) string {
	if r.ChangeAtHours <= 0 {
		return "change-point check: no break fits better than a straight line"
	}
	return fmt.Sprintf("change-point check: from %s on, %s/h (at least %s/h, %s over the segment), p=%.3g×%d breaks tried vs %.3g with the variance ×%.1f of the segmented fit (at most %.1f and at most 1/%.0f of the line's ×%.1f)",
		hoursText(r.ChangeAtHours), u.v(r.ChangeSlopePerHour), u.v(r.ChangeSlopeLowPerHour), u.v(r.ChangeGrowthLow), r.ChangeP, r.ChangeBreaks, strictAlpha,
		r.ChangeInflation, changeMaxInflation, float64(changeExplains), r.StrictInflation)
}

// stepsText describes the steps check's figures.
func stepsText(r *Result, strictAlpha float64, u units) string {
	s := fmt.Sprintf("steps check: %d up and %d down beyond 3σ of the increments (sign test p=%.3g vs %.3g), at least %s",
		r.StepsUp, r.StepsDown, signTestP(r.StepsUp, r.StepsDown), stepsSignAlpha, u.v(r.StepsGrowthLow))
	if 4*r.StepsDown > r.StepsUp {
		s += ", more than one down for four up"
	}
	if r.StepsTrendP < 1 || r.StepsStrictP < 1 {
		s += fmt.Sprintf(", trend p=%.3g with the noise between the steps (AR(1) model p=%.3g vs %.3g)", r.StepsTrendP, r.StepsStrictP, strictAlpha)
	}
	return s
}

// incrementsText describes the increments check's figures.
func incrementsText(r *Result, strictAlpha float64, u units) string {
	return fmt.Sprintf("increments check: growth %.2f× the root sum of squares of its increments, p ≤ %.3g vs %.3g for a walk as likely down as up, at least %s",
		r.IncrementsZ, r.IncrementsP, strictAlpha, u.v(r.IncrementsGrowthLow))
}

// hoursText prints a time in hours in the one duration style: "11 h",
// "5 h 30 min".
func hoursText(h float64) string { return human.Duration(time.Duration(h * float64(time.Hour))) }

// units formats values in the one unit style (internal/human): bytes with
// three significant digits, as the reasons quote interval bounds that one
// decimal would print alike; anything else as a count.
type units struct{ bytes bool }

func (u units) v(x float64) string {
	if !u.bytes {
		return human.Count(x)
	}
	return human.BytesFine(x)
}
