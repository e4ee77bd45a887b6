package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/leakgate/leakgate/results"
)

func init() {
	register(command{name: "history", summary: "runs per release with verdicts, and a series' slope across them: history --db DSN [--rig R] [--series S] [--json]", run: runHistory})
}

// runHistory lists the store's runs oldest first, with a series' slope
// when --series names one ("kind/subject" or a subject). Exit 0, or 2 on
// bad input or an unreachable store.
func runHistory(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("db", "", "results store: a SQLite file or a postgres:// URL (required)")
	rig := fs.String("rig", "", "only this rig (the target as runs named it)")
	series := fs.String("series", "", "show this series' slope per run: kind/subject (slab/kmalloc-512) or a subject")
	asJSON := fs.Bool("json", false, "print the history as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: leakgate history --db DSN [--rig R] [--series S] [--json]")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) > 0 || *dsn == "" {
		fs.Usage()
		return exitUsage
	}
	store, err := results.Open(ctx, *dsn)
	if err != nil {
		fmt.Fprintf(stderr, "leakgate history: %v\n", err)
		return exitUsage
	}
	defer store.Close()
	h, err := store.History(ctx, *rig, *series)
	if err != nil {
		fmt.Fprintf(stderr, "leakgate history: %v\n", err)
		return exitUsage
	}
	if *asJSON {
		if h == nil {
			h = []results.HistoryEntry{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(h); err != nil {
			fmt.Fprintf(stderr, "leakgate history: %v\n", err)
			return exitUsage
		}
		return exitOK
	}
	writeHistory(stdout, h, *series)
	return exitOK
}

// writeHistory prints one line per run, oldest first.
func writeHistory(w io.Writer, h []results.HistoryEntry, series string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "STARTED\tRELEASE\tRUN\tRIG\tPROFILE\tVERDICT"
	if series != "" {
		head += "\t" + human.Escape(strings.ToUpper(series)) + " SLOPE\tSERIES VERDICT"
	}
	fmt.Fprintln(tw, head)
	for _, e := range h {
		r := e.Run
		// Everything but the time comes from run folders and targets:
		// escaped, so a name cannot break the columns or drive the terminal.
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", r.Started.UTC().Format("2006-01-02 15:04Z"), dash(r.Release), human.Escape(r.ID), human.Escape(r.Rig), dash(r.Profile), human.Escape(string(r.Verdict)))
		if series != "" {
			if e.HasSeries {
				s := e.Series
				line += fmt.Sprintf("\t%s [%s, %s]\t%s", slopeText(s.SlopePerHour, s.Unit), slopeText(s.SlopeLowPerHour, s.Unit), slopeText(s.SlopeHighPerHour, s.Unit), human.Escape(string(s.Verdict)))
			} else {
				line += "\t-\t-"
			}
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
}

// dash prints an empty field as "-" and escapes the rest.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return human.Escape(s)
}

// slopeText prints a slope per hour in the one unit style: "+3.1 MiB/h"
// for bytes and kB series, "+12.5/h" for counts.
func slopeText(perHour float64, unit string) string { return human.Rate(perHour, unit) }
