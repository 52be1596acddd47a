package main

import (
	"context"

	"promoter/pipeline"
)

func init() {
	register(command{name: "apply", summary: "plan, preview, gate, import, verify and record a revision",
		usage: "apply --config FILE [--pipeline NAME] [--rev REV]", run: runApply})
}

func runApply(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "apply")
	configFile := fs.String("config", "", "configuration file (promotion.yaml)")
	name := fs.String("pipeline", "", "pipeline (default: every pipeline)")
	rev := fs.String("rev", "HEAD", "revision of the target folder to apply")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return eachRunner(ctx, env, *configFile, *name, true, func(r *pipeline.Runner) error {
		res, err := r.Apply(ctx, *rev)
		printResult(env, res)
		return flowError(err)
	})
}
