package diff

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// TextOptions control RenderText.
type TextOptions struct {
	Title string
	// Color adds ANSI colours. The caller decides (a terminal, NO_COLOR
	// unset, TERM not "dumb").
	Color bool
}

const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
)

var kindColor = map[Kind]string{Added: ansiGreen, Removed: ansiRed, Modified: ansiYellow, Renamed: ansiCyan, Unchanged: ansiDim}

// maxTextValue caps one value in text output.
const maxTextValue = 400

// RenderText writes a summary table of counts per type, then one line per
// changed object with its field changes indented below it. Multi-line
// strings (rule scripts) are shown as unified diffs.
func RenderText(w io.Writer, r Result, o TextOptions) error {
	bw := bufio.NewWriter(w)
	paint := func(color, s string) string {
		if !o.Color || color == "" {
			return s
		}
		return color + s + ansiReset
	}
	if o.Title != "" {
		fmt.Fprintln(bw, paint(ansiBold, EscapeControl(o.Title)))
		fmt.Fprintln(bw)
	}
	counts := r.Counts()
	if len(counts) == 0 {
		fmt.Fprintln(bw, "No objects.")
		return bw.Flush()
	}
	tw := len("TYPE")
	for _, c := range counts {
		tw = max(tw, len(EscapeControl(c.Type)))
	}
	row := func(typ string, c TypeCount) {
		fmt.Fprintf(bw, "%-*s  %5d  %7d  %8d  %7d  %9d\n", tw, EscapeControl(typ), c.Added, c.Removed, c.Modified, c.Renamed, c.Unchanged)
	}
	fmt.Fprintf(bw, "%-*s  %5s  %7s  %8s  %7s  %9s\n", tw, "TYPE", "ADDED", "REMOVED", "MODIFIED", "RENAMED", "UNCHANGED")
	for _, c := range counts {
		row(c.Type, c)
	}
	row("TOTAL", totals(counts))

	if r.Empty() {
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "No changes.")
		if !hasUnchangedListed(r) {
			return bw.Flush()
		}
	}
	kw := 0
	// Names may hold control characters: every name, path and value is
	// escaped (EscapeControl) before it reaches the terminal.
	for _, c := range r.Changes {
		kw = max(kw, len([]rune(EscapeControl(c.Key.String()))))
	}
	fmt.Fprintln(bw)
	for _, c := range r.Changes {
		key := EscapeControl(c.Key.String())
		pad := strings.Repeat(" ", kw-len([]rune(key)))
		head := fmt.Sprintf("%s %-9s %s%s  %s", marks[c.Kind], c.Kind, key, pad, flags(c))
		fmt.Fprintln(bw, paint(kindColor[c.Kind], strings.TrimRight(head, " ")))
		for _, f := range c.Fields {
			writeTextField(bw, c, f, paint)
		}
	}
	return bw.Flush()
}

func hasUnchangedListed(r Result) bool {
	return len(r.Changes) > 0
}

func writeTextField(w io.Writer, c Change, f FieldChange, paint func(string, string) string) {
	if d := textDiff(c, f); d != "" {
		fmt.Fprintf(w, "    %s %s:\n", fieldMark(f.Kind), EscapeControl(f.Path))
		for _, line := range strings.Split(strings.TrimSuffix(d, "\n"), "\n") {
			line = EscapeControlLines(line) // a tab stays, as in the script
			color := ""
			switch {
			case strings.HasPrefix(line, "@@"):
				color = ansiCyan
			case strings.HasPrefix(line, "+"):
				color = ansiGreen
			case strings.HasPrefix(line, "-"):
				color = ansiRed
			}
			fmt.Fprintln(w, "        "+paint(color, line))
		}
		return
	}
	p := EscapeControl(f.Path)
	val := func(v []byte) string { return EscapeControl(truncate(string(v), maxTextValue)) }
	switch f.Kind {
	case FieldAdded:
		fmt.Fprintf(w, "    + %s: %s\n", p, paint(ansiGreen, val(f.New)))
	case FieldRemoved:
		fmt.Fprintf(w, "    - %s: %s\n", p, paint(ansiRed, val(f.Old)))
	default:
		fmt.Fprintf(w, "    ~ %s: %s -> %s\n", p, paint(ansiRed, val(f.Old)), paint(ansiGreen, val(f.New)))
	}
}

func fieldMark(kind string) string {
	switch kind {
	case FieldAdded:
		return "+"
	case FieldRemoved:
		return "-"
	}
	return "~"
}
