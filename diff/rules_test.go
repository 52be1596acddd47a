package diff

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"promoter/spconfig"
)

// parentKeys is put into every array element on the way to a rule's path, so
// that whatever field a keyed-set parent uses, the element has it.
var parentKeys = map[string]any{"key": "k", "name": "n", "action": "A", "value": "v", "role": "R", "identityAttributeName": "i"}

// build returns an object holding leaf at the rule path pattern, and the
// concrete path Compare reports for that place.
func build(t *testing.T, typ, pattern string, leaf any) (map[string]any, string) {
	t.Helper()
	root := map[string]any{"name": "obj"}
	cur, prefix, concrete := root, "$", "$"
	segs := strings.Split(strings.TrimPrefix(pattern, "$."), ".")
	for i, seg := range segs {
		name, isArr := strings.CutSuffix(seg, "[]")
		prefix += "." + name
		concrete += "." + name
		if i == len(segs)-1 {
			cur[name] = leaf
			break
		}
		if !isArr {
			m := map[string]any{}
			cur[name] = m
			cur = m
			continue
		}
		elem := map[string]any{}
		for k, v := range parentKeys {
			elem[k] = v
		}
		cur[name] = []any{elem}
		r, ok := typeRules(typ)[prefix]
		if !ok || r.Action != KeyedSet {
			t.Fatalf("rule path %s: parent array %s has no keyed-set rule; extend build()", pattern, prefix)
		}
		concrete += "[" + r.Key + "=" + elem[r.Key].(string) + "]"
		prefix += "[]"
		cur = elem
	}
	return root, concrete
}

func objEntry(t *testing.T, typ string, obj any) spconfig.Entry {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	name := "obj"
	if spconfig.Singleton(typ) {
		name = ""
	}
	return entry(t, typ, name, "1", string(b))
}

// diffPaths compares two objects of one type and returns "path kind" lines.
func diffPaths(t *testing.T, typ string, old, new any, o Options) []string {
	t.Helper()
	defer func(v bool) { skipFastPath = v }(skipFastPath)
	skipFastPath = true
	r, err := Compare([]spconfig.Entry{objEntry(t, typ, old)}, []spconfig.Entry{objEntry(t, typ, new)}, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Changes) == 0 {
		return nil
	}
	if len(r.Changes) != 1 || r.Changes[0].Kind != Modified {
		t.Fatalf("want one modified object, got %+v", r.Changes)
	}
	return fieldPaths(r.Changes[0].Fields)
}

func elems(key string, vals ...string) []any {
	var out []any
	for _, v := range vals {
		out = append(out, map[string]any{key: v, "x": v})
	}
	return out
}

// TestPathRules checks every path rule of the table: ignored fields are
// ignored (and only for their type), sets ignore order and show one added
// element, keyed sets show element changes under [key=value], ordered arrays
// keep positions.
func TestPathRules(t *testing.T) {
	for _, r := range Rules {
		if r.Action == General {
			continue
		}
		t.Run(r.Name, func(t *testing.T) {
			typ := r.Type
			if typ == "*" {
				typ = "TRANSFORM"
			}
			ruleCovered[r.Name] = true
			switch r.Action {
			case Ignore:
				a, _ := build(t, typ, r.Path, "old value")
				b, concrete := build(t, typ, r.Path, "new value")
				if got := diffPaths(t, typ, a, b, Options{}); got != nil {
					t.Errorf("ignored field %s reported: %v", r.Path, got)
				}
				if r.Type != "*" {
					if got := diffPaths(t, "TAG", a, b, Options{}); !slices.Equal(got, []string{concrete + " changed"}) {
						t.Errorf("on another type the field must count: got %v", got)
					}
				}
			case Set:
				a, _ := build(t, typ, r.Path, []any{"a", "b"})
				b, _ := build(t, typ, r.Path, []any{"b", "a"})
				c, concrete := build(t, typ, r.Path, []any{"b", "c", "a"})
				if got := diffPaths(t, typ, a, b, Options{}); got != nil {
					t.Errorf("reordered set reported: %v", got)
				}
				want := []string{concrete + `["c"] added`}
				if got := diffPaths(t, typ, a, c, Options{}); !slices.Equal(got, want) {
					t.Errorf("added element: got %v, want %v", got, want)
				}
			case KeyedSet:
				a, _ := build(t, typ, r.Path, elems(r.Key, "1", "2"))
				b, _ := build(t, typ, r.Path, elems(r.Key, "2", "1"))
				c, concrete := build(t, typ, r.Path, elems(r.Key, "2", "3", "1"))
				mod := elems(r.Key, "1", "2")
				mod[0].(map[string]any)["x"] = "changed"
				d, _ := build(t, typ, r.Path, mod)
				if got := diffPaths(t, typ, a, b, Options{}); got != nil {
					t.Errorf("reordered keyed set reported: %v", got)
				}
				want := []string{concrete + "[" + r.Key + "=3] added"}
				if got := diffPaths(t, typ, a, c, Options{}); !slices.Equal(got, want) {
					t.Errorf("added element: got %v, want %v", got, want)
				}
				want = []string{concrete + "[" + r.Key + "=1].x changed"}
				if got := diffPaths(t, typ, a, d, Options{}); !slices.Equal(got, want) {
					t.Errorf("changed element: got %v, want %v", got, want)
				}
			case Ordered:
				ab := []any{map[string]any{"type": "STRING", "name": "a"}, map[string]any{"type": "STRING", "name": "b"}}
				ba := []any{ab[1], ab[0]}
				a, _ := build(t, typ, r.Path, ab)
				b, _ := build(t, typ, r.Path, ba)
				if got := diffPaths(t, typ, a, b, Options{}); got == nil {
					t.Errorf("ordered array: reordering must be reported")
				}
				if got := diffPaths(t, "TAG", a, b, Options{}); got != nil {
					t.Errorf("without the rule the same array is a reference set; got %v", got)
				}
			default:
				t.Fatalf("no test for action %s", r.Action)
			}
		})
	}
}

var ruleCovered = map[string]bool{}

// TestGeneralRules checks the rules that apply at every path.
func TestGeneralRules(t *testing.T) {
	ids := func(typ, id, name string) map[string]any { return map[string]any{"type": typ, "id": id, "name": name} }
	tests := []struct {
		rule     string
		name     string
		typ      string
		old, new map[string]any
		cross    bool
		want     []string
	}{
		{"empty-is-absent", "null, [] and {} equal missing", "TAG",
			map[string]any{"name": "obj", "a": nil, "b": []any{}, "c": map[string]any{}, "d": map[string]any{"e": nil}},
			map[string]any{"name": "obj"}, false, nil},
		{"empty-is-absent", "empty string is a value", "TAG",
			map[string]any{"name": "obj", "a": ""}, map[string]any{"name": "obj"}, false, []string{"$.a removed"}},
		{"reference-by-name", "ids differ, names equal", "ROLE",
			map[string]any{"name": "obj", "owner": ids("IDENTITY", "1", "Ann")}, map[string]any{"name": "obj", "owner": ids("IDENTITY", "2", "Ann")}, false, nil},
		{"reference-by-name", "names differ", "ROLE",
			map[string]any{"name": "obj", "owner": ids("IDENTITY", "1", "Ann")}, map[string]any{"name": "obj", "owner": ids("IDENTITY", "1", "Bob")}, false, []string{"$.owner.name changed"}},
		{"reference-by-name", "id-only reference keeps its id within a tenant", "FORM_DEFINITION",
			map[string]any{"name": "obj", "owner": map[string]any{"type": "IDENTITY", "id": "1"}}, map[string]any{"name": "obj", "owner": map[string]any{"type": "IDENTITY", "id": "2"}}, false, []string{"$.owner.id changed"}},
		{"reference-by-name", "a transform reference is not a {type,id,name} reference", "IDENTITY_PROFILE",
			map[string]any{"name": "obj", "t": map[string]any{"type": "reference", "attributes": map[string]any{"id": "A"}}},
			map[string]any{"name": "obj", "t": map[string]any{"type": "reference", "attributes": map[string]any{"id": "B"}}}, false, []string{"$.t.attributes.id changed"}},
		{"reference-set", "order of references has no meaning", "SOURCE",
			map[string]any{"name": "obj", "passwordPolicies": []any{ids("PASSWORD_POLICY", "1", "A"), ids("PASSWORD_POLICY", "2", "B")}},
			map[string]any{"name": "obj", "passwordPolicies": []any{ids("PASSWORD_POLICY", "9", "B"), ids("PASSWORD_POLICY", "8", "A")}}, false, nil},
		{"reference-set", "an added reference is one element", "SOURCE",
			map[string]any{"name": "obj", "passwordPolicies": []any{ids("PASSWORD_POLICY", "1", "A")}},
			map[string]any{"name": "obj", "passwordPolicies": []any{ids("PASSWORD_POLICY", "9", "B"), ids("PASSWORD_POLICY", "8", "A")}}, false, []string{"$.passwordPolicies[PASSWORD_POLICY:B] added"}},
		{"reference-set", "other arrays keep their order", "SOURCE",
			map[string]any{"name": "obj", "authSearchAttributes": []any{"cn", "uid"}},
			map[string]any{"name": "obj", "authSearchAttributes": []any{"uid", "cn"}}, false, []string{"$.authSearchAttributes[0] changed", "$.authSearchAttributes[1] changed"}},
		{"source-suffix", "correlation config name embeds the per-tenant suffix", "SOURCE",
			map[string]any{"name": "obj", "accountCorrelationConfig": ids("ACCOUNT_CORRELATION_CONFIG", "1", "AD [source-101921] Account Correlation")},
			map[string]any{"name": "obj", "accountCorrelationConfig": ids("ACCOUNT_CORRELATION_CONFIG", "2", "AD [source-3172] Account Correlation")}, true, nil},
		{"tenant-ids", "unknown bare ids of the same shape are equal across tenants", "SOD_POLICY",
			map[string]any{"name": "obj", "creatorId": "2c91808568c529c60168cca6f90c1313", "policyQuery": "@access(id:2c9180866166b5b0016167c32ef31a66)"},
			map[string]any{"name": "obj", "creatorId": "2c91808568c529c60168cca6f90c9999", "policyQuery": "@access(id:2c9180866166b5b0016167c32ef39999)"}, true, nil},
		{"tenant-ids", "within one tenant bare ids compare exactly", "SOD_POLICY",
			map[string]any{"name": "obj", "creatorId": "2c91808568c529c60168cca6f90c1313"},
			map[string]any{"name": "obj", "creatorId": "2c91808568c529c60168cca6f90c9999"}, false, []string{"$.creatorId changed"}},
		{"tenant-ids", "unknown id shape changes are reported", "SOD_POLICY",
			map[string]any{"name": "obj", "creatorId": "2c91808568c529c60168cca6f90c1313"},
			map[string]any{"name": "obj", "creatorId": "f69b6ae7-0709-4432-becd-0a98bb802c3a"}, true, []string{"$.creatorId changed"}},
	}
	for _, tt := range tests {
		t.Run(tt.rule+"/"+tt.name, func(t *testing.T) {
			ruleCovered[tt.rule] = true
			got := diffPaths(t, tt.typ, tt.old, tt.new, Options{CrossTenant: tt.cross})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestTenantIDTranslation compares objects that refer to other objects of
// their own side by bare id: ids differ per tenant, names decide.
func TestTenantIDTranslation(t *testing.T) {
	ruleCovered["tenant-ids"] = true
	side := func(srcID, apID, refName string) []spconfig.Entry {
		return []spconfig.Entry{
			entry(t, "SOURCE", "AD [source-1]", srcID, `{"id":"`+srcID+`","name":"AD"}`),
			entry(t, "SOURCE", "HR [source-1]", "2c9180835d191a86015d28455b4a0000", `{"id":"2c9180835d191a86015d28455b4a0000","name":"HR"}`),
			entry(t, "ACCESS_PROFILE", refName, apID, `{"id":"`+apID+`","name":"`+refName+`"}`),
			entry(t, "LIFECYCLE_STATE", "active", "9", `{"name":"active","identityProfileRef":{"type":"IDENTITY_PROFILE","id":"7","name":"Employees"},`+
				`"accountActions":[{"action":"ENABLE","sourceIds":["`+srcID+`"]}],"accessProfileIds":["`+apID+`"],`+
				`"usedBy":[{"type":"ACCESS_PROFILE","id":"`+apID+`"}]}`),
		}
	}
	dev := side("2c91808363dae20e0163dbef5a7d2de9", "1de104e1f9024b1289b3a31e22d28cd1", "Readers")
	prod := side("2c9180aaaaaaaaaaaaaaaaaaaaaaaaaa", "1de104bbbbbbbbbbbbbbbbbbbbbbbbbb", "Readers")
	r, err := Compare(prod, dev, Options{CrossTenant: true})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Empty() {
		t.Errorf("same names, different ids: %+v", r.Changes)
	}
	// Now dev's lifecycle state points at HR instead of AD.
	dev[3] = entry(t, "LIFECYCLE_STATE", "active", "9", `{"name":"active","identityProfileRef":{"type":"IDENTITY_PROFILE","id":"7","name":"Employees"},`+
		`"accountActions":[{"action":"ENABLE","sourceIds":["2c9180835d191a86015d28455b4a0000"]}],"accessProfileIds":["1de104e1f9024b1289b3a31e22d28cd1"],`+
		`"usedBy":[{"type":"ACCESS_PROFILE","id":"1de104e1f9024b1289b3a31e22d28cd1"}]}`)
	r, err = Compare(prod, dev, Options{CrossTenant: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Changes) != 1 {
		t.Fatalf("want one change, got %+v", r.Changes)
	}
	want := []string{`$.accountActions[action=ENABLE].sourceIds["${SOURCE:AD}"] removed`, `$.accountActions[action=ENABLE].sourceIds["${SOURCE:HR}"] added`}
	if diff := cmp.Diff(want, fieldPaths(r.Changes[0].Fields)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestEveryRuleHasATest(t *testing.T) {
	t.Run("path", TestPathRules)
	t.Run("general", TestGeneralRules)
	t.Run("ids", TestTenantIDTranslation)
	for _, r := range Rules {
		if !ruleCovered[r.Name] {
			t.Errorf("rule %q has no table test", r.Name)
		}
	}
	names := map[string]bool{}
	for _, r := range Rules {
		if names[r.Name] {
			t.Errorf("rule name %q repeats", r.Name)
		}
		names[r.Name] = true
	}
}
