package main

import (
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

// approver approves every Configuration Hub draft of a fake tenant that is
// pending approval, as a person in the tenant would, until stopped.
type approver struct {
	stop chan struct{}
	done sync.WaitGroup
	mu   sync.Mutex
	n    int // drafts approved
}

func startApprover(t *testing.T, srv *spconfigtest.Server) *approver {
	a := &approver{stop: make(chan struct{})}
	a.done.Add(1)
	go func() {
		defer a.done.Done()
		for i := 0; i < 20000; i++ { // bounded: 20000 x 20 ms
			select {
			case <-a.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			for _, d := range srv.ConfigurationHub().Drafts {
				if d.Status == spconfig.StatusComplete && d.ApprovalStatus == spconfig.ApprovalPending {
					if err := srv.SetDraftApproval(d.JobID, spconfig.ApprovalApproved, "looks good"); err == nil {
						a.mu.Lock()
						a.n++
						a.mu.Unlock()
					}
				}
			}
		}
	}()
	t.Cleanup(a.close)
	return a
}

func (a *approver) close() {
	select {
	case <-a.stop:
	default:
		close(a.stop)
	}
	a.done.Wait()
}

func (a *approver) approved() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// roleOwner is the owner name of a fake tenant's ROLE.
func roleOwner(t *testing.T, srv *spconfigtest.Server, name string) string {
	t.Helper()
	var o struct {
		Owner struct{ Name string } `json:"owner"`
	}
	if err := json.Unmarshal(liveObject(t, srv, "ROLE", name).Object(), &o); err != nil {
		t.Fatal(err)
	}
	return o.Owner.Name
}

// TestConfigurationHubDeploysWhatSPConfigCannotImport: with
// deploy.configurationHub, one run imports the SP-Config types and deploys
// the ROLE and ACCESS_PROFILE changes through Configuration Hub (the draft
// waits for approval, then deploys); a revert of that promotion plus apply
// deploys the previous ROLE back; a draft that fails (missing owner) blocks
// the run and deploys nothing; promoter deletes the uploads it made
// (issue 16).
func TestConfigurationHubDeploysWhatSPConfigCannotImport(t *testing.T) {
	t.Parallel()
	// The new ServiceNow ITIL access profile needs entitlements an
	// aggregation of the new source would bring, and the password sync
	// group that source's id: both wait for a later promotion.
	w := newWorld(t, worldOptions{
		pipeline: "    deploy:\n      configurationHub: true\n    excludeTypes: [PASSWORD_SYNC_GROUP]\n",
		prod:     tenantSetup{opts: func(o *spconfigtest.Options) { o.DraftApproval = spconfig.ApprovalPending }},
	})
	cfg, err := os.ReadFile(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(cfg), "      - type: AUTH_ORG\n", "      - type: AUTH_ORG\n      - { type: ACCESS_PROFILE, name: ServiceNow ITIL }\n", 1)
	if err := os.WriteFile(w.cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startApprover(t, w.prod)
	w.editObject(w.dev, "ACCESS_PROFILE", "AD HelpDesk", "Help desk group in Active Directory", "Help desk group (tier 1 and 2)")
	if got := roleOwner(t, w.prod, "2 entitlement role"); got != "William Wilson" {
		t.Fatalf("prod's ROLE owner is %q before the run; the test expects the sample's William Wilson", got)
	}
	out, errOut, code := w.promoter("run", "--config", w.cfg)
	if code != exitOK {
		dbg, _, _ := w.promoter("plan", "--config", w.cfg, "--rev", "HEAD")
		t.Fatalf("run: exit %d\n%s\nplan now:\n%s", code, lastLines(errOut, 3), dbg)
	}
	if got := roleOwner(t, w.prod, "2 entitlement role"); got != "Imogene Mendez" {
		t.Errorf("the ROLE did not reach prod through Configuration Hub: owner %q\n%s", got, out)
	}
	if d := string(liveObject(t, w.prod, "ACCESS_PROFILE", "AD HelpDesk").Object()); !strings.Contains(d, "tier 1 and 2") {
		t.Errorf("the ACCESS_PROFILE change did not reach prod: %s", d)
	}
	liveObject(t, w.prod, "SOURCE", "ServiceNow")
	if w.realImports() != 1 {
		t.Errorf("real imports = %d, want 1", w.realImports())
	}
	if a.approved() == 0 {
		t.Error("the draft never waited for approval")
	}
	hub := w.prod.ConfigurationHub()
	if len(hub.Deploys) != 1 || len(hub.Uploads) != 0 {
		t.Errorf("Configuration Hub after the run: %d deploy(s), %d upload(s) left; want 1 deploy and the upload deleted", len(hub.Deploys), len(hub.Uploads))
	}
	note := w.git("notes", "--ref=promoter", "show", "refs/promoter/applied/prod")
	if !strings.Contains(note, `"hubDeploy"`) || !strings.Contains(note, "ROLE 2 entitlement role") {
		t.Errorf("the import record does not say what went through Configuration Hub:\n%s", note)
	}
	// Nothing changed: no further upload or deploy.
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if n := len(w.prod.ConfigurationHub().Deploys); n != 1 {
		t.Errorf("a run with nothing new deployed again (%d deploys)", n)
	}

	// Rollback of that promotion deploys prod's previous ROLE back.
	promotion := w.git("log", "-1", "--format=%H", "--grep=^Promote")
	w.git("revert", "--no-edit", promotion)
	w.mustPromoter(exitOK, "apply", "--config", w.cfg)
	if got := roleOwner(t, w.prod, "2 entitlement role"); got != "William Wilson" {
		t.Errorf("revert + apply did not deploy the previous ROLE back: owner %q", got)
	}

	// A draft that fails (its owner is missing in prod) blocks and deploys
	// nothing.
	w.editObject(w.dev, "ROLE", "2 entitlement role", `"Imogene Mendez"`, `"Nobody Here"`)
	deploys := len(w.prod.ConfigurationHub().Deploys)
	out, errOut, code = w.promoter("run", "--config", w.cfg)
	if code != exitBlocked || !strings.Contains(out+errOut, "Nobody Here") || !strings.Contains(out+errOut, "nothing was deployed") {
		t.Errorf("a failing draft: exit %d, want 3 naming the missing owner\n%s\n%s", code, out, lastLines(errOut, 6))
	}
	if got := len(w.prod.ConfigurationHub().Deploys); got != deploys {
		t.Errorf("a failing draft deployed (%d -> %d deploys)", deploys, got)
	}
	if got := roleOwner(t, w.prod, "2 entitlement role"); got != "William Wilson" {
		t.Errorf("prod's ROLE changed after a failed draft: owner %q", got)
	}
	if n := len(w.prod.ConfigurationHub().Uploads); n != 0 {
		t.Errorf("%d upload(s) left after the failed draft", n)
	}
}
