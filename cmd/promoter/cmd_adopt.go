package main

import (
	"context"
	"strings"
)

func init() {
	register(command{name: "adopt", summary: "take the live target's version of drifted (or named) objects into git",
		usage: "adopt --config FILE --pipeline NAME [--object TYPE:NAME ...]", run: runAdopt})
}

// objectList is a repeatable --object flag.
type objectList []string

func (l *objectList) String() string     { return strings.Join(*l, ", ") }
func (l *objectList) Set(v string) error { *l = append(*l, v); return nil }

func runAdopt(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "adopt")
	configFile := fs.String("config", "", "configuration file (promotion.yaml)")
	name := fs.String("pipeline", "", "pipeline whose target to adopt from")
	var objects objectList
	fs.Var(&objects, "object", "object to adopt, TYPE:NAME (repeatable; default: every drifted object)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usageError("adopt needs --pipeline NAME")
	}
	r, err := openRunner(ctx, env, *configFile, *name)
	if err != nil {
		return err
	}
	res, err := r.Adopt(ctx, objects)
	if res != nil {
		res.Plan = nil // the adoption's own report is the steps
	}
	printResult(env, res)
	return flowError(err)
}
