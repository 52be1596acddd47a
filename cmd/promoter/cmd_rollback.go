package main

import (
	"context"
	"fmt"

	"promoter/pipeline"
)

func init() {
	register(command{name: "rollback", summary: "revert the target folder to a revision, show the plan and apply it",
		usage: "rollback --config FILE --pipeline NAME --to REV", run: runRollback})
}

func runRollback(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "rollback")
	configFile := fs.String("config", "", "configuration file (promotion.yaml)")
	name := fs.String("pipeline", "", "pipeline whose target to roll back")
	to := fs.String("to", "", "revision whose target folder to restore")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" || *to == "" {
		return usageError("rollback needs --pipeline NAME and --to REV")
	}
	r, err := openRunner(ctx, env, *configFile, *name)
	if err != nil {
		return err
	}
	res, err := r.Rollback(ctx, *to, func(pl *pipeline.Plan) {
		fmt.Fprintln(env.stdout, "Rollback plan:")
		_ = pipeline.RenderPlan(env.stdout, pl, pipeline.FormatText, env.colorEnabled(env.stdout))
	})
	if res != nil {
		res.Plan = nil // already shown
	}
	printResult(env, res)
	return flowError(err)
}
