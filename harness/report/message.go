package report

import (
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"math"
	"path/filepath"
	"strings"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/checks/verdict"
)

// Message is the whole diagnosis as one text, fit for a Gomega failure
// message: why the run is not ready or did not finish, then one block per
// leak (subject, numbers, culprit, backtrace, time to exhaustion), the
// suspects in brief, and where the evidence is. Text from the target is
// cleaned so it cannot forge lines.
func Message(r Run) string {
	var b strings.Builder
	on := ""
	if r.Target != "" {
		on = " on " + human.Escape(r.Target)
	}
	writePreflight(&b, r, on)
	writeReboot(&b, r, on)
	leaks, suspects := split(r.Findings)
	switch {
	case r.Error == "":
	case r.Verdict == verdict.Error:
		fmt.Fprintf(&b, "error: %s%s\n", human.Escape(r.Error), on)
	case b.Len() == 0 && len(leaks) == 0:
		// A failure nothing below explains (a hard ceiling, say): the
		// harness's own words are the diagnosis.
		fmt.Fprintf(&b, "%s: %s%s\n", verdictWord(r.Verdict), human.Escape(r.Error), on)
	}
	for i, f := range leaks {
		if i == maxMessageLeaks {
			fmt.Fprintf(&b, "… and %d more leaks in report.html\n", len(leaks)-i)
			break
		}
		writeLeak(&b, f, r, on)
	}
	if b.Len() == 0 {
		writePass(&b, r, on)
	}
	writeSuspects(&b, suspects)
	for _, line := range strings.Split(r.Comparison, "\n") {
		if line != "" {
			b.WriteString(human.Escape(line) + "\n")
		}
	}
	writeRunLine(&b, r)
	writeRejudged(&b, r.Rejudged)
	if r.RunDir != "" {
		fmt.Fprintf(&b, "  evidence: %s\n", human.Escape(filepath.Join(r.RunDir, "report.html")))
	}
	return strings.TrimRight(b.String(), "\n")
}

// Limits that keep the message readable in a terminal and a JUnit file.
const (
	maxMessageLeaks    = 10
	maxMessageSuspects = 5
	maxMessageFrames   = 8
	maxMessageEvidence = 3
	maxConsoleLines    = 20
)

// split returns the leaks and the suspects, in the order the judge gave.
func split(fs []checks.Finding) (leaks, suspects []checks.Finding) {
	for _, f := range fs {
		switch f.Verdict {
		case verdict.Leak:
			leaks = append(leaks, f)
		case verdict.Suspect:
			suspects = append(suspects, f)
		}
	}
	return leaks, suspects
}

func writePreflight(b *strings.Builder, r Run, on string) {
	var failed []Check
	for _, c := range r.Preflight {
		if c.Failed() {
			failed = append(failed, c)
		}
	}
	if len(failed) == 0 {
		return
	}
	kernel := "the kernel"
	if r.Kernel != "" {
		kernel = "kernel " + human.Escape(r.Kernel)
	}
	fmt.Fprintf(b, "not ready: %s%s cannot show leaks; %d of %d preflight checks failed\n",
		kernel, on, len(failed), len(r.Preflight))
	for _, c := range failed {
		line := "  " + human.Escape(c.Name)
		if c.Seen != "" {
			line += ": " + human.Escape(c.Seen)
		}
		if c.Remediation != "" {
			line += " — " + human.Escape(c.Remediation)
		}
		b.WriteString(line + "\n")
	}
}

func writeReboot(b *strings.Builder, r Run, on string) {
	rb := r.Reboot
	if rb == nil {
		return
	}
	of := ""
	if r.PlannedSamples > 0 {
		of = fmt.Sprintf(" of %d", r.PlannedSamples)
	}
	fmt.Fprintf(b, "reboot: the target%s rebooted at sample %d%s (boot_id %s → %s); leaks cannot be judged across a reboot\n",
		on, rb.AtSample, of, human.Escape(short(rb.OldBootID)), human.Escape(short(rb.NewBootID)))
	lines := human.EscapeLines(rb.Evidence)
	if len(lines) > 0 {
		if len(lines) > maxConsoleLines {
			fmt.Fprintf(b, "  last %d console/dmesg lines (of %d):\n", maxConsoleLines, len(lines))
			lines = lines[len(lines)-maxConsoleLines:]
		} else {
			b.WriteString("  console/dmesg before the reboot:\n")
		}
		for _, l := range lines {
			b.WriteString("    " + l + "\n")
		}
	}
	b.WriteString("  look for a panic, OOM or watchdog reset in the console log and raw/, fix it, then rerun the soak\n")
}

// short trims a boot_id to its first group; enough to tell two apart.
func short(id string) string {
	if i := strings.IndexByte(id, '-'); i > 0 {
		return id[:i]
	}
	return id
}

// writeLeak writes one leak's block: headline, culprit, backtrace,
// corroboration, reason and time to exhaustion.
func writeLeak(b *strings.Builder, f checks.Finding, r Run, on string) {
	figs := figures(f, true)
	if f.Kind == checks.KindKmemleak {
		figs = kmemleakFigures(f, r, "objects")
	}
	if figs != "" {
		figs = " " + figs
	}
	fmt.Fprintf(b, "leak: %s%s%s\n", subject(f), figs, on)
	km := kmemleakEvidence(f)
	culprit, frames := f.Culprit, f.Frames
	if culprit == nil && km != nil {
		culprit = km.Culprit
	}
	if len(frames) == 0 && km != nil {
		frames = km.Frames
	}
	if culprit != nil {
		line := "  culprit " + frameText(*culprit)
		if km != nil {
			line += " — " + kmemleakFigures(*km, r, "kmemleak objects")
		}
		b.WriteString(line + "\n")
	}
	if bt := backtrace(frames, culprit); bt != "" {
		b.WriteString("    " + bt + "\n")
	}
	if culprit == nil && len(f.AllocCallers) > 0 && f.Kind == checks.KindSlab {
		callers := f.AllocCallers
		if len(callers) > maxMessageFrames/2 {
			callers = callers[:maxMessageFrames/2]
		}
		fmt.Fprintf(b, "  allocated by %s (the cache's allocation sites)\n", human.Escape(strings.Join(callers, ", ")))
	}
	n := 0
	for _, e := range f.Evidence {
		if e.Kind == checks.KindKmemleak && km != nil && e.Subject == km.Subject {
			continue
		}
		if n == maxMessageEvidence {
			fmt.Fprintf(b, "  … and %d more corroborating signals in report.html\n", len(f.Evidence)-n-1)
			break
		}
		fmt.Fprintf(b, "  with %s %s\n", subject(e), figures(e, false))
		n++
	}
	if line := explainedBy(f.ExplainedBy); line != "" {
		b.WriteString("  explained by: " + line + "\n")
	}
	if f.Reason != "" {
		fmt.Fprintf(b, "  why: %s\n", human.Escape(f.Reason))
	}
	if f.TimeToExhaustion > 0 {
		fmt.Fprintf(b, "  MemAvailable exhausted in %s at this rate\n", human.Approx(f.TimeToExhaustion))
	}
}

// explainedBy is "96 % — wlansim_rx_fill [wlansim] (page stack 01234567…),
// 3 % — slab cache kmalloc-512": the causes behind an aggregate's growth.
func explainedBy(es []checks.Explanation) string {
	parts := make([]string, 0, len(es))
	for _, e := range es {
		what := human.Escape(checks.Noun(e.Kind)) + " " + human.Escape(digest(e.Subject))
		if e.Culprit != "" {
			what = human.Escape(e.Culprit) + " (" + what + ")"
		}
		parts = append(parts, fmt.Sprintf("%.0f %% — %s", 100*e.Share, what))
	}
	return strings.Join(parts, ", ")
}

// figures is a finding's headline numbers: "+1533 objects (+12.0 MiB,
// +127.8/h, p<1e-9, 71/71 intervals rising)". A slab cache judged in bytes
// is shown in objects when its object size is known, as slabinfo counts. A
// finding without a series (a hard ceiling) has none: "".
func figures(f checks.Finding, withP bool) string {
	if f.Samples == 0 && f.Growth == 0 && f.SlopePerHour == 0 {
		return ""
	}
	var lead string
	var parts []string
	if f.Kind == checks.KindSlab && human.UnitBytes(f.Unit) > 0 && f.ObjectSizeBytes > 0 {
		size := float64(f.ObjectSizeBytes) / human.UnitBytes(f.Unit)
		objects := math.Round(f.Growth / size)
		lead = human.SignedCount(objects) + " objects"
		parts = append(parts, human.Amount(f.Growth, f.Unit), human.SignedCount(math.Round(f.SlopePerHour/size*10)/10)+"/h")
	} else {
		lead = human.Amount(f.Growth, f.Unit)
		if human.UnitBytes(f.Unit) == 0 && f.GrowthBytes != 0 {
			parts = append(parts, human.SignedBytes(float64(f.GrowthBytes)))
		}
		parts = append(parts, human.Rate(f.SlopePerHour, f.Unit))
	}
	if withP {
		parts = append(parts, pValue(f.P))
	}
	if f.Samples > 1 {
		dir := "rising"
		if f.SlopePerHour < 0 {
			dir = "falling" // the judge counts steps in the leak's direction
		}
		parts = append(parts, fmt.Sprintf("%d/%d intervals %s", f.Rising, f.Samples-1, dir))
	}
	return lead + " (" + strings.Join(parts, ", ") + ")"
}

// kmemleakFigures describes a kmemleak signal in scans, the unit kmemleak
// reports in: "+1512 kmemleak objects (+11.8 MiB, +21.3/scan, seen in 72/73
// scans, rising in 71/71)". One sample is one scan; the judge counts a
// signature's samples as the consecutive scans, up to the last, that
// reported it, and gives it no p-value (its rule is not a test).
func kmemleakFigures(f checks.Finding, r Run, noun string) string {
	lead := human.SignedCount(f.Growth) + " " + noun
	var parts []string
	if f.GrowthBytes != 0 {
		parts = append(parts, human.SignedBytes(float64(f.GrowthBytes)))
	}
	switch {
	case f.Samples > 1:
		perScan := f.Growth / float64(f.Samples-1)
		parts = append(parts, human.SignedCount(math.Round(perScan*10)/10)+"/scan")
	case r.Interval > 0:
		perScan := f.SlopePerHour * r.Interval.Hours()
		parts = append(parts, human.SignedCount(math.Round(perScan*10)/10)+"/scan")
	}
	if f.Samples > 0 {
		if r.Samples >= f.Samples {
			parts = append(parts, fmt.Sprintf("seen in %d/%d scans", f.Samples, r.Samples))
		} else {
			parts = append(parts, fmt.Sprintf("seen in %d scans", f.Samples))
		}
	}
	if f.Samples > 1 {
		parts = append(parts, fmt.Sprintf("rising in %d/%d", f.Rising, f.Samples-1))
	}
	if len(parts) == 0 {
		return lead
	}
	return lead + " (" + strings.Join(parts, ", ") + ")"
}

// subject names a finding with words that fit its kind.
func subject(f checks.Finding) string {
	name := human.Escape(f.Subject)
	if name == "" {
		name = "(unnamed)"
	}
	if src, _ := checks.SourceOf(f.Kind); src.Signature {
		name = human.Escape(digest(f.Subject))
	}
	return human.Escape(checks.Noun(f.Kind)) + " " + name + mergedWith(f.MergedWith)
}

// maxMergedNames bounds the merged cache names a subject lists.
const maxMergedNames = 6

// mergedWith is " (merged with a, b, c and 4 more)": the caches slabinfo
// counts under the same row, where a driver's cache may hide.
func mergedWith(names []string) string {
	if len(names) == 0 {
		return ""
	}
	shown := make([]string, 0, min(len(names), maxMergedNames))
	for _, n := range names[:min(len(names), maxMergedNames)] {
		shown = append(shown, human.Escape(n))
	}
	more := ""
	if len(names) > maxMergedNames {
		more = fmt.Sprintf(" and %d more", len(names)-maxMergedNames)
	}
	return " (merged with " + strings.Join(shown, ", ") + more + ")"
}

// digest is a kmemleak signature's hex digest when it has the form
// "<16 hex> func [module] < caller …" (the readable part is the backtrace,
// printed on its own line); any other subject is kept whole.
func digest(sig string) string {
	const n = 16
	if len(sig) > n && sig[n] == ' ' && isHex(sig[:n]) {
		return sig[:n]
	}
	return sig
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// kmemleakEvidence is the kmemleak signal that names the culprit: the
// finding itself, or the first kmemleak finding folded into it.
func kmemleakEvidence(f checks.Finding) *checks.Finding {
	if f.Kind == checks.KindKmemleak {
		return nil
	}
	for i := range f.Evidence {
		if f.Evidence[i].Kind == checks.KindKmemleak {
			return &f.Evidence[i]
		}
	}
	return nil
}

func frameText(fr kmemleak.Frame) string {
	s := human.Escape(fr.Function)
	if fr.Module != "" {
		s += " [" + human.Escape(fr.Module) + "]"
	}
	return s
}

// allocatorFrames are the frames every kmemleak backtrace starts with; they
// say nothing about who leaked, so the message leaves them out (the HTML
// report keeps the whole trace).
var allocatorFrames = map[string]bool{
	"kmemleak_alloc":           true,
	"kmemleak_alloc_recursive": true,
	"kmemleak_alloc_percpu":    true,
	"kmemleak_vmalloc":         true,
	"slab_post_alloc_hook":     true,
}

// backtrace prints the frames innermost first, "a ← b ← c", from the first
// frame past the allocator hooks up to the culprit, eliding the middle of
// long traces.
func backtrace(frames []kmemleak.Frame, culprit *kmemleak.Frame) string {
	start := 0
	for start < len(frames) && allocatorFrames[frames[start].Function] {
		start++
	}
	end := len(frames)
	if culprit != nil {
		for i := start; i < len(frames); i++ {
			if frames[i].Function == culprit.Function && frames[i].Module == culprit.Module {
				end = i + 1
				break
			}
		}
	}
	frames = frames[start:end]
	var parts []string
	for i, fr := range frames {
		if len(frames) > maxMessageFrames && i == 2 {
			parts = append(parts, "…")
		}
		if len(frames) > maxMessageFrames && i >= 2 && i < len(frames)-(maxMessageFrames-2) {
			continue
		}
		parts = append(parts, frameText(fr))
	}
	return strings.Join(parts, " ← ")
}

func writePass(b *strings.Builder, r Run, on string) {
	if r.Verdict != verdict.Pass && r.Verdict != "" {
		fmt.Fprintf(b, "%s: no leak named%s, yet the run's verdict is %q; see report.json\n", human.Escape(string(r.Verdict)), on, human.Escape(string(r.Verdict)))
		return
	}
	over := ""
	if d := runSpan(r); d != "" {
		over = " over " + d
	}
	series := fmt.Sprintf("%d series", countSeries(r))
	if r.SeriesJudged > 0 {
		series = fmt.Sprintf("%d series judged", r.SeriesJudged)
		if r.SeriesInsufficient > 0 {
			series += fmt.Sprintf(" (%d with too few samples)", r.SeriesInsufficient)
		}
	}
	fmt.Fprintf(b, "pass: no leak%s — %s%s, %d samples\n", on, series, over, r.Samples)
}

func countSeries(r Run) int {
	if len(r.Series) > 0 {
		return len(r.Series)
	}
	return len(r.Findings)
}

func writeSuspects(b *strings.Builder, suspects []checks.Finding) {
	for i, f := range suspects {
		if i == maxMessageSuspects {
			fmt.Fprintf(b, "… and %d more suspects in report.html\n", len(suspects)-i)
			return
		}
		line := "suspect: " + subject(f)
		if figs := figures(f, true); f.Kind == checks.KindKmemleak {
			line += " " + kmemleakFigures(f, Run{}, "objects")
		} else if figs != "" {
			line += " " + figs
		}
		if f.Reason != "" {
			line += " — " + human.Escape(f.Reason)
		}
		b.WriteString(line + "\n")
	}
}

// writeRunLine mentions what the run missed: gaps and an early end.
func writeRunLine(b *strings.Builder, r Run) {
	var parts []string
	if r.PlannedSamples > 0 && r.Samples > 0 && r.Samples < r.PlannedSamples && r.Reboot == nil {
		line := fmt.Sprintf("ended at sample %d of %d", r.Samples, r.PlannedSamples)
		if d := runSpan(r); d != "" {
			line += " after " + d
		}
		parts = append(parts, line)
	}
	if n := len(r.Gaps); n > 0 {
		g := r.Gaps[0]
		s := "gaps"
		if n == 1 {
			s = "gap"
		}
		parts = append(parts, fmt.Sprintf("%d %s (first at sample %d: %s)", n, s, g.Index, human.Escape(g.Reason)))
	}
	if len(parts) > 0 {
		b.WriteString("  run: " + strings.Join(parts, "; ") + "\n")
	}
}

// maxMessageUnused bounds the unusable records and raws the message lists.
const maxMessageUnused = 5

// writeRejudged says which policy re-judged the run, what the soak recorded
// and what of the folder could not be used.
func writeRejudged(b *strings.Builder, rj *Rejudged) {
	if rj == nil {
		return
	}
	rec := human.Escape(string(rj.RecordedVerdict))
	if rj.RecordedError != "" {
		rec += " (" + human.Escape(rj.RecordedError) + ")"
	}
	fmt.Fprintf(b, "  re-judged under policy %s (%s); the soak recorded %s\n", human.Escape(rj.PolicyDigest), human.Escape(rj.PolicySource), rec)
	for i, u := range rj.Unused {
		if i == maxMessageUnused {
			fmt.Fprintf(b, "  … and %d more unusable records in report.json\n", len(rj.Unused)-i)
			break
		}
		fmt.Fprintf(b, "  not used: %s\n", human.Escape(u))
	}
}

// runSpan is how long the run lasted, or "" when its times are not known.
func runSpan(r Run) string {
	if r.Started.IsZero() || r.Ended.IsZero() || r.Ended.Before(r.Started) {
		return ""
	}
	return human.Duration(r.Ended.Sub(r.Started))
}

func verdictWord(v verdict.Run) string {
	if v == "" {
		return string(verdict.Fail)
	}
	return human.Escape(string(v))
}
