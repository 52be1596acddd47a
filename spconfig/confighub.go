package spconfig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Configuration Hub (/{ver}/configuration-hub/...): uploads of SP-Config
// export documents, drafts made from them by a CREATE_DRAFT scheduled
// action, and deploys of drafts. It deploys the types SP-Config cannot
// import. The calls share the client's request path, token, rate limiter,
// retries and Wait loop; a POST that creates something (upload, scheduled
// action, deploy) is retried only when the tenant refused it (429, 503).
//
// Scopes (the spec's userAuth lists): uploads need sp:config-backup:manage
// (sp:config-backup:read to list and read them), scheduled actions
// sp:config-scheduled-action:manage, drafts sp:config-draft:read to list and
// sp:config-draft:manage to delete, deploys sp:config-deploy:manage
// (sp:config-deploy:read to read them). An ORG_ADMIN personal access token
// (sp:scopes:all) has them all.

// Kinds of Configuration Hub jobs in JobError.Job.Type and TimeoutError.Type.
const (
	JobUpload        = "UPLOAD"
	JobDraft         = "DRAFT"
	JobDeploy        = "DEPLOY"
	JobDraftApproval = "DRAFT APPROVAL"
)

// Draft approval statuses (DraftResponse.approvalStatus).
const (
	ApprovalDefault  = "DEFAULT"
	ApprovalPending  = "PENDING_APPROVAL"
	ApprovalApproved = "APPROVED"
	ApprovalDenied   = "DENIED"
)

// MaxUploads is how many uploaded configurations a tenant keeps ("You can
// upload up to 10 configuration files"); the tenant refuses the next upload
// with a 400 until one is deleted.
const MaxUploads = 10

// ErrNotFound is wrapped by the errors of lookups the API has no GET by id
// for (Draft), when the listing does not have the id.
var ErrNotFound = errors.New("not found")

// Upload is an uploaded configuration (BackupResponse with backupType
// UPLOADED). Its JobID is the sourceBackupId of drafts made from it.
type Upload struct {
	JobID              string `json:"jobId"`
	Status             string `json:"status"`
	Type               string `json:"type"`
	Tenant             string `json:"tenant"`
	RequesterName      string `json:"requesterName"`
	FileExists         bool   `json:"fileExists"`
	Created            Time   `json:"created"`
	Modified           Time   `json:"modified"`
	Completed          Time   `json:"completed"`
	Name               string `json:"name"`
	UserCanDelete      bool   `json:"userCanDelete"`
	IsPartial          bool   `json:"isPartial"`
	BackupType         string `json:"backupType"`
	HydrationStatus    string `json:"hydrationStatus"`
	TotalObjectCount   int64  `json:"totalObjectCount"`
	CloudStorageStatus string `json:"cloudStorageStatus,omitempty"`
}

func (u Upload) job() Job {
	return Job{JobID: u.JobID, Status: u.Status, Type: JobUpload, Created: u.Created, Modified: u.Modified}
}

// ApprovalComment is one comment of a draft's approval history.
type ApprovalComment struct {
	Comment         string `json:"comment"`
	Timestamp       Time   `json:"timestamp"`
	User            string `json:"user"`
	ID              string `json:"id"`
	ChangedToStatus string `json:"changedToStatus"` // PENDING_APPROVAL, APPROVED or REJECTED
}

// Draft is a Configuration Hub draft (DraftResponse): the objects of a
// backup or upload prepared for this tenant. Message is the server's account
// of its creation; a FAILED draft's message says what did not resolve.
type Draft struct {
	JobID            string            `json:"jobId"`
	Status           string            `json:"status"`
	Type             string            `json:"type"`
	Message          string            `json:"message,omitempty"`
	RequesterName    string            `json:"requesterName"`
	FileExists       bool              `json:"fileExists"`
	Created          Time              `json:"created"`
	Modified         Time              `json:"modified"`
	Completed        Time              `json:"completed"`
	Name             string            `json:"name"`
	SourceTenant     string            `json:"sourceTenant"`
	SourceBackupID   string            `json:"sourceBackupId"`
	SourceBackupName string            `json:"sourceBackupName"`
	Mode             string            `json:"mode"`
	ApprovalStatus   string            `json:"approvalStatus"`
	ApprovalComment  []ApprovalComment `json:"approvalComment"`
}

func (d Draft) job() Job {
	return Job{JobID: d.JobID, Status: d.Status, Type: JobDraft, Created: d.Created, Modified: d.Modified, Message: d.Message}
}

// Deploy is a deploy of a draft (DeployResponse).
type Deploy struct {
	JobID              string `json:"jobId"`
	Status             string `json:"status"`
	Type               string `json:"type"`
	Message            string `json:"message,omitempty"`
	RequesterName      string `json:"requesterName"`
	FileExists         bool   `json:"fileExists"`
	Created            Time   `json:"created"`
	Modified           Time   `json:"modified"`
	Completed          Time   `json:"completed"`
	DraftID            string `json:"draftId"`
	DraftName          string `json:"draftName"`
	CloudStorageStatus string `json:"cloudStorageStatus,omitempty"`
}

func (d Deploy) job() Job {
	return Job{JobID: d.JobID, Status: d.Status, Type: JobDeploy, Created: d.Created, Modified: d.Modified, Message: d.Message}
}

// ScheduledActionContent is the content of a scheduled action. Name (at most
// 50 characters) is required; CREATE_DRAFT needs SourceBackupID and
// SourceTenant, CONFIG_DEPLOY_DRAFT DraftID, BACKUP BackupOptions.
type ScheduledActionContent struct {
	Name           string          `json:"name"`
	BackupOptions  json.RawMessage `json:"backupOptions,omitempty"`
	SourceBackupID string          `json:"sourceBackupId,omitempty"`
	SourceTenant   string          `json:"sourceTenant,omitempty"`
	DraftID        string          `json:"draftId,omitempty"`
}

// ScheduledActionPayload creates a scheduled action (jobType BACKUP,
// CREATE_DRAFT or CONFIG_DEPLOY_DRAFT).
type ScheduledActionPayload struct {
	JobType    string                 `json:"jobType"`
	StartTime  *Time                  `json:"startTime,omitempty"`
	CronString string                 `json:"cronString,omitempty"`
	TimeZoneID string                 `json:"timeZoneId,omitempty"`
	Content    ScheduledActionContent `json:"content"`
}

// ScheduledAction is a scheduled action (ScheduledActionResponse).
type ScheduledAction struct {
	ID         string                 `json:"id"`
	Created    Time                   `json:"created"`
	JobType    string                 `json:"jobType"`
	Content    ScheduledActionContent `json:"content"`
	StartTime  Time                   `json:"startTime"`
	CronString string                 `json:"cronString,omitempty"`
	TimeZoneID string                 `json:"timeZoneId,omitempty"`
}

// hubOp reports whether op is a Configuration Hub operation.
func hubOp(op string) bool {
	switch op {
	case opListUploads, opUpload, opGetUpload, opDeleteUpload, opListActions, opCreateAction, opDeleteAction,
		opListDrafts, opDeleteDraft, opListDeploys, opCreateDeploy, opGetDeploy:
		return true
	}
	return false
}

// hubGet GETs path below the Configuration Hub prefix into out.
func (c *Client) hubGet(ctx context.Context, op, path string, out any) error {
	resp, err := c.do(ctx, call{op: op, method: http.MethodGet, path: path, hub: true})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := decodeJSON(resp.Body, out); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("spconfig %s %s: %w", op, path, context.Cause(ctx))
		}
		return fmt.Errorf("spconfig %s %s: decode answer: %w", op, path, err)
	}
	return nil
}

// hubCreate POSTs a body that creates something and decodes the answer; it
// is retried only when the tenant refused it (429, 503).
func (c *Client) hubCreate(ctx context.Context, op, path, contentType string, body func() (io.Reader, int64), out any) error {
	resp, err := c.do(ctx, call{op: op, method: http.MethodPost, path: path, hub: true, contentType: contentType, body: body, policy: retryRefused})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := decodeJSON(resp.Body, out); err != nil {
		return fmt.Errorf("spconfig %s: the tenant accepted the request (status %d) but its answer could not be read: %w; check the tenant's %s before trying again", op, resp.StatusCode, err, jobKind(op)+"s")
	}
	return nil
}

// hubDelete DELETEs path below the Configuration Hub prefix (204 expected).
func (c *Client) hubDelete(ctx context.Context, op, path string) error {
	resp, err := c.do(ctx, call{op: op, method: http.MethodDelete, path: path, hub: true})
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// StartUpload uploads doc, an SP-Config export document (the same file the
// import endpoints take), as the configuration name
// (POST /configuration-hub/backups/uploads) and returns the accepted upload.
// The tenant refuses it with a 400 when it already has MaxUploads uploads.
func (c *Client) StartUpload(ctx context.Context, doc []byte, name string) (Upload, error) {
	if strings.TrimSpace(string(doc)) == "" {
		return Upload{}, fmt.Errorf("spconfig %s: the configuration document is empty", opUpload)
	}
	if strings.TrimSpace(name) == "" {
		return Upload{}, fmt.Errorf("spconfig %s: the upload needs a name", opUpload)
	}
	body, contentType, err := multipartFile("data", "upload.json", doc, formField{name: "name", value: []byte(name)})
	if err != nil {
		return Upload{}, fmt.Errorf("spconfig %s: %w", opUpload, err)
	}
	var u Upload
	if err := c.hubCreate(ctx, opUpload, "/backups/uploads", contentType, body, &u); err != nil {
		return Upload{}, err
	}
	if u.JobID == "" {
		return Upload{}, fmt.Errorf("spconfig %s: the tenant accepted the upload without an id; check the tenant's uploads", opUpload)
	}
	return u, nil
}

// UploadStatus returns upload id (GET /configuration-hub/backups/uploads/{id}).
func (c *Client) UploadStatus(ctx context.Context, id string) (Upload, error) {
	if err := checkID(opGetUpload, id); err != nil {
		return Upload{}, err
	}
	var u Upload
	if err := c.hubGet(ctx, opGetUpload, "/backups/uploads/"+url.PathEscape(id), &u); err != nil {
		return Upload{}, err
	}
	return u, nil
}

// Uploads lists the tenant's uploaded configurations.
func (c *Client) Uploads(ctx context.Context) ([]Upload, error) {
	var out []Upload
	err := c.hubGet(ctx, opListUploads, "/backups/uploads", &out)
	return out, err
}

// UploadBackup uploads doc as the configuration name and waits until the
// upload is COMPLETE. FAILED or CANCELLED return the upload with a *JobError
// carrying the server's status; the timeout a *TimeoutError. The returned
// upload is the last status seen, also on error.
func (c *Client) UploadBackup(ctx context.Context, doc []byte, name string, o WaitOptions) (Upload, error) {
	u, err := c.StartUpload(ctx, doc, name)
	if err != nil {
		return u, err
	}
	c.log.Info("spconfig upload started", "upload", u.JobID, "name", name)
	last := u
	_, err = c.wait(ctx, JobUpload, u.JobID, o, func(ctx context.Context, id string) (Job, error) {
		cur, err := c.UploadStatus(ctx, id)
		if err != nil {
			return Job{}, err
		}
		last = cur
		return cur.job(), nil
	})
	return last, err
}

// DeleteUpload deletes upload id (DELETE /configuration-hub/backups/uploads/{id}).
// An upload that is already gone is an *APIError whose NotFound is true.
func (c *Client) DeleteUpload(ctx context.Context, id string) error {
	if err := checkID(opDeleteUpload, id); err != nil {
		return err
	}
	return c.hubDelete(ctx, opDeleteUpload, "/backups/uploads/"+url.PathEscape(id))
}

// CreateScheduledAction creates a scheduled action
// (POST /configuration-hub/scheduled-actions).
func (c *Client) CreateScheduledAction(ctx context.Context, p ScheduledActionPayload) (ScheduledAction, error) {
	if n := len([]rune(p.Content.Name)); n == 0 || n > 50 {
		return ScheduledAction{}, fmt.Errorf("spconfig %s: content.name must have 1 to 50 characters, has %d", opCreateAction, n)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return ScheduledAction{}, fmt.Errorf("spconfig %s: encode payload: %w", opCreateAction, err)
	}
	var a ScheduledAction
	if err := c.hubCreate(ctx, opCreateAction, "/scheduled-actions", "application/json", bytesBody(b), &a); err != nil {
		return ScheduledAction{}, err
	}
	return a, nil
}

// ScheduledActions lists the tenant's scheduled actions.
func (c *Client) ScheduledActions(ctx context.Context) ([]ScheduledAction, error) {
	var out []ScheduledAction
	err := c.hubGet(ctx, opListActions, "/scheduled-actions", &out)
	return out, err
}

// DeleteScheduledAction deletes scheduled action id.
func (c *Client) DeleteScheduledAction(ctx context.Context, id string) error {
	if err := checkID(opDeleteAction, id); err != nil {
		return err
	}
	return c.hubDelete(ctx, opDeleteAction, "/scheduled-actions/"+url.PathEscape(id))
}

// Drafts lists the tenant's drafts (GET /configuration-hub/drafts, no
// filter: the API filters only by status and approvalStatus).
func (c *Client) Drafts(ctx context.Context) ([]Draft, error) {
	var out []Draft
	err := c.hubGet(ctx, opListDrafts, "/drafts", &out)
	return out, err
}

// Draft returns draft id. The API has no GET by id, so it lists the drafts;
// an id not among them is an error wrapping ErrNotFound.
func (c *Client) Draft(ctx context.Context, id string) (Draft, error) {
	if err := checkID(opListDrafts, id); err != nil {
		return Draft{}, err
	}
	ds, err := c.Drafts(ctx)
	if err != nil {
		return Draft{}, err
	}
	for _, d := range ds {
		if d.JobID == id {
			return d, nil
		}
	}
	return Draft{}, fmt.Errorf("spconfig %s: draft %s: %w (deleted, or made in another tenant)", opListDrafts, id, ErrNotFound)
}

// DeleteDraft deletes draft id (DELETE /configuration-hub/drafts/{id}).
func (c *Client) DeleteDraft(ctx context.Context, id string) error {
	if err := checkID(opDeleteDraft, id); err != nil {
		return err
	}
	return c.hubDelete(ctx, opDeleteDraft, "/drafts/"+url.PathEscape(id))
}

// CreateDraft makes a draft of upload backupID and waits until the draft is
// done: it creates a CREATE_DRAFT scheduled action starting now, polls the
// drafts for the new one whose sourceBackupId is backupID (drafts that
// existed before are ignored), and then deletes the scheduled action
// (also when the wait fails, so no draft appears later unseen; an action
// already gone is fine). A COMPLETE draft returns with nil error; FAILED or
// CANCELLED return it with a *JobError carrying the server's message (e.g.
// the reference that did not resolve); the timeout a *TimeoutError whose
// JobID is the upload's. The draft's approvalStatus is not waited for: see
// WaitDraftApproval.
func (c *Client) CreateDraft(ctx context.Context, backupID string, o WaitOptions) (Draft, error) {
	if err := checkID(opCreateAction, backupID); err != nil {
		return Draft{}, err
	}
	up, err := c.UploadStatus(ctx, backupID)
	if err != nil {
		return Draft{}, fmt.Errorf("create draft of upload %s: %w", backupID, err)
	}
	if up.Status != StatusComplete {
		return Draft{}, fmt.Errorf("create draft of upload %s: the upload is %s: wait until it is COMPLETE", backupID, up.Status)
	}
	before, err := c.Drafts(ctx)
	if err != nil {
		return Draft{}, fmt.Errorf("create draft of upload %s: %w", backupID, err)
	}
	seen := map[string]bool{}
	for _, d := range before {
		seen[d.JobID] = true
	}
	start := Time{c.now().UTC()}
	action, err := c.CreateScheduledAction(ctx, ScheduledActionPayload{
		JobType: "CREATE_DRAFT", StartTime: &start,
		Content: ScheduledActionContent{Name: draftName(up.Name), SourceBackupID: backupID, SourceTenant: up.Tenant},
	})
	if err != nil {
		return Draft{}, fmt.Errorf("create draft of upload %s: %w", backupID, err)
	}
	c.log.Info("spconfig draft scheduled", "upload", backupID, "scheduledAction", action.ID)
	var last Draft
	_, err = c.wait(ctx, JobDraft, backupID, o, func(ctx context.Context, _ string) (Job, error) {
		ds, err := c.Drafts(ctx)
		if err != nil {
			return Job{}, err
		}
		for _, d := range ds {
			if d.SourceBackupID == backupID && !seen[d.JobID] {
				last = d
				return d.job(), nil
			}
		}
		return Job{JobID: backupID, Status: StatusNotStarted, Type: JobDraft}, nil
	})
	c.deleteActionQuietly(ctx, action.ID)
	if err != nil {
		return last, fmt.Errorf("create draft of upload %s: %w", backupID, err)
	}
	return last, nil
}

// deleteActionQuietly deletes a scheduled action promoter created, even
// when ctx has ended, and logs a failure instead of returning it: the draft
// is what the caller asked for. A 404 (already gone) is fine.
func (c *Client) deleteActionQuietly(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	err := c.DeleteScheduledAction(ctx, id)
	var ae *APIError
	if err != nil && !(errors.As(err, &ae) && ae.NotFound()) {
		c.log.Warn("spconfig scheduled action not deleted: delete it in Configuration Hub", "scheduledAction", id, "err", err.Error())
	}
}

// draftName is the scheduled action's (and so the draft's) name: at most 50
// characters.
func draftName(upload string) string {
	name := "promoter: " + upload
	if r := []rune(name); len(r) > 50 {
		name = string(r[:50])
	}
	return name
}

// ApprovalError is a draft whose approval was denied.
type ApprovalError struct {
	Draft Draft
}

func (e *ApprovalError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "draft %s (%s) was denied", e.Draft.JobID, e.Draft.Name)
	if n := len(e.Draft.ApprovalComment); n > 0 {
		c := e.Draft.ApprovalComment[n-1]
		fmt.Fprintf(&b, " by %s", c.User)
		if t := strings.TrimSpace(c.Comment); t != "" {
			b.WriteString(": " + snippet(t, 300))
		}
	}
	b.WriteString(": it cannot be deployed; create a new draft once the reason is addressed")
	return b.String()
}

// WaitDraftApproval polls draft id while its approvalStatus is
// PENDING_APPROVAL. DEFAULT or APPROVED return the draft with nil error;
// DENIED an *ApprovalError; the timeout a *TimeoutError (Type
// JobDraftApproval) while it is still pending.
func (c *Client) WaitDraftApproval(ctx context.Context, id string, o WaitOptions) (Draft, error) {
	var last Draft
	_, err := c.wait(ctx, JobDraftApproval, id, o, func(ctx context.Context, id string) (Job, error) {
		d, err := c.Draft(ctx, id)
		if err != nil {
			return Job{}, err
		}
		last = d
		j := d.job()
		j.Type, j.Status = JobDraftApproval, StatusComplete
		if d.ApprovalStatus == ApprovalPending {
			j.Status = ApprovalPending
		}
		return j, nil
	})
	if err != nil {
		return last, err
	}
	if last.ApprovalStatus == ApprovalDenied {
		return last, &ApprovalError{Draft: last}
	}
	return last, nil
}

// StartDeploy starts a deploy of draft draftID (POST /configuration-hub/deploys)
// and returns it as accepted. The tenant refuses (400) a draft that is not
// COMPLETE, pending approval or denied.
func (c *Client) StartDeploy(ctx context.Context, draftID string) (Deploy, error) {
	if err := checkID(opCreateDeploy, draftID); err != nil {
		return Deploy{}, err
	}
	b, err := json.Marshal(map[string]string{"draftId": draftID})
	if err != nil {
		return Deploy{}, fmt.Errorf("spconfig %s: encode request: %w", opCreateDeploy, err)
	}
	var d Deploy
	if err := c.hubCreate(ctx, opCreateDeploy, "/deploys", "application/json", bytesBody(b), &d); err != nil {
		return Deploy{}, err
	}
	if d.JobID == "" {
		return Deploy{}, fmt.Errorf("spconfig %s: the tenant accepted the deploy without a job id; check the tenant's deploys", opCreateDeploy)
	}
	return d, nil
}

// DeployStatus returns deploy id (GET /configuration-hub/deploys/{id}).
func (c *Client) DeployStatus(ctx context.Context, id string) (Deploy, error) {
	if err := checkID(opGetDeploy, id); err != nil {
		return Deploy{}, err
	}
	var d Deploy
	if err := c.hubGet(ctx, opGetDeploy, "/deploys/"+url.PathEscape(id), &d); err != nil {
		return Deploy{}, err
	}
	return d, nil
}

// Deploys lists the tenant's deploys.
func (c *Client) Deploys(ctx context.Context) ([]Deploy, error) {
	var out struct {
		Items []Deploy `json:"items"`
	}
	err := c.hubGet(ctx, opListDeploys, "/deploys", &out)
	return out.Items, err
}

// Deploy deploys draft draftID and waits until the deploy is done. FAILED or
// CANCELLED return the deploy with a *JobError carrying the server's
// message; the timeout a *TimeoutError. started, when not nil, sees the
// accepted deploy before polling (to record its id); its error is returned
// as is and the deploy keeps running. The returned deploy is the last status
// seen, also on error.
func (c *Client) Deploy(ctx context.Context, draftID string, o WaitOptions, started func(Deploy) error) (Deploy, error) {
	d, err := c.StartDeploy(ctx, draftID)
	if err != nil {
		return d, err
	}
	c.log.Info("spconfig deploy started", "deploy", d.JobID, "draft", draftID)
	if started != nil {
		if err := started(d); err != nil {
			return d, err
		}
	}
	return c.WaitDeploy(ctx, d.JobID, o)
}

// WaitDeploy polls deploy id until it is done, like the second half of Deploy.
func (c *Client) WaitDeploy(ctx context.Context, id string, o WaitOptions) (Deploy, error) {
	var last Deploy
	_, err := c.wait(ctx, JobDeploy, id, o, func(ctx context.Context, id string) (Job, error) {
		d, err := c.DeployStatus(ctx, id)
		if err != nil {
			return Job{}, err
		}
		last = d
		return d.job(), nil
	})
	return last, err
}
