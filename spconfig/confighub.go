package spconfig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
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

// HubJob is what uploads, drafts and deploys share (the fields of the
// spec's BackupResponse, DraftResponse and DeployResponse that describe the
// job). Message is the server's account of it (drafts and deploys).
type HubJob struct {
	JobID         string `json:"jobId"`
	Status        string `json:"status"`
	Type          string `json:"type"`
	Message       string `json:"message,omitempty"`
	RequesterName string `json:"requesterName"`
	FileExists    bool   `json:"fileExists"`
	Created       Time   `json:"created"`
	Modified      Time   `json:"modified"`
	Completed     Time   `json:"completed"`
}

// job is the hub job as a Job of kind (JobUpload, JobDraft, JobDeploy).
func (h HubJob) job(kind string) Job {
	return Job{JobID: h.JobID, Status: h.Status, Type: kind, Created: h.Created, Modified: h.Modified, Message: h.Message}
}

// ErrNotFound is wrapped by the errors of lookups the API has no GET by id
// for (Draft), when the listing does not have the id.
var ErrNotFound = errors.New("not found")

// hubOp reports whether op is a Configuration Hub operation.
func hubOp(op string) bool {
	switch op {
	case opListUploads, opUpload, opGetUpload, opDeleteUpload, opListActions, opCreateAction, opDeleteAction,
		opListDrafts, opDeleteDraft, opListDeploys, opCreateDeploy, opGetDeploy:
		return true
	}
	return false
}

// hubCreate POSTs a body that creates something and decodes the answer; it
// is retried only when the tenant refused it (429, 503).
func (c *Client) hubCreate(ctx context.Context, op, path, contentType string, body func() (io.Reader, int64), out any) error {
	resp, err := c.do(ctx, call{op: op, method: http.MethodPost, path: path, contentType: contentType, body: body, policy: retryRefused})
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
	resp, err := c.do(ctx, call{op: op, method: http.MethodDelete, path: path})
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
