package main

// Parse kinds for the kernel's /proc and config files: slabinfo,
// alloc-calls, alloc-traces, meminfo, vmallocinfo, kconfig.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/leakgate/leakgate/checks/kconfig"
	"github.com/leakgate/leakgate/checks/meminfo"
	"github.com/leakgate/leakgate/checks/slab"
)

// maxProcInputBytes bounds what one parse reads; real files are far smaller.
const maxProcInputBytes = 256 << 20

func init() {
	registerParser(parser{kind: "slabinfo", summary: "/proc/slabinfo: caches by active bytes", run: runParseSlabinfo})
	registerParser(parser{kind: "alloc-calls", summary: "/sys/kernel/slab/<cache>/alloc_calls (≤ 5.13): allocation sites", run: runParseAllocCalls})
	registerParser(parser{kind: "alloc-traces", summary: "/sys/kernel/debug/slab/<cache>/alloc_traces (≥ 5.14): allocation sites with stacks", run: runParseAllocTraces})
	registerParser(parser{kind: "meminfo", summary: "/proc/meminfo in bytes, with the unaccounted residual", run: runParseMeminfo})
	registerParser(parser{kind: "vmallocinfo", summary: "/proc/vmallocinfo: vmalloc pages per caller", run: runParseVmallocinfo})
	registerParser(parser{kind: "kconfig", summary: "kernel config (text or /proc/config.gz): leak-relevant options", run: runParseKconfig})
}

// clip shortens a line quoted in an error.
func clip(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}

// readProcInput reads the whole input, refusing more than maxProcInputBytes.
func readProcInput(in io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(in, maxProcInputBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxProcInputBytes {
		return nil, fmt.Errorf("input larger than %d MiB; give one kernel file", maxProcInputBytes>>20)
	}
	return b, nil
}

// rowProblems turns a per-row parse error into printable lines; any other
// error is returned as fatal.
func rowProblems(err error) ([]string, error) {
	if err == nil {
		return nil, nil
	}
	// slab.RowErrors and meminfo.LineErrors are one type: every proc parser
	// reports its bad lines the same way.
	var bad *slab.RowErrors
	if errors.As(err, &bad) {
		out := make([]string, 0, len(bad.Lines))
		for _, l := range bad.Lines {
			out = append(out, fmt.Sprintf("line %d %q: %v", l.Line, l.Text, l.Err))
		}
		return out, nil
	}
	return nil, err
}

// errNotThisKind is wrapped when the input is not a file of the kind asked
// for: parse exits 2 with the reason instead of printing an empty result.
var errNotThisKind = errors.New("not a file of this kind")

// refuseForeign refuses a non-blank input of which no line parsed as kind.
func refuseForeign(kind string, b []byte, parsed int, problems []string) error {
	if parsed > 0 || len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	why := ""
	if len(problems) > 0 {
		why = "; the first: " + problems[0]
	}
	return fmt.Errorf("%w: no line parses as %s (%d did not%s); give a %s file", errNotThisKind, kind, len(problems), why, kind)
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeProblems(out io.Writer, problems []string) {
	for _, p := range problems {
		fmt.Fprintf(out, "# did not parse: %s\n", p)
	}
}

func runParseSlabinfo(in io.Reader, out io.Writer, opts parseOptions) error {
	b, err := readProcInput(in)
	if err != nil {
		return err
	}
	if first, _, _ := bytes.Cut(bytes.TrimLeft(b, " \t\r\n"), []byte("\n")); len(first) > 0 && !bytes.HasPrefix(first, []byte("slabinfo - version:")) {
		return fmt.Errorf("%w: the first line %q is not slabinfo's version header (slabinfo - version: 2.1); give /proc/slabinfo", errNotThisKind, clip(first))
	}
	caches, err := slab.ParseSlabinfo(b)
	problems, err := rowProblems(err)
	if err != nil {
		return err
	}
	if err := refuseForeign("slabinfo", b, len(caches), problems); err != nil {
		return err
	}
	sort.SliceStable(caches, func(i, j int) bool { return caches[i].ActiveBytes() > caches[j].ActiveBytes() })
	if opts.JSON {
		return writeJSON(out, struct {
			Caches []slab.Cache `json:"caches"`
			Errors []string     `json:"errors,omitempty"`
		}{caches, problems})
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "active bytes\tactive objs\tobjs\tobjsize\tslabs\t  cache")
	var total int64
	for _, c := range caches {
		total += c.ActiveBytes()
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t  %s\n", humanBytes(c.ActiveBytes()), c.ActiveObjects, c.NumObjects, c.ObjectSizeBytes, c.NumSlabs, c.Name)
	}
	tw.Flush()
	fmt.Fprintf(out, "%d caches, %s in active objects\n", len(caches), humanBytes(total))
	writeProblems(out, problems)
	return nil
}

func runParseAllocCalls(in io.Reader, out io.Writer, opts parseOptions) error {
	return runParseAllocSites(in, out, opts, slab.ParseAllocCalls)
}

func runParseAllocTraces(in io.Reader, out io.Writer, opts parseOptions) error {
	return runParseAllocSites(in, out, opts, slab.ParseAllocTraces)
}

func runParseAllocSites(in io.Reader, out io.Writer, opts parseOptions, parse func([]byte) (slab.AllocReport, error)) error {
	b, err := readProcInput(in)
	if err != nil {
		return err
	}
	rep, err := parse(b)
	problems, err := rowProblems(err)
	if err != nil {
		return err
	}
	if !rep.NoData {
		if err := refuseForeign("allocation-site", b, len(rep.Sites), problems); err != nil {
			return err
		}
	}
	if opts.JSON {
		return writeJSON(out, struct {
			slab.AllocReport
			Errors []string `json:"errors,omitempty"`
		}{rep, problems})
	}
	if rep.NoData {
		fmt.Fprintln(out, "No data: the cache holds no tracked objects")
	}
	for _, s := range rep.Sites {
		caller := s.Caller + s.CallerOffset
		if s.CallerModule != "" {
			caller += " [" + s.CallerModule + "]"
		}
		fmt.Fprintf(out, "%8d  %s", s.Count, caller)
		if s.WasteBytes > 0 {
			fmt.Fprintf(out, "  waste %s (%d B/object)", humanBytes(s.WasteBytes), s.WastePerObjectBytes)
		}
		fmt.Fprintf(out, "  age %d/%d/%d jiffies  pid %s\n", s.AgeMinJiffies, s.AgeAvgJiffies, s.AgeMaxJiffies, pidRange(s.PIDMin, s.PIDMax))
		for _, f := range s.Stack {
			fmt.Fprintf(out, "          %s\n", f)
		}
	}
	fmt.Fprintf(out, "%d allocation sites\n", len(rep.Sites))
	if rep.Truncated {
		fmt.Fprintln(out, "truncated: the kernel cut this file short; some sites may be missing (read alloc_traces on ≥ 5.14)")
	}
	writeProblems(out, problems)
	return nil
}

func runParseMeminfo(in io.Reader, out io.Writer, opts parseOptions) error {
	b, err := readProcInput(in)
	if err != nil {
		return err
	}
	info, err := meminfo.Parse(b)
	problems, err := rowProblems(err)
	if err != nil {
		return err
	}
	if err := refuseForeign("meminfo", b, len(info), problems); err != nil {
		return err
	}
	if _, ok := info["MemTotal"]; !ok && len(bytes.TrimSpace(b)) > 0 {
		return fmt.Errorf("%w: no MemTotal line, which every /proc/meminfo has; give /proc/meminfo", errNotThisKind)
	}
	unaccounted, caveats := meminfo.Unaccounted(info)
	if opts.JSON {
		return writeJSON(out, struct {
			Meminfo          meminfo.Info `json:"meminfo"`
			UnaccountedBytes int64        `json:"unaccounted_bytes"`
			Caveats          []string     `json:"caveats,omitempty"`
			Errors           []string     `json:"errors,omitempty"`
		}{info, unaccounted, caveats, problems})
	}
	keys := make([]string, 0, len(info))
	for k := range info {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, k := range keys {
		if strings.HasPrefix(k, "HugePages_") {
			fmt.Fprintf(tw, "%s\t%d pages\n", k, info[k])
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\n", k, humanBytes(int64(info[k])))
	}
	tw.Flush()
	fmt.Fprintf(out, "unaccounted (page allocations no counter explains): %s\n", humanBytes(unaccounted))
	for _, c := range caveats {
		fmt.Fprintf(out, "  caveat: %s\n", c)
	}
	writeProblems(out, problems)
	return nil
}

func runParseVmallocinfo(in io.Reader, out io.Writer, opts parseOptions) error {
	b, err := readProcInput(in)
	if err != nil {
		return err
	}
	callers, err := meminfo.ParseVmallocinfo(b)
	problems, err := rowProblems(err)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		if err := refuseForeign("vmallocinfo", b, len(callers), problems); err != nil {
			return err
		}
	}
	if opts.JSON {
		return writeJSON(out, struct {
			Callers []meminfo.VmallocCaller `json:"callers"`
			Errors  []string                `json:"errors,omitempty"`
		}{callers, problems})
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pages\tareas\taddress space\t  caller")
	var pages int64
	for _, c := range callers {
		name := c.Caller
		if c.Module != "" {
			name += " [" + c.Module + "]"
		}
		pages += c.Pages
		fmt.Fprintf(tw, "%d\t%d\t%s\t  %s\n", c.Pages, c.Areas, humanBytes(c.SizeBytes), name)
	}
	tw.Flush()
	fmt.Fprintf(out, "%d callers, %d vmalloc pages (ioremap and vmap areas are not counted)\n", len(callers), pages)
	writeProblems(out, problems)
	return nil
}

// kconfigRelevant are the options preflight looks at (KERNEL-FACTS §5).
var kconfigRelevant = []string{
	"CONFIG_SLUB_DEBUG", "CONFIG_SLUB_DEBUG_ON", "CONFIG_SLAB_MERGE_DEFAULT",
	"CONFIG_DEBUG_KMEMLEAK", "CONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF", "CONFIG_DEBUG_KMEMLEAK_AUTO_SCAN",
	"CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE", "CONFIG_DEBUG_KMEMLEAK_EARLY_LOG_SIZE",
	"CONFIG_DEBUG_FS", "CONFIG_KALLSYMS", "CONFIG_IKCONFIG", "CONFIG_IKCONFIG_PROC",
	"CONFIG_PROC_PAGE_MONITOR", "CONFIG_MEM_ALLOC_PROFILING", "CONFIG_PAGE_OWNER",
}

func runParseKconfig(in io.Reader, out io.Writer, opts parseOptions) error {
	b, err := readProcInput(in)
	if err != nil {
		return err
	}
	cfg, err := kconfig.Parse(b)
	if err != nil {
		return err
	}
	relevant := map[string]string{}
	for _, k := range kconfigRelevant {
		if v, ok := cfg[k]; ok {
			relevant[k] = v
		}
	}
	if opts.JSON {
		return writeJSON(out, struct {
			Options  int               `json:"options"`
			Relevant map[string]string `json:"relevant"`
			Config   kconfig.Config    `json:"config"`
		}{len(cfg), relevant, cfg})
	}
	for _, k := range kconfigRelevant {
		fmt.Fprintln(out, cfg.Seen(k))
	}
	fmt.Fprintf(out, "%d options; run `leakgate preflight` for the verdict on a live target\n", len(cfg))
	return nil
}

func pidRange(lo, hi int64) string {
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}
