package diff

import "testing"

func TestEscapeControl(t *testing.T) {
	tests := []struct{ in, want, lines string }{
		{"Get Worker Type", "Get Worker Type", "Get Worker Type"},
		{`a\b ü 名前`, `a\b ü 名前`, `a\b ü 名前`},
		{"red\x1b[31m", `red\x1b[31m`, `red\x1b[31m`},
		{"bell\x07", `bell\x07`, `bell\x07`},
		{"two\nlines\tand tab\r", `two\nlines\tand tab\r`, "two\nlines\tand tab\\r"},
		{"del\x7f", `del\x7f`, `del\x7f`},
		{"c1\u0085\u009b", `c1\u0085\u009b`, `c1\u0085\u009b`},
		{"bidi\u202eevil\u2066", `bidi\u202eevil\u2066`, `bidi\u202eevil\u2066`},
		{"bad\xff utf8", `bad\xff utf8`, `bad\xff utf8`},
	}
	for _, tt := range tests {
		if got := EscapeControl(tt.in); got != tt.want {
			t.Errorf("EscapeControl(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := EscapeControlLines(tt.in); got != tt.lines {
			t.Errorf("EscapeControlLines(%q) = %q, want %q", tt.in, got, tt.lines)
		}
	}
}
