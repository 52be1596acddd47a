package main

import "runtime/debug"

// defaultGCPercent is the collector's target promoter runs with when GOGC
// is not set: the heap may grow to 1.5 times what is live between
// collections instead of Go's default 2 times. A run's heap is mostly the
// sets it holds from the plan to verify (thin entries, indexes, the plan's
// items) while verify's export makes garbage beside them; at 50,000
// objects the default let the heap reach twice a live 47 MB (issue 18:
// peak RSS at most 1.5x the export document). The collector takes about 1%
// of a run's CPU at the default; README Performance has what 50 measured.
const defaultGCPercent = 50

// setGCPercent applies defaultGCPercent unless the environment sets GOGC
// (which the runtime has applied already).
func setGCPercent(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
