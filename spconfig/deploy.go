package spconfig

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
)

// Deploy is a deploy of a draft (DeployResponse).
type Deploy struct {
	HubJob
	DraftID            string `json:"draftId"`
	DraftName          string `json:"draftName"`
	CloudStorageStatus string `json:"cloudStorageStatus,omitempty"`
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
	if err := c.getJSON(ctx, opGetDeploy, "/deploys/"+url.PathEscape(id), &d); err != nil {
		return Deploy{}, err
	}
	return d, nil
}

// Deploys lists the tenant's deploys.
func (c *Client) Deploys(ctx context.Context) ([]Deploy, error) {
	var out struct {
		Items []Deploy `json:"items"`
	}
	err := c.getJSON(ctx, opListDeploys, "/deploys", &out)
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
		return d.job(JobDeploy), nil
	})
	return last, err
}
