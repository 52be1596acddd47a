//go:build !crashtest

package main

import (
	"context"

	"promoter/pipeline"
)

// installCrashPoint does nothing: the crash hook (crash.go) is compiled only
// with the build tag crashtest, which the end-to-end tests set.
func installCrashPoint(context.Context, func(string) string, *pipeline.Runner) {}
