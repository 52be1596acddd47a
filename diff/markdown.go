package diff

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// MarkdownOptions control RenderMarkdown.
type MarkdownOptions struct {
	Title string
	// MaxBytes is the size budget of the whole comment (default 60000, under
	// GitHub's 65,536-character limit for a comment).
	MaxBytes int
}

// DefaultMarkdownMaxBytes is the default MarkdownOptions.MaxBytes.
const DefaultMarkdownMaxBytes = 60000

// Per-section caps, so that one huge script cannot eat the whole budget.
const (
	mdMaxValue  = 300  // one value in a table cell
	mdMaxDiff   = 8000 // one unified diff
	mdMaxObject = 3000 // the JSON of an added or removed object
)

// RenderMarkdown writes a pull-request comment: a summary table of counts per
// type, then one collapsible <details> section per changed object (field
// table, unified diffs of rule scripts and other multi-line strings, the
// object's JSON for added and removed objects). Sections stop before the
// output would exceed MaxBytes; the last line then says how many objects were
// not shown.
func RenderMarkdown(w io.Writer, r Result, o MarkdownOptions) error {
	budget := o.MaxBytes
	if budget <= 0 {
		budget = DefaultMarkdownMaxBytes
	}
	var b strings.Builder
	if o.Title != "" {
		fmt.Fprintf(&b, "### %s\n\n", mdText(o.Title))
	}
	counts := r.Counts()
	if len(counts) == 0 {
		b.WriteString("No objects.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("| Type | Added | Removed | Modified | Renamed | Unchanged |\n")
	b.WriteString("|:-----|------:|--------:|---------:|--------:|----------:|\n")
	for _, c := range append(counts, totals(counts)) {
		typ := "`" + c.Type + "`"
		if c.Type == "TOTAL" {
			typ = "**Total**"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d |\n", typ, c.Added, c.Removed, c.Modified, c.Renamed, c.Unchanged)
	}
	b.WriteString("\n")
	if r.Empty() {
		b.WriteString("No changes.\n")
	}
	shown := 0
	for i, c := range r.Changes {
		sec := markdownSection(c)
		rest := len(r.Changes) - i
		footer := overflowLine(rest)
		if b.Len()+len(sec)+len(footer) > budget && !(rest == 1 && b.Len()+len(sec) <= budget) {
			b.WriteString(footer)
			break
		}
		b.WriteString(sec)
		shown++
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func overflowLine(n int) string {
	if n == 1 {
		return "\n**1 more object not shown** (size limit of this comment); run `promoter diff` to see everything.\n"
	}
	return fmt.Sprintf("\n**%d more objects not shown** (size limit of this comment); run `promoter diff` to see everything.\n", n)
}

func markdownSection(c Change) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<details><summary><code>%s</code> <b>%s</b> %s: %s</summary>\n\n",
		marks[c.Kind], html.EscapeString(EscapeControl(c.Key.Type)), html.EscapeString(EscapeControl(keyLabel(c))), html.EscapeString(string(c.Kind)+", "+flags(c)))
	switch c.Kind {
	case Added, Removed:
		js := EscapeControlJSON(objectJSON(c))
		if js != "" {
			js = truncate(js, mdMaxObject)
			fence := fenceFor(js)
			fmt.Fprintf(&b, "%sjson\n%s\n%s\n\n", fence, js, fence)
		}
	}
	var table []FieldChange
	var diffs []string
	for _, f := range c.Fields {
		if d := EscapeControlLines(textDiff(c, f)); d != "" {
			d = truncate(d, mdMaxDiff)
			fence := fenceFor(d)
			diffs = append(diffs, fmt.Sprintf("%s (%s):\n\n%sdiff\n%s\n%s\n\n", mdCode(f.Path), f.Kind, fence, strings.TrimSuffix(d, "\n"), fence))
			continue
		}
		table = append(table, f)
	}
	if len(table) > 0 {
		b.WriteString("| Field | Change | Old | New |\n|:--|:--|:--|:--|\n")
		for _, f := range table {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mdCell(f.Path), f.Kind, mdCell(string(f.Old)), mdCell(string(f.New)))
		}
		b.WriteString("\n")
	}
	for _, d := range diffs {
		b.WriteString(d)
	}
	if c.Kind == Unchanged {
		b.WriteString("No change.\n\n")
	}
	b.WriteString("</details>\n\n")
	return b.String()
}

func keyLabel(c Change) string {
	if c.Key.Scope != "" {
		return c.Key.Scope + " / " + c.Key.Name
	}
	return c.Key.Name
}

// mdCell renders a value as a code span fit for a table cell.
func mdCell(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(truncate(s, mdMaxValue), "\n", " ")
	s = strings.ReplaceAll(s, "|", `\|`)
	return mdCode(s)
}

// mdCode wraps s in a code span whose delimiter is longer than any backtick
// run inside it.
func mdCode(s string) string {
	s = EscapeControl(s)
	ticks := strings.Repeat("`", longestRun(s, '`')+1)
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return ticks + pad + s + pad + ticks
}

// fenceFor returns a code fence longer than any backtick run in s.
func fenceFor(s string) string {
	return strings.Repeat("`", max(3, longestRun(s, '`')+1))
}

func longestRun(s string, c byte) int {
	best, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}

// mdText escapes characters with a meaning in Markdown prose.
func mdText(s string) string {
	s = EscapeControl(s)
	r := strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;", "|", `\|`, "[", `\[`, "]", `\]`, "#", `\#`)
	return r.Replace(s)
}
