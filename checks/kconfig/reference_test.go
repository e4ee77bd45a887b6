package kconfig

import (
	"bytes"
	"reflect"
	"testing"
)

// referenceParseText is the straightforward text parser the faster Parse
// replaced, kept as the reference FuzzParseKconfigMatchesReference holds it to.
func referenceParseText(b []byte) Config {
	c := Config{}
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
	return c
}

func FuzzParseKconfigMatchesReference(f *testing.F) {
	f.Add(readFixture(f, "config-5.4-arm64-kmemleak.txt"))
	f.Add(readFixture(f, "config-4.14-mips-minimal.txt"))
	f.Add([]byte("\u00a0CONFIG_A=\"x\"\u0085\n\t# CONFIG_B is not set \r\nCONFIG_C==\nCONFIG_D\n#  CONFIG_E is not set\nCONFIG_F=\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
			return // gzip: the same text path after gunzip
		}
		got, err := Parse(b)
		want := referenceParseText(b)
		if len(want) == 0 {
			if err == nil {
				t.Fatalf("input %q: no error for no options", b)
			}
			return
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("input %q:\n got %v (%v)\nwant %v", b, got, err, want)
		}
	})
}
