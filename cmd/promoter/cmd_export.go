package main

import "context"

func init() {
	register(command{name: "export", summary: "export the source tenant and commit a snapshot",
		usage: "export --config FILE [--pipeline NAME]", run: runExport})
}

func runExport(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "export")
	config := fs.String("config", "", "configuration file (promotion.yaml)")
	name := fs.String("pipeline", "", "pipeline whose source to export (default: the only one)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	r, err := openRunner(ctx, env, *config, *name)
	if err != nil {
		return err
	}
	res, err := r.Export(ctx)
	printResult(env, res)
	return flowError(err)
}
