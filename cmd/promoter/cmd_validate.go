package main

import (
	"context"
	"errors"
	"fmt"

	"promoter/config"
)

func init() {
	register(command{
		name:    "validate",
		summary: "check a promotion.yaml and the secrets it names",
		usage:   "validate --config FILE",
		run:     runValidate,
	})
}

// runValidate parses and validates the configuration and resolves its
// secrets from the environment. It prints "FILE: ok (N tenants, M
// pipelines)" on stdout, or every problem on stderr (one per line, as
// file:line: path: message) and exits 2.
func runValidate(_ context.Context, env *environment, args []string) error {
	fs := newFlags(env, "validate")
	configPath := fs.String("config", "", "configuration file (promotion.yaml)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *configPath == "" {
		return usageError("validate: --config FILE is required")
	}
	if fs.NArg() > 0 {
		return usageError("validate: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := config.Load(*configPath)
	if err == nil {
		_, err = cfg.ResolveSecrets(env.getenv)
	}
	if err != nil {
		var ce *config.Error
		if !errors.As(err, &ce) {
			return &exitError{code: exitUsage, err: fmt.Errorf("validate %s: %w", *configPath, err)}
		}
		fmt.Fprintln(env.stderr, ce.Error())
		n := len(ce.Problems)
		word := "problems"
		if n == 1 {
			word = "problem"
		}
		return &exitError{code: exitUsage, err: fmt.Errorf("validate %s: %d %s; fix them and run promoter validate again", *configPath, n, word)}
	}
	fmt.Fprintf(env.stdout, "%s: ok (%d tenants, %d pipelines)\n", *configPath, len(cfg.Tenants), len(cfg.Pipelines))
	for _, p := range cfg.Pipelines {
		if p.Deploy.ConfigurationHub {
			fmt.Fprintf(env.stdout, "%s: deploy.configurationHub: the changed objects of the 18 types SP-Config cannot import go to %s through Configuration Hub (upload, draft, deploy) after the SP-Config import, behind the same gate; tenant %s's client needs sp:config-backup:manage, sp:config-scheduled-action:manage, sp:config-draft:manage and sp:config-deploy:manage (an ORG_ADMIN personal access token has them)\n",
				p.Name, p.Target, p.Target)
		}
	}
	return nil
}
