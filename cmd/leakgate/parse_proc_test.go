package main

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/leakgate/leakgate/internal/human"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runLeakgate(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = dispatch(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestParseProcKinds_Text(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"slabinfo lists caches by active bytes and reports a bad row",
			[]string{"parse", "slabinfo", "../../testdata/slab/slabinfo-5.4-bad-row.txt"},
			[]string{"752.0 KiB", "kmalloc-64", "2 caches", "# did not parse: line 4"}},
		{"alloc-calls prints module and pid ranges",
			[]string{"parse", "alloc-calls", "../../testdata/slab/alloc_calls-4.19.txt"},
			[]string{"hostadpt_rx_handler+0x678/0x7e0 [hostadpt]", "pid 1-8462", "4 allocation sites"}},
		{"alloc-traces prints waste and stacks",
			[]string{"parse", "alloc-traces", "../../testdata/slab/alloc_traces-6.1-waste.txt"},
			[]string{"waste 53.8 KiB (1344 B/object)", "          pci_rx_dma_done_handle+0x1b8/0x590 [mt7916_ap]", "3 allocation sites"}},
		{"meminfo prints the residual with its caveats",
			[]string{"parse", "meminfo", "../../testdata/meminfo/meminfo-4.14-arm64.txt"},
			[]string{"unaccounted (page allocations no counter explains): 70.8 MiB", "caveat: no KReclaimable", "MemTotal"}},
		{"vmallocinfo sums pages per caller",
			[]string{"parse", "vmallocinfo", "../../testdata/meminfo/vmallocinfo-5.4-arm64.txt"},
			[]string{"hostadpt_alloc_ring [hostadpt]", "515 vmalloc pages"}},
		{"kconfig reads gzip and names the leak options",
			[]string{"parse", "kconfig", "../../testdata/kconfig/config-6.18.44.gz"},
			[]string{"CONFIG_SLUB_DEBUG=y", "CONFIG_DEBUG_KMEMLEAK is not set", "options"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runLeakgate(t, tt.args...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr %s", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestParseProcKinds_JSON(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, v map[string]any)
	}{
		{"slabinfo JSON has caches and errors", []string{"parse", "slabinfo", "--json", "../../testdata/slab/slabinfo-5.4-bad-row.txt"}, func(t *testing.T, v map[string]any) {
			caches := v["caches"].([]any)
			first := caches[0].(map[string]any)
			if len(caches) != 2 || first["name"] != "kmalloc-64" || first["active_objs"] != float64(12032) || len(v["errors"].([]any)) != 1 {
				t.Errorf("got %v", v)
			}
		}},
		{"alloc-traces JSON has stacks and waste", []string{"parse", "alloc-traces", "--json", "../../testdata/slab/alloc_traces-5.15.txt"}, func(t *testing.T, v map[string]any) {
			sites := v["sites"].([]any)
			s := sites[0].(map[string]any)
			if len(sites) != 2 || s["caller"] != "__d_alloc" || len(s["stack"].([]any)) != 7 {
				t.Errorf("got %v", v)
			}
		}},
		{"meminfo JSON is bytes and the residual", []string{"parse", "meminfo", "--json", "../../testdata/meminfo/meminfo-5.4-arm64.txt"}, func(t *testing.T, v map[string]any) {
			m := v["meminfo"].(map[string]any)
			if m["MemTotal"] != float64(999632*1024) || m["HugePages_Total"] != float64(2) || v["unaccounted_bytes"] == nil {
				t.Errorf("got %v", v)
			}
		}},
		{"vmallocinfo JSON lists callers", []string{"parse", "vmallocinfo", "--json", "../../testdata/meminfo/vmallocinfo-5.4-arm64.txt"}, func(t *testing.T, v map[string]any) {
			if c := v["callers"].([]any); len(c) != 4 || c[0].(map[string]any)["pages"] != float64(256) {
				t.Errorf("got %v", v)
			}
		}},
		{"kconfig JSON has the relevant options and the whole config", []string{"parse", "kconfig", "--json", "../../testdata/kconfig/config-5.4-arm64-kmemleak.txt"}, func(t *testing.T, v map[string]any) {
			rel := v["relevant"].(map[string]any)
			if rel["CONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF"] != "y" || v["options"].(float64) < 10 || v["config"].(map[string]any)["CONFIG_MIPS"] != nil {
				t.Errorf("got %v", v)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runLeakgate(t, tt.args...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr %s", code, errOut)
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			tt.check(t, v)
		})
	}
}

func TestParse_RefusesWhatIsNotItsFileWithTheReason(t *testing.T) {
	random := filepath.Join(t.TempDir(), "random")
	os.WriteFile(random, []byte("\x8f\x01garbage\x00\xff\n#!/bin/sh\nrm -rf /\n"), 0o600)
	noTotal := filepath.Join(t.TempDir(), "meminfo")
	os.WriteFile(noTotal, []byte("MemFree: 100 kB\n"), 0o600)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a file that is not a config", []string{"parse", "kconfig", "../../testdata/slab/alloc_calls-4.19.txt"}, "not a kernel config"},
		{"a config as slabinfo", []string{"parse", "slabinfo", "../../testdata/kconfig/config-4.14-mips-minimal.txt"},
			`leakgate parse slabinfo ../../testdata/kconfig/config-4.14-mips-minimal.txt: not a file of this kind: the first line "#" is not slabinfo's version header (slabinfo - version: 2.1); give /proc/slabinfo`},
		{"a slabinfo as a kmemleak report", []string{"parse", "kmemleak", "../../testdata/slab/slabinfo-5.4-bad-row.txt"}, `not a file of this kind: no "unreferenced object 0x…" line in`},
		{"a slabinfo as a kmemleak report, JSON", []string{"parse", "kmemleak", "--json", "../../testdata/slab/slabinfo-5.4-bad-row.txt"}, `not a file of this kind: no "unreferenced object 0x…" line in`},
		{"random bytes as meminfo", []string{"parse", "meminfo", random}, "not a file of this kind: no line parses as meminfo (3 did not; the first: line 1"},
		{"random bytes as vmallocinfo", []string{"parse", "vmallocinfo", random}, "not a file of this kind: no line parses as vmallocinfo"},
		{"random bytes as alloc-traces", []string{"parse", "alloc-traces", random}, "not a file of this kind: no line parses as allocation-site"},
		{"a meminfo without MemTotal", []string{"parse", "meminfo", noTotal}, "not a file of this kind: no MemTotal line, which every /proc/meminfo has"},
		{"a missing file", []string{"parse", "meminfo", "../../testdata/meminfo/no-such-file"}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runLeakgate(t, tt.args...)
			if code != exitUsage || !strings.Contains(errOut, tt.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing on stdout, and %q", code, out, errOut, tt.want)
			}
		})
	}
}

func TestParse_AnEmptyKmemleakReportIsNothingLeaked(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "kmemleak")
	os.WriteFile(empty, nil, 0o600)

	code, _, errOut := runLeakgate(t, "parse", "kmemleak", empty)

	if code != exitOK {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestParse_FlagsMayFollowTheFile(t *testing.T) {
	code, out, errOut := runLeakgate(t, "parse", "meminfo", "../../testdata/meminfo/meminfo-6.18.44.txt", "--json")

	if code != exitOK || !strings.HasPrefix(out, "{") {
		t.Errorf("exit %d, stderr %q, stdout %.80q", code, errOut, out)
	}
}

// TestParseProcKinds_ThisMachinesLiveFiles parses the running kernel's own files.
func TestParseProcKinds_ThisMachinesLiveFiles(t *testing.T) {
	tests := []struct {
		kind, path, want string
	}{
		{"slabinfo", "/proc/slabinfo", " caches, "},
		{"meminfo", "/proc/meminfo", "unaccounted (page allocations no counter explains): "},
		{"vmallocinfo", "/proc/vmallocinfo", " vmalloc pages "},
		{"kconfig", "/proc/config.gz", "CONFIG_SLUB_DEBUG"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			code, out, errOut := runLeakgate(t, "parse", tt.kind, tt.path)
			if code != exitOK || !strings.Contains(out, tt.want) || strings.Contains(out, "did not parse") {
				t.Errorf("exit %d, stderr %q, output:\n%s", code, errOut, out)
			}
		})
	}
}

func TestParse_TextOutputEscapesTheTargetsControlCharacters(t *testing.T) {
	p := filepath.Join(t.TempDir(), "slabinfo")
	os.WriteFile(p, []byte("slabinfo - version: 2.1\n"+
		"evil\x1b]0;pwned\x07\u202e 10 10 64 64 1 : tunables 0 0 0 : slabdata 1 1 0\n"), 0o600)

	code, out, errOut := runLeakgate(t, "parse", "slabinfo", p)

	if code != exitOK || !strings.Contains(out, `evil\x1b]0;pwned\a\u202e`) || strings.ContainsAny(out, "\x1b\x07\u202e") {
		t.Errorf("exit %d stderr %q, output:\n%q", code, errOut, out)
	}
}

func TestEscapingWriter_HoldsARuneSplitAcrossWrites(t *testing.T) {
	var b strings.Builder
	w := human.NewEscapingWriter(&b)
	csi := "\u009b" // C1 CSI, two bytes in UTF-8
	w.Write([]byte("a" + csi[:1]))
	w.Write([]byte(csi[1:] + "é\n\t\xff"))
	w.Close()

	if got, want := b.String(), "a\\u009bé\n\t\uFFFD"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
