package spconfigtest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"promoter/jsonspan"
	"promoter/spconfig"
)

// importResults is SpConfigImportResults as the fake emits it.
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

func newImportResults() *importResults {
	return &importResults{Results: map[string]*typeResult{}}
}

// of returns the result of type typ, adding an empty one on first use.
func (res *importResults) of(typ string) *typeResult {
	r, ok := res.Results[typ]
	if !ok {
		r = &typeResult{Infos: []message{}, Warnings: []message{}, Errors: []message{}, ImportedObjects: []spconfig.ImportObject{}}
		res.Results[typ] = r
	}
	return r
}

// importRank orders the import: referenced types before the types that refer
// to them (rules before the sources that use them, sources before the
// transforms and identity profiles that name them), then the document's order
// within a type. Types SP-Config cannot import come last.
var importRank = map[string]int{
	"RULE": 0, "CONNECTOR_RULE": 1, "SOURCE": 2, "TRANSFORM": 3,
	"IDENTITY_OBJECT_CONFIG": 4, "IDENTITY_PROFILE": 5, "TRIGGER_SUBSCRIPTION": 6,
}

func rankOf(typ string) int {
	if r, ok := importRank[typ]; ok {
		return r
	}
	return len(importRank)
}

// planned is one import entry with where it lands in this tenant and what
// stops it from landing.
type planned struct {
	e        spconfig.Entry
	obj      *object // nil when the entry failed a check before resolution
	id       string
	selfName string
	existing *object
	edits    []jsonspan.Edit
	errs     []message
}

// selectedBy reports whether import options opts select entry e.
func selectedBy(opts *spconfig.ImportOptions, e spconfig.Entry) bool {
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

// importLocked runs an import or preview job. A preview reports every error
// and changes nothing. A real import first takes the backup (unless
// excludeBackup), then imports the objects one by one in importRank order and
// halts at the first object with an error: the objects before it stay
// imported and are listed beside the errors, and the job ends FAILED.
func (t *Tenant) importLocked(j *job, now time.Time) {
	res := newImportResults()
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
	if !j.Preview && !opts.ExcludeBackup {
		res.ExportJobID = t.backupLocked(j, now)
	}
	plan := t.planImportLocked(doc, opts, j.Defaults, j.Preview)

	if j.Preview {
		for _, p := range plan {
			r := res.of(p.e.Type())
			r.Errors = append(r.Errors, p.errs...)
			if p.obj != nil {
				r.Infos = append(r.Infos, newMessage("IMPORT_PREVIEW",
					fmt.Sprintf("Object to be imported: [%s, %s]", p.e.Self.ID, p.e.Self.Name), nil))
			}
		}
		j.Status, j.Message, j.Result = spconfig.StatusComplete, msgImportComplete, mustJSON(res)
		return
	}
	j.Status, j.Message = spconfig.StatusComplete, msgImportComplete
	for _, p := range plan {
		if p.obj != nil {
			if fault, ok := t.faults.rejects(p.obj); ok {
				p.errs = append(p.errs, newMessage("", fmt.Sprintf(
					"Unable to import object [type: %s, id: %s, name: %s]: the target service refused it (injected fault reject-object=%s).",
					p.e.Type(), p.e.Self.ID, p.e.Self.Name, fault), refDetail(p.e.Type(), p.e.Self.ID, p.e.Self.Name)))
			}
		}
		if len(p.errs) == 0 {
			o, err := rewriteObject(p.obj, p.id, p.selfName, p.edits)
			if err != nil {
				p.errs = append(p.errs, newMessage("INVALID_OBJECT", err.Error(), nil))
			} else {
				t.objects[o.Key] = o
				r := res.of(o.Type)
				r.ImportedObjects = append(r.ImportedObjects, spconfig.ImportObject{Type: o.Type, ID: o.ID, Name: o.Key.Name})
				continue
			}
		}
		r := res.of(p.e.Type())
		r.Errors = append(r.Errors, p.errs...)
		j.Status, j.Message = spconfig.StatusFailed, msgImportHalted
		break
	}
	j.Result = mustJSON(res)
}

// backupLocked exports the whole tenant as a completed export job, as a real
// tenant does before it attempts an import, and returns its job id.
func (t *Tenant) backupLocked(j *job, now time.Time) string {
	desc := "Backup before import " + j.ID
	backup := &job{ID: t.newJobIDLocked(), Type: spconfig.JobExport, Status: spconfig.StatusComplete,
		Description: desc, Created: now, Modified: now, Completed: now, Due: now,
		Export: &spconfig.ExportPayload{Description: desc}}
	doc, _ := t.exportLocked(*backup.Export, now) // all types: cannot fail
	backup.Result = doc
	t.jobs = append(t.jobs, backup)
	return backup.ID
}

// planImportLocked checks every selected entry of doc, decides where it lands
// (new objects get ids only for a real import) and resolves its references by
// name, in this import and then in this tenant. It returns the entries in
// import order, each with its errors.
// placeLocked sets what planned object p becomes in this tenant: o, over
// the existing object of its key (keeping its id) or, when assignID, under a
// new id; and registers it under its names in inDoc for references.
func (t *Tenant) placeLocked(p *planned, o *object, assignID bool, inDoc map[extKey]*planned) {
	p.obj, p.existing = o, t.objects[o.Key]
	if p.existing != nil {
		p.id, p.selfName = p.existing.ID, p.existing.SelfName
	} else if assignID {
		p.id, p.selfName = t.targetIdentityLocked(o)
	}
	inDoc[extKey{o.Type, o.Key.Name}] = p
	if o.SelfName != o.Key.Name {
		inDoc[extKey{o.Type, o.SelfName}] = p
	}
}

func (t *Tenant) planImportLocked(doc *spconfig.ExportDocument, opts *spconfig.ImportOptions, defaults []defaultRef, preview bool) []*planned {
	var plan []*planned
	for _, e := range doc.Objects {
		if selectedBy(opts, e) {
			plan = append(plan, &planned{e: e})
		}
	}
	slices.SortStableFunc(plan, func(a, b *planned) int { return rankOf(a.e.Type()) - rankOf(b.e.Type()) })

	inDoc := map[extKey]*planned{} // (type, name) of objects in this import
	for _, p := range plan {
		e := p.e
		ref := refDetail(e.Type(), e.Self.ID, e.Self.Name)
		if !spconfig.Importable(e.Type()) {
			p.errs = append(p.errs, newMessage("IMPORT_TYPE_NOT_SUPPORTED",
				fmt.Sprintf("Object type %s is not supported for import: [%s, %s]", e.Type(), e.Self.ID, e.Self.Name), ref))
			continue
		}
		if spconfig.SignedType(e.Type()) {
			if err := VerifyEntry(e); err != nil {
				p.errs = append(p.errs, newMessage("INVALID_SIGNATURE",
					fmt.Sprintf("Signature verification failed for object [type: %s, id: %s, name: %s]: %s. Signed objects must be imported exactly as exported.", e.Type(), e.Self.ID, e.Self.Name, strings.TrimPrefix(err.Error(), "verify "+e.Key().String()+": ")), ref))
				continue
			}
		}
		o, err := newObject(e.Raw)
		if err != nil {
			p.errs = append(p.errs, newMessage("INVALID_OBJECT", fmt.Sprintf("Object [%s, %s] is invalid: %v", e.Self.ID, e.Self.Name, err), nil))
			continue
		}
		t.placeLocked(p, o, !preview, inDoc)
	}
	for _, p := range plan {
		if p.obj != nil {
			t.resolveRefsLocked(p, inDoc, opts.DefaultReferences, defaults)
		}
	}
	return plan
}

// resolveRefsLocked resolves the references of p by name, collecting the id
// edits and an UNKNOWN_REFERENCE_RESOLVER error per reference that does not
// resolve, by name or through the import's defaultReferences.
func (t *Tenant) resolveRefsLocked(p *planned, inDoc map[extKey]*planned, defaultTypes []string, defaults []defaultRef) {
	unresolved := func(typ, id, name string) {
		p.errs = append(p.errs, newMessage("UNKNOWN_REFERENCE_RESOLVER",
			fmt.Sprintf("Unable to resolve reference for object [type: %s, id: %s, name: %s]", typ, id, name), refDetail(typ, id, name)))
	}
	root, _ := jsonspan.Parse(p.obj.Raw) // newObject parsed it already
	for _, rf := range findRefs(p.obj.Raw, root.Get("object"), isRefType) {
		id, name, ok := t.resolveLocked(rf, p, inDoc)
		if !ok {
			id, name, ok = t.resolveDefaultLocked(rf, defaultTypes, defaults)
		}
		if !ok {
			unresolved(rf.Type, rf.ID, rf.Name)
			continue
		}
		if id != "" && id != rf.ID {
			p.edits = append(p.edits, jsonspan.Edit{Start: rf.idNode.Start, End: rf.idNode.End, Repl: jsonString(id)})
		}
		if name != "" && name != rf.Name {
			p.edits = append(p.edits, jsonspan.Edit{Start: rf.nameNode.Start, End: rf.nameNode.End, Repl: jsonString(name)})
		}
	}
	// Bare source ids beside a sourceName resolve by that name too.
	for _, sr := range findSourceIDs(p.obj.Raw, root.Get("object")) {
		id, _, ok := t.resolveLocked(ref{Type: "SOURCE", ID: sr.ID, Name: sr.Name}, p, inDoc)
		if !ok {
			unresolved("SOURCE", sr.ID, sr.Name)
			continue
		}
		if id != "" && id != sr.ID {
			p.edits = append(p.edits, jsonspan.Edit{Start: sr.idNode.Start, End: sr.idNode.End, Repl: jsonString(id)})
		}
	}
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
			root, err := jsonspan.Parse(p.existing.Raw)
			if err == nil {
				for _, cur := range findRefs(p.existing.Raw, root.Get("object"), isRefType) {
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
			return t.newObjectIDLocked(rf.Type), p.selfName + " Account Correlation", true
		}
		return t.newObjectIDLocked(rf.Type), "", true
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
