package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"promoter/diff"
	"promoter/gitstore"
	"promoter/spconfig"
)

// Class is how the plan treats one object.
type Class string

// Plan classes (DESIGN section 5, step 5).
const (
	ClassApply         Class = "apply"          // desired differs from the live target: import it
	ClassDrift         Class = "drift"          // the live target changed outside git since the last import
	ClassConflict      Class = "conflict"       // changed in git and in the target
	ClassNoop          Class = "no-op"          // the target already matches
	ClassNotImportable Class = "not-importable" // differs, but SP-Config cannot import the type
	ClassNotDeleted    Class = "not-deleted"    // gone from the desired state; SP-Config cannot delete
	ClassOnlyInTarget  Class = "only-in-target" // exists only in the target, never managed here
)

var classNotes = map[Class]string{
	ClassApply:         "will be imported",
	ClassDrift:         "drift: changed in the target outside git",
	ClassConflict:      "conflict: changed in git and in the target",
	ClassNotImportable: "deploy with Configuration Hub or by hand",
	ClassNotDeleted:    "not deleted (SP-Config cannot delete)",
	ClassOnlyInTarget:  "only in target (not managed by this pipeline; no action)",
}

// PlanItem is the plan's verdict on one object.
type PlanItem struct {
	Object string `json:"object"`
	Type   string `json:"type"`
	Class  Class  `json:"class"`
	Path   string `json:"path,omitempty"`
	Reason string `json:"reason,omitempty"`

	key     spconfig.Key
	desired *spconfig.Entry
}

// PreviewReport summarises a preview import.
type PreviewReport struct {
	JobID    string                  `json:"jobId"`
	Status   string                  `json:"status"`
	Errors   []TypedMessage          `json:"errors"`
	Warnings []TypedMessage          `json:"warnings"`
	Results  *spconfig.ImportResults `json:"results,omitempty"`
}

// TypedMessage is an import message with the type it was reported under.
type TypedMessage struct {
	Type string `json:"type"`
	Key  string `json:"key"`
	Text string `json:"text"`
}

// Plan is what a promotion would do to the target.
type Plan struct {
	Pipeline  string         `json:"pipeline"`
	Source    string         `json:"source"`
	Target    string         `json:"target"`
	Revision  string         `json:"revision"`
	Applied   string         `json:"applied,omitempty"`
	LiveJob   string         `json:"liveExportJob,omitempty"`
	Items     []PlanItem     `json:"items"`
	Conflicts []Conflict     `json:"conflicts,omitempty"`
	Counts    map[Class]int  `json:"counts"`
	Diff      diff.Result    `json:"-"`
	Preview   *PreviewReport `json:"preview,omitempty"`
	Verdict   string         `json:"verdict"`
	Blocked   []string       `json:"blockedReasons,omitempty"`
	// PayloadSHA256 identifies the import document; the real import sends the
	// same bytes as the preview.
	PayloadSHA256 string `json:"payloadSha256,omitempty"`
	Payload       []byte `json:"-"`
	payloadKeys   []spconfig.Key
	importedTypes []string
}

// ImportCount is the number of objects the import would send.
func (p *Plan) ImportCount() int { return len(p.payloadKeys) }

// plan compares the target folder at rev with the live target and classifies
// every object.
func (r *Runner) plan(ctx context.Context, rev gitstore.Hash) (*Plan, error) {
	p := r.Pipeline
	types := pipelineTypes(p)
	pl := &Plan{Pipeline: p.Name, Source: p.Source, Target: p.Target, Revision: rev.String(), Counts: map[Class]int{}}

	desired, err := r.managed(rev, types)
	if err != nil {
		return nil, fmt.Errorf("read desired state at %s: %w", short(rev), err)
	}
	appliedRev, err := r.Store.Ref(appliedRef(p.Target))
	if err != nil {
		return nil, err
	}
	var applied map[spconfig.Key]gitstore.File
	if !appliedRev.IsZero() {
		pl.Applied = appliedRev.String()
		if applied, err = r.managed(appliedRev, types); err != nil {
			return nil, fmt.Errorf("read applied state at %s: %w", short(appliedRev), err)
		}
	}
	live, job, err := r.liveTarget(ctx, types, "plan")
	if err != nil {
		return nil, err
	}
	pl.LiveJob = job

	keys := map[spconfig.Key]bool{}
	for k := range desired {
		keys[k] = true
	}
	for k := range live {
		keys[k] = true
	}
	sorted := make([]spconfig.Key, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.SortFunc(sorted, func(a, b spconfig.Key) int {
		if a == b {
			return 0
		}
		if a.Less(b) {
			return -1
		}
		return 1
	})

	// Whole-set comparisons, so ids translate through each side's own index
	// exactly as in the diff the reviewers read.
	desiredList, liveList, appliedList := entriesOf(desired), valuesOf(live), entriesOf(applied)
	d, err := diff.Compare(liveList, desiredList, diff.Options{CrossTenant: true})
	if err != nil {
		return nil, fmt.Errorf("diff target %s with the desired state: %w", p.Target, err)
	}
	differs := changedKeys(d)
	var drifted, changedInGit map[spconfig.Key]bool
	if applied != nil && len(differs) > 0 {
		// Drift and git changes matter only where the target differs from
		// the desired state; ids still translate through the whole sets.
		only := func(k spconfig.Key) bool { return differs[k] }
		dr, err := diff.Compare(appliedList, liveList, diff.Options{CrossTenant: true, Restrict: only})
		if err != nil {
			return nil, fmt.Errorf("diff applied state with target %s: %w", p.Target, err)
		}
		ch, err := diff.Compare(appliedList, desiredList, diff.Options{CrossTenant: true, Restrict: only})
		if err != nil {
			return nil, fmt.Errorf("diff applied state with the desired state: %w", err)
		}
		drifted, changedInGit = changedKeys(dr), changedKeys(ch)
	}
	var payload []spconfig.Entry
	for _, k := range sorted {
		df, inDesired := desired[k]
		_, inLive := live[k]
		_, inApplied := applied[k]
		it := PlanItem{Object: k.String(), Type: k.Type, key: k}
		if inDesired {
			e := df.Entry
			it.desired, it.Path = &e, df.Path
		}
		switch {
		case inDesired && !inLive:
			it.Class = ClassApply
			it.Reason = "missing in the target: will be created"
		case inDesired && inLive:
			if !differs[k] {
				it.Class = ClassNoop
				break
			}
			drift := inApplied && drifted[k]
			changed := !inApplied || changedInGit[k]
			switch {
			case drift && changed:
				it.Class = ClassConflict
				it.Reason = "changed in git since the last import and changed in the target outside git"
			case drift:
				it.Class = ClassDrift
				it.Reason = "the target changed outside git since the last import"
			default:
				it.Class = ClassApply
				it.Reason = "differs from the target: will be updated"
			}
		case !inDesired && inLive:
			if inApplied {
				it.Class = ClassNotDeleted
				it.Reason = "removed from the desired state; SP-Config import cannot delete: delete it in the tenant by hand if intended"
			} else {
				it.Class = ClassOnlyInTarget
			}
		}
		if (it.Class == ClassApply || it.Class == ClassDrift || it.Class == ClassConflict) && !spconfig.Importable(k.Type) {
			it.Reason = strings.TrimSpace(it.Reason + "; SP-Config cannot import " + k.Type)
			it.Class = ClassNotImportable
		}
		pl.Counts[it.Class]++
		pl.Items = append(pl.Items, it)
		if it.Class == ClassApply || (it.Class == ClassDrift && p.Gate.OnDrift == "overwrite") {
			payload = append(payload, *it.desired)
		}
	}

	classOf := map[spconfig.Key]Class{}
	for _, it := range pl.Items {
		classOf[it.key] = it.Class
	}
	for i := range d.Changes {
		c := &d.Changes[i]
		if note, ok := classNotes[classOf[c.Key]]; ok && c.Kind != diff.Unchanged {
			c.Note = note
		}
	}
	pl.Diff = d

	spconfig.SortEntries(payload)
	if len(payload) > 0 {
		doc := &spconfig.ExportDocument{
			ExportHeader: spconfig.ExportHeader{Version: 1, Description: "promoter " + p.Name + " " + short(rev)},
			Objects:      payload,
		}
		pl.Payload = doc.Bytes()
		sum := sha256.Sum256(pl.Payload)
		pl.PayloadSHA256 = hex.EncodeToString(sum[:])
		for _, e := range payload {
			pl.payloadKeys = append(pl.payloadKeys, e.Key())
			if !slices.Contains(pl.importedTypes, e.Type()) {
				pl.importedTypes = append(pl.importedTypes, e.Type())
			}
		}
	}
	return pl, nil
}

// managed reads the target folder at rev: the pipeline's types, minus
// excluded objects, keyed by cross-tenant key.
func (r *Runner) managed(rev gitstore.Hash, types []string) (map[spconfig.Key]gitstore.File, error) {
	files, err := r.Store.ReadTenant(rev, r.Pipeline.Target)
	if err != nil {
		return nil, err
	}
	out := make(map[spconfig.Key]gitstore.File, len(files))
	for _, f := range files {
		k := f.Entry.Key()
		if !slices.Contains(types, k.Type) || excluded(r.Pipeline, k) {
			continue
		}
		if prev, dup := out[k]; dup {
			return nil, fmt.Errorf("%s and %s hold the same object %s; remove one of them", prev.Path, f.Path, k)
		}
		dir := strings.TrimSuffix(tenantDir(r.Pipeline.Target)+k.Type, "/") + "/"
		if !strings.HasPrefix(f.Path, dir) {
			return nil, fmt.Errorf("%s holds a %s object but sits outside %s; move it to the folder of its type", f.Path, k.Type, dir)
		}
		out[k] = f
	}
	return out, nil
}

func entriesOf(m map[spconfig.Key]gitstore.File) []spconfig.Entry {
	out := make([]spconfig.Entry, 0, len(m))
	for _, f := range m {
		out = append(out, f.Entry)
	}
	return out
}

func valuesOf(m map[spconfig.Key]spconfig.Entry) []spconfig.Entry {
	out := make([]spconfig.Entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	return out
}

// changedKeys lists the keys a comparison found different.
func changedKeys(r diff.Result) map[spconfig.Key]bool {
	out := map[spconfig.Key]bool{}
	for _, c := range r.Changes {
		if c.Kind != diff.Unchanged {
			out[c.Key] = true
		}
	}
	return out
}

// liveTarget exports the given types from the target tenant (sanitized like
// the snapshot) and returns its objects by key, excluded objects left out.
func (r *Runner) liveTarget(ctx context.Context, types []string, why string) (map[spconfig.Key]spconfig.Entry, string, error) {
	live := map[spconfig.Key]spconfig.Entry{}
	payload := spconfig.ExportPayload{Description: "promoter " + r.Pipeline.Name + " " + why, IncludeTypes: types}
	job, _, err := r.Target.Export(ctx, payload, r.waitOptions(), func(_ int, e spconfig.Entry) error {
		// Strip the same fields the snapshot strips, so they never show as changes.
		e, err := sanitize(r.Pipeline, e)
		if err == nil && !excluded(r.Pipeline, e.Key()) {
			live[e.Key()] = e
		}
		return err
	})
	if err != nil {
		return nil, job.JobID, fmt.Errorf("export target %s: %w", r.Pipeline.Target, err)
	}
	return live, job.JobID, nil
}
