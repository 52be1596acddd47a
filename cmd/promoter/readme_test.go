package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestREADMETestCommandIsWhatCIRuns keeps the README's test command (the one
// of its quick start and of its Development section) and the one .ci/run
// runs the same command: CI may add only environment (coverage, .ci/run).
func TestREADMETestCommandIsWhatCIRuns(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	// "go test ... # the test suite" lines of the README's sh blocks
	var commands []string
	for _, m := range regexp.MustCompile(`(?m)^(go test [^#\n]*?)\s+# the test suite`).FindAllStringSubmatch(string(readme), -1) {
		commands = append(commands, m[1])
	}
	if len(commands) != 2 || commands[0] != commands[1] {
		t.Fatalf("README names the test suite's command %q; want one command in the quick start and the Development section", commands)
	}
	var ciCommands []string
	for line := range strings.Lines(string(ci)) {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "go test ") {
			ciCommands = append(ciCommands, strings.TrimSpace(strings.TrimSuffix(line, "|| status=$?")))
		}
	}
	if !slices.Equal(ciCommands, commands[:1]) {
		t.Errorf(".ci/run runs %q; the README says the test command is %q", ciCommands, commands[0])
	}
}

// TestWithoutCoverFlags: the end-to-end binary's build drops GOFLAGS' cover
// flags (CI's coverage of the test binaries) and keeps the rest.
func TestWithoutCoverFlags(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"": "",
		"-cover -coverpkg=promoter/... -coverprofile=/tmp/c/tests.out": "",
		"-mod=mod -cover -covermode=atomic -trimpath":                  "-mod=mod -trimpath",
		"--coverpkg=promoter/... -count=1":                             "-count=1",
	} {
		if got := withoutCoverFlags(in); got != want {
			t.Errorf("withoutCoverFlags(%q) = %q, want %q", in, got, want)
		}
	}
}
