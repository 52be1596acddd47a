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
func (t *Tenant) startImportLocked(data []byte, opts spconfig.ImportOptions, preview bool) *job {
	now := t.opts.Now()
	j := &job{
		ID: t.newJobIDLocked(), Type: spconfig.JobImport, Preview: preview, Status: spconfig.StatusNotStarted,
		Created: now, Modified: now, Due: now.Add(t.opts.JobDelay),
		Data: data, Options: &opts,
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
		j.Status, j.Message = spconfig.StatusFailed, "Import failed: an internal error occurred (injected fault fail-import)."
		j.Result = mustJSON(importResults{Results: map[string]*typeResult{}})
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
		for _, typ := range spconfig.ExportableTypes {
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

// importResults is SpConfigImportResults as the fake emits it: messages with
// key, text and details, as the schema says.
type importResults struct {
	Results     map[string]*typeResult `json:"results"`
	ExportJobID string                 `json:"exportJobId,omitempty"`
}

type typeResult struct {
	Infos           []message               `json:"infos"`
	Warnings        []message               `json:"warnings"`
	Errors          []message               `json:"errors"`
	ImportedObjects []spconfig.ImportObject `json:"importedObjects"`
}

type message struct {
	Key     string         `json:"key"`
	Text    string         `json:"text"`
	Details map[string]any `json:"details"`
}

func newTypeResult() *typeResult {
	return &typeResult{Infos: []message{}, Warnings: []message{}, Errors: []message{}, ImportedObjects: []spconfig.ImportObject{}}
}

func refDetails(typ, id, name string) map[string]any {
	return map[string]any{"reference": map[string]any{"type": typ, "id": id, "name": name}}
}

// planned is one import entry with where it lands in this tenant.
type planned struct {
	obj      *object
	e        spconfig.Entry
	id       string
	selfName string
	existing *object
}

// importLocked runs an import or preview job.
func (t *Tenant) importLocked(j *job, now time.Time) {
	res := importResults{Results: map[string]*typeResult{}}
	result := func(typ string) *typeResult {
		r, ok := res.Results[typ]
		if !ok {
			r = newTypeResult()
			res.Results[typ] = r
		}
		return r
	}
	doc, err := spconfig.ReadExport(bytes.NewReader(j.Data))
	if err != nil { // checked when the job was accepted; kept for state files
		j.Status, j.Message = spconfig.StatusFailed, "The import file is not a valid export document: "+err.Error()
		j.Result = mustJSON(res)
		return
	}
	opts := j.Options
	if opts == nil {
		opts = &spconfig.ImportOptions{}
	}
	selected := func(e spconfig.Entry) bool {
		typ := e.Type()
		if len(opts.IncludeTypes) > 0 && !slices.Contains(opts.IncludeTypes, typ) {
			return false
		}
		if len(opts.IncludeTypes) == 0 && slices.Contains(opts.ExcludeTypes, typ) {
			return false
		}
		oo, ok := opts.ObjectOptions[typ]
		if !ok || (len(oo.IncludedIDs) == 0 && len(oo.IncludedNames) == 0) {
			return true
		}
		return slices.Contains(oo.IncludedIDs, e.Self.ID) || slices.Contains(oo.IncludedNames, e.Self.Name) || slices.Contains(oo.IncludedNames, e.Key().Name)
	}

	// Plan: where each object lands. New objects get ids only for a real import.
	var plan []*planned
	inDoc := map[extKey]*planned{} // (type, name) of objects in this import
	nerr := 0
	for _, e := range doc.Objects {
		if !selected(e) {
			continue
		}
		r := result(e.Type())
		if !spconfig.Importable(e.Type()) {
			r.Errors = append(r.Errors, message{Key: "IMPORT_TYPE_NOT_SUPPORTED",
				Text:    fmt.Sprintf("Object type %s is not supported for import: [%s, %s]", e.Type(), e.Self.ID, e.Self.Name),
				Details: refDetails(e.Type(), e.Self.ID, e.Self.Name)})
			nerr++
			continue
		}
		if spconfig.SignedType(e.Type()) {
			if err := VerifyEntry(e); err != nil {
				r.Errors = append(r.Errors, message{Key: "INVALID_SIGNATURE",
					Text:    fmt.Sprintf("Signature verification failed for object [type: %s, id: %s, name: %s]: %s. Signed objects must be imported exactly as exported.", e.Type(), e.Self.ID, e.Self.Name, strings.TrimPrefix(err.Error(), "verify "+e.Key().String()+": ")),
					Details: refDetails(e.Type(), e.Self.ID, e.Self.Name)})
				nerr++
				continue
			}
		}
		o, err := newObject(e.Raw)
		if err != nil {
			r.Errors = append(r.Errors, message{Key: "INVALID_OBJECT", Text: fmt.Sprintf("Object [%s, %s] is invalid: %v", e.Self.ID, e.Self.Name, err), Details: map[string]any{}})
			nerr++
			continue
		}
		p := &planned{obj: o, e: e, existing: t.objects[o.Key]}
		if p.existing != nil {
			p.id, p.selfName = p.existing.ID, p.existing.SelfName
		} else if !j.Preview {
			p.id, p.selfName = t.targetIdentityLocked(o)
		}
		plan = append(plan, p)
		inDoc[extKey{o.Type, o.Key.Name}] = p
		if o.SelfName != o.Key.Name {
			inDoc[extKey{o.Type, o.SelfName}] = p
		}
	}

	// Resolve references by name: in this import, then in this tenant.
	edits := map[*planned][]edit{}
	for _, p := range plan {
		root, _ := parseTree(p.obj.Raw) // newObject parsed it already
		for _, rf := range findRefs(p.obj.Raw, root.get("object"), isRefType) {
			id, name, ok := t.resolveLocked(rf, p, inDoc)
			if !ok {
				result(p.obj.Type).Errors = append(result(p.obj.Type).Errors, message{Key: "UNKNOWN_REFERENCE_RESOLVER",
					Text:    fmt.Sprintf("Unable to resolve reference for object [type: %s, id: %s, name: %s]", rf.Type, rf.ID, rf.Name),
					Details: refDetails(rf.Type, rf.ID, rf.Name)})
				nerr++
				continue
			}
			if id != "" && id != rf.ID {
				edits[p] = append(edits[p], edit{rf.idNode.start, rf.idNode.end, jsonString(id)})
			}
			if name != "" && name != rf.Name {
				edits[p] = append(edits[p], edit{rf.nameNode.start, rf.nameNode.end, jsonString(name)})
			}
		}
		// Bare source ids beside a sourceName resolve by that name too.
		for _, sr := range findSourceIDs(p.obj.Raw, root.get("object")) {
			id, _, ok := t.resolveLocked(ref{Type: "SOURCE", ID: sr.ID, Name: sr.Name}, p, inDoc)
			if !ok {
				result(p.obj.Type).Errors = append(result(p.obj.Type).Errors, message{Key: "UNKNOWN_REFERENCE_RESOLVER",
					Text:    fmt.Sprintf("Unable to resolve reference for object [type: SOURCE, id: %s, name: %s]", sr.ID, sr.Name),
					Details: refDetails("SOURCE", sr.ID, sr.Name)})
				nerr++
				continue
			}
			if id != "" && id != sr.ID {
				edits[p] = append(edits[p], edit{sr.idNode.start, sr.idNode.end, jsonString(id)})
			}
		}
	}

	if j.Preview {
		for _, p := range plan {
			result(p.obj.Type).Infos = append(result(p.obj.Type).Infos, message{Key: "IMPORT_PREVIEW",
				Text: fmt.Sprintf("Object to be imported: [%s, %s]", p.e.Self.ID, p.e.Self.Name), Details: map[string]any{}})
		}
		j.Status, j.Message, j.Result = spconfig.StatusComplete, msgImportComplete, mustJSON(res)
		return
	}
	if nerr > 0 {
		j.Status, j.Message, j.Result = spconfig.StatusFailed, msgImportHalted, mustJSON(res)
		return
	}
	if !opts.ExcludeBackup {
		backup := &job{ID: t.newJobIDLocked(), Type: spconfig.JobExport, Status: spconfig.StatusComplete,
			Description: "Backup before import " + j.ID, Created: now, Modified: now, Completed: now, Due: now,
			Export: &spconfig.ExportPayload{Description: "Backup before import " + j.ID}}
		doc, _ := t.exportLocked(*backup.Export, now) // all types: cannot fail
		backup.Result = doc
		t.jobs = append(t.jobs, backup)
		res.ExportJobID = backup.ID
	}
	for _, p := range plan {
		o, err := rewriteObject(p.obj, p.id, p.selfName, edits[p])
		if err != nil {
			result(p.obj.Type).Errors = append(result(p.obj.Type).Errors, message{Key: "INVALID_OBJECT", Text: err.Error(), Details: map[string]any{}})
			continue
		}
		t.objects[o.Key] = o
		r := result(o.Type)
		r.ImportedObjects = append(r.ImportedObjects, spconfig.ImportObject{Type: o.Type, ID: o.ID, Name: o.Key.Name})
	}
	j.Status, j.Message, j.Result = spconfig.StatusComplete, msgImportComplete, mustJSON(res)
}

// resolveLocked resolves one reference of planned object p by name. It
// returns the target id (and a new name for references whose name the target
// derives), or ok false when nothing of that type and name exists.
func (t *Tenant) resolveLocked(rf ref, p *planned, inDoc map[extKey]*planned) (id, name string, ok bool) {
	switch {
	case rf.Type == "IDENTITY":
		for _, i := range t.identities {
			if i.Name == rf.Name {
				return i.ID, "", true
			}
		}
		return "", "", false
	case ownedRefTypes[rf.Type]:
		// Part of the source being imported: keep the target's own when the
		// source exists there, else the import creates it.
		if p.existing != nil {
			root, err := parseTree(p.existing.Raw)
			if err == nil {
				for _, cur := range findRefs(p.existing.Raw, root.get("object"), isRefType) {
					if cur.Type == rf.Type && (rf.Type == "ACCOUNT_CORRELATION_CONFIG" || cur.Name == rf.Name) {
						return cur.ID, cur.Name, true
					}
				}
			}
		}
		if p.id == "" { // preview of a new source
			return "", "", true
		}
		if rf.Type == "ACCOUNT_CORRELATION_CONFIG" {
			return t.newIDLocked(), p.selfName + " Account Correlation", true
		}
		return t.newIDLocked(), "", true
	case spconfig.Exportable(rf.Type):
		if q, ok := inDoc[extKey{rf.Type, rf.Name}]; ok {
			return q.id, "", true
		}
		for _, o := range t.objects {
			if o.Type == rf.Type && (o.Key.Name == rf.Name || o.SelfName == rf.Name) {
				return o.ID, "", true
			}
		}
		return "", "", false
	default:
		id, ok := t.external[extKey{rf.Type, rf.Name}]
		return id, "", ok
	}
}
