package spconfig

import (
	"errors"
	"strings"
	"testing"
)

// TestDuplicateKeysAreRefused checks both paths of NewEntry (the one-pass
// scanner gives up, the reference path refuses) and DecodeExport: a key
// repeated in any object of an entry is an error naming the object's path,
// the key and the entry.
func TestDuplicateKeysAreRefused(t *testing.T) {
	const self = `"self":{"name":"Get Worker Type","id":"1","type":"TRANSFORM"}`
	tests := []struct {
		name, raw, path, key string
	}{
		{"entry", `{"version":1,` + self + `,"object":{"name":"a"},"object":{"name":"b"}}`, "$", "object"},
		{"self", `{"version":1,"self":{"name":"A","id":"1","type":"TRANSFORM","name":"B"},"object":{"name":"a"}}`, "$.self", "name"},
		{"object", `{"version":1,` + self + `,"object":{"name":"a","attributes":{},"attributes":{"x":1}}}`, "$.object", "attributes"},
		{"nested", `{"version":1,` + self + `,"object":{"name":"a","attributes":{"input":{"v":1,"v":2}}}}`, "$.object.attributes.input", "v"},
		{"in an array", `{"version":1,` + self + `,"object":{"name":"a","list":[{"k":1},{"k":1,"k":2}]}}`, "$.object.list[1]", "k"},
		{"escaped", `{"version":1,` + self + `,"object":{"name":"a","n\u0061me":"b"}}`, "$.object", "name"},
		{"many keys", `{"version":1,` + self + `,"object":{"name":"a"` + manyKeys(40) + `,"k37":0}}`, "$.object", "k37"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range []struct {
				name string
				fn   func([]byte) (Entry, error)
			}{{"NewEntry", NewEntry}, {"reference", newEntryReference}} {
				_, err := p.fn([]byte(tt.raw))
				var dup *DuplicateKeyError
				if !errors.As(err, &dup) || dup.Path != tt.path || dup.Key != tt.key || dup.Self.Type != "TRANSFORM" {
					t.Errorf("%s: want a duplicate key %q in %s of the TRANSFORM, got %v", p.name, tt.key, tt.path, err)
				}
			}
			doc := `{"version":1,"objects":[{"version":1,"self":{"name":"ok","id":"0","type":"TRANSFORM"},"object":{"name":"ok"}},` + tt.raw + `]}`
			_, err := DecodeExport(strings.NewReader(doc), func(int, Entry) error { return nil })
			if err == nil || !strings.Contains(err.Error(), "objects[1]") || !strings.Contains(err.Error(), `duplicate key "`+tt.key+`" in `+tt.path) {
				t.Errorf("DecodeExport: want an error naming objects[1], the key and the path, got %v", err)
			}
		})
	}
	// the same key in different objects is no duplicate
	ok := `{"version":1,` + self + `,"object":{"name":"a","x":{"name":"b","v":1},"y":[{"v":1},{"v":2}]` + manyKeys(40) + `}}`
	if _, err := NewEntry([]byte(ok)); err != nil {
		t.Errorf("NewEntry refused keys repeated in different objects: %v", err)
	}
	if _, err := newEntryReference([]byte(ok)); err != nil {
		t.Errorf("reference path refused keys repeated in different objects: %v", err)
	}
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(`,"k` + string(rune('0'+i/10)) + string(rune('0'+i%10)) + `":0`)
	}
	return b.String()
}
