package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParsePageLevel_TextNamesTheSiteAndTheStackCulprit(t *testing.T) {
	code, out, errOut := runLeakgate(t, "parse", "allocinfo", "../../testdata/allocinfo/allocinfo-6.12-bad-lines.txt")
	if code != exitOK {
		t.Fatalf("allocinfo: exit %d, stderr %s", code, errOut)
	}
	for _, want := range []string{
		"16.0 KiB  4      drivers/net/wireless/wlansim/rx.c:212 [wlansim] func:wlansim_rx_fill",
		"4 call sites, 2.8 MiB live",
		`# did not parse: line 4 "    garbage line with no numbers"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("allocinfo output lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = runLeakgate(t, "parse", "page-owner-stacks", "--own-modules", "wlansim", "../../testdata/pageowner/show_stacks-6.12-bad-lines.txt")
	if code != exitOK {
		t.Fatalf("page-owner-stacks: exit %d, stderr %s", code, errOut)
	}
	if first := strings.SplitN(out, "\n", 2)[0]; !strings.HasPrefix(first, "1.0 MiB  256 pages  culprit wlansim_rx_frag [wlansim]  [") {
		t.Errorf("first stack %q, want the 256-page stack blaming wlansim_rx_frag", first)
	}
	if !strings.Contains(out, "3 stacks, 267 pages (1.0 MiB at 4096-byte pages)") {
		t.Errorf("page-owner-stacks output lacks the totals:\n%s", out)
	}
}

func TestParsePageLevel_JSONAndAnotherFileIsRefused(t *testing.T) {
	code, out, errOut := runLeakgate(t, "parse", "allocinfo", "--json", "../../testdata/allocinfo/allocinfo-6.12-bad-lines.txt")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	var v struct {
		Sites []struct {
			Func  string `json:"func"`
			Bytes int64  `json:"bytes"`
		} `json:"sites"`
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v.Sites) != 4 || len(v.Errors) != 5 || v.Sites[0].Func != "__kernfs_new_node" {
		t.Fatalf("json %+v (%v), want 4 sites largest first and 5 line errors:\n%s", v, err, out)
	}
	code, _, errOut = runLeakgate(t, "parse", "page-owner-stacks", "../../testdata/allocinfo/allocinfo-6.12-bad-lines.txt")
	if code != exitUsage || !strings.Contains(errOut, "not page_owner show_stacks") {
		t.Errorf("allocinfo given as show_stacks: exit %d, stderr %q; want exit 2 naming the file kind", code, errOut)
	}
}
