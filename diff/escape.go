package diff

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// EscapeControl returns s with every character that could act on a terminal
// or fake the layout of human output written as an escape: C0 controls
// (newline and tab included) as \n, \t, \r or \xNN, DEL as \x7f, C1
// controls and the bidirectional overrides and isolates as \uNNNN, and
// bytes that are not UTF-8 as \xNN. Other text, a backslash included, is
// unchanged, so a plain name prints as it is. Object names may hold such
// characters (the tenant allows them); JSON output escapes them already.
func EscapeControl(s string) string { return escapeControl(s, false) }

// EscapeControlLines is EscapeControl that keeps newlines and tabs, for
// multi-line text such as an error with several causes or a script diff.
func EscapeControlLines(s string) string { return escapeControl(s, true) }

func escapeControl(s string, keepLines bool) string {
	clean := true
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, n, keepLines) {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !needsEscape(r, n, keepLines) {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += n
	}
	return b.String()
}

func needsEscape(r rune, n int, keepLines bool) bool {
	switch {
	case r == utf8.RuneError && n == 1:
		return true
	case r == '\n' || r == '\t':
		return !keepLines
	case r < 0x20 || r == 0x7f:
		return true
	case r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}

// EscapeControlJSON escapes, in JSON text, the characters EscapeControl
// would that JSON leaves raw (DEL, C1 controls, bidirectional controls), as
// \uNNNN, so the text stays valid JSON with the same value.
func EscapeControlJSON(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError && r >= 0x20 && needsEscape(r, n, true) {
			if b.Len() == 0 {
				b.Grow(len(s) + 8)
				b.WriteString(s[:i])
			}
			fmt.Fprintf(&b, `\u%04x`, r)
		} else if b.Len() > 0 {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	if b.Len() == 0 {
		return s
	}
	return b.String()
}
