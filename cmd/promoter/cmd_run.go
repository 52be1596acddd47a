package main

import (
	"context"
	"fmt"

	"promoter/diff"
	"promoter/pipeline"
)

func init() {
	register(command{name: "run", summary: "export, snapshot, propose, plan, preview, gate and import",
		usage: "run --config FILE [--pipeline NAME] [--dry-run]", run: runRun})
}

func runRun(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "run")
	configFile := fs.String("config", "", "configuration file (promotion.yaml)")
	name := fs.String("pipeline", "", "pipeline to run (default: every pipeline, in the order of the file)")
	dry := fs.Bool("dry-run", false, "show what the run would do (export, baseline, proposal, plan, preview) without committing, pushing or importing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return eachRunner(ctx, env, *configFile, *name, true, func(r *pipeline.Runner) error {
		res, err := r.Run(ctx, pipeline.RunOptions{DryRun: *dry})
		printResult(env, res)
		return flowError(err)
	})
}

// printResult prints a flow's outcome and plan on stdout.
func printResult(env *environment, res *pipeline.Result) {
	if res == nil {
		return
	}
	if res.Plan != nil {
		_ = pipeline.RenderPlan(env.stdout, res.Plan, pipeline.FormatText, env.colorEnabled(env.stdout))
	}
	outcome := res.Report()
	if res.Resumed != nil && res.Record != nil {
		outcome += " (after recording import job " + res.Resumed.ImportJob + " of a previous run)"
	}
	if res.DryRun {
		outcome += " (dry run: nothing was committed, pushed or imported)"
	}
	fmt.Fprintf(env.stdout, "\n%s: %s\n", res.Pipeline, outcome)
	for _, s := range res.Steps {
		fmt.Fprintf(env.stdout, "  %-9s %-10s %8s  %s\n", s.Name, s.Outcome, s.Duration.Round(1e6), diff.EscapeControl(s.Detail))
	}
}
