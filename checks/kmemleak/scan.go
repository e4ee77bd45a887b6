package kmemleak

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Path is kmemleak's control and report file.
const Path = "/sys/kernel/debug/kmemleak"

// MinObjectAge is kmemleak's MSECS_MIN_AGE: an object younger than this at the
// start of a scan is not reported by it (mm/kmemleak.c; the doc's 1 s is stale).
const MinObjectAge = 5 * time.Second

// ScanSpacing is the wait between the two scans of a flush or a sample,
// measured from the START of the first scan: MinObjectAge plus a second for
// link latency (the host sees the write start before the kernel takes
// scan_mutex) and jiffies rounding.
const ScanSpacing = MinObjectAge + time.Second

// ScanTimeout is the budget for one synchronous `scan` write. Scans of a
// large heap on a slow CPU take minutes; the budget is long on purpose.
const ScanTimeout = 10 * time.Minute

// Action is what one protocol step does.
type Action string

// The protocol's actions.
const (
	// ActionWrite writes Step.Command to Path in one write().
	ActionWrite Action = "write"
	// ActionWait waits until Step.Wait has passed since the previous write STARTED.
	ActionWait Action = "wait"
	// ActionRead reads Path to EOF (reading never scans and is cumulative).
	ActionRead Action = "read"
)

// Step is one step of the kmemleak scan protocol, as data the harness
// executes in order.
//
// Rules the harness must keep (mm/kmemleak.c; KERNEL-FACTS §1.2–1.3):
//   - Never write `clear` during a soak: it greys every reported object for
//     good, so a leak already seen would vanish from every later sample.
//     Counts per signature come from the cumulative report, diffed across samples.
//   - Never kill a scan mid-write: a pending signal aborts the scan silently
//     and nothing new is reported. Give a write the long Step.Timeout and
//     deliver no timeout signal; run it detached (setsid/nohup) so a dropped
//     SSH link does not SIGHUP it. On expiry stop waiting, do not signal.
//   - One command per write(); an unknown command fails with EINVAL.
//   - A new leak needs two scans, the second starting ≥ MinObjectAge after the
//     allocation (the first only records the object's CRC).
type Step struct {
	Action Action `json:"action"`
	// Command is what ActionWrite writes ("scan", "scan=off").
	Command string `json:"command,omitempty"`
	// Wait is, for ActionWait, the least time since the previous write started.
	Wait time.Duration `json:"wait_ns,omitempty"`
	// Timeout is, for ActionWrite, how long to wait for the write to return;
	// it is never enforced with a signal.
	Timeout time.Duration `json:"timeout_ns,omitempty"`
}

// BaselineSteps flushes boot-time reports before sample 0: stop the
// auto-scan thread so the harness alone decides when scans run, then scan,
// wait ScanSpacing from that scan's start, and scan again.
func BaselineSteps() []Step {
	return []Step{
		{Action: ActionWrite, Command: "scan=off", Timeout: ScanTimeout},
		{Action: ActionWrite, Command: "scan", Timeout: ScanTimeout},
		{Action: ActionWait, Wait: ScanSpacing},
		{Action: ActionWrite, Command: "scan", Timeout: ScanTimeout},
	}
}

// SampleSteps takes one kmemleak sample: scan, wait ScanSpacing from that
// scan's start, scan, read the cumulative report.
func SampleSteps() []Step {
	return []Step{
		{Action: ActionWrite, Command: "scan", Timeout: ScanTimeout},
		{Action: ActionWait, Wait: ScanSpacing},
		{Action: ActionWrite, Command: "scan", Timeout: ScanTimeout},
		{Action: ActionRead},
	}
}

// DisabledReason explains a refused write to Path: kmemleak is off for this
// boot (or unreachable), with what the kernel's answer means and what to do.
type DisabledReason struct {
	// Errno is the error's name: EBUSY, EPERM or ENOENT.
	Errno string `json:"errno"`
	// Meaning says what the kernel's answer means, per kernel version.
	Meaning string `json:"meaning"`
	// Remediation says what to do, ending with the exact step.
	Remediation string `json:"remediation"`
}

// Error renders the reason as a user-facing message.
func (d DisabledReason) Error() string {
	return "kmemleak disabled (" + d.Errno + "): " + d.Meaning + "; " + d.Remediation
}

// disabledReasons is the table of write errors that mean kmemleak cannot be
// used (KERNEL-FACTS §1.4).
var disabledReasons = []struct {
	texts  []string
	reason DisabledReason
}{
	{[]string{"device or resource busy", "ebusy"}, DisabledReason{
		Errno:       "EBUSY",
		Meaning:     "kmemleak is disabled on this boot (kernels 4.19–5.2 refuse writes with EBUSY; older ones refuse the open)",
		Remediation: "check dmesg for 'kmemleak: Kernel memory leak detector disabled'; boot with kmemleak=on (needed with CONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF=y), and raise CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE (CONFIG_DEBUG_KMEMLEAK_EARLY_LOG_SIZE before 5.4) if the pool ran out",
	}},
	{[]string{"operation not permitted", "eperm"}, DisabledReason{
		Errno:       "EPERM",
		Meaning:     "kmemleak is disabled on this boot (kernels 5.3+ refuse every write but clear with EPERM), or the writer is not root",
		Remediation: "run as root; check dmesg for 'kmemleak: Kernel memory leak detector disabled'; boot with kmemleak=on (needed with CONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF=y), and raise CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE if the pool ran out",
	}},
	{[]string{"no such file or directory", "enoent"}, DisabledReason{
		Errno:       "ENOENT",
		Meaning:     Path + " is missing: debugfs is not mounted, the kernel lacks CONFIG_DEBUG_KMEMLEAK, or (before 4.19) kmemleak was disabled at boot",
		Remediation: "mount debugfs (mount -t debugfs none /sys/kernel/debug); build with CONFIG_DEBUG_FS=y and CONFIG_DEBUG_KMEMLEAK=y; boot with kmemleak=on",
	}},
}

// ClassifyWriteError maps the text of a failed write to Path (a shell's
// stderr or a Go error string) to why kmemleak is unusable. ok is false when
// the text is none of EBUSY, EPERM, ENOENT (EINVAL, say, is a harness bug).
func ClassifyWriteError(errText string) (DisabledReason, bool) {
	low := strings.ToLower(errText)
	for _, d := range disabledReasons {
		for _, t := range d.texts {
			if strings.Contains(low, t) {
				return d.reason, true
			}
		}
	}
	return DisabledReason{}, false
}

// EventKind names a kmemleak line of the kernel log.
type EventKind string

// The kernel log events kmemleak prints (mm/kmemleak.c).
const (
	// EventDisabled: "Kernel memory leak detector disabled"; no more reports this boot.
	EventDisabled EventKind = "disabled"
	// EventPoolEmpty: "Memory pool empty, consider increasing CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE".
	EventPoolEmpty EventKind = "pool_empty"
	// EventEarlyLogExceeded: older kernels' "Early log buffer exceeded (N)".
	EventEarlyLogExceeded EventKind = "early_log_exceeded"
	// EventCannotAllocate: "Cannot allocate a kmemleak_object structure".
	EventCannotAllocate EventKind = "cannot_allocate"
	// EventNewLeaks: "N new suspected memory leaks"; Event.Count holds N.
	EventNewLeaks EventKind = "new_leaks"
)

// Event is one kmemleak line found in the kernel log.
type Event struct {
	Kind EventKind `json:"kind"`
	// Line is the log line as found, trimmed.
	Line string `json:"line"`
	// Count is N for EventNewLeaks.
	Count int `json:"count,omitempty"`
	// Remediation says what to do for the events that disable kmemleak.
	Remediation string `json:"remediation,omitempty"`
}

var newLeaksRe = regexp.MustCompile(`(\d+) new suspected memory leaks`)

// ScanDmesg finds kmemleak's own lines in kernel log text: the ones that say
// it disabled itself (and why) and the per-scan counts of new leaks.
func ScanDmesg(text string) []Event {
	var out []Event
	for line := range strings.Lines(text) {
		if !strings.Contains(line, "kmemleak") && !strings.Contains(line, "memory leak") {
			continue
		}
		line = strings.TrimSpace(line)
		switch {
		case strings.Contains(line, "Kernel memory leak detector disabled"):
			out = append(out, Event{Kind: EventDisabled, Line: line,
				Remediation: "kmemleak stopped for this boot: look at the kmemleak lines before this one for the cause, then reboot"})
		case strings.Contains(line, "Memory pool empty"):
			out = append(out, Event{Kind: EventPoolEmpty, Line: line,
				Remediation: "rebuild with a larger CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE (syzbot uses 16000)"})
		case strings.Contains(line, "Early log buffer exceeded"):
			out = append(out, Event{Kind: EventEarlyLogExceeded, Line: line,
				Remediation: "rebuild with a larger CONFIG_DEBUG_KMEMLEAK_EARLY_LOG_SIZE"})
		case strings.Contains(line, "Cannot allocate a kmemleak_object structure"):
			out = append(out, Event{Kind: EventCannotAllocate, Line: line,
				Remediation: "kmemleak ran out of metadata memory: rebuild with a larger CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE"})
		default:
			if m := newLeaksRe.FindStringSubmatch(line); m != nil {
				n, _ := strconv.Atoi(m[1])
				out = append(out, Event{Kind: EventNewLeaks, Line: line, Count: n})
			}
		}
	}
	return out
}
