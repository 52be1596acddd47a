package main

import (
	"runtime/debug"
	"testing"
)

func TestSetGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	setGCPercent(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("GOGC unset: collector target %d, want %d", got, defaultGCPercent)
	}
	debug.SetGCPercent(80) // as GOGC=80 in the environment would have set it
	setGCPercent(func(k string) string {
		if k == "GOGC" {
			return "80"
		}
		return ""
	})
	if got := debug.SetGCPercent(100); got != 80 {
		t.Errorf("GOGC=80: collector target %d, want the environment's 80 kept", got)
	}
}
