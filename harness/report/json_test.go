package report

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/leakgate/leakgate/checks/verdict"
)

func TestWriteJSON_RoundTripsTheRun(t *testing.T) {
	want := slabLeakRun()
	want.Reboot = &Reboot{AtSample: 5, OldBootID: "a", NewBootID: "b", Evidence: "panic"}
	want.Policy = nil // any decodes as a map; checked separately below
	var b strings.Builder

	if err := WriteJSON(&b, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSON(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}

	want.Series = nil // series live in the CSV files
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the run:\ngot  %+v\nwant %+v", got, want)
	}
}

func TestWriteJSON_HasTheFieldsDashboardsRead(t *testing.T) {
	r := slabLeakRun()
	r.Policy = map[string]any{"alpha": 0.01}
	var b strings.Builder

	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Verdict  string `json:"verdict"`
		Summary  string `json:"summary"`
		Target   string `json:"target"`
		Findings []struct {
			Kind     string `json:"kind"`
			Subject  string `json:"subject"`
			Verdict  string `json:"verdict"`
			Evidence []struct {
				Culprit *struct {
					Function string `json:"function"`
					Module   string `json:"module"`
				} `json:"culprit"`
			} `json:"evidence"`
		} `json:"findings"`
		Gaps        []map[string]any `json:"gaps"`
		Preflight   []map[string]any `json:"preflight"`
		Policy      map[string]any   `json:"policy"`
		SeriesFiles []string         `json:"series_files"`
	}
	if err := json.Unmarshal([]byte(b.String()), &doc); err != nil {
		t.Fatal(err)
	}

	if doc.Verdict != "fail" || doc.Target != "ap-rig-07" {
		t.Errorf("verdict %q target %q", doc.Verdict, doc.Target)
	}
	if !strings.HasPrefix(doc.Summary, "leak: slab cache kmalloc-8192 +1533 objects") {
		t.Errorf("summary %q", doc.Summary)
	}
	if len(doc.Findings) != 3 || doc.Findings[0].Kind != "slab" || doc.Findings[0].Subject != "kmalloc-8192" || doc.Findings[0].Verdict != "leak" {
		t.Fatalf("findings %+v", doc.Findings)
	}
	if c := doc.Findings[0].Evidence[0].Culprit; c == nil || c.Function != "pci_rx_dma_done_handle" || c.Module != "mt7916_ap" {
		t.Errorf("culprit %+v", c)
	}
	if len(doc.Gaps) != 1 || len(doc.Preflight) != 3 || doc.Policy["alpha"] != 0.01 {
		t.Errorf("gaps %v preflight %v policy %v", doc.Gaps, doc.Preflight, doc.Policy)
	}
	if want := []string{"series/kmemleak.csv", "series/meminfo.csv", "series/process.csv", "series/slab.csv"}; !reflect.DeepEqual(doc.SeriesFiles, want) {
		t.Errorf("series files %v, want %v", doc.SeriesFiles, want)
	}
}

func TestWriteJSON_ACleanRunHasAnEmptyFindingsList(t *testing.T) {
	var b strings.Builder

	if err := WriteJSON(&b, Run{Verdict: verdict.Pass}); err != nil {
		t.Fatal(err)
	}

	if !strings.Contains(b.String(), `"findings": []`) {
		t.Errorf("findings is not an empty list:\n%s", b.String())
	}
}

func TestReadJSON_RejectsWhatIsNotAReport(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty input", ""},
		{"not JSON", "leak"},
		{"an unknown verdict", `{"verdict":"maybe"}`},
		{"a findings field of the wrong type", `{"verdict":"pass","findings":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadJSON(strings.NewReader(tt.in)); err == nil {
				t.Error("no error")
			}
		})
	}
}

func FuzzReadJSON(f *testing.F) {
	var b strings.Builder
	if err := WriteJSON(&b, slabLeakRun()); err != nil {
		f.Fatal(err)
	}
	f.Add(b.String())
	f.Add(`{"verdict":"pass","findings":[{"kind":"slab","subject":"\u0000"}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		r, err := ReadJSON(strings.NewReader(in))
		if err != nil {
			return
		}
		// Whatever was read renders without error.
		var out strings.Builder
		if err := WriteJSON(&out, r); err != nil {
			t.Fatal(err)
		}
		_ = Message(r)
	})
}
