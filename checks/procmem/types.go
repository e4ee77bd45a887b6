// Package procmem reads per-process memory from /proc/<pid>/status,
// stat and smaps_rollup, skipping kernel threads.
package procmem

import "strconv"

// Process is one user-space process in one sample.
type Process struct {
	PID  int    `json:"pid"`
	Name string `json:"name"`
	// StartTicks is stat field 22; (PID, StartTicks, Name) identifies a process
	// across samples so a restart is a new series.
	StartTicks   uint64 `json:"start_ticks"`
	RSSBytes     uint64 `json:"rss_bytes"`
	RSSAnonBytes uint64 `json:"rss_anon_bytes"`
	PSSBytes     uint64 `json:"pss_bytes,omitempty"`
	PSSAnonBytes uint64 `json:"pss_anon_bytes,omitempty"`
	HasPSSAnon   bool   `json:"has_pss_anon,omitempty"`
	// AnonSource names the figure in PSSAnonBytes: "Pss_Anon" (≈5.x+), or the
	// fallbacks "Anonymous", "Private_Dirty" (smaps_rollup) and "RssAnon" (status).
	AnonSource string `json:"anon_source,omitempty"`
	// PPID is the parent pid from stat or status, 0 if unknown.
	PPID int `json:"ppid,omitempty"`
}

// Key identifies one process incarnation across samples.
func (p Process) Key() string {
	return p.Name + "/" + strconv.Itoa(p.PID) + "/" + strconv.FormatUint(p.StartTicks, 10)
}
