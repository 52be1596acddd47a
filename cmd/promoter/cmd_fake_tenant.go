package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

func init() {
	register(command{
		name:    "fake-tenant",
		summary: "run a fake ISC tenant (SP-Config API) for rehearsals and tests",
		usage: `fake-tenant --listen ADDR [--seed EXPORT.json | --seed-sample dev|prod] [--identities FILE]
                   [--state FILE] [--client-id ID --client-secret SECRET] [--faults SPEC]
                   [--job-delay D] [--token-ttl D] [--tenant NAME] [--scopes LIST] [--seed-ids SEED]`,
		run: runFakeTenant,
	})
}

func runFakeTenant(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "fake-tenant")
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on (`ADDR`, port 0 picks a free port)")
	seed := fs.String("seed", "", "export document (`FILE`) the tenant starts with")
	sample := fs.String("seed-sample", "", "start from an embedded sample tenant: dev (acme-sb) or prod (acme), identities included")
	identities := fs.String("identities", "", "identities `FILE`: [{\"id\",\"name\"}]")
	statePath := fs.String("state", "", "state `FILE`: loaded when it exists (wins over the seed), written after every change")
	clientID := fs.String("client-id", "promoter", "accepted OAuth client id")
	clientSecret := fs.String("client-secret", "promoter-secret", "accepted OAuth client secret")
	faults := fs.String("faults", "", "fault injection `SPEC`, e.g. 429=0.1,500=0.05,fail-export=1,slow-download=2s,truncate-download=0.5")
	jobDelay := fs.Duration("job-delay", spconfigtest.DefaultJobDelay, "how long a job stays in progress (0s completes at once)")
	tokenTTL := fs.Duration("token-ttl", 12*time.Minute, "access token lifetime")
	tenant := fs.String("tenant", "", "tenant name (default: the seed's tenant)")
	scopes := fs.String("scopes", spconfigtest.ScopeAll, "the client's token scopes, a comma or space separated `LIST`: sp:config:read may export, sp:config:manage may also import; "+spconfigtest.ScopeAll+" is an ORG_ADMIN personal access token")
	seedIDs := fs.String("seed-ids", "", "derive job and object ids from `SEED` so every run gives the same ids (default: random, as a real tenant)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("fake-tenant takes no arguments, got %q", fs.Args())
	}
	if len(strings.FieldsFunc(*scopes, isListSeparator)) == 0 {
		return usageError("fake-tenant: --scopes must name at least one scope, e.g. %s or sp:config:read", spconfigtest.ScopeAll)
	}
	if *seed != "" && *sample != "" {
		return usageError("fake-tenant: give --seed or --seed-sample, not both")
	}
	opts := spconfigtest.Options{
		TenantName: *tenant, ClientID: *clientID, ClientSecret: *clientSecret, TokenTTL: *tokenTTL,
		JobDelay: *jobDelay, Faults: *faults, StatePath: *statePath, Scopes: strings.FieldsFunc(*scopes, isListSeparator), IDSeed: *seedIDs,
		Logger: slog.New(slog.NewTextHandler(env.stderr, nil)),
	}
	switch *sample {
	case "":
	case "dev", "prod":
		b, err := spconfigtest.SampleExport(*sample)
		if err != nil {
			return fmt.Errorf("fake-tenant: sample %s: %w", *sample, err)
		}
		ids, err := spconfigtest.SampleIdentities(*sample)
		if err != nil {
			return fmt.Errorf("fake-tenant: sample %s: %w", *sample, err)
		}
		opts.Seed, opts.Identities = b, ids
	default:
		return usageError("fake-tenant: --seed-sample must be dev or prod, got %q", *sample)
	}
	if *seed != "" {
		b, err := os.ReadFile(*seed)
		if err != nil {
			return usageError("fake-tenant: --seed: %v", err)
		}
		// read here too, so an error names the file
		if _, err := spconfig.ReadExport(bytes.NewReader(b)); err != nil {
			return usageError("fake-tenant: --seed %s: %v", *seed, err)
		}
		opts.Seed = b
	}
	if *identities != "" {
		b, err := os.ReadFile(*identities)
		if err != nil {
			return usageError("fake-tenant: --identities: %v", err)
		}
		var ids []spconfigtest.Identity
		if err := json.Unmarshal(b, &ids); err != nil {
			return usageError("fake-tenant: --identities %s: want [{\"id\": ..., \"name\": ...}]: %v", *identities, err)
		}
		opts.Identities = ids
	}
	srv, err := spconfigtest.Start(*listen, opts)
	if err != nil {
		return usageError("fake-tenant: %v", err)
	}
	fmt.Fprintln(env.stdout, srv.URL)
	slog.New(slog.NewTextHandler(env.stderr, nil)).Info("fake tenant listening", "url", srv.URL, "tenant", srv.Name(),
		"objects", len(srv.Objects("")), "identities", len(srv.Identities()), "clientID", *clientID, "scopes", *scopes)
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
	}
	return nil
}

func isListSeparator(r rune) bool { return r == ',' || r == ' ' }
