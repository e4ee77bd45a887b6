package procmem

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// pfKthread is PF_KTHREAD in stat's flags (field 9): the de-facto ABI that
// systemd and htop use to tell kernel threads (include/linux/sched.h).
const pfKthread = 0x00200000

// ErrUnidentified is returned when neither stat nor status names the process.
var ErrUnidentified = errors.New("neither stat nor status identifies the process; read /proc/<pid>/stat and status in the same snapshot")

// ParseProcess reads one process from its /proc/<pid>/status, stat and
// smaps_rollup (any may be nil when unreadable). user is false for kernel
// threads, decided by, in order: stat flags & PF_KTHREAD, status
// "Kthread: 1" (≈6.4+), a status without any Vm*/Rss* line (no mm), and as a
// last resort a [bracketed] name. A non-nil error lists files that did not
// parse; the Process is still usable when user is true, with whatever the
// other files gave. The error is ErrUnidentified when no file names it.
//
// It is hand-written rather than github.com/prometheus/procfs: procfs reads
// only from a directory, and its status lacks PPid and Kthread and its
// smaps_rollup lacks Pss_Anon (v0.23.0).
func ParseProcess(pid int, status, stat, smapsRollup []byte) (Process, bool, error) {
	p := Process{PID: pid}
	var errs []error
	st, stErr := parseStat(stat)
	if stat != nil && stErr != nil {
		errs = append(errs, fmt.Errorf("parse /proc/%d/stat: %w", pid, stErr))
	}
	sv, svErr := parseKV(status, ':')
	if status != nil && svErr != nil {
		errs = append(errs, fmt.Errorf("parse /proc/%d/status: %w", pid, svErr))
	}
	var sm kvs
	if len(smapsRollup) > 0 {
		var err error
		if sm, err = parseKV(skipRollupHeader(smapsRollup), ':'); err != nil {
			errs = append(errs, fmt.Errorf("parse /proc/%d/smaps_rollup: %w", pid, err))
		}
	}
	statOK := stat != nil && stErr == nil
	if statOK {
		if st.pid != pid {
			errs = append(errs, fmt.Errorf("/proc/%d/stat names pid %d", pid, st.pid))
		}
		p.Name, p.StartTicks, p.PPID = st.comm, st.startTicks, st.ppid
	}
	if name, ok := sv.text("Name"); ok {
		p.Name = name
	}
	if v, ok := sv.num("PPid"); ok && p.PPID == 0 {
		p.PPID = int(v)
	}
	if p.Name == "" && !statOK {
		return p, false, errors.Join(append(errs, fmt.Errorf("pid %d: %w", pid, ErrUnidentified))...)
	}

	user := true
	switch {
	case statOK && st.flags&pfKthread != 0:
		user = false
	case sv["Kthread"] == "1":
		user = false
	case status != nil && svErr == nil && !sv.hasMemory():
		user = false
	case len(p.Name) >= 2 && p.Name[0] == '[' && p.Name[len(p.Name)-1] == ']':
		user = false
	}

	p.RSSBytes = firstBytes(sv, "VmRSS", sm, "Rss")
	p.RSSAnonBytes = firstBytes(sv, "RssAnon", sm, "Anonymous")
	if v, ok := sm.kBBytesOK("Pss"); ok {
		p.PSSBytes = v
	}
	for _, src := range []struct {
		kv   kvs
		name string
	}{{sm, "Pss_Anon"}, {sm, "Anonymous"}, {sm, "Private_Dirty"}, {sv, "RssAnon"}} {
		if v, ok := src.kv.kBBytesOK(src.name); ok {
			p.PSSAnonBytes, p.AnonSource = v, src.name
			p.HasPSSAnon = src.name == "Pss_Anon"
			break
		}
	}
	return p, user, errors.Join(errs...)
}

// stat is what we need of /proc/<pid>/stat.
type statFields struct {
	pid        int
	comm       string
	ppid       int
	flags      uint64
	startTicks uint64
}

// parseStat reads "pid (comm) state ppid ..."; comm may hold spaces and
// parentheses, so it ends at the LAST ')'. Field 9 is flags, 22 starttime.
func parseStat(b []byte) (statFields, error) {
	var s statFields
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 1 || closing < open {
		return s, errors.New("no (comm)")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return s, fmt.Errorf("pid: %w", err)
	}
	s.pid = pid
	s.comm = string(b[open+1 : closing])
	rest := bytes.Fields(b[closing+1:])
	// rest[0] is field 3 (state); field n is rest[n-3].
	const flagsField, startField = 9, 22
	if len(rest) < startField-2 {
		return s, fmt.Errorf("%d fields after comm, want at least %d", len(rest), startField-2)
	}
	ppid, err := strconv.Atoi(string(rest[4-3]))
	if err != nil {
		return s, fmt.Errorf("ppid: %w", err)
	}
	s.ppid = ppid
	if s.flags, err = strconv.ParseUint(string(rest[flagsField-3]), 10, 64); err != nil {
		return s, fmt.Errorf("flags: %w", err)
	}
	if s.startTicks, err = strconv.ParseUint(string(rest[startField-3]), 10, 64); err != nil {
		return s, fmt.Errorf("starttime: %w", err)
	}
	return s, nil
}

// skipRollupHeader drops smaps_rollup's "<range> ---p ... [rollup]" line.
func skipRollupHeader(b []byte) []byte {
	line, rest, _ := bytes.Cut(b, []byte("\n"))
	if bytes.Contains(line, []byte("[rollup]")) {
		return rest
	}
	return b
}

// wantedKeys are the status and smaps_rollup fields ParseProcess reads; the
// others are not kept.
var wantedKeys = map[string]bool{
	"Name": true, "PPid": true, "Kthread": true, "VmRSS": true, "RssAnon": true,
	"Rss": true, "Pss": true, "Pss_Anon": true, "Anonymous": true, "Private_Dirty": true,
}

// memKey marks a file that had any Vm* or Rss* line; no real key has a NUL.
const memKey = "\x00mem"

// kvs is a "Key:<ws>value" file; values are kept as text.
type kvs map[string]string

// maxKVLines bounds a garbage file's map.
const maxKVLines = 256

func parseKV(b []byte, sep byte) (kvs, error) {
	m := kvs{}
	bad := 0
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte("\n"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		i := bytes.IndexByte(line, sep)
		if i <= 0 {
			bad++
			continue
		}
		key := line[:i]
		if bytes.HasPrefix(key, []byte("Vm")) || bytes.HasPrefix(key, []byte("Rss")) {
			m[memKey] = "1"
		}
		if wantedKeys[string(key)] && len(m) < maxKVLines {
			m[string(key)] = string(bytes.TrimSpace(line[i+1:]))
		}
	}
	if bad > 0 {
		return m, fmt.Errorf("%d line(s) without %q", bad, sep)
	}
	return m, nil
}

func (m kvs) text(k string) (string, bool) {
	v, ok := m[k]
	return v, ok && v != ""
}

func (m kvs) num(k string) (uint64, bool) {
	v, err := strconv.ParseUint(m[k], 10, 64)
	return v, err == nil
}

// kBBytesOK converts "<n> kB" to bytes.
func (m kvs) kBBytesOK(k string) (uint64, bool) {
	v, ok := m[k]
	if !ok {
		return 0, false
	}
	num, _, _ := strings.Cut(v, " ")
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n > (1<<64-1)/1024 {
		return 0, false
	}
	return n * 1024, true
}

// firstBytes is a's k1 in bytes, else b's k2, else 0.
func firstBytes(a kvs, k1 string, b kvs, k2 string) uint64 {
	if v, ok := a.kBBytesOK(k1); ok {
		return v
	}
	v, _ := b.kBBytesOK(k2)
	return v
}

// hasMemory is true when status has any Vm* or Rss* line: kernel threads
// and zombies have no mm and print none.
func (m kvs) hasMemory() bool { return m[memKey] == "1" }
