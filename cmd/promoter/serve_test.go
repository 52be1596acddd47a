package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"promoter/config"
)

// daemon is a running `promoter serve` of the real binary.
type daemon struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	mu   sync.Mutex
	logs bytes.Buffer
	done chan error
}

// listenAddrRE finds the listening address in a JSON or a text log line.
var listenAddrRE = regexp.MustCompile(`(?:"msg":"listening","addr":"|msg=listening addr=)([0-9.:]+)`)

// startServe starts the binary with serve --listen 127.0.0.1:0 and returns
// once it logged the address it listens on (bounded).
func (w *e2e) startServe(extraArgs ...string) *daemon {
	w.t.Helper()
	args := append([]string{"serve", "--config", w.cfg, "--listen", "127.0.0.1:0", "--grace", "20s"}, extraArgs...)
	cmd := w.command(w.env, args...)
	cmd.Dir = w.dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		w.t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	d := &daemon{t: w.t, cmd: cmd, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.logs.WriteString(line + "\n")
			d.mu.Unlock()
			if m := listenAddrRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		d.done <- cmd.Wait()
	}()
	w.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	select {
	case a := <-addr:
		d.url = "http://" + a
	case err := <-d.done:
		w.t.Fatalf("promoter serve exited before listening: %v\n%s", err, d.log())
	case <-time.After(30 * time.Second):
		w.t.Fatalf("promoter serve did not log its address within 30s\n%s", d.log())
	}
	return d
}

func (d *daemon) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// get fetches a path and returns status and body.
func (d *daemon) get(path string) (int, string) {
	d.t.Helper()
	resp, err := http.Get(d.url + path)
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// trigger posts to the manual trigger with an optional bearer token.
func (d *daemon) trigger(pipelineName, token string) (int, string) {
	d.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, d.url+"/api/pipelines/"+pipelineName+"/run", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("POST trigger: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitRuns polls /api/pipelines until the pipeline has n finished runs and
// returns the newest one's outcome (bounded).
func (d *daemon) waitRuns(pipelineName string, n int) string {
	d.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		_, body := d.get("/api/pipelines")
		var doc struct {
			Pipelines []struct {
				Name string `json:"name"`
				Runs []struct {
					Outcome string `json:"outcome"`
					Error   string `json:"error"`
				} `json:"runs"`
			} `json:"pipelines"`
		}
		if err := json.Unmarshal([]byte(body), &doc); err == nil {
			for _, p := range doc.Pipelines {
				if p.Name == pipelineName && len(p.Runs) >= n {
					return p.Runs[0].Outcome
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.t.Fatalf("pipeline %s did not finish %d run(s) within 60s\n%s", pipelineName, n, d.log())
	return ""
}

// stop sends SIGTERM and returns the exit code (bounded).
func (d *daemon) stop() int {
	d.t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		d.t.Fatal(err)
	}
	select {
	case err := <-d.done:
		if err == nil {
			return 0
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		d.t.Fatalf("wait for promoter serve: %v", err)
	case <-time.After(30 * time.Second):
		d.t.Fatalf("promoter serve did not exit within 30s of SIGTERM\n%s", d.log())
	}
	return -1
}

// TestServeTriggerImportMetricsAndShutdown drives `promoter serve` of the
// real binary: probes, metrics, the manual trigger (auth, a blocked run, a
// run that imports), the status page (and its screenshot in headless
// Chromium) and a clean exit on SIGTERM.
func TestServeTriggerImportMetricsAndShutdown(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "serve:\n  triggerTokenEnv: E2E_TRIGGER_TOKEN\n")
	w.raceChildren() // the daemon: scheduler, HTTP server and runs at once
	const token = "e2e-trigger-token"
	w.env = append(w.env, "E2E_TRIGGER_TOKEN="+token)
	d := w.startServe()

	if code, body := d.get("/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
	waitReady(t, d.url+"/readyz")
	code, body := d.get("/metrics")
	if code != 200 || !strings.Contains(body, "promoter_runs_total") && !strings.Contains(body, "promoter_run_in_progress") {
		t.Errorf("/metrics = %d without promoter_ metrics:\n%.2000s", code, body)
	}

	// The trigger refuses a missing or wrong token.
	if code, body := d.trigger("dev-to-prod", ""); code != http.StatusUnauthorized {
		t.Errorf("trigger without token = %d %s, want 401", code, body)
	}
	if code, body := d.trigger("dev-to-prod", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("trigger with a wrong token = %d %s, want 401", code, body)
	}
	if code, body := d.trigger("no-such-pipeline", token); code != http.StatusNotFound {
		t.Errorf("trigger of an unknown pipeline = %d %s, want 404", code, body)
	}

	// First run: blocked by the identity missing in prod.
	if code, body := d.trigger("dev-to-prod", token); code != http.StatusAccepted {
		t.Fatalf("trigger = %d %s, want 202", code, body)
	}
	if got := d.waitRuns("dev-to-prod", 1); got != "blocked" {
		t.Fatalf("first run outcome = %q, want blocked\n%s", got, d.log())
	}
	if _, page := d.get("/"); !strings.Contains(page, "Imogene Mendez") || !strings.Contains(page, "Blocked") {
		t.Errorf("status page does not show the blocked reason naming Imogene Mendez:\n%.3000s", page)
	}
	if n := w.realImports(); n != 0 {
		t.Fatalf("blocked run imported %d times", n)
	}

	// Second run imports once the identity exists.
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	if code, body := d.trigger("dev-to-prod", token); code != http.StatusAccepted {
		t.Fatalf("second trigger = %d %s, want 202", code, body)
	}
	if got := d.waitRuns("dev-to-prod", 2); got != "imported" {
		t.Fatalf("second run outcome = %q, want imported\n%s", got, d.log())
	}
	if n := w.realImports(); n != 1 {
		t.Fatalf("real imports on prod = %d, want 1", n)
	}
	w.prodMatchesDev()

	_, body = d.get("/metrics")
	for _, want := range []string{
		`promoter_runs_total{outcome="imported",pipeline="dev-to-prod"} 1`,
		`promoter_runs_total{outcome="blocked",pipeline="dev-to-prod"} 1`,
		`promoter_step_duration_seconds_count{outcome="ok",pipeline="dev-to-prod",step="import"} 1`,
		`promoter_api_requests_total{code="202",operation="importSpConfig",tenant="prod"}`,
		`promoter_objects_imported_total{pipeline="dev-to-prod",type="`,
		`promoter_last_success_timestamp_seconds{pipeline="dev-to-prod"}`,
		`promoter_lead_time_seconds_count{pipeline="dev-to-prod"} 1`,
		`promoter_holds_active{pipeline="dev-to-prod"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	_, page := d.get("/")
	for _, want := range []string{"dev-to-prod", "imported", "<table>", "import", "Last plan"} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}

	t.Run("screenshot", func(t *testing.T) { screenshotStatusPage(t, d.url+"/") })

	if code := d.stop(); code != 0 {
		t.Fatalf("promoter serve exit code after SIGTERM = %d, want 0\n%s", code, d.log())
	}
	logs := d.log()
	for _, want := range []string{`"msg":"step"`, `"pipeline":"dev-to-prod"`, `"step":"import"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("serve logs (JSON, stderr is not a terminal) lack %s", want)
		}
	}
}

// TestServeTriggerDisabledWithoutToken checks the 403 that explains how to
// enable the trigger, and that --log-format text wins over the default.
func TestServeTriggerDisabledWithoutToken(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	w.raceChildren() // the daemon
	d := w.startServeText()
	waitReady(t, d.url+"/readyz")
	code, body := d.trigger("dev-to-prod", "anything")
	if code != http.StatusForbidden || !strings.Contains(body, "triggerTokenEnv") {
		t.Errorf("trigger without a configured token = %d %s, want 403 naming serve.triggerTokenEnv", code, body)
	}
	if code := d.stop(); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0\n%s", code, d.log())
	}
	if !strings.Contains(d.log(), "level=INFO msg=ready") {
		t.Errorf("--log-format text did not log text:\n%s", d.log())
	}
}

// startServeText is startServe with text logs.
func (w *e2e) startServeText() *daemon {
	w.t.Helper()
	return w.startServe("--log-format", "text")
}

// chromiumBinary finds Debian's chromium (or another Chrome) on the PATH.
func chromiumBinary() (string, bool) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// screenshotStatusPage renders the status page in headless Chromium and
// checks the PNG: it decodes, has the window's size and is not blank.
func screenshotStatusPage(t *testing.T, url string) {
	bin, ok := chromiumBinary()
	if !ok {
		t.Skip("chromium not found on PATH (install Debian's chromium package; .ci/run does when apt is usable)")
	}
	dir := t.TempDir()
	shot := filepath.Join(dir, "status.png")
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+shot, "--window-size=1280,900", url)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium screenshot: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v\n%s", err, out)
	}
	defer f.Close()
	if keep := os.Getenv("PROMOTER_KEEP_SCREENSHOT"); keep != "" { // for people: look at the page
		if data, err := os.ReadFile(shot); err == nil {
			_ = os.WriteFile(keep, data, 0o644)
		}
	}
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 900 {
		t.Errorf("screenshot is %dx%d, want 1280x900", b.Dx(), b.Dy())
	}
	if n := distinctColours(img, 64); n < 8 {
		t.Errorf("screenshot has %d distinct colours: the page did not render", n)
	}
	if keep := os.Getenv("PROMOTER_KEEP_SCREENSHOT"); keep != "" {
		data, _ := os.ReadFile(shot)
		if err := os.WriteFile(keep, data, 0o644); err != nil {
			t.Errorf("keep screenshot: %v", err)
		}
	}
	t.Logf("status page screenshot: %s (%s)", shot, fmt.Sprint(img.Bounds().Size()))
}

// distinctColours counts colours, stopping at limit.
func distinctColours(img image.Image, limit int) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}

// binaryFlags returns the flags a subcommand accepts, read from its -h
// output (in process: the binary's -h is run's).
func binaryFlags(t *testing.T, verb string) map[string]bool {
	t.Helper()
	_, out, _ := promote(t, nil, verb, "-h")
	flags := map[string]bool{}
	for _, f := range helpFlags(out) {
		flags[f] = true
	}
	if len(flags) == 0 {
		t.Fatalf("promoter %s -h lists no flags:\n%s", verb, out)
	}
	return flags
}

// checkArgs checks that args start with verb and use only flags of the binary,
// and returns the flag values.
func checkArgs(t *testing.T, where string, args []string, verb string) map[string]string {
	t.Helper()
	if len(args) == 0 || args[0] != verb {
		t.Fatalf("%s: args %v do not start with %q", where, args, verb)
	}
	known := binaryFlags(t, verb)
	vals := map[string]string{}
	for i := 1; i < len(args); i++ {
		name, ok := strings.CutPrefix(args[i], "--")
		if !ok {
			t.Errorf("%s: argument %q is not a flag", where, args[i])
			continue
		}
		if !known[name] {
			t.Errorf("%s: promoter %s has no flag --%s", where, verb, name)
		}
		if i+1 < len(args) {
			vals[name] = args[i+1]
			i++
		}
	}
	return vals
}

// TestDeployManifestsAgreeWithTheBinary parses every YAML document under
// deploy/kubernetes, checks the fields each kind needs, and that image, args,
// ports, probes and the embedded promotion.yaml agree with the binary.
func TestDeployManifestsAgreeWithTheBinary(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../deploy/kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes (%v)", err)
	}
	type doc = map[string]any
	get := func(d any, path ...any) any {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, ok := d.(doc)
				if !ok {
					return nil
				}
				d = m[k]
			case int:
				l, ok := d.([]any)
				if !ok || k >= len(l) {
					return nil
				}
				d = l[k]
			}
		}
		return d
	}
	strs := func(v any) []string {
		var out []string
		for _, x := range v.([]any) {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	kinds := map[string]doc{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var d doc
			if err := dec.Decode(&d); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if d == nil {
				continue
			}
			for _, k := range []string{"apiVersion", "kind"} {
				if s, _ := d[k].(string); s == "" {
					t.Errorf("%s: document without %s", f, k)
				}
			}
			if get(d, "metadata", "name") == nil {
				t.Errorf("%s: %v without metadata.name", f, d["kind"])
			}
			kinds[fmt.Sprint(d["kind"])] = d
		}
	}
	for _, k := range []string{"Deployment", "ConfigMap", "Secret", "Service", "ServiceMonitor", "PodDisruptionBudget", "PersistentVolumeClaim", "CronJob"} {
		if kinds[k] == nil {
			t.Fatalf("deploy/kubernetes has no %s", k)
		}
	}
	dep := kinds["Deployment"]
	if get(dep, "spec", "replicas") != 1 || get(dep, "spec", "strategy", "type") != "Recreate" {
		t.Errorf("Deployment: want replicas 1 and strategy Recreate")
	}
	c := get(dep, "spec", "template", "spec", "containers", 0)
	vals := checkArgs(t, "Deployment", strs(get(c, "args")), "serve")
	_, port, _ := strings.Cut(vals["listen"], ":")
	if fmt.Sprint(get(c, "ports", 0, "containerPort")) != port {
		t.Errorf("Deployment: containerPort %v != --listen port %q", get(c, "ports", 0, "containerPort"), port)
	}
	if get(c, "livenessProbe", "httpGet", "path") != "/healthz" || get(c, "readinessProbe", "httpGet", "path") != "/readyz" {
		t.Errorf("Deployment: probes must be /healthz (liveness) and /readyz (readiness)")
	}
	if get(c, "envFrom", 0, "secretRef", "name") != get(kinds["Secret"], "metadata", "name") {
		t.Errorf("Deployment does not take its environment from the Secret")
	}
	// Go's soft memory limit sits below the container's limit (MiB and Gi only)
	mib := func(v string) int {
		var n int
		switch {
		case strings.HasSuffix(v, "MiB"):
			fmt.Sscan(strings.TrimSuffix(v, "MiB"), &n)
		case strings.HasSuffix(v, "Gi"):
			fmt.Sscan(strings.TrimSuffix(v, "Gi"), &n)
			n *= 1024
		}
		return n
	}
	var memLimit string
	for _, e := range get(c, "env").([]any) {
		if get(e, "name") == "GOMEMLIMIT" {
			memLimit = fmt.Sprint(get(e, "value"))
		}
	}
	if lim, soft := mib(fmt.Sprint(get(c, "resources", "limits", "memory"))), mib(memLimit); soft == 0 || lim == 0 || soft >= lim || soft < lim*8/10 {
		t.Errorf("Deployment: GOMEMLIMIT %q should be 80-99%% of limits.memory %v", memLimit, get(c, "resources", "limits", "memory"))
	}
	cfgPath := vals["config"]
	mountedCfg := false
	for _, m := range get(c, "volumeMounts").([]any) {
		if mp := fmt.Sprint(get(m, "mountPath")); strings.HasPrefix(cfgPath, mp+"/") {
			mountedCfg = true
			if filepath.Base(cfgPath) != "promotion.yaml" {
				t.Errorf("--config %s is not the ConfigMap's promotion.yaml", cfgPath)
			}
		}
	}
	if !mountedCfg {
		t.Errorf("Deployment: --config %s is not under a volume mount", cfgPath)
	}
	// The embedded configuration is valid and its secrets are in the Secret.
	cm := get(kinds["ConfigMap"], "data", "promotion.yaml")
	cfg, err := config.Parse("promotion.yaml", []byte(fmt.Sprint(cm)))
	if err != nil {
		t.Fatalf("ConfigMap promotion.yaml: %v", err)
	}
	secret := get(kinds["Secret"], "stringData").(doc)
	env := func(name string) string { return fmt.Sprint(secret[name]) }
	if _, err := cfg.ResolveSecrets(func(n string) string {
		if _, ok := secret[n]; ok {
			return env(n)
		}
		return ""
	}); err != nil {
		t.Errorf("ConfigMap promotion.yaml needs variables the Secret lacks: %v", err)
	}
	if cfg.Serve.TriggerTokenEnv == "" || secret[cfg.Serve.TriggerTokenEnv] == nil {
		t.Errorf("serve.triggerTokenEnv %q is not in the Secret", cfg.Serve.TriggerTokenEnv)
	}
	svc := kinds["Service"]
	if get(svc, "spec", "ports", 0, "targetPort") != get(c, "ports", 0, "name") {
		t.Errorf("Service targetPort does not name the container port")
	}
	if get(kinds["ServiceMonitor"], "spec", "endpoints", 0, "path") != "/metrics" {
		t.Errorf("ServiceMonitor does not scrape /metrics")
	}
	cj := get(kinds["CronJob"], "spec", "jobTemplate", "spec", "template", "spec", "containers", 0)
	checkArgs(t, "CronJob", strs(get(cj, "args")), "run")
	if get(cj, "image") != get(c, "image") {
		t.Errorf("CronJob image %v != Deployment image %v", get(cj, "image"), get(c, "image"))
	}
	// The Dockerfile's default command and port agree too.
	df, err := os.ReadFile("../../deploy/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CMD (\[.*\])$`).FindSubmatch(df)
	if m == nil {
		t.Fatal("Dockerfile has no CMD [...]")
	}
	var cmdArgs []string
	if err := json.Unmarshal(m[1], &cmdArgs); err != nil {
		t.Fatalf("Dockerfile CMD: %v", err)
	}
	dv := checkArgs(t, "Dockerfile CMD", cmdArgs, "serve")
	if _, p, _ := strings.Cut(dv["listen"], ":"); !strings.Contains(string(df), "EXPOSE "+p) {
		t.Errorf("Dockerfile does not EXPOSE the --listen port %s", p)
	}
}
