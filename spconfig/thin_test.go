package spconfig

import (
	"encoding/json"
	"testing"
)

// The id claims of an entry are its self.id, whether the object holds
// `"id":"<self.id>"` anywhere, and its top-level object.id as a string
// (the first-member shortcut must agree with decoding the object); Thin
// keeps them, and the identity of the entry, and drops its bytes.
func TestIDClaimsAndThin(t *testing.T) {
	cases := []string{
		`{"self":{"type":"TRANSFORM","name":"a","id":"s1"},"object":{"id":"s1","name":"a"}}`,
		`{"self":{"type":"TRANSFORM","name":"a","id":"s1"},"object":{"id":"s1"}}`,
		`{"self":{"type":"TRANSFORM","name":"a","id":"s1"},"object":{"id":"s10","name":"a"}}`,
		`{"self":{"type":"TRANSFORM","name":"a","id":"s1"},"object":{"name":"a","id":"o2"}}`,
		`{"self":{"type":"TRANSFORM","name":"a","id":"s1"},"object":{"name":"a","ref":{"id":"s1"}}}`,
		`{"self":{"type":"TRANSFORM","name":"a","id":"s1"},"object":{"name":"a","ref":{"id":"s1"},"id":"o3"}}`,
		`{"self":{"type":"TRANSFORM","name":"a","id":""},"object":{"id":"o4"}}`,
		`{"self":{"type":"TRANSFORM","name":"a","id":"s1"},"object":{"id":7}}`,
	}
	for _, c := range cases {
		e, err := NewEntry([]byte(c))
		if err != nil {
			t.Fatal(err)
		}
		var o struct {
			ID any `json:"id"`
		}
		if err := json.Unmarshal(e.Object(), &o); err != nil {
			t.Fatal(err)
		}
		want, _ := o.ID.(string)
		got := e.IDClaims()
		if got.Self != e.Self.ID || got.Object != want {
			t.Errorf("%s: claims %+v, want self %q and object id %q", c, got, e.Self.ID, want)
		}
		th := e.Thin()
		if !th.IsThin() || e.IsThin() || th.Raw != nil || th.Object() != nil {
			t.Errorf("%s: Thin kept bytes or marked the original", c)
		}
		if th.IDClaims() != got || th.Key() != e.Key() || th.Self != e.Self || th.Signed() != e.Signed() {
			t.Errorf("%s: the thin entry differs: %+v %+v", c, th.IDClaims(), got)
		}
		if th.Thin().IDClaims() != got {
			t.Errorf("%s: Thin of a thin entry lost its claims", c)
		}
	}
}
