package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// startFakeTenantCommand runs `promoter fake-tenant` in process with args and
// returns its URL; the server stops with the test.
func startFakeTenantCommand(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"fake-tenant", "--listen", "127.0.0.1:0", "--job-delay", "0s"}, args...), strings.NewReader(""), pw, io.Discard, os.Getenv)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("fake-tenant: %v", err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("fake-tenant printed no URL: %v", err)
	}
	go io.Copy(io.Discard, pr)
	return strings.TrimSpace(line)
}

func fakeToken(t *testing.T, base string) map[string]any {
	t.Helper()
	resp, err := http.PostForm(base+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"promoter"}, "client_secret": {"promoter-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return body
}

func firstExportJobID(t *testing.T, base string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v2025/sp-config/export", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+fakeToken(t, base)["access_token"].(string))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var job struct{ JobID string }
	if err := json.NewDecoder(resp.Body).Decode(&job); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("export: %d %v", resp.StatusCode, err)
	}
	return job.JobID
}

// TestFakeTenantScopesAndSeedIDs: --scopes sets the client's token scopes and
// --seed-ids makes job ids the same in every run (random without it).
func TestFakeTenantScopesAndSeedIDs(t *testing.T) {
	t.Parallel()
	ro := startFakeTenantCommand(t, "--seed-sample", "dev", "--scopes", "sp:config:read", "--seed-ids", "demo")
	if tok := fakeToken(t, ro); tok["scope"] != "sp:config:read" {
		t.Errorf("token scope = %v, want sp:config:read", tok["scope"])
	}
	seeded := startFakeTenantCommand(t, "--seed-sample", "dev", "--seed-ids", "demo")
	if a, b := firstExportJobID(t, ro), firstExportJobID(t, seeded); a != b {
		t.Errorf("--seed-ids demo: first job ids %s and %s differ", a, b)
	}
	r1, r2 := startFakeTenantCommand(t, "--seed-sample", "dev"), startFakeTenantCommand(t, "--seed-sample", "dev")
	if a, b := firstExportJobID(t, r1), firstExportJobID(t, r2); a == b {
		t.Errorf("without --seed-ids two tenants gave the same first job id %s", a)
	}
}
