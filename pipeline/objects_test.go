package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"promoter/diff"
	"promoter/gitstore"
	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

// changeSummary is what a comparison reports, without entry pointers.
type changeSummary struct {
	Key     spconfig.Key
	Kind    diff.Kind
	OldName string
	Fields  []diff.FieldChange
	Old     string // the compared bytes
	New     string
}

func summarize(r diff.Result) ([]changeSummary, map[string]int) {
	var out []changeSummary
	for _, c := range r.Changes {
		s := changeSummary{Key: c.Key, Kind: c.Kind, OldName: c.OldName, Fields: c.Fields}
		if c.Old != nil {
			s.Old = string(c.Old.Raw)
		}
		if c.New != nil {
			s.New = string(c.New.Raw)
		}
		out = append(out, s)
	}
	return out, r.UnchangedCounts
}

// compareFiles settles pairs by blob id and reads the rest: its result must
// be the one diff.Compare gives for the full sets, across tenants and within
// one (most blobs equal, a hand-formatted file, changed and deleted files),
// restricted or not, with full entries on one side (an observation that is
// not recorded).
func TestCompareFilesEqualsCompareOfTheFullSets(t *testing.T) {
	ctx := context.Background()
	repo, err := gitstore.Open(ctx, gitstore.Options{Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	dev, prod := sampleObjects(t, "dev"), sampleObjects(t, "prod")
	types := spconfig.ExportableTypes()
	if _, err := repo.WriteTenant(ctx, "dev", types, dev, gitstore.CommitSpec{Message: "dev"}); err != nil {
		t.Fatal(err)
	}
	c1, err := repo.WriteTenant(ctx, "prod", types, prod, gitstore.CommitSpec{Message: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	before, err := repo.ReadTenant(c1, "prod")
	if err != nil || len(before) < 10 {
		t.Fatal(len(before), err)
	}
	// The next commit: one file hand-formatted (same entry, other blob), one
	// changed, one deleted.
	changed := before[3]
	edited := strings.Replace(string(changed.Data), `"name"`, `"description": "edited by a person",
  "name"`, 1)
	if edited == string(changed.Data) {
		t.Fatal("the edit did not apply: the test proves nothing")
	}
	c2, err := repo.Commit(ctx, gitstore.CommitSpec{Message: "edits", Changes: []gitstore.Change{
		{Path: before[1].Path, Content: append([]byte("  "), before[1].Data...)},
		{Path: changed.Path, Content: []byte(edited)},
		{Path: before[5].Path},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Store: repo}
	thin := func(rev gitstore.Hash, tenant string) []gitstore.FileRef {
		fs, err := repo.ReadTenantEntries(rev, tenant)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if !f.Entry.IsThin() || f.Blob.IsZero() {
				t.Fatalf("%s: want a thin entry with its blob id", f.Path)
			}
		}
		return fs
	}
	full := func(fs []gitstore.FileRef) []gitstore.FileRef {
		es, err := r.load(fs)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]gitstore.FileRef, len(fs))
		for i := range fs {
			out[i] = gitstore.FileRef{Path: fs[i].Path, Blob: fs[i].Blob, Entry: &es[i]}
		}
		return out
	}
	// twin adds a second object of the key of the middle file (another
	// self.id, made of the first one and "twin"), as a tenant that holds two
	// objects of one name; the pairs diff makes of a key depend on the ids'
	// order, not the files'
	twin := func(fs []gitstore.FileRef, twinID func(string) string) []gitstore.FileRef {
		f := full(fs[len(fs)/2 : len(fs)/2+1])[0]
		id := f.Entry.Self.ID
		e, err := spconfig.NewEntry([]byte(strings.ReplaceAll(string(f.Entry.Raw), `"id":"`+id+`"`, `"id":"`+twinID(id)+`"`)))
		if err != nil || e.Key() != f.Entry.Key() || e.Self.ID == id {
			t.Fatalf("twin of %s: %v (%s, %s)", f.Path, err, e.Key(), e.Self.ID)
		}
		return append(slices.Clone(fs), gitstore.FileRef{Path: f.Path + ".twin", Entry: &e})
	}
	every := func(n int) func(spconfig.Key) bool {
		return func(k spconfig.Key) bool { return len(k.Name)%n == 0 }
	}
	cases := []struct {
		name     string
		old, new []gitstore.FileRef
		restrict func(spconfig.Key) bool
	}{
		{"across tenants", thin(c2, "prod"), thin(c2, "dev"), nil},
		{"across tenants, restricted", thin(c2, "prod"), thin(c2, "dev"), every(2)},
		{"one tenant, two commits", thin(c1, "prod"), thin(c2, "prod"), nil},
		{"one tenant, restricted", thin(c1, "prod"), thin(c2, "prod"), func(k spconfig.Key) bool {
			return k == changed.Entry.Key() || k == before[5].Entry.Key() || every(2)(k)
		}},
		{"full entries on the old side", full(thin(c1, "prod")), thin(c2, "prod"), nil},
		{"full entries on both sides", full(thin(c1, "prod")), full(thin(c2, "prod")), nil},
		{"a key twice on each side", twin(thin(c2, "prod"), func(id string) string { return "0-twin-" + id }),
			twin(thin(c2, "dev"), func(id string) string { return id + "-twin" }), nil},
	}
	defer func(n int) { compareBatch = n }(compareBatch)
	for _, c := range cases {
		// in one batch, and a key or three at a time (a first promotion
		// compares every object in batches)
		for _, batch := range []int{1 << 20, 1, 3} {
			compareBatch = batch
			t.Run(fmt.Sprintf("%s, batches of %d", c.name, batch), func(t *testing.T) {
				o := diff.Options{CrossTenant: true, Restrict: c.restrict}
				got, err := r.compareFiles(c.old, c.new, o)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.IsSortedFunc(got.Changes, func(a, b diff.Change) int { return compareKeys(a.Key, b.Key) }) {
					t.Error("changes are not sorted by key")
				}
				want, err := diff.Compare(entriesOf(full(c.old)), entriesOf(full(c.new)), o)
				if err != nil {
					t.Fatal(err)
				}
				gc, gu := summarize(got)
				wc, wu := summarize(want)
				if d := cmp.Diff(wc, gc); d != "" {
					t.Errorf("changes differ from diff.Compare of the full sets (-want +got):\n%s", d)
				}
				if d := cmp.Diff(wu, gu); d != "" {
					t.Errorf("unchanged counts differ (-want +got):\n%s", d)
				}
				if len(wc) == 0 {
					t.Error("no change at all: the case proves nothing")
				}
			})
		}
	}
	// A thin entry never reaches the field comparison: diff refuses it.
	_, err = diff.Compare(entriesOf(thin(c1, "prod")), entriesOf(thin(c2, "prod")), diff.Options{CrossTenant: true})
	if err == nil || !strings.Contains(err.Error(), "no bytes to compare") {
		t.Errorf("diff.Compare of thin entries: want a refusal, got %v", err)
	}
}

// A live object that differs from the observed ref's file only in a
// volatile field keeps the stored file (semantically equal, other bytes):
// the observation holds that object with its bytes, records nothing, and the
// plan finds it unchanged, not drifted, in a run and in a dry run.
func TestObservationKeepsASemanticallyEqualStoredFile(t *testing.T) {
	h := newHarness(t, "")
	h.promoteClean()
	editObject(t, h.prod, "IDENTITY_PROFILE", "Employees", `"identityCount":8`, `"identityCount":9`)
	ctx := context.Background()
	before, err := h.store.Ref(observedRef("prod"))
	if err != nil {
		t.Fatal(err)
	}
	r := h.runner()
	obs, err := r.observe(ctx, "plan", true)
	if err != nil {
		t.Fatal(err)
	}
	k := spconfig.Key{Type: "IDENTITY_PROFILE", Name: "Employees"}
	f, ok := obs.live.get(k)
	if !ok || f.Entry.IsThin() || !strings.Contains(string(f.Entry.Raw), `"identityCount":9`) {
		t.Fatalf("want the live Employees profile with its bytes (identityCount 9), got thin=%v ok=%v", f.Entry.IsThin(), ok)
	}
	if other := obs.files()[0]; !other.Entry.IsThin() {
		t.Errorf("%s: an unchanged object should be thin", other.Entry.Key())
	}
	after, err := h.store.Ref(observedRef("prod"))
	if err != nil || after != before || !obs.commit.IsZero() {
		t.Fatalf("observation recorded a commit (%s -> %s, %v) for a volatile change", short(before), short(after), err)
	}
	for _, dry := range []bool{true, false} {
		res, err := h.runner().Run(ctx, RunOptions{DryRun: dry})
		if err != nil {
			t.Fatalf("dry run %v: %v", dry, err)
		}
		if c := itemClass(res.Plan, k.String()); c != ClassNoop {
			t.Errorf("dry run %v: %s is %q, want no-op", dry, k, c)
		}
		if res.Plan.Counts[ClassDrift] != 0 || res.Plan.ImportCount() != 0 {
			t.Errorf("dry run %v: drift %d, imports %d, want none", dry, res.Plan.Counts[ClassDrift], res.Plan.ImportCount())
		}
	}
}

// A live object the observed ref holds and the target folder does not is
// taken into the baseline by its observed blob when the source starts to
// promote it: a dry run shows that baseline (reading the blob, committing
// nothing) and the run's baseline commit holds the observed file's bytes.
func TestBaselineTakesTheObservedBlob(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "")
	h.promoteClean()
	copyAs := func(srv *spconfigtest.Server, name, id, edit string) {
		t.Helper()
		e := srv.Objects("TRANSFORM")[0]
		raw := strings.ReplaceAll(strings.ReplaceAll(string(e.Raw), `"`+e.Self.Name+`"`, `"`+name+`"`), `"`+e.Self.ID+`"`, `"`+id+`"`)
		ne, err := spconfig.NewEntry([]byte(strings.Replace(raw, `"name":"`+name+`"`, `"name":"`+name+`"`+edit, 1)))
		if err != nil || ne.Key().Name != name {
			t.Fatalf("copy of %s as %s: %v (%s)", e.Key(), name, err, ne.Key())
		}
		if err := srv.PutObject(ne); err != nil {
			t.Fatal(err)
		}
	}
	path := "tenants/prod/TRANSFORM/Live Only.json"
	copyAs(h.prod, "Live Only", "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f01", "")
	if _, err := h.runner().Run(ctx, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	observed, _ := h.store.Ref(observedRef("prod"))
	liveFile, ok, err := h.store.ReadFile(observed, path)
	if err != nil || !ok {
		t.Fatalf("the observation does not hold %s: %v", path, err)
	}
	head, _ := h.store.Head()
	if _, ok, _ := h.store.ReadFile(head, path); ok {
		t.Fatalf("%s is in the target folder before the source has it: the test proves nothing", path)
	}
	copyAs(h.dev, "Live Only", "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e02", `,"description":"from dev"`)
	res, err := h.runner().Run(ctx, RunOptions{DryRun: true})
	if err != nil || res.Plan == nil {
		t.Fatalf("dry run: %v", err)
	}
	if !slices.Contains(res.Plan.Baseline, path) {
		t.Errorf("the dry run's baseline %v does not take %s", res.Plan.Baseline, path)
	}
	if h2, _ := h.store.Head(); h2 != head {
		t.Fatal("a dry run committed")
	}
	res, err = h.runner().Run(ctx, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.BaselineCommit == "" {
		t.Fatalf("no baseline commit: %+v", res.Steps)
	}
	got, ok, err := h.store.ReadFile(gitstore.NewHash(res.BaselineCommit), path)
	if err != nil || !ok || string(got) != string(liveFile) {
		t.Errorf("the baseline commit holds %q (%v %v), want the observed file %q", got, ok, err, liveFile)
	}
}

// The first promotion leaves out the objects that the target holds already
// equal under the cross-tenant rules (copying them would only swap the
// tenants' ids): its commit changes no file of an object that diff finds
// unchanged between the sample tenants, and changes those it finds modified.
func TestFirstPromotionLeavesOutObjectsAlreadyLive(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "")
	h.prod.AddIdentity("Imogene Mendez")
	res, err := h.runner().Run(ctx, RunOptions{})
	if err != nil || res.BaselineCommit == "" || res.PromotionCommit == "" {
		t.Fatalf("first run: %v (baseline %q, promotion %q)", err, res.BaselineCommit, res.PromotionCommit)
	}
	changed, err := h.store.ChangedPaths(gitstore.NewHash(res.BaselineCommit), gitstore.NewHash(res.PromotionCommit), "tenants/prod/")
	if err != nil {
		t.Fatal(err)
	}
	files, err := h.store.ReadTenantEntries(gitstore.NewHash(res.PromotionCommit), "prod")
	if err != nil {
		t.Fatal(err)
	}
	pathOf := map[spconfig.Key]string{}
	for _, f := range files {
		pathOf[f.Entry.Key()] = f.Path
	}
	d, err := diff.Compare(sampleObjects(t, "prod"), sampleObjects(t, "dev"), diff.Options{CrossTenant: true, IncludeUnchanged: true})
	if err != nil {
		t.Fatal(err)
	}
	var same, modified int
	for _, ch := range d.Changes {
		if ch.Key.Type == "AUTH_ORG" { // excluded by the pipeline
			continue
		}
		p, ok := pathOf[ch.Key]
		if !ok {
			continue
		}
		switch ch.Kind {
		case diff.Unchanged:
			same++
			if slices.Contains(changed, p) {
				t.Errorf("%s is equal in both tenants but the promotion commit changed %s", ch.Key, p)
			}
		case diff.Modified:
			modified++
			if !slices.Contains(changed, p) {
				t.Errorf("%s differs between the tenants but the promotion commit left %s alone", ch.Key, p)
			}
		}
	}
	if same == 0 || modified == 0 {
		t.Fatalf("%d unchanged and %d modified objects: the test proves nothing", same, modified)
	}
}
