package spconfigtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"promoter/spconfig"
)

// jobExpiry is how long job results stay available, as on a real tenant.
const jobExpiry = 7 * 24 * time.Hour

const (
	msgImportHalted   = "Import halted because of errors. Download results for error details."
	msgImportComplete = "Download import results for details."
	msgCancelled      = "The job was cancelled."
)

// startExportLocked queues an export job.
func (t *Tenant) startExportLocked(p spconfig.ExportPayload) *job {
	now := t.opts.Now()
	j := &job{
		ID: t.newJobIDLocked(), Type: spconfig.JobExport, Status: spconfig.StatusNotStarted,
		Description: p.Description, Created: now, Modified: now, Due: now.Add(t.opts.JobDelay),
		Export: &p,
		Hang:   t.rollLocked(t.faults.hangExport),
		Fail:   t.rollLocked(t.faults.failExport),
	}
	t.jobs = append(t.jobs, j)
	return j
}

// startImportLocked queues an import job.
func (t *Tenant) startImportLocked(data []byte, opts spconfig.ImportOptions, defaults []defaultRef, preview bool) *job {
	now := t.opts.Now()
	j := &job{
		ID: t.newJobIDLocked(), Type: spconfig.JobImport, Preview: preview, Status: spconfig.StatusNotStarted,
		Created: now, Modified: now, Due: now.Add(t.opts.JobDelay),
		Data: data, Options: &opts, Defaults: defaults,
		Hang: t.rollLocked(t.faults.hangImport),
		Fail: t.rollLocked(t.faults.failImport),
	}
	t.jobs = append(t.jobs, j)
	return j
}

// advanceLocked moves jobs on by the clock: NOT_STARTED becomes IN_PROGRESS
// once time passes, and a job whose delay is over runs and completes. Jobs run
// in creation order, so imports apply in the order they were submitted.
func (t *Tenant) advanceLocked() {
	now := t.opts.Now()
	changed := false
	for _, j := range t.jobs {
		if j.done() {
			if j.Result != nil && !now.Before(j.Created.Add(jobExpiry)) {
				j.Result, j.Data, changed = nil, nil, true // expired: the results are gone
			}
			continue
		}
		if j.Hang || now.Before(j.Due) {
			if j.Status == spconfig.StatusNotStarted && (j.Hang || now.After(j.Created)) {
				j.Status, j.Modified, changed = spconfig.StatusInProgress, now, true
			}
			continue
		}
		t.runLocked(j, now)
		changed = true
	}
	if t.advanceHubLocked(now) {
		changed = true
	}
	if changed {
		if err := t.saveLocked(); err != nil {
			t.log.Error("save state", "err", err)
		}
	}
}

func (t *Tenant) runLocked(j *job, now time.Time) {
	j.Modified, j.Completed = now, now
	switch {
	case j.Fail && j.Type == spconfig.JobExport:
		j.Status, j.Message = spconfig.StatusFailed, "Export failed: an internal error occurred (injected fault fail-export)."
	case j.Fail:
		// The backup comes before the import is attempted, so it exists even
		// when the import fails.
		res := newImportResults()
		if !j.Preview && (j.Options == nil || !j.Options.ExcludeBackup) {
			res.ExportJobID = t.backupLocked(j, now)
		}
		j.Status, j.Message = spconfig.StatusFailed, "Import failed: an internal error occurred (injected fault fail-import)."
		j.Result = mustJSON(res)
		j.Data = nil
	case j.Type == spconfig.JobExport:
		doc, err := t.exportLocked(*j.Export, now)
		if err != nil {
			j.Status, j.Message = spconfig.StatusFailed, err.Error()
			return
		}
		j.Status, j.Result = spconfig.StatusComplete, doc
	default:
		t.importLocked(j, now)
		j.Data = nil
	}
}

// exportLocked builds the export document of the objects p selects. An
// unknown type name fails the whole export, as on a real tenant.
func (t *Tenant) exportLocked(p spconfig.ExportPayload, now time.Time) ([]byte, error) {
	var unknown []string
	for _, typ := range slices.Concat(p.IncludeTypes, p.ExcludeTypes) {
		if !spconfig.Exportable(typ) && !slices.Contains(unknown, typ) {
			unknown = append(unknown, typ)
		}
	}
	for typ := range p.ObjectOptions {
		if !spconfig.Exportable(typ) && !slices.Contains(unknown, typ) {
			unknown = append(unknown, typ)
		}
	}
	if len(unknown) > 0 {
		//lint:ignore ST1005 the fake repeats SailPoint's message word for word
		return nil, fmt.Errorf("Supplied types are not supported: [%s]", strings.Join(unknown, ", "))
	}
	types := p.IncludeTypes
	if len(types) == 0 {
		for _, typ := range spconfig.ExportableTypes() {
			if !slices.Contains(p.ExcludeTypes, typ) {
				types = append(types, typ)
			}
		}
	}
	objs := t.entriesLocked(func(o *object) bool {
		if !slices.Contains(types, o.Type) {
			return false
		}
		oo, ok := p.ObjectOptions[o.Type]
		if !ok || (len(oo.IncludedIDs) == 0 && len(oo.IncludedNames) == 0) {
			return true
		}
		return slices.Contains(oo.IncludedIDs, o.ID) || slices.Contains(oo.IncludedNames, o.SelfName) || slices.Contains(oo.IncludedNames, o.Key.Name)
	})
	opts := struct {
		ExcludeTypes  []string                          `json:"excludeTypes"`
		IncludeTypes  []string                          `json:"includeTypes"`
		ObjectOptions map[string]spconfig.ObjectOptions `json:"objectOptions"`
	}{nonNil(p.ExcludeTypes), nonNil(p.IncludeTypes), p.ObjectOptions}
	if opts.ObjectOptions == nil {
		opts.ObjectOptions = map[string]spconfig.ObjectOptions{}
	}
	doc := &spconfig.ExportDocument{
		ExportHeader: spconfig.ExportHeader{
			Version: 1, Timestamp: now.UTC().Format(time.RFC3339Nano), Tenant: t.name,
			Description: p.Description, Options: mustJSON(opts),
		},
		Objects: objs,
	}
	return doc.Bytes(), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func mustJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("spconfigtest: encode %T: %v", v, err)) // only fixed shapes are encoded
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// CancelJob cancels a job that is not done yet, as someone cancelling it in
// the tenant would: it ends CANCELLED with no results, and a cancelled import
// imports nothing. It returns the job as the admin API lists it. Configuration
// Hub uploads, drafts and deploys cancel the same way (a cancelled deploy
// deploys nothing) and come back with their type BACKUP, CREATE_DRAFT or
// CONFIG_DEPLOY_DRAFT.
func (t *Tenant) CancelJob(id string) (JobInfo, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advanceLocked()
	for _, j := range t.jobs {
		if j.ID != id {
			continue
		}
		if j.done() {
			return JobInfo{}, fmt.Errorf("cancel job %s: it is already %s", id, j.Status)
		}
		now := t.opts.Now()
		j.Status, j.Message, j.Modified, j.Completed = spconfig.StatusCancelled, msgCancelled, now, now
		j.Data, j.Hang = nil, false
		t.saveOrLog()
		return JobInfo{JobID: j.ID, Type: j.Type, Preview: j.Preview, Status: j.Status, Created: j.Created}, nil
	}
	if info, ok, err := t.cancelHubLocked(id); ok {
		return info, err
	}
	return JobInfo{}, fmt.Errorf("cancel job %s: %w", id, errNotFound)
}
