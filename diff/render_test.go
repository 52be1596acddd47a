package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"promoter/spconfig"
)

func TestUnifiedDiff(t *testing.T) {
	tests := []struct {
		name, old, new, want string
	}{
		{"same", "a\nb\n", "a\nb\n", ""},
		{"insert in the middle", "1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\n3\n4\nX\n5\n6\n7\n8\n",
			"@@ -2,6 +2,7 @@\n 2\n 3\n 4\n+X\n 5\n 6\n 7\n"},
		{"change", "a\nb\nc", "a\nB\nc", "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"},
		{"from empty", "", "x\ny", "@@ -0,0 +1,2 @@\n+x\n+y\n"},
		{"two hunks", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n", "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\nZ\n",
			"@@ -1,3 +1,4 @@\n+0\n 1\n 2\n 3\n@@ -13,3 +14,4 @@\n 13\n 14\n 15\n+Z\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := unifiedDiff(tt.old, tt.new, 3)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestLineDiffIsMinimalAndComplete replays the ops: the kept and removed lines
// give old, kept and added give new, and the kept lines are an LCS.
func TestLineDiffIsMinimalAndComplete(t *testing.T) {
	cases := [][2]string{
		{"abcabba", "cbabac"}, {"", "abc"}, {"abc", ""}, {"xaxbxcx", "abc"}, {"aaaa", "aa"},
	}
	for _, c := range cases {
		a, b := strings.Split(c[0], ""), strings.Split(c[1], "")
		if c[0] == "" {
			a = nil
		}
		if c[1] == "" {
			b = nil
		}
		var gotA, gotB []string
		kept := 0
		for _, op := range lineDiff(a, b) {
			if op.Op != '+' {
				gotA = append(gotA, op.Text)
			}
			if op.Op != '-' {
				gotB = append(gotB, op.Text)
			}
			if op.Op == ' ' {
				kept++
			}
		}
		if !cmp.Equal(a, gotA) || !cmp.Equal(b, gotB) {
			t.Errorf("%q -> %q: replay gives %q -> %q", c[0], c[1], gotA, gotB)
		}
		if want := lcsLen(a, b); kept != want {
			t.Errorf("%q -> %q: kept %d lines, LCS is %d", c[0], c[1], kept, want)
		}
	}
}

func lcsLen(a, b []string) int {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	if a[0] == b[0] {
		return 1 + lcsLen(a[1:], b[1:])
	}
	return max(lcsLen(a[1:], b), lcsLen(a, b[1:]))
}

func TestRenderTextColor(t *testing.T) {
	r := sampleResult(t)
	var plain, color bytes.Buffer
	if err := RenderText(&plain, r, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderText(&color, r, TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(plain.Bytes(), []byte("\x1b[")) {
		t.Error("plain text output contains ANSI escapes")
	}
	if !bytes.Contains(color.Bytes(), []byte(ansiGreen)) {
		t.Error("coloured output has no colour")
	}
}

func TestRenderEmpty(t *testing.T) {
	e := entry(t, "TAG", "x", "1", `{"name":"x"}`)
	r, err := Compare([]spconfig.Entry{e}, []spconfig.Entry{e}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var txt, md, js bytes.Buffer
	if err := RenderText(&txt, r, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderMarkdown(&md, r, MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": txt.String(), "markdown": md.String()} {
		if !strings.Contains(out, "No changes.") {
			t.Errorf("%s output of an empty result does not say so:\n%s", name, out)
		}
	}
	var doc struct {
		SchemaVersion int             `json:"schemaVersion"`
		Empty         bool            `json:"empty"`
		Changes       json.RawMessage `json:"changes"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil || doc.SchemaVersion != 1 || !doc.Empty || string(doc.Changes) != "[]" {
		t.Errorf("json of an empty result: %+v, %v:\n%s", doc, err, js.String())
	}
}

func TestNoteIsShownByEveryRenderer(t *testing.T) {
	e := entry(t, "TRANSFORM", "Old <one> | `x`", "1", `{"name":"Old <one> | `+"`x`"+`"}`)
	r, err := Compare([]spconfig.Entry{e}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.Changes[0].Note = "not deleted (SP-Config cannot delete)"
	for name, render := range map[string]func(*bytes.Buffer) error{
		"text":     func(b *bytes.Buffer) error { return RenderText(b, r, TextOptions{}) },
		"markdown": func(b *bytes.Buffer) error { return RenderMarkdown(b, r, MarkdownOptions{}) },
		"json":     func(b *bytes.Buffer) error { return RenderJSON(b, r) },
	} {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "not deleted (SP-Config cannot delete)") {
			t.Errorf("%s output lacks the note:\n%s", name, b.String())
		}
		if name == "markdown" && strings.Contains(strings.Split(b.String(), "</summary>")[0], "<one>") {
			t.Errorf("markdown output does not escape HTML in a name:\n%s", b.String())
		}
	}
}

// TestMarkdownBudget renders many modified objects with long scripts: the
// comment must stay under the budget and end with the overflow line.
func TestMarkdownBudget(t *testing.T) {
	var old, new []spconfig.Entry
	script := func(v string) string {
		var b strings.Builder
		for i := range 60 {
			fmt.Fprintf(&b, "line %d of a long rule script %s\\n", i, v)
		}
		return b.String()
	}
	const n = 400
	for i := range n {
		name := fmt.Sprintf("Rule %03d", i)
		old = append(old, entry(t, "RULE", name, fmt.Sprint(i), `{"name":"`+name+`","sourceCode":{"version":"1.0","script":"`+script("old")+`"}}`))
		new = append(new, entry(t, "RULE", name, fmt.Sprint(i), `{"name":"`+name+`","sourceCode":{"version":"1.0","script":"`+script(fmt.Sprint(i%7))+`"}}`))
	}
	r, err := Compare(old, new, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Changes) != n {
		t.Fatalf("%d changes, want %d", len(r.Changes), n)
	}
	for _, budget := range []int{0, 20000, 60000} {
		var b bytes.Buffer
		if err := RenderMarkdown(&b, r, MarkdownOptions{Title: "Plan", MaxBytes: budget}); err != nil {
			t.Fatal(err)
		}
		limit := budget
		if limit == 0 {
			limit = DefaultMarkdownMaxBytes
		}
		out := b.String()
		if len(out) > limit {
			t.Errorf("budget %d: output is %d bytes", budget, len(out))
		}
		shown := strings.Count(out, "<details>")
		wantTail := fmt.Sprintf("**%d more objects not shown**", n-shown)
		if shown == 0 || shown == n || !strings.Contains(out, wantTail) {
			t.Errorf("budget %d: %d sections shown, output does not end with %q:\n...%s", budget, shown, wantTail, out[max(0, len(out)-300):])
		}
		if strings.Count(out, "<details>") != strings.Count(out, "</details>") {
			t.Errorf("budget %d: a section was cut in the middle", budget)
		}
	}
}
