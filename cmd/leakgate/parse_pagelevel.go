package main

// Parse kinds for the page-level sources: allocinfo (/proc/allocinfo) and
// page-owner-stacks (page_owner's show_stacks).

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/leakgate/leakgate/checks/allocinfo"
	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/checks/pageowner"
)

func init() {
	registerParser(parser{kind: "allocinfo", summary: "/proc/allocinfo (≥ 6.10): live bytes per allocation call site", run: runParseAllocinfo})
	registerParser(parser{kind: "page-owner-stacks", summary: "page_owner_stacks/show_stacks (≥ 6.10, page_owner=on): pages per allocation stack, with the culprit", run: runParsePageStacks})
}

func runParseAllocinfo(in io.Reader, out io.Writer, opts parseOptions) error {
	b, err := readProcInput(in)
	if err != nil {
		return err
	}
	info, err := allocinfo.Parse(b)
	if info == nil {
		return err
	}
	problems, err := rowProblems(err)
	if err != nil {
		return err
	}
	sites := allocinfo.Merge(info.Sites)
	sort.SliceStable(sites, func(i, j int) bool { return sites[i].Bytes > sites[j].Bytes })
	if opts.JSON {
		return writeJSON(out, struct {
			Version string           `json:"version,omitempty"`
			Sites   []allocinfo.Site `json:"sites"`
			Errors  []string         `json:"errors,omitempty"`
		}{info.Version, sites, problems})
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "bytes\tcalls\tsite\tnote")
	var total int64
	for _, s := range sites {
		total += s.Bytes
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", humanBytes(s.Bytes), s.Calls, s.Key(), allocinfo.GenericReason(s))
	}
	tw.Flush()
	fmt.Fprintf(out, "%d call sites, %s live\n", len(sites), humanBytes(total))
	writeProblems(out, problems)
	return nil
}

func runParsePageStacks(in io.Reader, out io.Writer, opts parseOptions) error {
	b, err := readProcInput(in)
	if err != nil {
		return err
	}
	rep, err := pageowner.Parse(b, opts.OwnModules)
	if rep == nil {
		return err
	}
	problems, err := rowProblems(err)
	if err != nil {
		return err
	}
	stacks := pageowner.Merge(rep.Stacks)
	sort.SliceStable(stacks, func(i, j int) bool { return stacks[i].Pages > stacks[j].Pages })
	if opts.JSON {
		return writeJSON(out, struct {
			Stacks []pageowner.Stack `json:"stacks"`
			Errors []string          `json:"errors,omitempty"`
		}{stacks, problems})
	}
	for _, s := range stacks {
		culprit := "(none: every frame is allocator machinery)"
		if s.Culprit != nil {
			culprit = frameName(*s.Culprit)
		}
		fmt.Fprintf(out, "%s  %d pages  culprit %s  [%s]\n", humanBytes(s.Pages*pageowner.PageBytes), s.Pages, culprit, s.Signature)
	}
	fmt.Fprintf(out, "%d stacks, %d pages (%s at %d-byte pages)\n", len(stacks), rep.Pages, humanBytes(rep.Pages*pageowner.PageBytes), pageowner.PageBytes)
	writeProblems(out, problems)
	return nil
}

func frameName(f kmemleak.Frame) string {
	if f.Module != "" {
		return f.Function + " [" + f.Module + "]"
	}
	return f.Function
}
