package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runKmemleakCLI(t *testing.T, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	if stdin != nil {
		// dispatch reads "-" from os.Stdin; feed it through a temporary file.
		f, err := os.CreateTemp(t.TempDir(), "stdin")
		if err != nil {
			t.Fatal(err)
		}
		f.Write(stdin)
		f.Seek(0, 0)
		old := os.Stdin
		os.Stdin = f
		defer func() { os.Stdin = old; f.Close() }()
	}
	code = dispatch(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

const kmemleakFixtures = "../../testdata/kmemleak"

func TestParseKmemleak_TextNamesTheCulpritAndAShortBacktrace(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"the field report blames the rx handler by default",
			[]string{"parse", "kmemleak", filepath.Join(kmemleakFixtures, "arm64-5.4-wifi.txt")},
			[]string{"kmemleak: 1 object, 8.0 KiB in 1 group", "culprit hostadpt_rx_handler [hostadpt]",
				"hostadpt_rx_handler [hostadpt] ← pci_rx_dma_done_handle [mt7916_ap] ← pci_rx_data_done_func [mt7916_ap]"}},
		{"--own-modules moves the blame into the named module",
			[]string{"parse", "kmemleak", "--own-modules", "mt7916_ap", filepath.Join(kmemleakFixtures, "arm64-5.4-wifi.txt")},
			[]string{"culprit pci_rx_dma_done_handle [mt7916_ap]", "pci_rx_dma_done_handle [mt7916_ap] ← pci_rx_data_done_func [mt7916_ap]"}},
		{"groups are sorted by count with sizes and totals",
			[]string{"parse", "kmemleak", filepath.Join(kmemleakFixtures, "x86_64-4.19-hashed.txt")},
			[]string{"4 objects", "3 groups", "2 × 512 B  1.0 KiB  culprit htab_map_alloc", "culprit sget_userns"}},
		{"skipped lines are reported",
			[]string{"parse", "kmemleak", filepath.Join(kmemleakFixtures, "x86_64-6.8-garbage.txt")},
			[]string{"7 lines skipped", "culprit wl_vif_set_name [wlmod]"}},
		{"a stack without symbols says nothing could be blamed",
			[]string{"parse", "kmemleak", filepath.Join(kmemleakFixtures, "x86_64-6.13-nokallsyms.txt")},
			[]string{"culprit (none: every frame is allocator machinery or unsymbolised)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runKmemleakCLI(t, nil, tt.args...)
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
	// Order: the group with most objects comes first.
	_, out, _ := runKmemleakCLI(t, nil, "parse", "kmemleak", filepath.Join(kmemleakFixtures, "x86_64-4.19-hashed.txt"))
	if strings.Index(out, "htab_map_alloc") > strings.Index(out, "sget_userns") {
		t.Errorf("groups not sorted by count:\n%s", out)
	}
}

func TestParseKmemleak_JSONKeepsTheStableFieldNames(t *testing.T) {
	code, out, errOut := runKmemleakCLI(t, nil, "parse", "kmemleak", "--json", filepath.Join(kmemleakFixtures, "arm64-5.4-wifi.txt"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Objects []struct {
			Address string `json:"address"`
			Size    *int64 `json:"size"`
			Comm    string `json:"comm"`
			PID     *int   `json:"pid"`
			Frames  []struct {
				Function string `json:"function"`
				Offset   string `json:"offset"`
				Module   string `json:"module"`
			} `json:"frames"`
			Culprit *struct {
				Function string `json:"function"`
				Module   string `json:"module"`
			} `json:"culprit"`
		} `json:"objects"`
		Groups []struct {
			Signature string `json:"signature"`
			Culprit   *struct {
				Function string `json:"function"`
			} `json:"culprit"`
			Count  int   `json:"count"`
			Bytes  int64 `json:"bytes"`
			Frames []struct {
				Function string `json:"function"`
			} `json:"frames"`
		} `json:"groups"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(doc.Objects) != 1 || len(doc.Groups) != 1 {
		t.Fatalf("got %d objects, %d groups", len(doc.Objects), len(doc.Groups))
	}
	o := doc.Objects[0]
	if o.Address != "0xffffff80199a8000" || o.Size == nil || *o.Size != 8192 || o.Comm != "softirq" || o.PID == nil || *o.PID != 0 {
		t.Errorf("object fields: %+v", o)
	}
	if len(o.Frames) != 16 || o.Frames[3].Function != "hostadpt_rx_handler" || o.Frames[3].Offset != "+0x678/0x7e0" || o.Frames[3].Module != "hostadpt" {
		t.Errorf("frames: %+v", o.Frames)
	}
	if o.Culprit == nil || o.Culprit.Function != "hostadpt_rx_handler" || o.Culprit.Module != "hostadpt" {
		t.Errorf("culprit: %+v", o.Culprit)
	}
	g := doc.Groups[0]
	if !strings.Contains(g.Signature, "hostadpt_rx_handler [hostadpt] < pci_rx_dma_done_handle") || g.Count != 1 || g.Bytes != 8192 ||
		g.Culprit == nil || g.Culprit.Function != "hostadpt_rx_handler" || len(g.Frames) != 16 {
		t.Errorf("group: %+v", g)
	}
}

func TestParseKmemleak_ReadsStdin(t *testing.T) {
	in, err := os.ReadFile(filepath.Join(kmemleakFixtures, "x86_64-6.8-crc.txt"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runKmemleakCLI(t, in, "parse", "kmemleak", "-")
	if code != exitOK || !strings.Contains(out, "2 × 192 B") {
		t.Errorf("exit %d, stderr %s, out:\n%s", code, errOut, out)
	}
}

func TestParseKmemleak_EmptyReportSaysWhatToDo(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "kmemleak")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runKmemleakCLI(t, nil, "parse", "kmemleak", empty)
	if code != exitOK || !strings.Contains(out, "0 objects") || !strings.Contains(out, "echo scan >") {
		t.Errorf("exit %d, out:\n%s", code, out)
	}
}

func TestParseKmemleak_MissingFileIsAUsageError(t *testing.T) {
	code, _, errOut := runKmemleakCLI(t, nil, "parse", "kmemleak", filepath.Join(t.TempDir(), "nope"))
	if code != exitUsage || !strings.Contains(errOut, "no such file") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestParseKmemleak_JSONStreamsEveryObjectOfAManyObjectReport(t *testing.T) {
	one, err := os.ReadFile(filepath.Join(kmemleakFixtures, "x86_64-6.8-crc.txt"))
	if err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(t.TempDir(), "kmemleak")
	if err := os.WriteFile(big, bytes.Repeat(one, 500), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runKmemleakCLI(t, nil, "parse", "kmemleak", "--json", big)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Objects     []json.RawMessage     `json:"objects"`
		Groups      []struct{ Count int } `json:"groups"`
		ObjectCount int                   `json:"object_count"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not one JSON document: %v", err)
	}
	if len(doc.Objects) != 1500 || doc.ObjectCount != 1500 || len(doc.Groups) != 2 || doc.Groups[0].Count != 1000 {
		t.Errorf("%d objects, count %d, groups %+v", len(doc.Objects), doc.ObjectCount, doc.Groups)
	}
	if !strings.Contains(out, `"signature": "ae0068e39bb8a2ee wl_add_sta [wlmod] < wl_cfg80211_add_station [wlmod]`) {
		t.Errorf("signature not written readably (no HTML escaping)")
	}
}
