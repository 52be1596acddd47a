package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"promoter/diff"
	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

// fakeTenant is one fake tenant served on 127.0.0.1. It records the access
// tokens it issues, which are secrets promoter must never print.
type fakeTenant struct {
	*spconfigtest.Tenant
	url string
	srv *http.Server

	mu     sync.Mutex
	tokens []string
}

func startTenant(opts spconfigtest.Options) (*fakeTenant, error) {
	tn, err := spconfigtest.New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fakeTenant{Tenant: tn, url: "http://" + ln.Addr().String()}
	f.srv = &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: 10 * time.Second}
	go f.srv.Serve(ln)
	return f, nil
}

// serve passes requests to the fake and keeps the access tokens it issues.
func (f *fakeTenant) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/oauth/token") {
		f.Tenant.ServeHTTP(w, r)
		return
	}
	rec := &recorder{ResponseWriter: w}
	f.Tenant.ServeHTTP(rec, r)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(rec.body.Bytes(), &tok) == nil && tok.AccessToken != "" {
		f.mu.Lock()
		f.tokens = append(f.tokens, tok.AccessToken)
		f.mu.Unlock()
	}
}

type recorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (f *fakeTenant) issued() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.tokens...)
}

func (f *fakeTenant) close() { f.srv.Close() }

// jobCounts counts the fake's real import jobs and those that ended FAILED.
func (f *fakeTenant) jobCounts() (real, failed int) {
	for _, j := range f.Jobs() {
		if j.Type == spconfig.JobImport && !j.Preview {
			real++
			if j.Status == spconfig.StatusFailed {
				failed++
			}
		}
	}
	return real, failed
}

// importsWithoutCleanPreview counts real imports that did not follow a
// COMPLETE preview that no earlier real import used.
func (f *fakeTenant) importsWithoutCleanPreview() int {
	n, previewOK := 0, false
	for _, j := range f.Jobs() {
		if j.Type != spconfig.JobImport {
			continue
		}
		if j.Preview {
			previewOK = j.Status == spconfig.StatusComplete
			continue
		}
		if !previewOK {
			n++
		}
		previewOK = false
	}
	return n
}

// webhook is a notification receiver on 127.0.0.1 whose URL holds a
// secret path; it keeps every body it receives.
type webhook struct {
	srv    *http.Server
	url    string
	mu     sync.Mutex
	bodies []string
}

func startWebhook(secret string) (*webhook, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &webhook{url: "http://" + ln.Addr().String() + "/hook/" + secret}
	h.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		h.mu.Lock()
		h.bodies = append(h.bodies, string(b))
		h.mu.Unlock()
	})}
	go h.srv.Serve(ln)
	return h, nil
}

func (h *webhook) received() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.bodies, "\n")
}

// world is one trial's setting: two fake tenants, a webhook, a folder with a
// configuration, and the secrets planted in all of them.
type world struct {
	dir, repo, cfg string
	remote         string // bare remote, when the world has one
	env            []string
	dev, prod      *fakeTenant
	hook           *webhook
	planted        []string // secrets that must appear nowhere
	secretSource   spconfig.Key
	outputs        strings.Builder // every stdout and stderr of promoter
	runs           int
}

const configText = `repo:
  path: ./repo
tenants:
  dev:
    baseURL: %s
    clientIDEnv: CAMPAIGN_DEV_ID
    clientSecretEnv: CAMPAIGN_DEV_SECRET
  prod:
    baseURL: %s
    clientIDEnv: CAMPAIGN_PROD_ID
    clientSecretEnv: CAMPAIGN_PROD_SECRET
pipelines:
  - name: dev-to-prod
    source: dev
    target: prod
    exclude:
      - type: AUTH_ORG
    gate:
      allowWarnings: ["^Object to be imported"]
    secretScan:
      action: redact
notifications:
  - type: webhook
    urlEnv: CAMPAIGN_HOOK_URL
`

// secretWord makes a planted secret that no other text holds.
func secretWord(rng *rand.Rand, kind string) string {
	return fmt.Sprintf("%s-PLANTED-%016x", kind, rng.Uint64())
}

// kind shapes a world.
type kind struct {
	// dirty keeps the identity the sample's owner reference needs out of
	// prod, so every preview has errors and the gate must block every import.
	dirty bool
	// remote gives the repository a bare remote on disk that every flow
	// pushes to.
	remote bool
}

// newWorld starts a world in a new folder under root.
func newWorld(root string, rng *rand.Rand, k kind) (*world, error) {
	dir, err := os.MkdirTemp(root, "trial-")
	if err != nil {
		return nil, err
	}
	w := &world{dir: dir, repo: filepath.Join(dir, "repo"), cfg: filepath.Join(dir, "promotion.yaml")}
	repoConfig := "repo:\n  path: ./repo\n"
	if k.remote {
		w.remote = filepath.Join(dir, "remote.git")
		if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", w.remote).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("git init --bare: %v: %s", err, out)
		}
		repoConfig += "  remote: " + w.remote + "\n"
	}
	devSecret, prodSecret := secretWord(rng, "dev-client-secret"), secretWord(rng, "prod-client-secret")
	hookSecret := secretWord(rng, "webhook-path")
	adminPassword, apiToken := secretWord(rng, "adminPassword"), secretWord(rng, "apiToken")
	w.planted = []string{devSecret, prodSecret, hookSecret, adminPassword, apiToken}
	for _, name := range []string{"dev", "prod"} {
		seed, err := spconfigtest.SampleExport(name)
		if err != nil {
			return nil, err
		}
		ids, err := spconfigtest.SampleIdentities(name)
		if err != nil {
			return nil, err
		}
		secret := devSecret
		if name == "prod" {
			secret = prodSecret
		}
		f, err := startTenant(spconfigtest.Options{Seed: seed, Identities: ids, ClientID: name + "-id", ClientSecret: secret,
			Rand: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))})
		if err != nil {
			return nil, err
		}
		if name == "dev" {
			w.dev = f
		} else {
			w.prod = f
		}
	}
	if !k.dirty {
		w.prod.AddIdentity("Imogene Mendez")
	}
	if w.secretSource, err = plantCredentials(w.dev, map[string]string{"adminPassword": adminPassword, "apiToken": apiToken}); err != nil {
		return nil, err
	}
	if w.hook, err = startWebhook(hookSecret); err != nil {
		return nil, err
	}
	cfg := strings.Replace(fmt.Sprintf(configText, w.dev.url, w.prod.url), "repo:\n  path: ./repo\n", repoConfig, 1)
	if err := os.WriteFile(w.cfg, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	w.env = append(os.Environ(),
		"CAMPAIGN_DEV_ID=dev-id", "CAMPAIGN_DEV_SECRET="+devSecret,
		"CAMPAIGN_PROD_ID=prod-id", "CAMPAIGN_PROD_SECRET="+prodSecret,
		"CAMPAIGN_HOOK_URL="+w.hook.url, "NO_COLOR=1")
	return w, nil
}

// plantCredentials puts credentials under compound names into the
// connectorAttributes of the tenant's first SOURCE, as an admin typing them
// into the product would.
func plantCredentials(f *fakeTenant, values map[string]string) (spconfig.Key, error) {
	sources := f.Objects("SOURCE")
	if len(sources) == 0 {
		return spconfig.Key{}, errors.New("plant credentials: the dev sample has no SOURCE")
	}
	e := sources[0]
	dec := json.NewDecoder(bytes.NewReader(e.Object()))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return spconfig.Key{}, fmt.Errorf("plant credentials in %s: %w", e.Key(), err)
	}
	ca, _ := obj["connectorAttributes"].(map[string]any)
	if ca == nil {
		ca = map[string]any{}
		obj["connectorAttributes"] = ca
	}
	for k, v := range values {
		ca[k] = v
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return spconfig.Key{}, err
	}
	ne, err := e.WithObject(raw)
	if err != nil {
		return spconfig.Key{}, err
	}
	return e.Key(), f.PutObject(ne)
}

func (w *world) close() {
	w.dev.close()
	w.prod.close()
	w.hook.srv.Close()
}

// result is one finished promoter process.
type result struct {
	code   int            // exit code; -1 when a signal ended it
	signal syscall.Signal // the signal that ended it, if any
	hung   bool           // it did not end within the bound and was killed
	stderr string
}

// run starts promoter with extra environment variables, sends SIGKILL
// after killAfter when it is positive, and waits at most timeout.
func (w *world) run(bin string, timeout, killAfter time.Duration, extraEnv []string, args ...string) result {
	w.runs++
	cmd := exec.Command(bin, args...)
	cmd.Dir = w.dir
	cmd.Env = append(append([]string{}, w.env...), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return result{code: -1, stderr: err.Error()}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var kill <-chan time.Time
	if killAfter > 0 {
		kill = time.After(killAfter)
	}
	bound := time.After(timeout)
	var err error
	res := result{}
	select {
	case err = <-done:
	case <-kill:
		cmd.Process.Signal(syscall.SIGKILL)
		err = <-done
	case <-bound:
		cmd.Process.Kill()
		err = <-done
		res.hung = true
	}
	res.stderr = stderr.String()
	w.outputs.WriteString(stdout.String())
	w.outputs.WriteString(res.stderr)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.signal = ws.Signal()
		}
	}
	return res
}

// git runs the git CLI in the repository.
func (w *world) git(args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = w.repo
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=user", "GIT_AUTHOR_EMAIL=user@example.com", "GIT_COMMITTER_NAME=user", "GIT_COMMITTER_EMAIL=user@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// hasHead reports whether the repository has a commit.
func (w *world) hasHead() bool {
	_, err := w.git("rev-parse", "-q", "--verify", "HEAD")
	return err == nil
}

// fsck runs git fsck --strict when there is a repository with a commit.
func (w *world) fsck() error {
	if !w.hasHead() {
		return nil
	}
	_, err := w.git("fsck", "--strict", "--no-progress")
	return err
}

// userEdits are a person's uncommitted work beside promoter: a modified
// tracked file that the next promotion does not touch, a staged new file
// and an untracked file.
type userEdits struct {
	files  map[string]string // path -> content
	status []string          // the git status --porcelain lines they make
}

func (w *world) makeUserEdits() (*userEdits, error) {
	out, err := w.git("ls-files", "-z", "tenants/prod/SOURCE")
	if err != nil {
		return nil, err
	}
	tracked, _, _ := strings.Cut(out, "\x00")
	if tracked == "" {
		return nil, fmt.Errorf("no SOURCE file in tenants/prod to edit")
	}
	old, err := os.ReadFile(filepath.Join(w.repo, tracked))
	if err != nil {
		return nil, err
	}
	u := &userEdits{files: map[string]string{
		tracked:           string(old) + "\n", // a person's edit: one more line at the end
		"docs/runbook.md": "# how we promote\n",
		"scratch.txt":     "a person's notes\n",
	}}
	for p, c := range u.files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(w.repo, p)), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(w.repo, p), []byte(c), 0o644); err != nil {
			return nil, err
		}
	}
	if _, err := w.git("add", "docs/runbook.md"); err != nil {
		return nil, err
	}
	u.status = []string{" M " + tracked, "A  docs/runbook.md", "?? scratch.txt"}
	return u, nil
}

// checkUserEdits reports edits that are gone or changed, and the git
// status lines beyond the edits (a working tree that does not equal HEAD).
func (w *world) checkUserEdits(u *userEdits) (lost, dirty []string, err error) {
	for p, c := range u.files {
		got, rerr := os.ReadFile(filepath.Join(w.repo, p))
		if rerr != nil || string(got) != c {
			lost = append(lost, p)
		}
	}
	lines, err := w.status()
	if err != nil {
		return nil, nil, err
	}
	want := map[string]bool{}
	for _, s := range u.status {
		want[s] = true
	}
	for _, line := range lines {
		switch {
		case line == "":
		case want[line]:
			delete(want, line)
		default:
			dirty = append(dirty, line)
		}
	}
	for s := range want {
		lost = append(lost, "git status no longer shows "+s)
	}
	return lost, dirty, nil
}

// dirtyTree lists git status lines when no person edited anything.
func (w *world) dirtyTree() ([]string, error) {
	if _, err := os.Stat(w.repo); err != nil {
		return nil, nil
	}
	return w.status()
}

// status returns git status --porcelain, one entry per line, paths
// unquoted.
func (w *world) status() ([]string, error) {
	out, err := w.git("status", "--porcelain", "-z", "--untracked-files=all")
	if err != nil {
		return nil, err
	}
	var lines []string
	for e := range strings.SplitSeq(out, "\x00") {
		if e != "" {
			lines = append(lines, e)
		}
	}
	return lines, nil
}

// changeSource changes one importable dev object, as an edit in the
// product's UI would: the next run has something to promote.
func (w *world) changeSource(round int) error {
	for _, e := range w.dev.Objects("TRANSFORM") {
		if e.Key().Name != "Get Worker Type" {
			continue
		}
		old := string(e.Object())
		obj := strings.Replace(old, "Contingent", fmt.Sprintf("Contingent round %d", round), 1)
		if obj == old {
			return errors.New("change dev: TRANSFORM Get Worker Type has no \"Contingent\"")
		}
		ne, err := e.WithObject([]byte(obj))
		if err != nil {
			return err
		}
		return w.dev.PutObject(ne)
	}
	return errors.New("change dev: no TRANSFORM Get Worker Type")
}

// importedRecords counts the "imported" verdicts in the import records.
func (w *world) importedRecords() int {
	list, err := w.git("notes", "--ref=promoter", "list")
	if err != nil {
		return 0
	}
	n := 0
	for line := range strings.Lines(list) {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		note, _ := w.git("notes", "--ref=promoter", "show", f[1])
		n += strings.Count(note, `"verdict": "imported"`)
	}
	return n
}

// prodDiffers lists the importable dev objects that prod lacks or holds
// otherwise (cross-tenant comparison, as a plan does). The SOURCE with the
// planted credentials is left out: prod holds it redacted, by design.
func (w *world) prodDiffers() []string {
	prod := map[spconfig.Key]spconfig.Entry{}
	for _, e := range w.prod.Objects("") {
		prod[e.Key()] = e
	}
	var bad []string
	for _, d := range w.dev.Objects("") {
		if !spconfig.Importable(d.Type()) || d.Key() == w.secretSource {
			continue
		}
		p, ok := prod[d.Key()]
		if !ok {
			bad = append(bad, d.Key().String()+" missing")
			continue
		}
		r, err := diff.Compare([]spconfig.Entry{p}, []spconfig.Entry{d}, diff.Options{CrossTenant: true})
		if err != nil || len(r.Changes) > 0 {
			bad = append(bad, d.Key().String()+" differs")
		}
	}
	return bad
}

// leaks lists the planted secrets and issued access tokens found in any
// output of promoter, anything git holds (every ref, notes included), the
// working tree, the notifications and the prod tenant.
func (w *world) leaks() []string {
	var hay strings.Builder
	hay.WriteString(w.outputs.String())
	if log, err := w.git("log", "--all", "-p", "--format=%H%n%B"); err == nil {
		hay.WriteString(log)
	}
	filepath.WalkDir(w.repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && d.Name() == ".git" {
			// git's own files: the objects are read through git log above;
			// promoter's journal, markers and records are plain text
			for _, sub := range []string{"promoter", "promoter-checkout.json"} {
				filepath.WalkDir(filepath.Join(p, sub), func(q string, e fs.DirEntry, err error) error {
					if err == nil && !e.IsDir() {
						b, _ := os.ReadFile(q)
						hay.Write(b)
					}
					return nil
				})
			}
			return filepath.SkipDir
		}
		if !d.IsDir() {
			b, _ := os.ReadFile(p)
			hay.Write(b)
		}
		return nil
	})
	hay.WriteString(w.hook.received())
	for _, e := range w.prod.Objects("") {
		hay.Write(e.Object())
	}
	text := hay.String()
	var found []string
	secrets := append(append(append([]string{}, w.planted...), w.dev.issued()...), w.prod.issued()...)
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			found = append(found, s[:min(len(s), 24)]+"...")
		}
	}
	return found
}

// gitStatusLoop runs git status in the repository again and again, as an
// IDE or a git-aware prompt does (it refreshes the index under git's index
// lock), at most max times, until the returned stop is called; stop returns
// how many ran.
func (w *world) gitStatusLoop(max int) (stop func() int) {
	done := make(chan struct{})
	count := make(chan int, 1)
	go func() {
		n := 0
		for n < max {
			select {
			case <-done:
				count <- n
				return
			default:
			}
			if _, err := os.Stat(filepath.Join(w.repo, ".git")); err == nil {
				exec.Command("git", "-C", w.repo, "status", "--porcelain").Run()
				n++
			}
			time.Sleep(2 * time.Millisecond)
		}
		<-done
		count <- n
	}()
	return func() int {
		close(done)
		return <-count
	}
}

// remoteDiffers lists the refs promoter publishes (the branch, its
// bookkeeping refs and notes) whose value differs between the repository
// and its remote, after git fsck --strict of the remote.
func (w *world) remoteDiffers() ([]string, error) {
	if _, err := w.git("--git-dir", w.remote, "fsck", "--strict", "--no-progress"); err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	refs := func(gitDir ...string) (map[string]string, error) {
		args := append(gitDir, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/main", "refs/promoter/", "refs/notes/")
		out, err := w.git(args...)
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		for line := range strings.Lines(out) {
			if id, name, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
				m[name] = id
			}
		}
		return m, nil
	}
	local, err := refs()
	if err != nil {
		return nil, err
	}
	remote, err := refs("--git-dir", w.remote)
	if err != nil {
		return nil, err
	}
	var bad []string
	if local["refs/heads/main"] == "" || local["refs/promoter/applied/prod"] == "" {
		bad = append(bad, "the repository has no main or applied ref to compare")
	}
	for name, id := range local {
		if remote[name] != id {
			bad = append(bad, fmt.Sprintf("%s: local %.12s, remote %.12s", name, id, remote[name]))
		}
	}
	for name := range remote {
		if _, ok := local[name]; !ok {
			bad = append(bad, name+": only on the remote")
		}
	}
	return bad, nil
}
