package main

import (
	"context"

	"promoter/pipeline"
)

func init() {
	register(command{name: "export", summary: "export the source tenant and commit a snapshot",
		usage: "export --config FILE [--pipeline NAME]", run: runExport})
}

func runExport(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "export")
	configFile := fs.String("config", "", "configuration file (promotion.yaml)")
	name := fs.String("pipeline", "", "pipeline whose source to export (default: every pipeline)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return eachRunner(ctx, env, *configFile, *name, true, func(r *pipeline.Runner) error {
		res, err := r.Export(ctx)
		printResult(env, res)
		return flowError(err)
	})
}
