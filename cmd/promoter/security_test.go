package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"promoter/spconfig/spconfigtest"
)

// The security tests (issue 7) check that secrets never leave the process,
// that only https (or loopback http) with verified TLS is spoken, and that
// files are written with safe permissions.

// TestNoSecretInOutputLogsCommitsNotesOrFiles runs a full promotion, a JSON
// plan and a failing run with known client secrets, a git token and the
// access tokens the fakes issued, then greps stdout, stderr, the whole git
// history with notes and refs, and every file of the repository for them.
func TestNoSecretInOutputLogsCommitsNotesOrFiles(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var tokens []string
	remote := filepath.Join(t.TempDir(), "remote.git")
	if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", remote).CombinedOutput(); err != nil {
		t.Fatalf("git init --bare: %v\n%s", err, out)
	}
	w := newWorld(t, worldOptions{
		repo: "repo:\n  path: ./repo\n  remote: " + remote + "\n  auth: { tokenEnv: E2E_GIT_TOKEN }\n",
		dev:  tenantSetup{wrap: captureTokens(&mu, &tokens)},
		prod: tenantSetup{wrap: captureTokens(&mu, &tokens)},
	})
	const gitToken = "git-token-QUUXQUUX"
	w.env = append(w.env, "E2E_GIT_TOKEN="+gitToken)

	var outputs []string
	add := func(r runResult) { outputs = append(outputs, r.stdout, r.stderr) }
	r := w.exec(nil, "run", "--config", w.cfg)
	if r.code != exitOK {
		t.Fatalf("run: %s", r)
	}
	add(r)
	add(w.exec(nil, "plan", "--config", w.cfg, "--format", "json"))
	add(w.exec(nil, "validate", "--config", w.cfg))
	// A failing run: prod refuses every request with a 500 whose text could
	// echo a request; the error paths must not reveal secrets either.
	w.prod.SetFaults("500=1")
	r = w.exec(nil, "plan", "--config", w.cfg, "--format", "json")
	if r.code == exitOK {
		t.Fatalf("plan against a failing tenant succeeded: %s", r)
	}
	add(r)
	w.prod.SetFaults("")
	// A wrong secret: the refusal is reported without the secret sent.
	wrong := append([]string{}, "E2E_PROD_SECRET=wrong-secret-PLUGH")
	r = w.exec(wrong, "plan", "--config", w.cfg)
	if r.code == exitOK {
		t.Fatalf("plan with a wrong secret succeeded: %s", r)
	}
	add(r)

	mu.Lock()
	secrets := append([]string{"dev-secret-XYZZY", "prod-secret-XYZZY", gitToken, "wrong-secret-PLUGH"}, tokens...)
	mu.Unlock()
	if len(secrets) < 6 {
		t.Fatalf("only %d access tokens captured: the check would prove little", len(secrets)-4)
	}
	outputs = append(outputs,
		w.git("log", "-p", "--all", "--notes=*", "--format=fuller"),
		w.git("for-each-ref"),
		w.git("--git-dir="+remote, "log", "-p", "--all", "--notes=*"),
	)
	for list := range strings.Lines(w.git("notes", "--ref=promoter", "list")) {
		if f := strings.Fields(list); len(f) == 2 {
			outputs = append(outputs, w.git("notes", "--ref=promoter", "show", f[1]))
		}
	}
	for _, root := range []string{w.repo, remote, w.dir} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || p == w.cfg {
				return nil
			}
			if data, err := os.ReadFile(p); err == nil {
				outputs = append(outputs, p+"\n"+string(data))
			}
			return nil
		})
	}
	for _, out := range outputs {
		for _, s := range secrets {
			if i := strings.Index(out, s); i >= 0 {
				start := max(0, i-80)
				t.Errorf("secret %.6s... found: ...%s...", s, out[start:min(len(out), i+len(s)+20)])
			}
		}
	}
}

// TestHTTPSRequiredExceptLoopback checks that validate refuses http:// for a
// tenant host that is not loopback (baseURL and tokenURL) and accepts it for
// 127.0.0.1, ::1 and localhost.
func TestHTTPSRequiredExceptLoopback(t *testing.T) {
	t.Parallel()
	cases := []struct {
		baseURL, tokenURL string
		ok                bool
	}{
		{"http://acme.api.identitynow.com", "", false},
		{"http://10.0.0.1:8080", "", false},
		{"https://127.0.0.1:8443", "http://auth.example.com/oauth/token", false},
		{"ftp://acme.api.identitynow.com", "", false},
		{"https://acme.api.identitynow.com", "", true},
		{"http://127.0.0.1:8080", "", true},
		{"http://[::1]:8080", "", true},
		{"http://localhost:8080", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.baseURL+" "+tc.tokenURL, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := fmt.Sprintf(e2eConfig, tc.baseURL, "https://acme.api.identitynow.com")
			if tc.tokenURL != "" {
				cfg = strings.Replace(cfg, "    clientIDEnv: E2E_DEV_ID\n", "    clientIDEnv: E2E_DEV_ID\n    tokenURL: "+tc.tokenURL+"\n", 1)
			}
			os.WriteFile(filepath.Join(dir, "promotion.yaml"), []byte(cfg), 0o644)
			// in process (run and exitCode, as main calls them): validate
			// needs no child
			stdout, stderr, code := promote(t, map[string]string{"E2E_DEV_ID": "a", "E2E_DEV_SECRET": "b", "E2E_PROD_ID": "c", "E2E_PROD_SECRET": "d"},
				"validate", "--config", filepath.Join(dir, "promotion.yaml"))
			// the folder's name holds the test's, "https" included: not
			// part of what validate says
			out := strings.ReplaceAll(stdout+stderr, dir, "DIR")
			switch {
			case tc.ok && code != exitOK:
				t.Errorf("validate refused a loopback or https URL: exit %d\n%s", code, out)
			case !tc.ok && code != exitUsage:
				t.Errorf("validate accepted an insecure URL: exit %d\n%s", code, out)
			case !tc.ok && !strings.Contains(out, "https") || !tc.ok && !strings.Contains(out, "tenants.dev."):
				t.Errorf("refusal does not name the key and ask for https:\n%s", out)
			}
		})
	}
}

// TestTLSVerificationRefusesUntrustedCertificate points the source tenant at
// an https fake on 127.0.0.1 whose certificate nobody trusts: the run fails
// with a certificate error before any request reaches the tenant.
func TestTLSVerificationRefusesUntrustedCertificate(t *testing.T) {
	t.Parallel()
	tn, err := spconfigtest.New(spconfigtest.Options{ClientID: "dev-id", ClientSecret: "dev-secret-XYZZY"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	reached := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached++
		mu.Unlock()
		tn.ServeHTTP(rw, r)
	}))
	defer srv.Close()
	w := newWorld(t, worldOptions{})
	cfg, _ := os.ReadFile(w.cfg)
	os.WriteFile(w.cfg, []byte(strings.Replace(string(cfg), w.dev.URL, srv.URL, 1)), 0o644)
	r := w.exec(nil, "run", "--config", w.cfg)
	if r.code != exitRuntime || !strings.Contains(lastError(r.stderr), "certificate") {
		t.Fatalf("want exit 1 with a certificate error, got %s", r)
	}
	if strings.Contains(r.stderr, "spconfig retry") {
		t.Errorf("an untrusted certificate was retried; it can never succeed:\n%s", r.stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if reached != 0 {
		t.Errorf("%d request(s) reached the tenant over unverified TLS", reached)
	}
}

// TestRepositoryFilesAre0644AndStateNotWorldWritable runs a promotion with
// umask 0 (so only the modes promoter asks for count) and checks that object
// files are 0644 and nothing under .git (lock, in-flight marker, refs,
// objects) is world-writable.
func TestRepositoryFilesAre0644AndStateNotWorldWritable(t *testing.T) {
	// Not parallel: the umask is the process's, and the sequential tests run
	// before the parallel ones start.
	old := syscall.Umask(0)
	w := newWorld(t, worldOptions{})
	// Kill after the import started, so the in-flight marker is on disk too.
	r := w.exec([]string{crashEnv + "=import-started"}, "run", "--config", w.cfg)
	syscall.Umask(old)
	if r.signal != syscall.SIGKILL {
		t.Fatalf("crash point not reached: %s", r)
	}
	marker := filepath.Join(w.repo, ".git", "promoter", "inflight-prod.json")
	lock := filepath.Join(w.repo, ".git", "promoter.lock")
	for _, p := range []string{marker, lock} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("expected state file: %v", err)
		}
	}
	n := 0
	filepath.WalkDir(w.repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(w.repo, p)
		mode := info.Mode()
		if mode&0o002 != 0 {
			t.Errorf("%s is world-writable (%v)", rel, mode)
		}
		if !d.IsDir() && strings.HasPrefix(rel, "tenants"+string(filepath.Separator)) {
			n++
			if perm := mode.Perm(); perm != 0o644 {
				t.Errorf("%s has mode %v, want 0644", rel, perm)
			}
		}
		return nil
	})
	if n == 0 {
		t.Fatal("no object files written: the check proves nothing")
	}
	var rec map[string]any
	data, _ := os.ReadFile(marker)
	if json.Unmarshal(data, &rec) != nil || rec["importJob"] == "" {
		t.Errorf("in-flight marker is not a record with the job id: %s", data)
	}
}
