package diff

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// marks are the one-character signs of each kind in text and Markdown.
var marks = map[Kind]string{Added: "+", Removed: "-", Modified: "~", Renamed: ">", Unchanged: "="}

// flags describes a change's importability, signature and note for people.
func flags(c Change) string {
	var parts []string
	if c.Importable {
		parts = append(parts, "importable")
	} else {
		parts = append(parts, "not importable")
	}
	if c.Signed {
		parts = append(parts, "signed")
	}
	if c.Kind == Renamed && c.OldName != "" {
		parts = append(parts, "was "+quoteName(c.OldName))
	}
	if c.Note != "" {
		parts = append(parts, c.Note)
	}
	return strings.Join(parts, ", ")
}

func quoteName(s string) string { return `"` + s + `"` }

// totals sums the per-type counts.
func totals(cs []TypeCount) TypeCount {
	t := TypeCount{Type: "TOTAL"}
	for _, c := range cs {
		t.Added += c.Added
		t.Removed += c.Removed
		t.Modified += c.Modified
		t.Renamed += c.Renamed
		t.Unchanged += c.Unchanged
	}
	return t
}

// textDiff returns a unified diff for a changed field whose values are
// multi-line strings (rule scripts, Velocity templates), or "" when the
// field is better shown as old and new values.
func textDiff(c Change, f FieldChange) string {
	var old, new string
	if f.Old != nil && json.Unmarshal(f.Old, &old) != nil {
		return ""
	}
	if f.New != nil && json.Unmarshal(f.New, &new) != nil {
		return ""
	}
	script := f.Path == "$.sourceCode.script" && (c.Key.Type == "RULE" || c.Key.Type == "CONNECTOR_RULE")
	if !script && !strings.Contains(old, "\n") && !strings.Contains(new, "\n") {
		return ""
	}
	return unifiedDiff(old, new, 3)
}

// truncate cuts s to at most n bytes on a rune boundary, saying how much was cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… (" + itoa(len(s)-cut) + " more bytes)"
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// objectJSON returns the entry's object indented for display.
func objectJSON(c Change) string {
	e := c.New
	if e == nil {
		e = c.Old
	}
	if e == nil {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, e.Object(), "", "  "); err != nil {
		return string(e.Object())
	}
	return b.String()
}
