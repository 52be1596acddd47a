package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"promoter/config"
	"promoter/gitstore"
	"promoter/pipeline"
	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

func init() {
	register(command{name: "demo", summary: "end-to-end demo on two embedded fake tenants",
		usage: "demo [--dir DIR] [--verbose] [--configuration-hub]", run: runDemo})
}

// demoConfig is the promotion.yaml the demo writes; %s are the tenant URLs.
const demoConfig = `# Written by "promoter demo": two fake tenants on 127.0.0.1.
repo:
  path: ./isc-config
  branch: main
tenants:
  dev:
    baseURL: %s
    apiVersion: v2025
    clientIDEnv: DEMO_DEV_CLIENT_ID
    clientSecretEnv: DEMO_DEV_CLIENT_SECRET
  prod:
    baseURL: %s
    apiVersion: v2025
    clientIDEnv: DEMO_PROD_CLIENT_ID
    clientSecretEnv: DEMO_PROD_CLIENT_SECRET
pipelines:
  - name: dev-to-prod
    source: dev
    target: prod
    mode: auto
    exclude:
      - type: AUTH_ORG          # environment-specific SSO settings: never promote
    gate:
      allowWarnings: ["^Object to be imported"]
      maxChanges: 50
      onDrift: block
`

// demoHubConfig turns the Configuration Hub channel on (demo
// --configuration-hub). The new ServiceNow ITIL access profile needs the
// entitlements an aggregation of the new source brings, and the password
// sync group the source's id: they wait for a later promotion.
const demoHubConfig = `    deploy:
      configurationHub: true    # ROLE, ACCESS_PROFILE, WORKFLOW, ... through Configuration Hub
    excludeTypes: [PASSWORD_SYNC_GROUP]
`

const demoHubExclude = `      - { type: ACCESS_PROFILE, name: ServiceNow ITIL }   # needs an aggregation of the new source first
`

// demo holds the demo's moving parts.
type demo struct {
	out     io.Writer
	dir     string
	cfgPath string
	getenv  func(string) string
	logger  *slog.Logger
	dev     *spconfigtest.Server
	prod    *spconfigtest.Server
	step    int
	hub     bool // deploy through Configuration Hub too
}

func runDemo(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "demo")
	dir := fs.String("dir", "", "folder for the demo's configuration and repository (default: a new temporary folder)")
	verbose := fs.Bool("verbose", false, "log every pipeline step on stderr")
	hub := fs.Bool("configuration-hub", false, "also deploy the types SP-Config cannot import (ROLE, ACCESS_PROFILE, ...) through Configuration Hub")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	start := time.Now()
	d := &demo{out: env.stdout, hub: *hub}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "promoter-demo-")
		if err != nil {
			return err
		}
		d.dir = tmp
	} else {
		if err := os.MkdirAll(*dir, 0o755); err != nil {
			return err
		}
		d.dir = *dir
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	d.logger = slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: level}))

	if err := d.startTenants(); err != nil {
		return err
	}
	defer d.dev.Close()
	defer d.prod.Close()
	if err := d.story(ctx); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(d.out, "\nDemo finished in %s. Repository: %s\n", time.Since(start).Round(100*time.Millisecond), filepath.Join(d.dir, "isc-config"))
	fmt.Fprintf(d.out, "Look around: git -C %s log --stat --notes=promoter\n", filepath.Join(d.dir, "isc-config"))
	return nil
}

func (d *demo) startTenants() error {
	secrets := map[string]string{}
	for _, t := range []string{"dev", "prod"} {
		seed, err := spconfigtest.SampleExport(t)
		if err != nil {
			return err
		}
		ids, err := spconfigtest.SampleIdentities(t)
		if err != nil {
			return err
		}
		id, secret := "demo-"+t, "demo-"+t+"-secret"
		srv, err := spconfigtest.Start("127.0.0.1:0", spconfigtest.Options{
			Seed: seed, Identities: ids, ClientID: id, ClientSecret: secret,
			JobDelay: 50 * time.Millisecond, Logger: d.logger,
		})
		if err != nil {
			return fmt.Errorf("start fake tenant %s: %w", t, err)
		}
		secrets["DEMO_"+strings.ToUpper(t)+"_CLIENT_ID"] = id
		secrets["DEMO_"+strings.ToUpper(t)+"_CLIENT_SECRET"] = secret
		if t == "dev" {
			d.dev = srv
		} else {
			d.prod = srv
		}
	}
	d.getenv = func(k string) string { return secrets[k] }
	d.cfgPath = filepath.Join(d.dir, "promotion.yaml")
	cfg := fmt.Sprintf(demoConfig, d.dev.URL, d.prod.URL)
	if d.hub {
		cfg = strings.Replace(cfg, "      - type: AUTH_ORG", demoHubExclude+"      - type: AUTH_ORG", 1) + demoHubConfig
	}
	return os.WriteFile(d.cfgPath, []byte(cfg), 0o644)
}

func (d *demo) say(title string, lines ...string) {
	d.step++
	fmt.Fprintf(d.out, "\n== %d. %s\n", d.step, title)
	for _, l := range lines {
		fmt.Fprintf(d.out, "   %s\n", l)
	}
}

// runner wires a fresh runner, as a new process would.
func (d *demo) runner(ctx context.Context) (*pipeline.Runner, *gitstore.Repo, error) {
	cfg, err := config.Load(d.cfgPath)
	if err != nil {
		return nil, nil, err
	}
	sec, err := cfg.ResolveSecrets(d.getenv)
	if err != nil {
		return nil, nil, err
	}
	store, err := pipeline.OpenStore(ctx, cfg, sec, d.logger)
	if err != nil {
		return nil, nil, err
	}
	r, err := pipeline.NewRunner(cfg, sec, "dev-to-prod", store, pipeline.Env{Logger: d.logger})
	if err != nil {
		return nil, nil, err
	}
	r.Wait = spconfig.WaitOptions{MinInterval: 25 * time.Millisecond, MaxInterval: 200 * time.Millisecond}
	return r, store, nil
}

func (d *demo) printSteps(res *pipeline.Result) {
	for _, s := range res.Steps {
		fmt.Fprintf(d.out, "   %-9s %-10s %s\n", s.Name, s.Outcome, s.Detail)
	}
}

func (d *demo) countImports() int {
	n := 0
	for _, j := range d.prod.Jobs() {
		if j.Type == spconfig.JobImport && !j.Preview {
			n++
		}
	}
	return n
}

func (d *demo) story(ctx context.Context) error {
	fmt.Fprintf(d.out, "promoter demo: promoting SailPoint ISC configuration from dev (acme-sb) to prod (acme)\n")
	fmt.Fprintf(d.out, "Two fake tenants run on %s and %s, seeded with the sample exports.\n", d.dev.URL, d.prod.URL)
	fmt.Fprintf(d.out, "Configuration: %s\n", d.cfgPath)

	// 1. First snapshot.
	r, store, err := d.runner(ctx)
	if err != nil {
		return err
	}
	res, err := r.Export(ctx)
	if err != nil {
		return err
	}
	files, err := readHeadTenant(store, "dev")
	if err != nil {
		return err
	}
	d.say("First snapshot: export dev and commit one file per object",
		fmt.Sprintf("%d objects written under tenants/dev/<TYPE>/<name>.json, commit %s", len(files), shortHash(res.SnapshotCommit)))
	d.printSteps(res)

	// 2. First promotion: blocked by the missing owner.
	d.say("First promotion run: take prod's live objects as a baseline, copy dev's changes over them, plan against live prod, preview",
		"The baseline commit holds what prod had, so even this first promotion can be rolled back.",
		"The ServiceNow source is owned by Imogene Mendez, who exists in dev but not in prod.")
	res, err = r.Run(ctx, pipeline.RunOptions{})
	if res != nil && res.Plan != nil {
		_ = pipeline.RenderPlan(indent(d.out), res.Plan, pipeline.FormatText, false)
	}
	if !pipeline.IsBlocked(err) {
		return fmt.Errorf("expected the first promotion to be blocked by the preview, got %v", err)
	}
	d.say("The gate blocked the import (exit code 3); nothing was imported",
		fmt.Sprintf("real imports on prod so far: %d", d.countImports()))

	// 3. The fix.
	d.prod.AddIdentity("Imogene Mendez")
	d.say("The fix: an administrator creates the identity Imogene Mendez in prod")

	r, store, err = d.runner(ctx)
	if err != nil {
		return err
	}
	res, err = r.Run(ctx, pipeline.RunOptions{})
	if err != nil {
		return fmt.Errorf("second run: %w", err)
	}
	d.say("Second run: the preview is clean, so promoter imports, verifies and records",
		fmt.Sprintf("outcome %s; real imports on prod: %d", res.Outcome, d.countImports()))
	d.printSteps(res)
	if d.hub && res.Record != nil {
		d.say("Configuration Hub: what SP-Config cannot import went through an upload, a draft and a deploy after the import",
			fmt.Sprintf("deploy %s of draft %s: %s", res.Record.HubDeploy, res.Record.HubDraft, strings.Join(res.Record.HubObjects, ", ")),
			"prod's ROLE \"2 entitlement role\" is now owned by "+d.roleOwner("2 entitlement role"))
	}
	if res.Record != nil {
		d.say("The import record is a git note on the promoted commit (it outlives the tenant's 7-day job expiry)",
			"import job "+res.Record.ImportJob+", backup export "+res.Record.BackupJob,
			"payload sha256 "+res.Record.PayloadSHA256[:16]+"...",
			"objects: "+strings.Join(res.Record.Objects, ", "))
	}
	// 4. Rollback of the first promotion: the baseline holds prod's own
	// values, so reverting the promotion restores them.
	baseline, err := commitWithTrailer(store, "Promoter-Baseline")
	if err != nil {
		return err
	}
	d.say("Rollback of the first promotion: revert every promotion after the baseline of prod and apply",
		"promoter rollback --pipeline dev-to-prod --to "+baseline.String()[:12],
		"prod's Get Worker Type now: "+d.prodValue("Get Worker Type"))
	r, store, err = d.runner(ctx)
	if err != nil {
		return err
	}
	res, err = r.Rollback(ctx, baseline.String(), func(pl *pipeline.Plan) {
		_ = pipeline.RenderPlan(indent(d.out), pl, pipeline.FormatText, false)
	})
	if err != nil {
		return fmt.Errorf("rollback of the first promotion: %w", err)
	}
	d.printSteps(res)
	lines := []string{"prod's Get Worker Type now: " + d.prodValue("Get Worker Type"),
		fmt.Sprintf("real imports on prod: %d", d.countImports())}
	if d.hub {
		lines = append(lines, "prod's ROLE \"2 entitlement role\" is owned by "+d.roleOwner("2 entitlement role")+" again (deployed back through Configuration Hub)")
	}
	d.say("prod has its own values back; what the promotion created is reported not-deleted (SP-Config cannot delete)", lines...)
	before, err := store.Head()
	if err != nil {
		return err
	}

	// 5. A change in dev.
	if err := d.editDevTransform(); err != nil {
		return err
	}
	d.say("Someone changes the TRANSFORM \"Get Worker Type\" in dev again")
	r, _, err = d.runner(ctx)
	if err != nil {
		return err
	}
	res, err = r.Run(ctx, pipeline.RunOptions{})
	if err != nil {
		return fmt.Errorf("run after the dev change: %w", err)
	}
	d.say("Next run: only the changed object is offered (the reverted file counts as promoter's, so no conflict) and imported",
		fmt.Sprintf("outcome %s; imported %d object(s); real imports on prod: %d", res.Outcome, len(recordObjects(res)), d.countImports()))
	d.printSteps(res)

	// 6. Rollback by revert.
	d.say("Rollback: revert the target folder to "+before.String()[:12]+" and apply",
		"promoter rollback --pipeline dev-to-prod --to "+before.String()[:12])
	r, _, err = d.runner(ctx)
	if err != nil {
		return err
	}
	res, err = r.Rollback(ctx, before.String(), func(pl *pipeline.Plan) {
		_ = pipeline.RenderPlan(indent(d.out), pl, pipeline.FormatText, false)
	})
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	d.printSteps(res)

	// 7. The revert sticks.
	r, _, err = d.runner(ctx)
	if err != nil {
		return err
	}
	res, err = r.Run(ctx, pipeline.RunOptions{})
	if err != nil {
		return fmt.Errorf("run after rollback: %w", err)
	}
	d.say("Next scheduled run: dev did not change again, so the reverted change is not offered again",
		fmt.Sprintf("outcome %s; real imports on prod: %d", res.Outcome, d.countImports()))
	return nil
}

// prodValue is the attributes.value of a prod transform, for the story.
func (d *demo) prodValue(name string) string {
	var o struct {
		Attributes struct {
			Value string `json:"value"`
		} `json:"attributes"`
	}
	if !d.prodObject("TRANSFORM", name, &o) {
		return "(missing)"
	}
	return o.Attributes.Value
}

// prodObject decodes the object of a prod object into v; false when prod
// has no such object.
func (d *demo) prodObject(typ, name string, v any) bool {
	for _, e := range d.prod.Objects(typ) {
		if e.Key().Name == name {
			return json.Unmarshal(e.Object(), v) == nil
		}
	}
	return false
}

// roleOwner is the owner of a prod ROLE, for the story.
func (d *demo) roleOwner(name string) string {
	var o struct {
		Owner struct {
			Name string `json:"name"`
		} `json:"owner"`
	}
	if !d.prodObject("ROLE", name, &o) {
		return "(missing)"
	}
	return o.Owner.Name
}

// commitWithTrailer finds the newest first-parent commit of the branch that
// carries the trailer.
func commitWithTrailer(store *gitstore.Repo, trailer string) (gitstore.Hash, error) {
	h, err := store.Head()
	for err == nil && !h.IsZero() {
		var ci gitstore.CommitInfo
		if ci, err = store.CommitInfo(h); err != nil {
			break
		}
		if ci.Trailers[trailer] != "" {
			return h, nil
		}
		if len(ci.Parents) == 0 {
			break
		}
		h = ci.Parents[0]
	}
	if err == nil {
		err = fmt.Errorf("demo: no commit with trailer %s", trailer)
	}
	return gitstore.Hash{}, err
}

// editDevTransform changes one transform in dev through the fake's admin
// interface, as an edit in the product's UI would.
func (d *demo) editDevTransform() error {
	for _, e := range d.dev.Objects("TRANSFORM") {
		if e.Key().Name != "Get Worker Type" {
			continue
		}
		obj := strings.Replace(string(e.Object()), "Contingent", "Contractor", 1)
		if obj == string(e.Object()) {
			return errors.New("demo: the sample transform Get Worker Type has no \"Contingent\" to change")
		}
		ne, err := e.WithObject([]byte(obj))
		if err != nil {
			return err
		}
		return d.dev.PutObject(ne)
	}
	return errors.New("demo: dev has no TRANSFORM Get Worker Type")
}

func readHeadTenant(store *gitstore.Repo, tenant string) ([]gitstore.File, error) {
	h, err := store.Head()
	if err != nil {
		return nil, err
	}
	return store.ReadTenant(h, tenant)
}

func recordObjects(res *pipeline.Result) []string {
	if res.Record == nil {
		return nil
	}
	return res.Record.Objects
}

func shortHash(h string) string {
	if len(h) >= 12 {
		return h[:12]
	}
	return h
}

// indent returns a writer that indents every line by three spaces.
func indent(w io.Writer) io.Writer { return &indentWriter{w: w, bol: true} }

type indentWriter struct {
	w   io.Writer
	bol bool
}

func (iw *indentWriter) Write(p []byte) (int, error) {
	for _, b := range p {
		if iw.bol {
			if _, err := io.WriteString(iw.w, "   "); err != nil {
				return 0, err
			}
		}
		if _, err := iw.w.Write([]byte{b}); err != nil {
			return 0, err
		}
		iw.bol = b == '\n'
	}
	return len(p), nil
}
