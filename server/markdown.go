package server

import (
	"html"
	"html/template"
	"regexp"
	"strings"
)

// markdownHTML renders the Markdown subset that pipeline.RenderPlan and
// diff.RenderMarkdown emit (ATX headings, pipe tables with alignment,
// "- " lists, fenced code blocks, paragraphs, **bold**, code spans,
// backslash escapes, :x:/:warning: shortcodes and the inline tags
// <details>, <summary>, <code>, <b>) as HTML. Everything else is escaped:
// the only tags in the output are the ones this function writes, and the
// pass-through tags are balanced, so a plan can never inject markup into the
// status page.
func markdownHTML(src string) template.HTML {
	r := &mdRenderer{}
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	var para []string
	flush := func() {
		if len(para) > 0 {
			r.b.WriteString("<p>")
			r.inline(strings.Join(para, "\n"))
			r.b.WriteString("</p>\n")
			para = nil
		}
	}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trim := strings.TrimSpace(line)
		switch {
		case trim == "":
			flush()
		case fenceRE.MatchString(trim):
			flush()
			m := fenceRE.FindStringSubmatch(trim)
			fence, lang := m[1], m[2]
			var code []string
			i++
			for ; i < len(lines); i++ {
				t := strings.TrimSpace(lines[i])
				if strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]) == "" {
					break
				}
				code = append(code, lines[i])
			}
			r.b.WriteString("<pre><code")
			if lang != "" {
				r.b.WriteString(` class="language-` + lang + `"`)
			}
			r.b.WriteString(">")
			r.b.WriteString(html.EscapeString(strings.Join(code, "\n")))
			r.b.WriteString("</code></pre>\n")
		case headingRE.MatchString(line):
			flush()
			m := headingRE.FindStringSubmatch(line)
			tag := "h" + string(rune('0'+len(m[1])))
			r.b.WriteString("<" + tag + ">")
			r.inline(strings.TrimRight(strings.TrimSpace(m[2]), "#"))
			r.b.WriteString("</" + tag + ">\n")
		case strings.HasPrefix(trim, "|") && i+1 < len(lines) && tableSepRE.MatchString(strings.TrimSpace(lines[i+1])):
			flush()
			aligns := tableAligns(strings.TrimSpace(lines[i+1]))
			r.b.WriteString("<table>\n<thead><tr>")
			for j, c := range splitRow(trim) {
				r.cell("th", c, aligns, j)
			}
			r.b.WriteString("</tr></thead>\n<tbody>\n")
			i += 2
			for ; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "|"); i++ {
				r.b.WriteString("<tr>")
				for j, c := range splitRow(strings.TrimSpace(lines[i])) {
					r.cell("td", c, aligns, j)
				}
				r.b.WriteString("</tr>\n")
			}
			i--
			r.b.WriteString("</tbody>\n</table>\n")
		case listRE.MatchString(line):
			flush()
			r.b.WriteString("<ul>\n")
			for ; i < len(lines) && listRE.MatchString(lines[i]); i++ {
				r.b.WriteString("<li>")
				r.inline(listRE.ReplaceAllString(lines[i], ""))
				r.b.WriteString("</li>\n")
			}
			i--
			r.b.WriteString("</ul>\n")
		case strings.HasPrefix(trim, "<details") || strings.HasPrefix(trim, "</details"):
			flush()
			r.inline(trim)
			r.b.WriteString("\n")
		default:
			para = append(para, trim)
		}
	}
	flush()
	r.closeAll()
	return template.HTML(r.b.String())
}

var (
	fenceRE    = regexp.MustCompile("^(`{3,}|~{3,})\\s*([A-Za-z0-9_+-]*)\\s*$")
	headingRE  = regexp.MustCompile(`^(#{1,6})\s+(.*)$`)
	tableSepRE = regexp.MustCompile(`^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?$`)
	listRE     = regexp.MustCompile(`^\s*[-*]\s+`)
	entityRE   = regexp.MustCompile(`^&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});`)
)

// passTags are the inline tags copied through (balanced, no attributes).
var passTags = []string{"details", "summary", "code", "b"}

var shortcodes = map[string]string{":x:": "\u274c", ":warning:": "\u26a0\ufe0f", ":white_check_mark:": "\u2705"}

type mdRenderer struct {
	b     strings.Builder
	stack []string // open pass-through tags
}

func (r *mdRenderer) cell(tag, c string, aligns []string, j int) {
	r.b.WriteString("<" + tag)
	if j < len(aligns) && aligns[j] != "" {
		r.b.WriteString(` style="text-align:` + aligns[j] + `"`)
	}
	r.b.WriteString(">")
	r.inline(strings.ReplaceAll(strings.TrimSpace(c), `\|`, "|"))
	r.b.WriteString("</" + tag + ">")
}

func tableAligns(sep string) []string {
	var out []string
	for _, c := range splitRow(sep) {
		c = strings.TrimSpace(c)
		switch {
		case strings.HasPrefix(c, ":") && strings.HasSuffix(c, ":"):
			out = append(out, "center")
		case strings.HasSuffix(c, ":"):
			out = append(out, "right")
		case strings.HasPrefix(c, ":"):
			out = append(out, "left")
		default:
			out = append(out, "")
		}
	}
	return out
}

// splitRow splits a table row on unescaped pipes (the outer ones dropped).
func splitRow(row string) []string {
	row = strings.TrimPrefix(row, "|")
	if strings.HasSuffix(row, "|") && !strings.HasSuffix(row, `\|`) {
		row = row[:len(row)-1]
	}
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row) && row[i+1] == '|':
			cur.WriteString(`\|`)
			i++
		case row[i] == '|':
			cells = append(cells, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(row[i])
		}
	}
	return append(cells, cur.String())
}

// inline renders inline Markdown, escaping everything it does not know.
func (r *mdRenderer) inline(s string) {
	strong := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && isASCIIPunct(s[i+1]):
			r.b.WriteString(html.EscapeString(s[i+1 : i+2]))
			i += 2
		case c == '`':
			n := 0
			for i+n < len(s) && s[i+n] == '`' {
				n++
			}
			end := closingTicks(s, i+n, n)
			if end < 0 {
				r.b.WriteString(s[i : i+n])
				i += n
				continue
			}
			code := strings.ReplaceAll(s[i+n:end], "\n", " ")
			if len(code) >= 2 && code[0] == ' ' && code[len(code)-1] == ' ' && strings.Trim(code, " ") != "" {
				code = code[1 : len(code)-1]
			}
			r.b.WriteString("<code>" + html.EscapeString(code) + "</code>")
			i = end + n
		case c == '*' && strings.HasPrefix(s[i:], "**"):
			if strong {
				r.b.WriteString("</strong>")
			} else {
				r.b.WriteString("<strong>")
			}
			strong = !strong
			i += 2
		case c == '<':
			if n := r.passTag(s[i:]); n > 0 {
				i += n
				continue
			}
			r.b.WriteString("&lt;")
			i++
		case c == '&':
			if m := entityRE.FindString(s[i:]); m != "" {
				r.b.WriteString(m)
				i += len(m)
				continue
			}
			r.b.WriteString("&amp;")
			i++
		case c == ':':
			done := false
			for code, emoji := range shortcodes {
				if strings.HasPrefix(s[i:], code) {
					r.b.WriteString(emoji)
					i += len(code)
					done = true
					break
				}
			}
			if !done {
				r.b.WriteByte(':')
				i++
			}
		case c == '>' || c == '"' || c == '\'':
			r.b.WriteString(html.EscapeString(s[i : i+1]))
			i++
		default:
			r.b.WriteByte(c)
			i++
		}
	}
	if strong {
		r.b.WriteString("</strong>")
	}
	// Inline pass-through tags end with their line; only <details> spans lines.
	for len(r.stack) > 0 && r.stack[len(r.stack)-1] != "details" {
		r.b.WriteString("</" + r.stack[len(r.stack)-1] + ">")
		r.stack = r.stack[:len(r.stack)-1]
	}
}

// passTag writes a pass-through tag at the start of s, keeping tags
// balanced, and returns its length (0: not a pass-through tag).
func (r *mdRenderer) passTag(s string) int {
	for _, t := range passTags {
		open, closing := "<"+t+">", "</"+t+">"
		switch {
		case strings.HasPrefix(s, open):
			r.stack = append(r.stack, t)
			r.b.WriteString(open)
			return len(open)
		case strings.HasPrefix(s, closing):
			if len(r.stack) == 0 || r.stack[len(r.stack)-1] != t {
				return 0 // unbalanced: escaped by the caller
			}
			r.stack = r.stack[:len(r.stack)-1]
			r.b.WriteString(closing)
			return len(closing)
		}
	}
	return 0
}

func (r *mdRenderer) closeAll() {
	for len(r.stack) > 0 {
		r.b.WriteString("</" + r.stack[len(r.stack)-1] + ">")
		r.stack = r.stack[:len(r.stack)-1]
	}
}

func closingTicks(s string, from, n int) int {
	for i := from; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == '`' {
			j++
		}
		if j-i == n {
			return i
		}
		i = j
	}
	return -1
}

func isASCIIPunct(c byte) bool {
	return strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c) >= 0
}
