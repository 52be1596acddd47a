package diff

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"promoter/spconfig"
)

// FuzzCompareSelf: comparing any object with itself, within a tenant and
// across tenants, never panics, never errors and finds nothing.
func FuzzCompareSelf(f *testing.F) {
	f.Add("SOURCE", []byte(`{"id":"2c91808363dae20e0163dbef5a7d2de9","name":"AD","deleteThreshold":10.0,"owner":{"type":"IDENTITY","id":"x","name":"A"}}`))
	f.Add("LIFECYCLE_STATE", []byte(`{"name":"a","identityProfileRef":{"type":"IDENTITY_PROFILE","id":"1","name":"P"},"accountActions":[{"action":"DISABLE","sourceIds":["a","a",1,null,{"x":[]}]},{"action":"DISABLE"},{"noaction":true}]}`))
	f.Add("IDENTITY_PROFILE", []byte(`{"name":"p","identityAttributeConfig":{"attributeTransforms":[{"identityAttributeName":"x"},{"identityAttributeName":"x"},{"identityAttributeName":1}]}}`))
	f.Add("SOD_POLICY", []byte(`{"name":"s","policyQuery":"id:2c9180866166b5b0016167c32ef31a66 f69b6ae7-0709-4432-becd-0a98bb802c3a","n":1e999999999,"m":-0.0}`))
	f.Add("RULE", []byte(`{"name":"r","sourceCode":{"script":"a\nb"},"signature":{"input":[{"type":"X","name":"y"}]}}`))
	f.Add("TAG", []byte(`{"name":"t","x":[[],{},null,"",[{"type":"A","id":null}]]}`))
	if dir := samplesDirIfPresent(); dir != "" {
		if b, err := os.ReadFile(filepath.Join(dir, "tenant-dev.export.json")); err == nil {
			var doc struct {
				Objects []struct {
					Self   spconfig.Self   `json:"self"`
					Object json.RawMessage `json:"object"`
				} `json:"objects"`
			}
			if json.Unmarshal(b, &doc) == nil {
				for _, o := range doc.Objects {
					f.Add(o.Self.Type, []byte(o.Object))
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, typ string, obj []byte) {
		self, _ := json.Marshal(spconfig.Self{Type: typ, Name: "n", ID: "2c9180866166b5b0016167c32ef31a66"})
		e, err := spconfig.NewEntry([]byte(`{"version":1,"self":` + string(self) + `,"object":` + string(obj) + `}`))
		if err != nil {
			return
		}
		defer func(v bool) { skipFastPath = v }(skipFastPath)
		skipFastPath = true
		for _, cross := range []bool{false, true} {
			o := Options{CrossTenant: cross}
			r, err := Compare([]spconfig.Entry{e, e}, []spconfig.Entry{e, e}, o)
			if err != nil {
				t.Fatalf("Compare(a, a, cross=%v): %v", cross, err)
			}
			if !r.Empty() {
				t.Fatalf("Compare(a, a, cross=%v) not empty: %+v", cross, r.Changes)
			}
		}
	})
}

func samplesDirIfPresent() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for range 20 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "samples")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	return ""
}
