package meminfo

import (
	"strings"
	"testing"
)

func TestUnaccounted_PerKernelGeneration(t *testing.T) {
	const kB = 1024
	tests := []struct {
		name         string
		file         string
		wantBytes    int64
		wantCaveats  []string
		wantNoCaveat bool
	}{
		{
			name:        "4.14 uses SReclaimable and warns that VmallocUsed is 0",
			file:        "meminfo-4.14-arm64.txt",
			wantBytes:   (499848 - 180212 - 10240 - 98304 - 0 - 72516 - 20480 - 40960 - 2304 - 1820 - 512) * kB,
			wantCaveats: []string{"no KReclaimable", "VmallocUsed is 0"},
		},
		{
			name:        "5.4 subtracts KReclaimable, vmalloc pages and huge pages from their count",
			file:        "meminfo-5.4-arm64.txt",
			wantBytes:   (999632-301232-12288-196608-0-143360-40960-86016-4608-3072-1024-10240)*kB - 2*2048*kB,
			wantCaveats: []string{"no Hugetlb line"},
		},
		{
			name:        "3.18 does not subtract VmallocUsed, which is address space there",
			file:        "meminfo-3.18-mips.txt",
			wantBytes:   (124832 - 40212 - 2048 - 20480 - 0 - 30720 - 4096 - 10240 - 768 - 512) * kB,
			wantCaveats: []string{"no KReclaimable", "address space including ioremap"},
		},
		{
			name:         "this machine's 6.18 kernel needs no caveat",
			file:         "meminfo-6.18.44.txt",
			wantBytes:    (24684092 - 24345812 - 3392 - 99592 - 0 - 15380 - 128556 - 27236 - 1460 - 2116 - 0 - 688 - 14252 - 0 - 0) * kB,
			wantNoCaveat: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := Parse(readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, caveats := Unaccounted(info)
			if got != tt.wantBytes {
				t.Errorf("Unaccounted = %d, want %d", got, tt.wantBytes)
			}
			joined := strings.Join(caveats, "\n")
			for _, c := range tt.wantCaveats {
				if !strings.Contains(joined, c) {
					t.Errorf("caveats %q lack %q", caveats, c)
				}
			}
			if tt.wantNoCaveat && len(caveats) > 0 {
				t.Errorf("caveats = %q, want none", caveats)
			}
		})
	}
}

func TestUnaccounted_WithoutMemTotalSaysSo(t *testing.T) {
	got, caveats := Unaccounted(Info{"MemFree": 10})
	if got != 0 || len(caveats) != 1 || !strings.Contains(caveats[0], "MemTotal") {
		t.Errorf("got %d %q", got, caveats)
	}
}

func TestUnaccounted_NegativeResidualIsFlagged(t *testing.T) {
	_, caveats := Unaccounted(Info{"MemTotal": 100, "MemFree": 200, "KReclaimable": 0, "VmallocUsed": 1})
	if !strings.Contains(strings.Join(caveats, " "), "negative") {
		t.Errorf("caveats = %q", caveats)
	}
}
