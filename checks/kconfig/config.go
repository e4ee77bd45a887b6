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
	c := make(Config, min(bytes.Count(b, []byte("CONFIG_")), 8192))
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte("\n"))
		line = bytes.TrimSpace(line)
		if rest, ok := bytes.CutPrefix(line, []byte("# ")); ok {
			if name, ok := bytes.CutSuffix(rest, []byte(" is not set")); ok && bytes.HasPrefix(name, []byte("CONFIG_")) {
				c[string(name)] = "n"
			}
			continue
		}
		if !bytes.HasPrefix(line, []byte("CONFIG_")) {
			continue
		}
		k, v, ok := bytes.Cut(line, []byte("="))
		if !ok {
			continue
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		c[string(k)] = string(v)
	}
	if len(c) == 0 {
		return nil, ErrNotConfig
	}
	return c, nil
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
