package spconfig_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

// fastWait polls often so tests against a fake with JobDelay 0 are quick.
var fastWait = spconfig.WaitOptions{Timeout: 20 * time.Second, MinInterval: 5 * time.Millisecond, MaxInterval: 20 * time.Millisecond}

func hubFake(t *testing.T, name string, mod func(*spconfigtest.Options)) *spconfigtest.Server {
	t.Helper()
	exp, err := spconfigtest.SampleExport(name)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := spconfigtest.SampleIdentities(name)
	if err != nil {
		t.Fatal(err)
	}
	opts := spconfigtest.Options{Seed: exp, Identities: ids}
	if mod != nil {
		mod(&opts)
	}
	s, err := spconfigtest.Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func hubClient(t *testing.T, s *spconfigtest.Server, version string, maxRetries int) *spconfig.Client {
	t.Helper()
	c, err := spconfig.New(spconfig.Config{
		BaseURL: s.URL, APIVersion: version, ClientID: "promoter", ClientSecret: "promoter-secret",
		MaxRetries: maxRetries, RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// uploadDoc is an upload document of the named objects of tenant s.
func uploadDoc(t *testing.T, s *spconfigtest.Server, edit func(typ string, obj map[string]any), keys ...[2]string) []byte {
	t.Helper()
	doc := &spconfig.ExportDocument{ExportHeader: spconfig.ExportHeader{Version: 1, Tenant: s.Name()}}
	for _, k := range keys {
		var found bool
		for _, e := range s.Objects(k[0]) {
			if e.Key().Name != k[1] {
				continue
			}
			if edit != nil {
				var obj map[string]any
				if err := json.Unmarshal(e.Object(), &obj); err != nil {
					t.Fatal(err)
				}
				edit(k[0], obj)
				b, _ := json.Marshal(obj)
				var err error
				if e, err = e.WithObject(b); err != nil {
					t.Fatal(err)
				}
			}
			doc.Objects, found = append(doc.Objects, e), true
		}
		if !found {
			t.Fatalf("no %s %q in %s", k[0], k[1], s.Name())
		}
	}
	return doc.Bytes()
}

func setApproval(t *testing.T, s *spconfigtest.Server, id, status string) {
	t.Helper()
	if err := putApproval(s, id, status); err != nil {
		t.Fatal(err)
	}
}

// putApproval sets a draft's approval through the admin API; safe to call
// from any goroutine.
func putApproval(s *spconfigtest.Server, id, status string) error {
	req, _ := http.NewRequest("PUT", s.URL+"/_fake/drafts/"+id, strings.NewReader(fmt.Sprintf(`{"approvalStatus":%q,"comment":"reviewed"}`, status)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("set approval %s: status %d", status, resp.StatusCode)
	}
	return nil
}

// TestHubPromotion: a changed ROLE and ACCESS_PROFILE from dev reach prod
// through upload, draft (waiting for a pending approval) and deploy; prod
// keeps its ids; the scheduled action and the upload are cleaned up. Under
// 429 and 503 faults every creating POST still happens exactly once. Both
// path layouts: "v1" puts Configuration Hub under /v2025.
func TestHubPromotion(t *testing.T) {
	for _, tc := range []struct{ version, faults string }{{"v2025", ""}, {"beta", ""}, {"v1", "429=0.1,503=0.2"}} {
		t.Run(tc.version+"/"+tc.faults, func(t *testing.T) {
			ctx := context.Background()
			dev := hubFake(t, "dev", nil)
			prod := hubFake(t, "prod", func(o *spconfigtest.Options) { o.Faults = tc.faults; o.RandSeed = 7 })
			c := hubClient(t, prod, tc.version, 30)
			doc := uploadDoc(t, dev, func(typ string, obj map[string]any) { obj["description"] = "promoted " + typ },
				[2]string{"ROLE", "Employee Database Access"}, [2]string{"ACCESS_PROFILE", "Employee-database-read-write"})
			var prodRoleID string
			for _, e := range prod.Objects("ROLE") {
				if e.Key().Name == "Employee Database Access" {
					prodRoleID = e.Self.ID
				}
			}

			var startedUpload string
			up, err := c.UploadBackup(ctx, doc, "promoter run 1", fastWait, func(u spconfig.Upload) error { startedUpload = u.JobID; return nil })
			if err != nil || up.Status != spconfig.StatusComplete || up.JobID != startedUpload || up.TotalObjectCount != 2 || up.Tenant != prod.Name() {
				t.Fatalf("UploadBackup = %+v, %v", up, err)
			}
			d, err := c.CreateDraft(ctx, up.JobID, fastWait)
			if err != nil || d.Status != spconfig.StatusComplete || d.SourceBackupID != up.JobID || d.ApprovalStatus != spconfig.ApprovalDefault {
				t.Fatalf("CreateDraft = %+v, %v", d, err)
			}
			if acts, err := c.ScheduledActions(ctx); err != nil || len(acts) != 0 {
				t.Fatalf("scheduled actions after CreateDraft: %+v, %v", acts, err)
			}
			got, err := c.Draft(ctx, d.JobID)
			if err != nil || got.JobID != d.JobID {
				t.Fatalf("Draft = %+v, %v", got, err)
			}

			// A pending approval: the deploy is refused, the wait waits.
			setApproval(t, prod, d.JobID, spconfig.ApprovalPending)
			_, err = c.StartDeploy(ctx, d.JobID)
			var ae *spconfig.APIError
			if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(err.Error(), "pending approval") {
				t.Fatalf("deploy of a pending draft: %v", err)
			}
			approved := make(chan error, 1)
			go func() {
				time.Sleep(50 * time.Millisecond)
				approved <- putApproval(prod, d.JobID, spconfig.ApprovalApproved)
			}()
			d, err = c.WaitDraftApproval(ctx, d.JobID, fastWait)
			if aerr := <-approved; aerr != nil {
				t.Fatal(aerr)
			}
			if err != nil || d.ApprovalStatus != spconfig.ApprovalApproved || len(d.ApprovalComment) != 2 {
				t.Fatalf("WaitDraftApproval = %+v, %v", d, err)
			}

			var startedID string
			dep, err := c.Deploy(ctx, d.JobID, fastWait, func(d spconfig.Deploy) error { startedID = d.JobID; return nil })
			if err != nil || dep.Status != spconfig.StatusComplete || dep.JobID != startedID || dep.DraftID != d.JobID {
				t.Fatalf("Deploy = %+v, %v", dep, err)
			}
			for _, e := range prod.Objects("ROLE") {
				if e.Key().Name == "Employee Database Access" && (e.Self.ID != prodRoleID || !strings.Contains(string(e.Raw), "promoted ROLE")) {
					t.Errorf("prod role after deploy (want id %s): %s", prodRoleID, e.Raw)
				}
			}
			if err := c.DeleteUpload(ctx, up.JobID); err != nil {
				t.Fatal(err)
			}
			err = c.DeleteUpload(ctx, up.JobID)
			if !errors.As(err, &ae) || !ae.NotFound() {
				t.Errorf("second DeleteUpload: %v", err)
			}
			info := prod.ConfigurationHub()
			if len(info.Uploads) != 0 || len(info.Drafts) != 1 || len(info.Deploys) != 1 || len(info.ScheduledActions) != 0 {
				t.Errorf("prod's Configuration Hub afterwards: %+v", info)
			}
			deps, err := c.Deploys(ctx)
			if err != nil || len(deps) != 1 {
				t.Errorf("Deploys = %+v, %v", deps, err)
			}
		})
	}
}

// TestHubFailures: a draft of a ROLE whose owner is missing is a *JobError
// naming the role and the owner, and its scheduled action is deleted; a
// denied draft is an *ApprovalError; the 11th upload is refused with the
// tenant's message; an unknown draft wraps ErrNotFound; a failed deploy
// carries its message; a token without the scopes gets a hint naming them.
func TestHubFailures(t *testing.T) {
	ctx := context.Background()
	dev := hubFake(t, "dev", nil)
	prod := hubFake(t, "prod", nil)
	c := hubClient(t, prod, "v2025", 0)

	up, err := c.UploadBackup(ctx, uploadDoc(t, dev, nil, [2]string{"ROLE", "2 entitlement role"}), "missing owner", fastWait, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.CreateDraft(ctx, up.JobID, fastWait)
	var je *spconfig.JobError
	if !errors.As(err, &je) || d.Status != spconfig.StatusFailed || je.Job.JobID != d.JobID ||
		!strings.Contains(err.Error(), `ROLE "2 entitlement role"`) || !strings.Contains(err.Error(), "Imogene Mendez") {
		t.Fatalf("CreateDraft of a role with a missing owner = %+v, %v", d, err)
	}
	if acts, _ := c.ScheduledActions(ctx); len(acts) != 0 {
		t.Errorf("scheduled action left after a failed draft: %+v", acts)
	}
	if ds, err := c.DraftsOf(ctx, up.JobID); err != nil || len(ds) != 1 || ds[0].Status != spconfig.StatusFailed {
		t.Errorf("DraftsOf(%s) = %+v, %v", up.JobID, ds, err)
	}
	if _, err := c.StartDeploy(ctx, d.JobID); err == nil || !strings.Contains(err.Error(), "only a COMPLETE draft") {
		t.Errorf("deploy of a failed draft: %v", err)
	}

	// Denied.
	good, err := c.UploadBackup(ctx, uploadDoc(t, dev, nil, [2]string{"ACCESS_PROFILE", "AD HelpDesk"}), "good", fastWait, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err = c.CreateDraft(ctx, good.JobID, fastWait)
	if err != nil {
		t.Fatal(err)
	}
	setApproval(t, prod, d.JobID, spconfig.ApprovalDenied)
	_, err = c.WaitDraftApproval(ctx, d.JobID, fastWait)
	var apErr *spconfig.ApprovalError
	if !errors.As(err, &apErr) || !strings.Contains(err.Error(), "reviewed") {
		t.Errorf("WaitDraftApproval of a denied draft: %v", err)
	}
	// Pending past the timeout.
	setApproval(t, prod, d.JobID, spconfig.ApprovalPending)
	_, err = c.WaitDraftApproval(ctx, d.JobID, spconfig.WaitOptions{Timeout: 30 * time.Millisecond, MinInterval: 5 * time.Millisecond})
	var te *spconfig.TimeoutError
	if !errors.As(err, &te) || te.Type != spconfig.JobDraftApproval || !strings.Contains(err.Error(), "PENDING_APPROVAL") {
		t.Errorf("WaitDraftApproval still pending: %v", err)
	}

	// A deploy that fails carries the server's message.
	setApproval(t, prod, d.JobID, spconfig.ApprovalApproved)
	if err := prod.SetFaults("reject-object=ACCESS_PROFILE:AD HelpDesk"); err != nil {
		t.Fatal(err)
	}
	dep, err := c.Deploy(ctx, d.JobID, fastWait, nil)
	if !errors.As(err, &je) || dep.Status != spconfig.StatusFailed || !strings.Contains(err.Error(), "AD HelpDesk") {
		t.Errorf("failed deploy = %+v, %v", dep, err)
	}
	prod.SetFaults("")

	// The upload limit.
	for i := len(prod.ConfigurationHub().Uploads); i < spconfig.MaxUploads; i++ {
		if _, err := c.StartUpload(ctx, uploadDoc(t, dev, nil, [2]string{"ACCESS_PROFILE", "AD HelpDesk"}), fmt.Sprint("u", i)); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.StartUpload(ctx, uploadDoc(t, dev, nil, [2]string{"ACCESS_PROFILE", "AD HelpDesk"}), "eleventh")
	var ae *spconfig.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(err.Error(), "maximum of 10") {
		t.Errorf("11th upload: %v", err)
	}

	if _, err := c.Draft(ctx, "nope"); !errors.Is(err, spconfig.ErrNotFound) {
		t.Errorf("Draft(nope) = %v", err)
	}

	// Scopes.
	sp := hubFake(t, "prod", func(o *spconfigtest.Options) { o.Scopes = []string{"sp:config:read", "sp:config:manage"} })
	_, err = hubClient(t, sp, "v2025", 0).StartUpload(ctx, []byte(`{"version":1,"objects":[]}`), "x")
	if !errors.As(err, &ae) || !ae.Forbidden() || !strings.Contains(err.Error(), "sp:config-backup:manage") {
		t.Errorf("upload without the scopes: %v", err)
	}
}
