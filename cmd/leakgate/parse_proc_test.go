package main

import (
	"bytes"
	"context"
	"encoding/json"
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

func TestParseProcKinds_BadInputIsAUsageError(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a file that is not a config", []string{"parse", "kconfig", "../../testdata/slab/alloc_calls-4.19.txt"}, "not a kernel config"},
		{"a slabinfo of an unknown version", []string{"parse", "slabinfo", "../../testdata/kconfig/config-4.14-mips-minimal.txt"}, ""},
		{"a missing file", []string{"parse", "meminfo", "../../testdata/meminfo/no-such-file"}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runLeakgate(t, tt.args...)
			if tt.want == "" {
				// Every line of a config is a bad slabinfo row: reported, not fatal.
				if code != exitOK || !strings.Contains(out, "did not parse") {
					t.Errorf("exit %d, out %s", code, out)
				}
				return
			}
			if code != exitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q, want %q", code, errOut, tt.want)
			}
		})
	}
}

func TestProcBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536 * 1024: "1.5 MiB", -2048: "-2.0 KiB"} {
		if got := procBytes(n); got != want {
			t.Errorf("procBytes(%d) = %q, want %q", n, got, want)
		}
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
