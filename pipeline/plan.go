package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"
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
	ClassExcluded      Class = "excluded"       // in the target, kept out of promotion by the pipeline's exclude rules
)

var classNotes = map[Class]string{
	ClassApply:         "will be imported",
	ClassDrift:         "drift: changed in the target outside git",
	ClassConflict:      "conflict: changed in git and in the target",
	ClassNotImportable: "deploy with Configuration Hub or by hand",
	ClassNotDeleted:    "not deleted (SP-Config cannot delete)",
	ClassOnlyInTarget:  "only in target (not managed by this pipeline; no action)",
	ClassExcluded:      "excluded by the pipeline (no action)",
}

// PlanItem is the plan's verdict on one object. A plan has one per object
// of either tenant (50,000 in a tenant of that size), so it holds its key,
// not the object and type strings its JSON shows (MarshalJSON; issue 18).
type PlanItem struct {
	Key    spconfig.Key
	Class  Class
	Path   string
	Reason string
	// Channel is how the object reaches the target: ChannelSPConfig (the
	// import) or ChannelConfigHub (a Configuration Hub deploy).
	Channel string

	desired *spconfig.Entry
}

// Object names the item's object ("TYPE name", spconfig.Key.String).
func (it PlanItem) Object() string { return it.Key.String() }

// Type is the item's object type.
func (it PlanItem) Type() string { return it.Key.Type }

// planItemJSON is the JSON form of a PlanItem.
type planItemJSON struct {
	Object  string `json:"object"`
	Type    string `json:"type"`
	Class   Class  `json:"class"`
	Path    string `json:"path,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Channel string `json:"channel,omitempty"`
}

// MarshalJSON writes the item with its object and type.
func (it PlanItem) MarshalJSON() ([]byte, error) {
	return json.Marshal(planItemJSON{Object: it.Object(), Type: it.Type(), Class: it.Class, Path: it.Path, Reason: it.Reason, Channel: it.Channel})
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
	Pipeline  string     `json:"pipeline"`
	Source    string     `json:"source"`
	Target    string     `json:"target"`
	Revision  string     `json:"revision"`
	Applied   string     `json:"applied"`       // "" before the first import
	LiveJob   string     `json:"liveExportJob"` // the export of the live target the plan compared with
	Items     []PlanItem `json:"items"`
	Conflicts []Conflict `json:"conflicts"`
	// Baseline and Proposed list the target files the run took as baseline
	// and the ones it copied from the source (for a dry run: would).
	Baseline []string `json:"baseline"`
	Proposed []string `json:"proposed"`
	// Declined lists the files of a pull request closed without merging:
	// not proposed again until the source changes those objects again.
	Declined []string      `json:"declined"`
	DryRun   bool          `json:"dryRun"`
	Counts   map[Class]int `json:"counts"` // every class, zeros included
	Diff     diff.Result   `json:"-"`
	// ConflictDiff shows each promotion conflict: target file -> mapped
	// source version.
	ConflictDiff diff.Result    `json:"-"`
	Preview      *PreviewReport `json:"preview"` // null when no preview ran
	// Hub is the Configuration Hub upload and draft (the hub's preview);
	// null when none was made.
	Hub     *HubReport `json:"hub"`
	Verdict string     `json:"verdict"`
	Blocked []string   `json:"blockedReasons"`
	// Leaks and MappingMisses are what the environment-leak guard and the
	// mapping check found in the payload (leak.go); each blocks the gate.
	Leaks         []Leak        `json:"leaks"`
	MappingMisses []MappingMiss `json:"mappingMisses"`
	// Mapped lists the desired values a mapping wrote (mapped.go).
	Mapped []MappedValue `json:"mappedValues"`
	// Unmatched lists excludes and mappings that match no object (unmatched.go).
	Unmatched []UnmatchedRule `json:"unmatchedRules"`
	// PayloadSHA256 identifies the import document; the real import sends the
	// same bytes as the preview ("" when nothing is imported).
	PayloadSHA256 string `json:"payloadSha256"`
	Payload       []byte `json:"-"`
	// HubPayload is the Configuration Hub upload document of the objects of
	// the 18 types SP-Config cannot import (deploy.configurationHub), with
	// its sha256; Handoff is that document for the administrator when the
	// option is off (plan --upload-file).
	HubPayload       []byte `json:"-"`
	HubPayloadSHA256 string `json:"hubPayloadSha256,omitempty"`
	Handoff          []byte `json:"-"`
	hubKeys          []spconfig.Key
	hubEntries       []spconfig.Entry
	payloadKeys      []spconfig.Key
	importedTypes    []string
	// caughtUp are live objects the desired state matches although they
	// differ from their drift reference (an adoption merged through a pull
	// request, a person's edit to match the tenant): their reference follows.
	caughtUp []gitstore.FileRef
	// desired is the desired state the plan read, for verify to compare the
	// re-export with (planAndApply drops it when it is done).
	desired *desiredState
}

// desiredState is the desired state at a revision, as the plan read it:
// the managed files, and their id index over the source folders' (src).
type desiredState struct {
	rev    gitstore.Hash
	folder *folder
	src    *diff.Index
	index  *diff.Index
}

// readDesired reads the desired state of v and the objects of the source
// folders upstream of it (sourceIndex), whose ids its promoted files hold.
func (r *Runner) readDesired(v view, types []string) (*desiredState, []*spconfig.Entry, error) {
	desired, err := r.managed(v, types)
	if err != nil {
		return nil, nil, fmt.Errorf("read desired state at %s: %w", short(v.rev), err)
	}
	srcIndex, err := r.sourceIndex(v)
	if err != nil {
		return nil, nil, err
	}
	src := entriesIndex(srcIndex)
	return &desiredState{rev: v.rev, folder: desired, src: src, index: indexOf(desired.files, src)}, srcIndex, nil
}

// Channels of a plan item.
const (
	ChannelSPConfig  = "sp-config"
	ChannelConfigHub = "configuration-hub"
)

// document builds an export document of entries (sorted) and its sha256;
// none for no entries.
func document(what string, rev gitstore.Hash, entries []spconfig.Entry) ([]byte, string, []spconfig.Key) {
	if len(entries) == 0 {
		return nil, "", nil
	}
	spconfig.SortEntries(entries)
	doc := &spconfig.ExportDocument{
		ExportHeader: spconfig.ExportHeader{Version: 1, Description: "promoter " + what + " " + short(rev)},
		Objects:      entries,
	}
	data := doc.Bytes()
	sum := sha256.Sum256(data)
	keys := make([]spconfig.Key, len(entries))
	for i, e := range entries {
		keys[i] = e.Key()
	}
	return data, hex.EncodeToString(sum[:]), keys
}

// HubCount is the number of objects a Configuration Hub deploy would send.
func (p *Plan) HubCount() int { return len(p.hubKeys) }

// ImportCount is the number of objects the import would send.
func (p *Plan) ImportCount() int { return len(p.payloadKeys) }

// plan compares the desired state (the target folder of v) with the live
// target (obs) and classifies every object. Drift is measured against the
// reference (ref), for every type.
func (r *Runner) plan(v view, obs *observation, ref *reference) (*Plan, error) {
	p := r.Pipeline
	types := pipelineTypes(p)
	pl := &Plan{Pipeline: p.Name, Source: p.Source, Target: p.Target, Revision: v.rev.String(), Counts: map[Class]int{}, LiveJob: obs.job}

	ds, srcIndex, err := r.readDesired(v, types)
	if err != nil {
		return nil, err
	}
	desired := ds.folder
	appliedRev, err := r.Store.Ref(appliedRef(p.Target))
	if err != nil {
		return nil, err
	}
	if !appliedRev.IsZero() {
		pl.Applied = appliedRev.String()
	}
	live := &obs.live
	pl.Unmatched = r.unmatchedRules(srcIndex, obs.excl)

	// the desired files in key order (they are sorted by path)
	byKey := make([]int32, len(desired.files))
	for i := range byKey {
		byKey[i] = int32(i)
	}
	slices.SortFunc(byKey, func(a, b int32) int { return compareKeys(desired.files[a].Entry.Key(), desired.files[b].Entry.Key()) })

	// Whole-set comparisons, so ids translate through each side's own index
	// exactly as in the diff the reviewers read.
	// The id indexes are built once (and only when a pair differs in bytes).
	srcIdx, desiredIdx := ds.src, ds.index
	d, err := r.compareFiles(obs.files(), desired.files, diff.Options{CrossTenant: true, SharedOld: obs.index(), SharedNew: desiredIdx})
	if err != nil {
		return nil, fmt.Errorf("diff target %s with the desired state: %w", p.Target, err)
	}
	differs := changedKeys(d)
	if v.over == nil { // a revision verify may read again
		pl.desired = ds
	}
	// Drift and git changes matter only where the target differs from the
	// desired state (or lacks a desired object); ids still translate through
	// the whole sets.
	suspects := map[spconfig.Key]bool{}
	for _, f := range desired.files {
		k := f.Entry.Key()
		if inLive := live.has(k); differs[k] || !inLive {
			suspects[k] = true
		}
	}
	drift, err := r.drifted(ref, obs, suspects)
	if err != nil {
		return nil, fmt.Errorf("diff the reference of %s with the target: %w", p.Target, err)
	}
	// The applied state matters only for the suspects (changed in git since
	// the last import?): a plan where the target matches does not read it.
	// It reads the suspects' files, and thin entries of the others for the
	// ids they resolve.
	var applied *folder
	var changedInGit map[spconfig.Key]bool
	if !appliedRev.IsZero() && len(suspects) > 0 {
		all, files, err := commitView(appliedRev).readThin(r.Store, p.Target, func(e *spconfig.Entry) bool { return suspects[e.Key()] })
		if err == nil {
			applied, err = r.managedOf(files, types)
		}
		if err != nil {
			return nil, fmt.Errorf("read applied state at %s: %w", short(appliedRev), err)
		}
		ids := slices.DeleteFunc(all, func(e *spconfig.Entry) bool { return !r.isManaged(types, e.Key()) })
		ch, err := r.compareFiles(applied.files, desired.files, diff.Options{CrossTenant: true, SharedOld: entriesIndex(ids, srcIdx), SharedNew: desiredIdx, Restrict: func(k spconfig.Key) bool { return suspects[k] }})
		if err != nil {
			return nil, fmt.Errorf("diff applied state with the desired state: %w", err)
		}
		changedInGit = changedKeys(ch)
	}
	removed, err := r.removedFromDesired(v, desired, obs)
	if err != nil {
		return nil, err
	}
	// The desired objects the diff read (those that differ from the
	// target) have their bytes; the others are thin.
	read := make(map[spconfig.Key]*spconfig.Entry, len(d.Changes))
	for i := range d.Changes {
		if c := &d.Changes[i]; c.New != nil {
			read[c.Key] = c.New
		}
	}
	var payload, hubObjects, handoff []spconfig.Entry
	n := len(obs.excl) // each key of either side gets an item, each excluded object one
	for range keysInOrder(desired.files, byKey, live.files) {
		n++
	}
	if n > 0 { // none stays nil
		pl.Items = make([]PlanItem, 0, n)
	}
	for k := range keysInOrder(desired.files, byKey, live.files) {
		di, inDesired := desired.index(k)
		inLive := live.has(k)
		inApplied := applied.has(k)
		it := PlanItem{Key: k}
		if inDesired {
			df := &desired.files[di]
			it.desired, it.Path = df.Entry, df.Path // thin, unless the diff read it
			if full, ok := read[k]; ok {
				it.desired = full
			}
		}
		driftReason, drifts := drift[k]
		changed := appliedRev.IsZero() || !inApplied || changedInGit[k] // applied holds the suspects' files, read whenever a suspect needs this
		switch {
		case inDesired && (!inLive || differs[k]):
			switch {
			case drifts && changed:
				it.Class = ClassConflict
				it.Reason = "changed in git since the last import and " + driftReason
			case drifts:
				it.Class = ClassDrift
				it.Reason = driftReason
			case !inLive:
				it.Class = ClassApply
				it.Reason = "missing in the target: will be created"
			default:
				it.Class = ClassApply
				it.Reason = "differs from the target: will be updated"
			}
		case inDesired:
			it.Class = ClassNoop
		case removed[k]:
			it.Class = ClassNotDeleted
			it.Reason = "removed from the desired state; SP-Config import cannot delete: delete it in the tenant by hand if intended"
		default:
			it.Class = ClassOnlyInTarget
		}
		hub := p.Deploy.ConfigurationHub && !spconfig.Importable(k.Type)
		switch {
		case it.Class == ClassApply && hub:
			it.Reason += "; through Configuration Hub (SP-Config cannot import " + k.Type + ")"
		case it.Class == ClassApply && !spconfig.Importable(k.Type):
			it.Class, it.Reason = ClassNotImportable, notImportableReason(k.Type, inLive)
			handoff = append(handoff, *it.desired)
		case it.Class == ClassDrift && !spconfig.Importable(k.Type) && !hub:
			it.Reason += "; SP-Config cannot import " + k.Type + ": take the live version into git with promoter adopt, or restore it in the tenant"
		}
		deploy := it.Class == ClassApply || (it.Class == ClassDrift && p.Gate.OnDrift == "overwrite")
		switch {
		case deploy && spconfig.Importable(k.Type):
			it.Channel = ChannelSPConfig
			payload = append(payload, *it.desired)
		case deploy && hub:
			it.Channel = ChannelConfigHub
			hubObjects = append(hubObjects, *it.desired)
		}
		pl.Counts[it.Class]++
		pl.Items = append(pl.Items, it)
	}
	if err := r.loadDesired(pl.Items, desired, payload, hubObjects, handoff); err != nil {
		return nil, err
	}
	pl.hubEntries = hubObjects
	pl.HubPayload, pl.HubPayloadSHA256, pl.hubKeys = document(p.Name+" Configuration Hub", v.rev, hubObjects)
	pl.Handoff, _, _ = document(p.Name+" for Configuration Hub", v.rev, handoff)
	if pl.caughtUp, err = r.caughtUp(ref, obs, pl.Items); err != nil {
		return nil, err
	}
	for _, k := range obs.excl {
		pl.Items = append(pl.Items, PlanItem{Key: k, Class: ClassExcluded, Reason: "excluded by the pipeline's exclude rules"})
		pl.Counts[ClassExcluded]++
	}

	// the class of each object the diff lists (a few of all the items)
	classOf, hubbed := make(map[spconfig.Key]Class, len(d.Changes)), map[spconfig.Key]bool{}
	for _, c := range d.Changes {
		classOf[c.Key] = ""
	}
	for _, it := range pl.Items {
		if _, listed := classOf[it.Key]; listed {
			classOf[it.Key] = it.Class
			hubbed[it.Key] = it.Channel == ChannelConfigHub
		}
	}
	for i := range d.Changes {
		c := &d.Changes[i]
		if note, ok := classNotes[classOf[c.Key]]; ok && c.Kind != diff.Unchanged {
			c.Note = note
			if hubbed[c.Key] {
				c.Note = "will be deployed through Configuration Hub"
			}
		}
	}
	pl.Mapped = r.markMapped(&d, desired)
	pl.Diff = d

	pl.Payload, pl.PayloadSHA256, pl.payloadKeys = document(p.Name, v.rev, payload)
	for _, k := range pl.payloadKeys {
		if !slices.Contains(pl.importedTypes, k.Type) {
			pl.importedTypes = append(pl.importedTypes, k.Type)
		}
	}
	if err := r.checkPayload(pl, v, obs.org, payload); err != nil {
		return nil, err
	}
	return pl, nil
}

// loadDesired gives the desired entries of lists (what the plan sends or
// hands off) and of the items their bytes, where they are thin.
func (r *Runner) loadDesired(items []PlanItem, desired *folder, lists ...[]spconfig.Entry) error {
	var need []gitstore.FileRef
	for _, l := range lists {
		for _, e := range l {
			if f, ok := desired.get(e.Key()); ok && e.IsThin() {
				need = append(need, f)
			}
		}
	}
	if len(need) == 0 {
		return nil
	}
	loaded, err := r.load(need)
	if err != nil {
		return fmt.Errorf("read desired state: %w", err)
	}
	byKey := make(map[spconfig.Key]spconfig.Entry, len(loaded))
	for _, e := range loaded {
		byKey[e.Key()] = e
	}
	for _, l := range lists {
		for i := range l {
			if e, ok := byKey[l[i].Key()]; ok {
				l[i] = e
			}
		}
	}
	for i := range items {
		if it := &items[i]; it.desired != nil && it.desired.IsThin() {
			if e, ok := byKey[it.Key]; ok {
				it.desired = &e
			}
		}
	}
	return nil
}

// keysInOrder yields every key of desired and live once, in key order:
// desired's files taken in the order of byKey, live's sorted by key (each
// side holds a key once).
func keysInOrder(desired []gitstore.FileRef, byKey []int32, live []gitstore.FileRef) iter.Seq[spconfig.Key] {
	return func(yield func(spconfig.Key) bool) {
		i, j := 0, 0
		for i < len(byKey) || j < len(live) {
			var k spconfig.Key
			switch {
			case j == len(live):
				k, i = desired[byKey[i]].Entry.Key(), i+1
			case i == len(byKey):
				k, j = live[j].Entry.Key(), j+1
			default:
				a, b := desired[byKey[i]].Entry.Key(), live[j].Entry.Key()
				switch c := compareKeys(a, b); {
				case c < 0:
					k, i = a, i+1
				case c > 0:
					k, j = b, j+1
				default:
					k, i, j = a, i+1, j+1
				}
			}
			if !yield(k) {
				return
			}
		}
	}
}

// notImportableReason says what happens to a desired object of a type
// SP-Config cannot import that is missing in the target or differs from it:
// nothing, until it is deployed another way.
func notImportableReason(typ string, inLive bool) string {
	what, verb := "differs from the target", "update"
	if !inLive {
		what, verb = "missing in the target", "create"
	}
	return fmt.Sprintf("%s; SP-Config cannot import %s, so promoter will not %s it: deploy it with Configuration Hub or by hand", what, typ, verb)
}

// caughtUp lists the live objects the plan found equal to the desired state
// whose drift reference differs from them.
func (r *Runner) caughtUp(ref *reference, obs *observation, items []PlanItem) ([]gitstore.FileRef, error) {
	live := &obs.live
	cand := map[spconfig.Key]bool{}
	for _, it := range items {
		if it.Class != ClassNoop || !ref.has[it.Type()] {
			continue
		}
		lf, _ := live.get(it.Key) // a no-op is live
		if re, ok := ref.objects.get(it.Key); !ok || !sameFile(re, lf) {
			cand[it.Key] = true
		}
	}
	if len(cand) == 0 {
		return nil, nil
	}
	var out []gitstore.FileRef
	for k := range cand {
		if !ref.objects.has(k) {
			lf, _ := live.get(k)
			out = append(out, lf)
		}
	}
	d, err := r.compareRestricted(ref.objects.files, obs.files(), ref.index(), obs.index(), func(k spconfig.Key) bool { return cand[k] && ref.objects.has(k) })
	if err != nil {
		return nil, err
	}
	for k := range d {
		lf, _ := live.get(k)
		out = append(out, lf)
	}
	sortFiles(out)
	return out, nil
}

// removedFromDesired finds the live objects without a desired file whose
// file the target folder held at some point of its history: they were
// removed from the desired state (or created by a promotion that was
// reverted) and SP-Config cannot delete them. The others were never managed.
func (r *Runner) removedFromDesired(v view, desired *folder, obs *observation) (map[spconfig.Key]bool, error) {
	var only []spconfig.Key
	for _, f := range obs.live.files {
		if k := f.Entry.Key(); !desired.has(k) {
			only = append(only, k)
		}
	}
	out := map[spconfig.Key]bool{}
	if len(only) == 0 {
		return out, nil
	}
	pathOf, err := obs.paths(r.Pipeline.Target)
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(only))
	for _, k := range only {
		paths = append(paths, pathOf[k])
	}
	writers, err := r.lastWriters(v, paths)
	if err != nil {
		return nil, err
	}
	for _, k := range only {
		if _, ok := writers[pathOf[k]]; ok {
			out[k] = true
		}
	}
	return out, nil
}

// sourceIndex returns the objects of the source folders upstream of the
// target at v (the source, and in a chain its own sources): the ids of
// promoted files are ids of those tenants and resolve through them (see
// diff.Options.IndexNew).
func (r *Runner) sourceIndex(v view) ([]*spconfig.Entry, error) {
	var out []*spconfig.Entry
	for _, t := range r.upstreamTenants() {
		files, _, err := v.readThin(r.Store, t, nil)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", tenantDir(t), err)
		}
		if out == nil {
			out = files // the usual case, one tenant: no copy
		} else {
			out = append(slices.Clip(out), files...)
		}
	}
	return out, nil
}

// upstreamTenants lists the pipeline's source and, along a chain, the
// sources of the pipelines that feed it (each once).
func (r *Runner) upstreamTenants() []string {
	out := []string{r.Pipeline.Source}
	for i := 0; r.Config != nil && i < len(out) && i <= len(r.Config.Pipelines); i++ {
		for _, q := range r.Config.Pipelines {
			if q.Target == out[i] && !slices.Contains(out, q.Source) && q.Source != r.Pipeline.Target {
				out = append(out, q.Source)
			}
		}
	}
	return out
}

// managed reads the target folder of v: the pipeline's types, minus
// excluded objects, with thin entries.
func (r *Runner) managed(v view, types []string) (*folder, error) {
	files, err := v.readTenant(r.Store, r.Pipeline.Target)
	if err != nil {
		return nil, err
	}
	return r.managedOf(files, types)
}

// isManaged reports whether an object of key k is managed: of the types,
// not excluded.
func (r *Runner) isManaged(types []string, k spconfig.Key) bool {
	return slices.Contains(types, k.Type) && !excluded(r.Pipeline, k)
}

// managedOf is the folder of the managed files of files, a target folder's
// (sorted by path; it reuses the slice): two files of one object, or one
// outside the folder of its type, are errors.
func (r *Runner) managedOf(files []gitstore.FileRef, types []string) (*folder, error) {
	out := &folder{files: files[:0], at: newKeyIndex(len(files))}
	td := tenantDir(r.Pipeline.Target)
	for _, f := range files {
		k := f.Entry.Key()
		if !r.isManaged(types, k) {
			continue
		}
		out.files = append(out.files, f)
		if prev, added := out.at.add(out.files, len(out.files)-1); !added {
			return nil, fmt.Errorf("%s and %s hold the same object %s; remove one of them", out.files[prev].Path, f.Path, k)
		}
		if rest, ok := strings.CutPrefix(f.Path, td); !ok || !strings.HasPrefix(rest, k.Type) || !strings.HasPrefix(rest[len(k.Type):], "/") {
			dir := strings.TrimSuffix(td+k.Type, "/") + "/"
			return nil, fmt.Errorf("%s holds a %s object but sits outside %s; move it to the folder of its type", f.Path, k.Type, dir)
		}
	}
	out.files = slices.Clip(out.files)
	return out, nil
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
