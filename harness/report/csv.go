package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"io"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// WriteCSV writes series as `series,t,value` rows, t in seconds since start:
// the format `leakgate trend` reads and spreadsheets open. Names are quoted
// by encoding/csv; a name a spreadsheet would run as a formula gets a
// leading apostrophe. Rows are formatted into one reused buffer: the
// export costs no memory per point.
func WriteCSV(w io.Writer, start time.Time, series []Series) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var head bytes.Buffer
	cw := csv.NewWriter(&head)
	if err := cw.Write([]string{"series", "t", "value"}); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	cw.Flush()
	if _, err := head.WriteTo(bw); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	var row []byte
	for i := range series {
		s := &series[i]
		// The name cell as encoding/csv quotes it, with its comma; numbers
		// never need quoting.
		head.Reset()
		cw.Write([]string{spreadsheetSafe(human.Escape(s.Subject)), ""}) //nolint:errcheck // a bytes.Buffer does not fail
		cw.Flush()
		name := bytes.TrimSuffix(head.Bytes(), []byte("\n"))
		for j := range s.Len() {
			p := s.Point(j)
			row = append(row[:0], name...)
			row = strconv.AppendFloat(row, p.At.Sub(start).Seconds(), 'f', -1, 64)
			row = append(row, ',')
			row = strconv.AppendFloat(row, p.Value, 'g', -1, 64)
			row = append(row, '\n')
			if _, err := bw.Write(row); err != nil {
				return fmt.Errorf("write csv: %w", err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// The name cell is clean (control characters escaped, so a terminal
// printing the CSV is safe) and spreadsheetSafe.
//
// spreadsheetSafe defuses CSV formula injection (a process can name itself
// "=cmd|..."): cells starting with = + - @ or a tab/CR get an apostrophe.
func spreadsheetSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

type seriesFile struct {
	name   string
	series []Series
}

var kindFileName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// seriesFiles groups the series by kind into series/<kind>.csv, in kind
// order; a kind that is not a safe file name goes to other.csv.
func seriesFiles(r Run) []seriesFile {
	byName := map[string][]Series{}
	for _, s := range r.Series {
		name := string(s.Kind)
		if !kindFileName.MatchString(name) {
			name = "other"
		}
		byName[name] = append(byName[name], s)
	}
	out := make([]seriesFile, 0, len(byName))
	for name, ss := range byName {
		out = append(out, seriesFile{name: name + ".csv", series: ss})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
