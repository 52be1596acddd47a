package server

import (
	"regexp"
	"strings"
	"testing"

	"promoter/diff"
	"promoter/spconfig"
)

func TestMarkdownHTML(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"heading and code span", "## plan: `dev-to-prod` (a → b)", "<h2>plan: <code>dev-to-prod</code> (a → b)</h2>\n"},
		{"bold and entity", "**Verdict: BLOCKED** &lt;x&gt; & y", "<p><strong>Verdict: BLOCKED</strong> &lt;x&gt; &amp; y</p>\n"},
		{"list with shortcode", "- :x: SOURCE: bad <b>x</b>\n- :warning: w", "<ul>\n<li>\u274c SOURCE: bad <b>x</b></li>\n<li>\u26a0\ufe0f w</li>\n</ul>\n"},
		{"table with alignment and escaped pipe", "| a | b |\n|---|---:|\n| `x\\|y` | 2 |",
			"<table>\n<thead><tr><th>a</th><th style=\"text-align:right\">b</th></tr></thead>\n<tbody>\n<tr><td><code>x|y</code></td><td style=\"text-align:right\">2</td></tr>\n</tbody>\n</table>\n"},
		{"fence escapes", "```json\n{\"a\": \"<script>\"}\n```", "<pre><code class=\"language-json\">{&#34;a&#34;: &#34;&lt;script&gt;&#34;}</code></pre>\n"},
		{"longer fence holds a shorter one", "````diff\n```\n-a\n````", "<pre><code class=\"language-diff\">```\n-a</code></pre>\n"},
		{"details pass through", "<details><summary><code>~</code> <b>RULE</b> x</summary>\n\ntext\n</details>",
			"<details><summary><code>~</code> <b>RULE</b> x</summary>\n<p>text</p>\n</details>\n"},
		{"unknown tags escaped", "<script>x</script> <details onclick=x>", "<p>&lt;script&gt;x&lt;/script&gt; &lt;details onclick=x&gt;</p>\n"},
		{"stray closing tag escaped", "</details>\n</code>", "&lt;/details&gt;\n<p>&lt;/code&gt;</p>\n"},
		{"unclosed details closed at the end", "<details><summary>s</summary>", "<details><summary>s</summary>\n</details>"},
		{"backslash escape", `\*not bold\*`, "<p>*not bold*</p>\n"},
		{"unmatched backticks", "a ``b` c", "<p>a ``b` c</p>\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(markdownHTML(tc.in)); got != tc.want {
				t.Errorf("markdownHTML(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestMarkdownHTMLOfARealPlan renders what diff.RenderMarkdown writes for a
// change with hostile values and checks the structure survives.
func TestMarkdownHTMLOfARealPlan(t *testing.T) {
	old, err := spconfig.NewEntry([]byte(`{"version":1,"self":{"type":"TRANSFORM","id":"1","name":"T <x>"},"object":{"name":"T <x>","attributes":{"v":"a|b","s":"line1\nline2\nline3"}}}`))
	nw, err2 := spconfig.NewEntry([]byte(`{"version":1,"self":{"type":"TRANSFORM","id":"1","name":"T <x>"},"object":{"name":"T <x>","attributes":{"v":"<script>alert(1)</script>","s":"line1\nLINE2\nline3"}}}`))
	if err != nil || err2 != nil {
		t.Fatal(err, err2)
	}
	res, err := diff.Compare([]spconfig.Entry{old}, []spconfig.Entry{nw}, diff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var md strings.Builder
	if err := diff.RenderMarkdown(&md, res, diff.MarkdownOptions{Title: "Changes"}); err != nil {
		t.Fatal(err)
	}
	out := string(markdownHTML(md.String()))
	checkSafe(t, md.String(), out)
	for _, want := range []string{"<h3>Changes</h3>", "<details><summary>", "T &lt;x&gt;", "&lt;script&gt;", "<pre><code class=\"language-diff\">"} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "<details>") != strings.Count(out, "</details>") {
		t.Errorf("unbalanced details:\n%s", out)
	}
}

var (
	tagRE     = regexp.MustCompile(`<[^>]*>`)
	okTagRE   = regexp.MustCompile(`^</?(h[1-6]|p|table|thead|tbody|tr|ul|li|pre|strong|details|summary|code|b)>$|^<code class="language-[A-Za-z0-9_+-]*">$|^<t[hd]( style="text-align:(left|right|center)")?>$|^</t[hd]>$`)
	rawAmpsRE = regexp.MustCompile(`&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});`)
)

// checkSafe fails when the output holds a tag or attribute the renderer
// does not write itself, or a bare ampersand.
func checkSafe(t *testing.T, in, out string) {
	t.Helper()
	for _, tag := range tagRE.FindAllString(out, -1) {
		if !okTagRE.MatchString(tag) {
			t.Fatalf("markdownHTML(%q) wrote the tag %q", in, tag)
		}
	}
	if strings.Count(tagRE.ReplaceAllString(out, ""), "<") > 0 {
		t.Fatalf("markdownHTML(%q) left a bare '<' in %q", in, out)
	}
	if strings.Count(rawAmpsRE.ReplaceAllString(out, ""), "&") > 0 {
		t.Fatalf("markdownHTML(%q) left a bare '&' in %q", in, out)
	}
}

func FuzzMarkdownHTML(f *testing.F) {
	for _, s := range []string{
		"## h `c`\n| a | b |\n|---|:-:|\n| 1 | <b>2</b> |\n",
		"<details><summary><code>+</code> x</summary>\n```json\n{}\n```\n</details>",
		"<script>alert(1)</script>", "<details <b>", "&amp; &#x27; &bogus", "- :x: `a`` b",
		"<code></b></code>", "``` a b\nc", "| \\| |\n|-|\n|<|", "<summary><details></summary></details>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkSafe(t, in, string(markdownHTML(in)))
	})
}
