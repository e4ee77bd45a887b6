// Package kconfig decides whether a target kernel can show leaks: it reads
// the kernel config and runtime probes and answers ready / not ready with an
// exact remediation per missing piece (KERNEL-FACTS §1, §2, §5).
package kconfig

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Config is a kernel config: "CONFIG_X" → value as printed ("y", "m", a
// number, a string without its quotes). "# CONFIG_X is not set" is "n".
type Config map[string]string

// maxConfigBytes bounds a decompressed /proc/config.gz (real ones are 100–300 KB).
const maxConfigBytes = 4 << 20

// ErrNotConfig is returned for input with no CONFIG_ line at all.
var ErrNotConfig = errors.New("no CONFIG_ lines: not a kernel config; give /proc/config.gz or /boot/config-$(uname -r)")

// Parse reads a kernel config as plain text or gzip (/proc/config.gz),
// detected by the gzip magic. Lines that are neither assignments nor
// comments are skipped.
func Parse(b []byte) (Config, error) {
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("parse kernel config: gunzip: %w", err)
		}
		plain, err := io.ReadAll(io.LimitReader(zr, maxConfigBytes+1))
		if err != nil {
			return nil, fmt.Errorf("parse kernel config: gunzip: %w", err)
		}
		if len(plain) > maxConfigBytes {
			return nil, fmt.Errorf("parse kernel config: more than %d bytes decompressed", maxConfigBytes)
		}
		b = plain
	}
	// Presized from the line count, a SIMD count unlike counting "CONFIG_":
	// about four lines in five of a distribution config are options (3051 of
	// 3923 in 6.18); a wrong guess costs a map split or some spare slots.
	c := make(Config, min(bytes.Count(b, []byte{'\n'})*4/5+1, 8192))
	// Names and values are slices of one copy of the text: one allocation
	// instead of one or two per option.
	text := string(b)
	for pos := 0; pos < len(text); {
		end := strings.IndexByte(text[pos:], '\n')
		if end < 0 {
			end = len(text)
		} else {
			end += pos
		}
		line := trimSpace(text[pos:end])
		pos = end + 1
		if len(line) > 1 && line[0] == '#' && line[1] == ' ' {
			if name, ok := strings.CutSuffix(line[2:], " is not set"); ok && strings.HasPrefix(name, "CONFIG_") {
				c[name] = "n"
			}
			continue
		}
		if !strings.HasPrefix(line, "CONFIG_") {
			continue
		}
		eq := strings.IndexByte(line, '=')
		if eq < 0 {
			continue
		}
		k, v := line[:eq], line[eq+1:]
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		c[k] = v
	}
	if len(c) == 0 {
		return nil, ErrNotConfig
	}
	return c, nil
}

// trimSpace is bytes.TrimSpace for a string: ASCII blanks without a call
// when both ends are plain, the Unicode-aware strings.TrimSpace otherwise.
func trimSpace(s string) string {
	if len(s) == 0 || (s[0] > ' ' && s[0] < 0x7f && s[len(s)-1] > ' ' && s[len(s)-1] < 0x7f) {
		return s
	}
	return strings.TrimSpace(s)
}

// Enabled is true for "y" (built in) or "m" (module) options.
func (c Config) Enabled(name string) bool {
	v := c[name]
	return v == "y" || v == "m"
}

// Seen is "CONFIG_X=v" or "CONFIG_X is not set", as a config shows it.
func (c Config) Seen(name string) string {
	v, ok := c[name]
	if !ok || v == "n" {
		return name + " is not set"
	}
	return name + "=" + v
}

// cmdlineParams splits /proc/cmdline into parameters before "--" (what
// follows goes to init, not the kernel).
func cmdlineParams(cmdline string) []string {
	var out []string
	for _, p := range strings.Fields(cmdline) {
		if p == "--" {
			break
		}
		out = append(out, p)
	}
	return out
}

// param returns the value of the last "name=value" (or "" and true for a
// bare "name"), as the kernel lets later parameters win.
func param(params []string, names ...string) (value, which string, ok bool) {
	for _, p := range params {
		k, v, _ := strings.Cut(p, "=")
		for _, n := range names {
			if k == n {
				value, which, ok = v, p, true
			}
		}
	}
	return value, which, ok
}

// DebugfsMounted reports whether /proc/mounts shows debugfs mounted on dir.
func DebugfsMounted(mounts []byte, dir string) bool {
	for _, line := range strings.Split(string(mounts), "\n") {
		fs := strings.Fields(line)
		if len(fs) >= 3 && fs[1] == dir && fs[2] == "debugfs" {
			return true
		}
	}
	return false
}
