package spconfig

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// MaxUploads is how many uploaded configurations a tenant keeps ("You can
// upload up to 10 configuration files"); the tenant refuses the next upload
// with a 400 until one is deleted.
const MaxUploads = 10

// Upload is an uploaded configuration (BackupResponse with backupType
// UPLOADED). Its JobID is the sourceBackupId of drafts made from it.
type Upload struct {
	HubJob
	Tenant             string `json:"tenant"`
	Name               string `json:"name"`
	UserCanDelete      bool   `json:"userCanDelete"`
	IsPartial          bool   `json:"isPartial"`
	BackupType         string `json:"backupType"`
	HydrationStatus    string `json:"hydrationStatus"`
	TotalObjectCount   int64  `json:"totalObjectCount"`
	CloudStorageStatus string `json:"cloudStorageStatus,omitempty"`
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
	if err := c.getJSON(ctx, opGetUpload, "/backups/uploads/"+url.PathEscape(id), &u); err != nil {
		return Upload{}, err
	}
	return u, nil
}

// Uploads lists the tenant's uploaded configurations.
func (c *Client) Uploads(ctx context.Context) ([]Upload, error) {
	var out []Upload
	err := c.getJSON(ctx, opListUploads, "/backups/uploads", &out)
	return out, err
}

// UploadBackup uploads doc as the configuration name and waits until the
// upload is COMPLETE. started, when not nil, sees the accepted upload before
// polling (to record its id, so promoter deletes only uploads it made); its
// error is returned as is. FAILED or CANCELLED return the upload with a
// *JobError carrying the server's status; the timeout a *TimeoutError. The
// returned upload is the last status seen, also on error, so its JobID is
// known whenever the tenant accepted the upload.
func (c *Client) UploadBackup(ctx context.Context, doc []byte, name string, o WaitOptions, started func(Upload) error) (Upload, error) {
	u, err := c.StartUpload(ctx, doc, name)
	if err != nil {
		return u, err
	}
	c.log.Info("spconfig upload started", "upload", u.JobID, "name", name)
	if started != nil {
		if err := started(u); err != nil {
			return u, err
		}
	}
	last, err := c.WaitUpload(ctx, u.JobID, o)
	if last.JobID == "" {
		last = u
	}
	return last, err
}

// WaitUpload polls upload id until it is done, like the second half of
// UploadBackup.
func (c *Client) WaitUpload(ctx context.Context, id string, o WaitOptions) (Upload, error) {
	last := Upload{HubJob: HubJob{JobID: id}}
	_, err := c.wait(ctx, JobUpload, id, o, func(ctx context.Context, id string) (Job, error) {
		cur, err := c.UploadStatus(ctx, id)
		if err != nil {
			return Job{}, err
		}
		last = cur
		return cur.job(JobUpload), nil
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
