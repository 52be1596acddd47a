package spconfig

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
)

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
	err := c.getJSON(ctx, opListActions, "/scheduled-actions", &out)
	return out, err
}

// DeleteScheduledAction deletes scheduled action id.
func (c *Client) DeleteScheduledAction(ctx context.Context, id string) error {
	if err := checkID(opDeleteAction, id); err != nil {
		return err
	}
	return c.hubDelete(ctx, opDeleteAction, "/scheduled-actions/"+url.PathEscape(id))
}
