//go:build race

package main

// buildFlags are the flags of the end-to-end tests' promoter binary: built
// with the race detector when the test binary is (go test -race), so CI
// checks the real binary for races and a plain go test stays fast.
var buildFlags = []string{"-race"}
