package diff

import (
	"encoding/json"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"promoter/spconfig"
)

// entry builds an export entry of type typ whose object is obj (JSON text).
func entry(t testing.TB, typ, name, id, obj string) spconfig.Entry {
	t.Helper()
	self, _ := json.Marshal(spconfig.Self{Name: name, ID: id, Type: typ})
	e, err := spconfig.NewEntry([]byte(`{"version":1,"self":` + string(self) + `,"object":` + obj + `}`))
	if err != nil {
		t.Fatalf("entry %s %s: %v", typ, name, err)
	}
	return e
}

// sampleDiff is one row of the samples README table "Deliberate differences".
type sampleDiff struct {
	n      int
	key    spconfig.Key
	kind   Kind
	fields []string // exact field paths for modified objects
}

func key(typ, name string) spconfig.Key { return spconfig.Key{Type: typ, Name: name} }

var readmeDiffs = []sampleDiff{
	{1, key("SOURCE", "ServiceNow"), Added, nil},
	{2, key("RULE", "Email Correlation"), Added, nil},
	{3, key("TRIGGER_SUBSCRIPTION", "Access Request Pre-Approval"), Added, nil},
	{4, key("ACCESS_PROFILE", "ServiceNow ITIL"), Added, nil},
	{5, key("PASSWORD_SYNC_GROUP", "Corporate Password Sync"), Added, nil},
	{6, spconfig.Key{Type: "LIFECYCLE_STATE", Scope: "Contractors", Name: "activePendingTermination"}, Added, nil},
	{7, key("SOURCE", "Active Directory"), Modified, []string{"$.description"}},
	{8, key("TRANSFORM", "Contractor Lifecycle State"), Modified, []string{"$.attributes.Within25Days", "$.attributes.value"}},
	{9, key("TRANSFORM", "Get Worker Type"), Modified, []string{"$.attributes.value"}},
	{10, key("IDENTITY_PROFILE", "Employees"), Modified, []string{"$.identityAttributeConfig.attributeTransforms[identityAttributeName=department]"}},
	{11, key("CONNECTOR_RULE", "Contractors BuildMap"), Modified, []string{"$.sourceCode.script"}},
	{12, key("ROLE", "2 entitlement role"), Modified, []string{"$.description", "$.owner.name"}},
	{13, spconfig.Key{Type: "LIFECYCLE_STATE", Scope: "Contractors", Name: "terminated"}, Modified, []string{`$.accountActions[action=DISABLE].sourceIds["${SOURCE:ServiceNow}"]`}},
	{14, key("WORKFLOW", "Send Email"), Modified, []string{"$.enabled"}},
	{15, key("PUBLIC_IDENTITIES_CONFIG", "Public Identities Configuration"), Modified, []string{"$.attributes[key=department]"}},
	{16, key("AUTH_ORG", "Authentication Configuration"), Modified, []string{
		"$.serviceProviderConfig.federationProtocolDetails[role=SAML_SP].alias",
		"$.serviceProviderConfig.federationProtocolDetails[role=SAML_SP].callbackUrl",
		"$.serviceProviderConfig.federationProtocolDetails[role=SAML_SP].entityId",
		"$.serviceProviderConfig.federationProtocolDetails[role=SAML_SP].legacyAcsUrl",
		"$.tenant",
	}},
	{17, key("TRANSFORM", "Timestamp To Date"), Removed, nil},
}

func TestSamplesListEveryDifferenceAndNoNoise(t *testing.T) {
	r := sampleResult(t)
	got := map[spconfig.Key]Change{}
	for _, c := range r.Changes {
		if _, dup := got[c.Key]; dup {
			t.Errorf("%s listed twice", c.Key)
		}
		got[c.Key] = c
	}
	for _, d := range readmeDiffs {
		c, ok := got[d.key]
		if !ok {
			t.Errorf("#%d %s: missing from the result", d.n, d.key)
			continue
		}
		if c.Kind != d.kind {
			t.Errorf("#%d %s: kind %s, want %s", d.n, d.key, c.Kind, d.kind)
		}
		var paths []string
		for _, f := range c.Fields {
			paths = append(paths, f.Path)
		}
		if diff := cmp.Diff(d.fields, paths); diff != "" {
			t.Errorf("#%d %s: field paths (-want +got):\n%s", d.n, d.key, diff)
		}
		if c.Importable != spconfig.Importable(d.key.Type) {
			t.Errorf("#%d %s: importable %v", d.n, d.key, c.Importable)
		}
		delete(got, d.key)
	}
	for k, c := range got {
		t.Errorf("%s: listed as %s but the samples README says it is identical (noise): %+v", k, c.Kind, c.Fields)
	}
	if n := totals(r.Counts()).Unchanged; n != 42 {
		t.Errorf("unchanged = %d, want 42", n)
	}
	// The one-field diffs keep their values readable.
	for _, c := range r.Changes {
		if c.Key == key("IDENTITY_PROFILE", "Employees") && c.Fields[0].Kind != FieldAdded {
			t.Errorf("#10: the department mapping must show as one added element, got %+v", c.Fields)
		}
		if c.Key == key("ROLE", "2 entitlement role") {
			want := FieldChange{Path: "$.owner.name", Kind: FieldChanged, Old: json.RawMessage(`"William Wilson"`), New: json.RawMessage(`"Imogene Mendez"`)}
			if diff := cmp.Diff(want, c.Fields[1]); diff != "" {
				t.Errorf("#12 owner (-want +got):\n%s", diff)
			}
		}
	}
}

func TestSamplesReverseAndSelf(t *testing.T) {
	dev, prod := loadSample(t, "dev"), loadSample(t, "prod")
	r, err := Compare(dev, prod, Options{CrossTenant: true})
	if err != nil {
		t.Fatal(err)
	}
	tot := totals(r.Counts())
	if tot.Added != 1 || tot.Removed != 6 || tot.Modified != 10 || tot.Unchanged != 42 {
		t.Errorf("dev->prod reversed: %+v, want 1 added, 6 removed, 10 modified, 42 unchanged", tot)
	}
	defer func(v bool) { skipFastPath = v }(skipFastPath)
	skipFastPath = true
	for _, side := range []struct {
		name string
		es   []spconfig.Entry
	}{{"dev", dev}, {"prod", prod}} {
		for _, cross := range []bool{false, true} {
			r, err := Compare(side.es, side.es, Options{CrossTenant: cross, IncludeUnchanged: true})
			if err != nil {
				t.Fatal(err)
			}
			if !r.Empty() || len(r.Changes) != len(side.es) {
				t.Errorf("%s vs itself (cross=%v): empty=%v, %d changes for %d objects", side.name, cross, r.Empty(), len(r.Changes), len(side.es))
			}
		}
	}
}

func TestCompareKinds(t *testing.T) {
	a := entry(t, "TRANSFORM", "A", "id-a", `{"id":"id-a","name":"A","type":"lower"}`)
	b := entry(t, "TRANSFORM", "B", "id-b", `{"id":"id-b","name":"B","type":"upper"}`)
	b2 := entry(t, "TRANSFORM", "B", "id-b", `{"id":"id-b","name":"B","type":"trim"}`)
	aRenamed := entry(t, "TRANSFORM", "A2", "id-a", `{"id":"id-a","name":"A2","type":"lower"}`)
	c := entry(t, "RULE", "C", "id-c", `{"id":"id-c","name":"C"}`)
	tests := []struct {
		name     string
		old, new []spconfig.Entry
		o        Options
		want     []string // "kind key [oldName]"
	}{
		{"unchanged hidden", []spconfig.Entry{a}, []spconfig.Entry{a}, Options{}, nil},
		{"unchanged listed", []spconfig.Entry{a}, []spconfig.Entry{a}, Options{IncludeUnchanged: true}, []string{"unchanged TRANSFORM A"}},
		{"added removed modified", []spconfig.Entry{a, b}, []spconfig.Entry{b2, c}, Options{}, []string{"added RULE C", "removed TRANSFORM A", "modified TRANSFORM B"}},
		{"rename by id", []spconfig.Entry{a}, []spconfig.Entry{aRenamed}, Options{}, []string{"renamed TRANSFORM A2 A"}},
		{"no rename across tenants", []spconfig.Entry{a}, []spconfig.Entry{aRenamed}, Options{CrossTenant: true}, []string{"removed TRANSFORM A", "added TRANSFORM A2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Compare(tt.old, tt.new, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range r.Changes {
				s := string(c.Kind) + " " + c.Key.String()
				if c.OldName != "" {
					s += " " + c.OldName
				}
				got = append(got, s)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if tt.name == "rename by id" {
				f := r.Changes[0].Fields
				if len(f) != 1 || f[0].Path != "$.name" {
					t.Errorf("rename fields = %+v, want $.name only", f)
				}
			}
		})
	}
}

func TestCountsAndEmpty(t *testing.T) {
	r := Result{Changes: []Change{{Key: key("B", "x"), Kind: Added}, {Key: key("A", "y"), Kind: Modified}, {Key: key("A", "z"), Kind: Unchanged}}, UnchangedCounts: map[string]int{"A": 2, "C": 1}}
	want := []TypeCount{{Type: "A", Modified: 1, Unchanged: 3}, {Type: "B", Added: 1}, {Type: "C", Unchanged: 1}}
	if diff := cmp.Diff(want, r.Counts()); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}
	if r.Empty() {
		t.Error("Empty() = true with an added object")
	}
	if !(Result{Changes: []Change{{Kind: Unchanged}}}).Empty() {
		t.Error("Empty() = false with only unchanged objects")
	}
}

func TestSameSourceInTwoTenants(t *testing.T) {
	a := entry(t, "SOURCE", "AD [source-1]", "1111", `{"id":"1111","name":"AD","deleteThreshold":10.0,"owner":{"type":"IDENTITY","id":"x","name":"Ann"}}`)
	b := entry(t, "SOURCE", "AD [source-2]", "2222", `{"id":"2222","name":"AD","deleteThreshold":10,"owner":{"type":"IDENTITY","id":"y","name":"Ann"},"category":null}`)
	c := entry(t, "SOURCE", "AD [source-2]", "2222", `{"id":"2222","name":"AD","deleteThreshold":11}`)
	for _, cross := range []bool{false, true} {
		o := Options{CrossTenant: cross}
		if r, err := Compare([]spconfig.Entry{a}, []spconfig.Entry{b}, o); err != nil || !r.Empty() {
			t.Errorf("Compare(a, b, cross=%v) = %+v, %v; want no change", cross, r.Changes, err)
		}
		if r, err := Compare([]spconfig.Entry{a}, []spconfig.Entry{c}, o); err != nil || r.Empty() {
			t.Errorf("Compare(a, c, cross=%v) = %+v, %v; want a change", cross, r.Changes, err)
		}
	}
}

func TestCanonicalNumber(t *testing.T) {
	tests := []struct{ a, b string }{
		{"10", "10.0"}, {"10", "1e1"}, {"0", "-0.0"}, {"0.5", "5e-1"}, {"12345678901234567890", "12345678901234567890.00"}, {"-3", "-3.000"}, {"1E+2", "100"},
	}
	for _, tt := range tests {
		if canonicalNumber(tt.a) != canonicalNumber(tt.b) {
			t.Errorf("canonicalNumber(%s)=%s != canonicalNumber(%s)=%s", tt.a, canonicalNumber(tt.a), tt.b, canonicalNumber(tt.b))
		}
	}
	for _, pair := range [][2]string{{"10", "100"}, {"1", "-1"}, {"0.1", "0.01"}, {"12345678901234567890", "12345678901234567891"}} {
		if canonicalNumber(pair[0]) == canonicalNumber(pair[1]) {
			t.Errorf("canonicalNumber(%s) == canonicalNumber(%s)", pair[0], pair[1])
		}
	}
	if got := canonicalNumber("1e999999999999999999999"); got != "1e999999999999999999999" {
		t.Errorf("a huge exponent must be kept as written, got %s", got)
	}
}

func TestRewriteIDs(t *testing.T) {
	ad, err := spconfig.NewEntry([]byte(`{"version":1,"self":{"type":"SOURCE","id":"2c9180866166b5b0016167c32ef31a66","name":"AD"},"object":{"id":"2c9180866166b5b0016167c32ef31a66","name":"AD"}}`))
	if err != nil {
		t.Fatal(err)
	}
	idx := idLookup{buildIndex(0, nil, []spconfig.Entry{ad})}
	tests := []struct{ in, want string }{
		{"2c9180866166b5b0016167c32ef31a66", "${SOURCE:AD}"},
		{"@access(id:2c9180866166b5b0016167c32ef31a66 OR id:2c9180866166b5b0016167c32ef31a67)", "@access(id:${SOURCE:AD} OR id:${id:hex32})"},
		{`$[?($.identityId == "f69b6ae7-0709-4432-becd-0a98bb802c3a")]`, `$[?($.identityId == "${id:uuid}")]`},
		{"x2c9180866166b5b0016167c32ef31a66", "x2c9180866166b5b0016167c32ef31a66"}, // part of a longer word
		{"2c9180866166b5b0016167c32ef31a66f", "2c9180866166b5b0016167c32ef31a66f"}, // 33 hex digits
		{"not an id at all, but long enough to be scanned", "not an id at all, but long enough to be scanned"},
	}
	for _, tt := range tests {
		if got := rewriteIDs(tt.in, idx); got != tt.want {
			t.Errorf("rewriteIDs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCompareBadObjectIsAnError(t *testing.T) {
	// An Entry built by hand without object bytes gives an error naming the object, not a panic.
	bad := spconfig.Entry{Raw: json.RawMessage(`{}`), Self: spconfig.Self{Type: "TAG", Name: "x", ID: "1"}}
	good := entry(t, "TAG", "x", "1", `{"name":"x"}`)
	_, err := Compare([]spconfig.Entry{bad}, []spconfig.Entry{good}, Options{})
	if err == nil || !strings.Contains(err.Error(), "TAG x") {
		t.Errorf("Compare with an entry without object: err = %v, want an error naming TAG x", err)
	}
}

func fieldPaths(fs []FieldChange) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path+" "+f.Kind)
	}
	slices.Sort(out)
	return out
}

func ExampleCompare() {
	old := []spconfig.Entry{mustEntry(`{"version":1,"self":{"name":"Get Worker Type","id":"a1","type":"TRANSFORM"},"object":{"id":"a1","name":"Get Worker Type","type":"static","attributes":{"value":"$workerType"}}}`)}
	new := []spconfig.Entry{mustEntry(`{"version":1,"self":{"name":"Get Worker Type","id":"b2","type":"TRANSFORM"},"object":{"id":"b2","name":"Get Worker Type","type":"static","attributes":{"value":"Full-Time"}}}`)}
	r, _ := Compare(old, new, Options{CrossTenant: true})
	for _, c := range r.Changes {
		fmt.Println(c.Kind, c.Key)
		for _, f := range c.Fields {
			fmt.Println(" ", f.Path, string(f.Old), "->", string(f.New))
		}
	}
	// Output:
	// modified TRANSFORM Get Worker Type
	//   $.attributes.value "$workerType" -> "Full-Time"
}

func mustEntry(s string) spconfig.Entry {
	e, err := spconfig.NewEntry([]byte(s))
	if err != nil {
		panic(err)
	}
	return e
}

// TestRestrictMatchesFullComparison checks that a restricted comparison
// reports, for the keys it keeps, exactly what the full comparison reports
// (ids still translate through the whole sets) and nothing else.
func TestRestrictMatchesFullComparison(t *testing.T) {
	prod, dev := loadSample(t, "prod"), loadSample(t, "dev")
	full, err := Compare(prod, dev, Options{CrossTenant: true, IncludeUnchanged: true})
	if err != nil {
		t.Fatal(err)
	}
	keep := func(k spconfig.Key) bool { return k.Type == "SOURCE" || k.Type == "LIFECYCLE_STATE" }
	got, err := Compare(prod, dev, Options{CrossTenant: true, IncludeUnchanged: true, Restrict: keep})
	if err != nil {
		t.Fatal(err)
	}
	var want []Change
	for _, c := range full.Changes {
		if keep(c.Key) {
			want = append(want, c)
		}
	}
	if len(want) == 0 {
		t.Fatal("nothing kept: the test proves nothing")
	}
	byRaw := cmp.Comparer(func(a, b *spconfig.Entry) bool {
		return (a == nil) == (b == nil) && (a == nil || string(a.Raw) == string(b.Raw))
	})
	if diff := cmp.Diff(want, got.Changes, byRaw); diff != "" {
		t.Errorf("restricted comparison differs from the full one (-full +restricted):\n%s", diff)
	}
}

// TestCompareDoesNotDependOnInputOrder shuffles both samples: an id claimed by
// two objects (ATTR_SYNC_SOURCE_CONFIG carries its source's id) must translate
// the same way whatever the order.
func TestCompareDoesNotDependOnInputOrder(t *testing.T) {
	prod, dev := loadSample(t, "prod"), loadSample(t, "dev")
	base, err := Compare(prod, dev, Options{CrossTenant: true})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 30 {
		p, d := slices.Clone(prod), slices.Clone(dev)
		rng.Shuffle(len(p), func(a, b int) { p[a], p[b] = p[b], p[a] })
		rng.Shuffle(len(d), func(a, b int) { d[a], d[b] = d[b], d[a] })
		got, err := Compare(p, d, Options{CrossTenant: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Changes) != len(base.Changes) {
			t.Fatalf("shuffle %d: %d changes, want %d", i, len(got.Changes), len(base.Changes))
		}
		for j := range got.Changes {
			if got.Changes[j].Key != base.Changes[j].Key || len(got.Changes[j].Fields) != len(base.Changes[j].Fields) {
				t.Fatalf("shuffle %d: change %d is %s with %d fields, want %s with %d", i, j,
					got.Changes[j].Key, len(got.Changes[j].Fields), base.Changes[j].Key, len(base.Changes[j].Fields))
			}
		}
	}
}

// TestLayeredIndexIsTheIndexOfAll: an index over others (NewIndexOf with
// under) resolves every id as one index of all the entries does, however
// the entries are split among the layers (the samples hold ids claimed
// twice, strongly and weakly).
func TestLayeredIndexIsTheIndexOfAll(t *testing.T) {
	all := append(loadSample(t, "prod"), loadSample(t, "dev")...)
	dup := slices.Clone(loadSample(t, "dev")) // the same ids again, as a promoted folder holds its source's
	all = append(all, dup...)
	// an id one entry claims weakly (self.id only) and another strongly
	// (object.id), the weak one with the smaller token
	for _, raw := range []string{
		`{"version":1,"self":{"type":"ATTR_SYNC_SOURCE_CONFIG","id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","name":"Zed"},"object":{"name":"Zed"}}`,
		`{"version":1,"self":{"type":"SOURCE","id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","name":"Alpha"},"object":{"id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","name":"Alpha"}}`,
	} {
		e, err := spconfig.NewEntry([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, e)
	}
	seqOf := func(es []spconfig.Entry) iter.Seq[*spconfig.Entry] {
		return func(yield func(*spconfig.Entry) bool) {
			for i := range es {
				if !yield(&es[i]) {
					return
				}
			}
		}
	}
	whole := NewIndex(all).get()
	ids := map[string]bool{}
	for i := range whole[0].claims {
		ids[whole[0].id(int32(i))] = true
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 20 {
		es := slices.Clone(all)
		rng.Shuffle(len(es), func(a, b int) { es[a], es[b] = es[b], es[a] })
		a, b, c := es[:len(es)/3], es[len(es)/3:len(es)/2], es[len(es)/2:]
		bottom := NewIndexOf(len(c), seqOf(c))
		mid := NewIndexOf(len(b), seqOf(b), bottom)
		top := NewIndexOf(len(a), seqOf(a), mid).get()
		if len(top) != 3 {
			t.Fatalf("round %d: %d layers, want 3", round, len(top))
		}
		for id := range ids {
			w, _ := whole.find(id)
			g, ok := top.find(id)
			if !ok || g.token() != w.token() || g.strong != w.strong {
				t.Fatalf("round %d: id %s resolves to %s (strong %v), one index of all to %s (strong %v)", round, id, g.token(), g.strong, w.token(), w.strong)
			}
		}
	}
}

// TestIndexClaimRule: of two claims of one id the strong one wins, and of
// two of the same strength the smaller token, in either order and across
// layers.
func TestIndexClaimRule(t *testing.T) {
	entry := func(raw string) spconfig.Entry {
		e, err := spconfig.NewEntry([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	const id = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	weakZed := entry(`{"version":1,"self":{"type":"ATTR_SYNC_SOURCE_CONFIG","id":"` + id + `","name":"Zed"},"object":{"name":"Zed"}}`)
	weakAlpha := entry(`{"version":1,"self":{"type":"ATTR_SYNC_SOURCE_CONFIG","id":"` + id + `","name":"Alpha"},"object":{"name":"Alpha"}}`)
	strongZed := entry(`{"version":1,"self":{"type":"SOURCE","id":"` + id + `","name":"Zed"},"object":{"id":"` + id + `","name":"Zed"}}`)
	for _, tt := range []struct {
		name string
		a, b spconfig.Entry
		want string
	}{
		{"same strength: the smaller token", weakZed, weakAlpha, "${ATTR_SYNC_SOURCE_CONFIG:Alpha}"},
		{"strong over weak, though its token is greater", weakAlpha, strongZed, "${SOURCE:Zed}"},
	} {
		for _, pair := range [][2]spconfig.Entry{{tt.a, tt.b}, {tt.b, tt.a}} {
			one := NewIndex([]spconfig.Entry{pair[0], pair[1]}).get()
			layered := NewIndexOf(1, func(yield func(*spconfig.Entry) bool) { yield(&pair[0]) }, NewIndex([]spconfig.Entry{pair[1]})).get()
			for _, l := range []idLookup{one, layered} {
				if r, ok := l.find(id); !ok || r.token() != tt.want {
					t.Errorf("%s: %s, want %s", tt.name, r.token(), tt.want)
				}
			}
		}
	}
}
