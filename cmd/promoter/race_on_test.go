//go:build race

package main

// raceEnabled: the test binary is race-enabled (go test -race), so the tests
// of racePromoterCommand run the end-to-end binary built with -race.
const raceEnabled = true
