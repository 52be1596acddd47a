package main

import "context"

func init() {
	register(command{name: "resume", summary: "record an import job found in the target (after a run stopped before recording it)",
		usage: "resume --config FILE --pipeline NAME --job ID [--rev REV]", run: runResume})
}

func runResume(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "resume")
	configFile := fs.String("config", "", "configuration file (promotion.yaml)")
	name := fs.String("pipeline", "", "pipeline whose target ran the import")
	job := fs.String("job", "", "id of the import job in the target")
	rev := fs.String("rev", "", "revision the job imported, when no in-flight marker names it (default: the branch tip)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" || *job == "" {
		return usageError("resume needs --pipeline NAME and --job ID")
	}
	r, err := openRunner(ctx, env, *configFile, *name)
	if err != nil {
		return err
	}
	res, err := r.Resume(ctx, *job, *rev)
	printResult(env, res)
	return flowError(err)
}
