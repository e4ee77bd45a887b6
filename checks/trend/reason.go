package trend

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/leakgate/leakgate/internal/human"
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
			u.v(r.PersistSlopePerHour), u.v(r.PersistSlopeHighPerHour), r.PersistP, u.v(r.EarlierSlopePerHour)) +
			shapeDetail(r, strictAlpha, opts, u)
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
	g := grown(r)
	if opts.MinGrowth <= 0 || g < vetoDetailFloors*opts.MinGrowth {
		return ""
	}
	return fmt.Sprintf("grew %s (%.0f× the %s floor, %s/h, tau=%.2f) yet ok: ",
		u.v(g), g/opts.MinGrowth, u.v(opts.MinGrowth), u.v(r.SlopePerHour), r.Monotonic)
}

// grown is how far r grew for the reason's purposes: the larger of the
// fitted growth and the size check's (median of the last hour less that of
// the first), so a leak in a few bursts, whose Theil–Sen slope is small,
// still gets the figures of every check that let it through.
func grown(r *Result) float64 { return math.Max(r.FittedGrowth, r.SizeGrowth) }

// vetoes names the AR(1) checks that failed.
func vetoes(r *Result, strictAlpha float64, strictOK, atLow bool, opts Options, u units) string {
	var parts []string
	if !strictOK {
		parts = append(parts, "the AR(1) check vetoed it ("+ar1Figures(r, strictAlpha)+")")
	}
	if !atLow {
		low, span, floor := lowerBoundFigures(r, opts, u)
		parts = append(parts, fmt.Sprintf("at the slope's lower bound under the AR(1) model, %s over %s, it is below the floor %s", low, span, floor))
	}
	if len(parts) == 0 {
		return "the AR(1) check passed"
	}
	return strings.Join(parts, "; ")
}

// shapeDetail reports, for a large growth judged ok with the shape checks
// on, why neither shape check stood in for the AR(1) check.
func shapeDetail(r *Result, strictAlpha float64, opts Options, u units) string {
	if !opts.ShapeChecks || opts.WholeWindowOnly || opts.MinGrowth <= 0 || grown(r) < vetoDetailFloors*opts.MinGrowth {
		return ""
	}
	s := "; not overruled: " + changeText(r, changeAlpha(opts), u) + "; " + stepsText(r, strictAlpha, u) + "; " + incrementsText(r, strictAlpha, u) + "; " + sizeText(r, u)
	if opts.RetainedBudgetFloors > 0 {
		s += "; " + budgetText(r, opts, u)
	}
	return s
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

// vetoList names, before the size check overrules them, the checks that
// kept r from a leak verdict, each with its figures; strictOK and atLow are
// true where a shape check already stood in for the AR(1) check.
func vetoList(r *Result, p, strictAlpha float64, strictOK, atLow bool, opts Options) string {
	u := units{bytes: opts.Bytes}
	var parts []string
	if p > opts.Alpha {
		parts = append(parts, fmt.Sprintf("the trend test (Mann–Kendall p=%.3g > %.3g, variance ×%.2f for serial correlation)", p, opts.Alpha, r.VarianceInflation))
	}
	if r.Monotonic < opts.MinMonotonic {
		parts = append(parts, fmt.Sprintf("the steadiness check (Kendall tau=%.2f < %.2f)", r.Monotonic, opts.MinMonotonic))
	}
	if !strictOK {
		parts = append(parts, "the AR(1) check ("+ar1Figures(r, strictAlpha)+")")
	}
	if !atLow {
		low, span, floor := lowerBoundFigures(r, opts, u)
		parts = append(parts, fmt.Sprintf("the floor at the slope's lower bound under the AR(1) model (%s over %s, below %s)", low, span, floor))
	}
	if !r.Persistent {
		parts = append(parts, fmt.Sprintf("the later-half check (slope %s/h, at most %s/h, p=%.3g, vs earlier %s/h)",
			u.v(r.PersistSlopePerHour), u.v(r.PersistSlopeHighPerHour), r.PersistP, u.v(r.EarlierSlopePerHour)))
	}
	if len(parts) == 0 {
		return "no check"
	}
	return strings.Join(parts, "; ")
}

// ar1Figures is the AR(1) check's figures against its level, as both
// framings of its veto print them.
func ar1Figures(r *Result, strictAlpha float64) string {
	return fmt.Sprintf("p=%.3g > %.3g under a bias-corrected AR(1) model, variance ×%.1f on the whole window", r.PStrict, strictAlpha, r.StrictInflation)
}

// lowerBoundFigures is the slope's lower bound under the AR(1) model (per
// hour), the window it spans and the floor it fell below.
func lowerBoundFigures(r *Result, opts Options, u units) (low, span, floor string) {
	return u.v(r.StrictSlopeLowPerHour) + "/h", hoursText(r.SpanHours), u.v(opts.MinGrowth)
}

// overruledReason is the reason of a leak a check on size (text, the size
// check's or the retained-growth budget's figures) called over the vetoes
// of the other checks (failed, from vetoList).
func overruledReason(r *Result, p float64, failed, text string, opts Options) string {
	u := units{bytes: opts.Bytes}
	return fmt.Sprintf("grew %s over the window, %.0f× the %s floor (slope %s/h, p=%.3g, tau=%.2f); vetoed by %s; overruled by the %s",
		u.v(r.SizeGrowth), r.SizeGrowth/opts.MinGrowth, u.v(opts.MinGrowth), u.v(r.SlopePerHour), p, r.Monotonic, failed, text)
}

// budgetText describes the retained-growth budget's figures against its
// thresholds.
func budgetText(r *Result, opts Options, u units) string {
	return fmt.Sprintf("retained-growth budget: last hour's median %s above the first's (budget %.0f floors, %s), the hour medians gave back at most %s (%.0f %%, at most %.0f %%)",
		u.v(r.SizeGrowth), opts.RetainedBudgetFloors, u.v(budgetOf(r, opts)), u.v(r.SizeRetainedDrawdown), 100*r.SizeRetainedDrawdown/math.Max(r.SizeGrowth, 1e-300), 100*sizeMaxDrawdown)
}

// sizeText describes the size check's figures against its thresholds.
func sizeText(r *Result, u units) string {
	ratio := math.Inf(1)
	if r.SizeNoise > 0 {
		ratio = r.SizeGrowth / r.SizeNoise
	}
	laterRatio := math.Inf(1)
	if r.SizeNoise > 0 {
		laterRatio = r.SizeLaterGrowth / r.SizeNoise
	}
	s := fmt.Sprintf("size check: last hour's median %s above the first's (%.0f× the increments' robust σ %s, need %d× the floor and %d σ), gave back at most %s (%.0f %%, at most %.0f %%), %d steps up and %d down, later half up %s (%.1f σ, need the floor and %d σ)",
		u.v(r.SizeGrowth), ratio, u.v(r.SizeNoise), sizeFloors, sizeNoiseRatio, u.v(r.Drawdown), 100*r.Drawdown/math.Max(r.SizeGrowth, 1e-300), 100*sizeMaxDrawdown,
		r.StepsUp, r.StepsDown, u.v(r.SizeLaterGrowth), laterRatio, sizeLaterNoise)
	if r.SizeEvents > 0 {
		s += fmt.Sprintf(" or a counting process not shown to stop (%d events of %d σ up and %d down, %s in all, the last after %s of %s: p=%.3g of so quiet a tail, need %d events, none down, half the growth, p ≥ %.2g)",
			r.SizeEvents, sizeEventNoise, r.SizeEventsDown, u.v(r.SizeEventsHeight), hoursText(r.SizeLastEventHours), hoursText(r.SpanHours), sizeQuietP(r), sizeMinEvents, sizeQuietAlpha)
	}
	return s
}
