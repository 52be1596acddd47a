package config

import (
	"strconv"
	"strings"
)

// Problems: what Load and Validate report, each with the file's line.

// Problem is one configuration problem.
type Problem struct {
	Line int    // 1-based line in the file; 0 when unknown
	Path string // field path, e.g. pipelines[0].gate.maxChanges
	Msg  string
}

func (p Problem) String() string {
	s := ""
	if p.Line > 0 {
		s = strconv.Itoa(p.Line) + ": "
	}
	if p.Path != "" {
		s += p.Path + ": "
	}
	return s + p.Msg
}

// Error lists every problem found in a configuration file.
type Error struct {
	File     string
	Problems []Problem
}

// Error prints one problem per line as "file:line: path: message".
func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
		if p.Path != "" {
			b.WriteString(p.Path + ": ")
		}
		b.WriteString(p.Msg)
	}
	if len(e.Problems) == 0 {
		b.WriteString(e.File + ": invalid configuration")
	}
	return b.String()
}
