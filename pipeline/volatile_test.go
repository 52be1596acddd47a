package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"promoter/diff"
	"promoter/gitstore"
	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

// TestVolatileFieldsOneTable checks issue 17 bug 1: spconfig's table of
// volatile fields is the only one. A snapshot (gitstore.SemanticEqual) and a
// plan (diff.Compare) both ignore a change to every field of the table, both
// see a change to every other top-level field of every sample object, and a
// typed row does not apply to another type. diff's Ignore rules are the table.
func TestVolatileFieldsOneTable(t *testing.T) {
	var ignoreRules []string
	for _, r := range diff.Rules {
		if r.Action == diff.Ignore {
			ignoreRules = append(ignoreRules, r.Name+" "+r.Type+" "+r.Path)
		}
	}
	var table []string
	for _, v := range spconfig.VolatileFields() {
		table = append(table, v.Name+" "+v.Type+" $."+v.Field)
	}
	slices.Sort(ignoreRules)
	slices.Sort(table)
	if !slices.Equal(ignoreRules, table) {
		t.Errorf("diff Ignore rules %q\nare not spconfig's volatile fields %q", ignoreRules, table)
	}

	// check changes field of an object of type typ and wants both to agree
	// with volatile.
	check := func(t *testing.T, self spconfig.Self, obj map[string]any, field string, volatile bool) {
		t.Helper()
		typ := self.Type
		a, b := withField(t, self, obj, field, "old value"), withField(t, self, obj, field, "new value")
		if got := gitstore.SemanticEqual(a, b); got != volatile {
			t.Errorf("%s %s: gitstore.SemanticEqual = %v, want %v", typ, field, got, volatile)
		}
		r, err := diff.Compare([]spconfig.Entry{a}, []spconfig.Entry{b}, diff.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if ignored := len(r.Changes) == 0; ignored != volatile {
			t.Errorf("%s %s: diff ignores the change = %v, want %v", typ, field, ignored, volatile)
		}
	}
	t.Run("table", func(t *testing.T) {
		for _, v := range spconfig.VolatileFields() {
			types := []string{v.Type}
			if v.Type == "*" {
				types = spconfig.ExportableTypes()
			}
			for _, typ := range types {
				check(t, objSelf(typ), map[string]any{"name": "obj"}, v.Field, true)
			}
			if v.Type != "*" {
				check(t, objSelf("TAG"), map[string]any{"name": "obj"}, v.Field, false)
			}
		}
	})
	t.Run("samples", func(t *testing.T) {
		n := 0
		for _, tenant := range []string{"dev", "prod"} {
			for _, e := range sampleObjects(t, tenant) {
				if e.Signed() {
					continue // a changed signed object is a changed signature
				}
				var obj map[string]any
				if err := json.Unmarshal(e.Object(), &obj); err != nil {
					t.Fatal(err)
				}
				for field := range obj {
					check(t, e.Self, obj, field, spconfig.Volatile(e.Type(), field))
					n++
				}
			}
		}
		if n < 100 {
			t.Fatalf("only %d fields of sample objects checked", n)
		}
	})
}

// objSelf is the self block of a test object "obj" of type typ.
func objSelf(typ string) spconfig.Self {
	if spconfig.Singleton(typ) {
		return spconfig.Self{ID: "1", Type: typ}
	}
	return spconfig.Self{Name: "obj", ID: "1", Type: typ}
}

// withField returns the entry self whose object is obj with field set to v.
func withField(t *testing.T, self spconfig.Self, obj map[string]any, field string, v any) spconfig.Entry {
	t.Helper()
	o := make(map[string]any, len(obj)+1)
	for k, x := range obj {
		o[k] = x
	}
	o[field] = v
	ob, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := json.Marshal(self)
	e, err := spconfig.NewEntry(fmt.Appendf(nil, `{"version":1,"self":%s,"object":%s}`, sb, ob))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func sampleObjects(t *testing.T, tenant string) []spconfig.Entry {
	t.Helper()
	b, err := spconfigtest.SampleExport(tenant)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := spconfig.ReadExport(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc.Objects
}
