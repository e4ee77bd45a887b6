package main

// Parse kind for the kmemleak report (/sys/kernel/debug/kmemleak).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/leakgate/leakgate/checks/kmemleak"
)

func init() {
	registerParser(parser{kind: "kmemleak", summary: "/sys/kernel/debug/kmemleak: leaked objects grouped by allocation site, with culprits", run: runParseKmemleak})
}

// kmemleakTextFrames is how many frames the text output shows per group.
const kmemleakTextFrames = 4

// runParseKmemleak streams the report, whatever its size, in bounded memory:
// text prints the groups, most objects first; JSON writes each object as it
// is parsed, then the groups and totals.
func runParseKmemleak(in io.Reader, out io.Writer, opts parseOptions) error {
	if opts.JSON {
		return writeKmemleakJSON(in, out, opts)
	}
	text := &textCounter{r: in}
	rep, err := kmemleak.Parse(text, kmemleak.Options{OwnModules: opts.OwnModules, GroupsOnly: true})
	if err != nil {
		return fmt.Errorf("read the kmemleak report: %w; give the file as read from %s", err, kmemleak.Path)
	}
	if err := refuseNonReport(rep, text); err != nil {
		return err
	}
	writeKmemleakText(out, rep)
	return nil
}

// textCounter counts the non-blank bytes read through it.
type textCounter struct {
	r        io.Reader
	nonBlank int64
}

func (c *textCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for _, b := range p[:n] {
		if b != ' ' && b != '\t' && b != '\n' && b != '\r' {
			c.nonBlank++
		}
	}
	return n, err
}

// refuseNonReport refuses an input with text but no object: an empty
// report means nothing leaked, a slabinfo or random bytes do not.
func refuseNonReport(rep *kmemleak.Report, text *textCounter) error {
	if rep.ObjectCount > 0 || text.nonBlank == 0 {
		return nil
	}
	return fmt.Errorf("%w: no \"unreferenced object 0x…\" line in %d bytes of text (%d lines skipped); give the report as read from %s", errNotThisKind, text.nonBlank, rep.Skipped, kmemleak.Path)
}

// writeKmemleakJSON writes the report as one JSON object — "objects" first,
// streamed, then "groups" and the totals, with kmemleak.Report's field names.
func writeKmemleakJSON(in io.Reader, out io.Writer, opts parseOptions) error {
	w := bufio.NewWriter(out)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // signatures read "a < b"
	enc.SetIndent("    ", "  ")
	sep := "\n    "
	w.WriteString(`{` + "\n" + `  "objects": [`)
	text := &textCounter{r: in}
	rep, err := kmemleak.Parse(text, kmemleak.Options{OwnModules: opts.OwnModules, Each: func(o *kmemleak.Object) error {
		buf.Reset()
		if err := enc.Encode(o); err != nil {
			return err
		}
		w.WriteString(sep)
		sep = ",\n    "
		_, err := w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		return err
	}})
	if err != nil {
		return fmt.Errorf("read the kmemleak report: %w; give the file as read from %s", err, kmemleak.Path)
	}
	if err := refuseNonReport(rep, text); err != nil {
		return err // nothing written yet: no object went into w's buffer
	}
	if sep == "\n    " {
		w.WriteString("],\n")
	} else {
		w.WriteString("\n  ],\n")
	}
	// The rest of the report, minus the objects already written.
	rest := *rep
	rest.Objects = nil
	buf.Reset()
	enc.SetIndent("", "  ")
	if err := enc.Encode(rest); err != nil {
		return err
	}
	tail := bytes.TrimSpace(buf.Bytes())
	tail = bytes.TrimPrefix(tail, []byte("{"))
	tail = bytes.Replace(tail, []byte(`"objects": null,`), nil, 1)
	w.WriteString("  ")
	w.Write(bytes.TrimLeft(tail, "\n "))
	w.WriteString("\n")
	return w.Flush()
}

// writeKmemleakText prints one block per group: count, bytes, sizes, culprit,
// then the short backtrace from the culprit on and the signature digest.
func writeKmemleakText(out io.Writer, rep *kmemleak.Report) {
	fmt.Fprintf(out, "kmemleak: %s, %s in %s", kmemleakCount(rep.ObjectCount, "object"), humanBytes(rep.Bytes), kmemleakCount(len(rep.Groups), "group"))
	var notes []string
	if rep.TruncatedObjects > 0 {
		notes = append(notes, fmt.Sprintf("%d cut short", rep.TruncatedObjects))
	}
	if rep.Skipped > 0 {
		notes = append(notes, fmt.Sprintf("%d lines skipped", rep.Skipped))
	}
	if rep.Truncated {
		notes = append(notes, fmt.Sprintf("%d objects kept for --json", len(rep.Objects)))
	}
	if rep.Ungrouped > 0 {
		notes = append(notes, fmt.Sprintf("%d objects past the group limit", rep.Ungrouped))
	}
	if len(notes) > 0 {
		fmt.Fprintf(out, " (%s)", strings.Join(notes, ", "))
	}
	fmt.Fprintln(out)
	if len(rep.Groups) == 0 {
		fmt.Fprintln(out, "no unreferenced objects: nothing leaked, or no scan has run yet (echo scan > "+kmemleak.Path+", twice, 5 s apart)")
		return
	}
	for _, g := range rep.Groups {
		fmt.Fprintf(out, "\n%6d × %s  %s  culprit %s\n", g.Count, kmemleakSizes(g.SizesBytes), humanBytes(g.Bytes), kmemleakFrame(g.Culprit))
		fmt.Fprintf(out, "         %s\n", kmemleakBacktrace(g))
		fmt.Fprintf(out, "         signature %s\n", g.Digest)
	}
}

// kmemleakBacktrace renders "a ← b ← c [mod]" from the culprit on (from the
// top when nothing was blamed), at most kmemleakTextFrames frames.
func kmemleakBacktrace(g kmemleak.Group) string {
	start := 0
	if g.Culprit != nil {
		for i, f := range g.Frames {
			if f == *g.Culprit {
				start = i
				break
			}
		}
	}
	var parts []string
	for _, f := range g.Frames[start:] {
		if len(parts) == kmemleakTextFrames {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, kmemleakFrame(&f))
	}
	return strings.Join(parts, " ← ")
}

func kmemleakFrame(f *kmemleak.Frame) string {
	if f == nil {
		return "(none: every frame is allocator machinery or unsymbolised)"
	}
	if f.Module != "" {
		return f.Function + " [" + f.Module + "]"
	}
	return f.Function
}

func kmemleakCount(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func kmemleakSizes(sizes []int64) string {
	parts := make([]string, len(sizes))
	for i, s := range sizes {
		parts[i] = fmt.Sprintf("%d", s)
	}
	return strings.Join(parts, "/") + " B"
}
