package allocinfo

import (
	"bufio"
	"bytes"
	"regexp"
	"strconv"
)

// HeldAtUnload is one call site of a module that still held memory when the
// module was unloaded: the kernel warns about it (lib/alloc_tag.c
// alloc_tag_module_unload, 6.10+: "<file>:<line> module <mod> func:<func>
// has <bytes> allocated at module unload") and keeps the module's memory.
// Memory a driver still holds once it is gone is a leak, with its site.
type HeldAtUnload struct {
	Site
}

var unloadLine = regexp.MustCompile(`(\S+):(\d+) module (\S+) func:(\S+) has (\d+) allocated at module unload`)

// ParseUnload finds the unload warnings in a kernel log (dmesg output, with
// or without timestamps), in order. Lines that are not such warnings are
// ignored: the log holds everything else the kernel said.
func ParseUnload(log []byte) []HeldAtUnload {
	var out []HeldAtUnload
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		m := unloadLine.FindSubmatch(sc.Bytes())
		if m == nil {
			continue
		}
		line, err1 := strconv.Atoi(string(m[2]))
		n, err2 := strconv.ParseInt(string(m[5]), 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, HeldAtUnload{Site{File: string(m[1]), Line: line, Module: string(m[3]), Func: string(m[4]), Bytes: n}})
	}
	return out
}
