package main

import (
	"bytes"
	"os"
	"testing"
)

// TestColorEnabled checks the one colour rule of the command line (diff and
// plan output): a terminal, NO_COLOR unset or empty, TERM not "dumb".
func TestColorEnabled(t *testing.T) {
	t.Parallel()
	envWith := func(vars map[string]string) *environment {
		return &environment{getenv: func(k string) string { return vars[k] }}
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	plain := envWith(map[string]string{"TERM": "xterm"})
	if plain.colorEnabled(f) {
		t.Error("a regular file is not a terminal")
	}
	if plain.colorEnabled(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no terminal to test with: %v", err)
	}
	defer tty.Close()
	tests := []struct {
		vars map[string]string
		want bool
	}{
		{map[string]string{"TERM": "xterm"}, true},
		{map[string]string{"TERM": "xterm", "NO_COLOR": ""}, true},
		{map[string]string{"TERM": "xterm", "NO_COLOR": "1"}, false},
		{map[string]string{"TERM": "dumb"}, false},
	}
	for _, tc := range tests {
		if got := envWith(tc.vars).colorEnabled(tty); got != tc.want {
			t.Errorf("terminal with %v: colour %v, want %v", tc.vars, got, tc.want)
		}
	}
}
