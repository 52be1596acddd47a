package jsonspan

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func key(k string) Segment { return Segment{Key: k} }
func index(i int) Segment  { return Segment{Index: i, IsIndex: true} }

func TestGetReplaceDelete(t *testing.T) {
	doc := []byte(`{"a": {"b": [10.0, {"c": "x\u00e9"}], "d": null}, "e f": true, "g":1}`)
	tests := []struct {
		name     string
		path     []Segment
		get      string // "" means absent
		replaced string // with "R"
		deleted  string // "" means not deleted
	}{
		{"number literal kept", []Segment{key("a"), key("b"), index(0)}, `10.0`,
			`{"a": {"b": ["R", {"c": "x\u00e9"}], "d": null}, "e f": true, "g":1}`, ""},
		{"escaped string", []Segment{key("a"), key("b"), index(1), key("c")}, `"x\u00e9"`,
			`{"a": {"b": [10.0, {"c": "R"}], "d": null}, "e f": true, "g":1}`, `{"a": {"b": [10.0, {}], "d": null}, "e f": true, "g":1}`},
		{"first member", []Segment{key("a")}, `{"b": [10.0, {"c": "x\u00e9"}], "d": null}`,
			`{"a": "R", "e f": true, "g":1}`, `{"e f": true, "g":1}`},
		{"middle member", []Segment{key("e f")}, `true`,
			`{"a": {"b": [10.0, {"c": "x\u00e9"}], "d": null}, "e f": "R", "g":1}`, `{"a": {"b": [10.0, {"c": "x\u00e9"}], "d": null}, "g":1}`},
		{"last member", []Segment{key("g")}, `1`,
			`{"a": {"b": [10.0, {"c": "x\u00e9"}], "d": null}, "e f": true, "g":"R"}`, `{"a": {"b": [10.0, {"c": "x\u00e9"}], "d": null}, "e f": true}`},
		{"null", []Segment{key("a"), key("d")}, `null`,
			`{"a": {"b": [10.0, {"c": "x\u00e9"}], "d": "R"}, "e f": true, "g":1}`, `{"a": {"b": [10.0, {"c": "x\u00e9"}]}, "e f": true, "g":1}`},
		{"missing key", []Segment{key("z")}, "", "", ""},
		{"index past the end", []Segment{key("a"), key("b"), index(2)}, "", "", ""},
		{"key of an array", []Segment{key("a"), key("b"), key("c")}, "", "", ""},
		{"index of an object", []Segment{key("a"), index(0)}, "", "", ""},
		{"below a scalar", []Segment{key("g"), key("h")}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, ok, err := Get(doc, tt.path)
			if err != nil || ok != (tt.get != "") || string(raw) != tt.get {
				t.Errorf("Get = %s, %v, %v; want %s", raw, ok, err, tt.get)
			}
			out, ok, err := Replace(doc, tt.path, []byte(`"R"`))
			if err != nil || ok != (tt.replaced != "") || ok && string(out) != tt.replaced || !ok && string(out) != string(doc) {
				t.Errorf("Replace = %s, %v, %v; want %s", out, ok, err, tt.replaced)
			}
			out, ok, err = Delete(doc, tt.path)
			if err != nil || ok != (tt.deleted != "") || ok && string(out) != tt.deleted || !ok && string(out) != string(doc) {
				t.Errorf("Delete = %s, %v, %v; want %s", out, ok, err, tt.deleted)
			}
		})
	}
	if out, ok, _ := Delete([]byte(`{"only": 1}`), []Segment{key("only")}); !ok || string(out) != `{}` {
		t.Errorf("Delete of the only member = %s, %v", out, ok)
	}
	if got := string(doc); !strings.HasPrefix(got, `{"a": {"b": [10.0`) {
		t.Errorf("the document was modified: %s", got)
	}
}

func TestInvalid(t *testing.T) {
	for _, b := range []string{``, `{`, `{"a" 1}`, `{"a":1,}`, `[1 2]`, `"abc`, `nul`, `{"a":}`, `{1:2}`} {
		if _, err := Parse([]byte(b)); err == nil {
			t.Errorf("Parse(%q) accepted invalid JSON", b)
		}
		if _, _, err := Get([]byte(b), []Segment{key("a"), key("b")}); err == nil && strings.HasPrefix(b, "{") {
			t.Errorf("Get(%q) found no error", b)
		}
	}
	if _, err := Parse([]byte(strings.Repeat("[", maxDepth+2) + strings.Repeat("]", maxDepth+2))); err == nil {
		t.Error("Parse accepted nesting deeper than encoding/json")
	}
}

func TestWalk(t *testing.T) {
	b := []byte(`{"a":[1,{"b":"c"}],"d":{}}`)
	n, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	Walk(n, func(path []Segment, v *Node) bool {
		got = append(got, format(path)+"="+string(b[v.Start:v.End]))
		return len(path) == 0 || path[len(path)-1].Key != "d"
	})
	want := []string{`$={"a":[1,{"b":"c"}],"d":{}}`, `$.a=[1,{"b":"c"}]`, `$.a[0]=1`, `$.a[1]={"b":"c"}`, `$.a[1].b="c"`, `$.d={}`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Walk visited\n%q\nwant\n%q", got, want)
	}
}

func TestApply(t *testing.T) {
	b := []byte(`{"a":"x","b":"y"}`)
	got := Apply(b, []Edit{{13, 16, []byte(`"Y"`)}, {5, 8, []byte(`"X"`)}, {6, 7, []byte(`overlap`)}})
	if string(got) != `{"a":"X","b":"Y"}` {
		t.Errorf("Apply = %s", got)
	}
}

func format(path []Segment) string {
	var b strings.Builder
	b.WriteString("$")
	for _, s := range path {
		if s.IsIndex {
			b.WriteString("[" + strconv.Itoa(s.Index) + "]")
		} else {
			b.WriteString("." + s.Key)
		}
	}
	return b.String()
}

// FuzzAgainstEncodingJSON checks the walker against encoding/json: Parse
// fails exactly when json.Valid does; every node's span decodes to the value
// encoding/json finds at its path; Get finds that span; Replace and Delete
// give valid JSON that decodes to the decoded document with that one change.
func FuzzAgainstEncodingJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `[1,2.50,"a\"b"]`, `{"a":{"type":"IDENTITY","id":"1","name":"x"}}`,
		`nul`, `{"a":1,"a":2}`, ` {"k\u00e9y" : [true, false, null, -1.5e3, {"": ""}] } `, `{"a":[{"b":{"c":[[]]}}]}`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		root, err := Parse(b)
		if (err == nil) != json.Valid(b) {
			t.Fatalf("Parse err %v, json.Valid %v for %q", err, json.Valid(b), b)
		}
		if err != nil {
			_, _, _ = Get(b, []Segment{key("a"), index(0)}) // must not panic
			_, _, _ = Delete(b, []Segment{key("a")})
			return
		}
		doc, err := decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if dupKeys(root) {
			return // encoding/json keeps the last of repeated keys, the walker finds the first
		}
		checked := 0
		Walk(root, func(path []Segment, n *Node) bool {
			if checked++; checked > 64 {
				return false
			}
			v, err := decode(b[n.Start:n.End])
			if err != nil {
				t.Fatalf("span %q at %s does not decode: %v", b[n.Start:n.End], format(path), err)
			}
			want, _ := at(doc, path)
			if !reflect.DeepEqual(v, want) {
				t.Fatalf("at %v: walker %#v, encoding/json %#v", path, v, want)
			}
			if len(path) == 0 {
				return true
			}
			raw, ok, err := Get(b, path)
			if err != nil || !ok || string(raw) != string(b[n.Start:n.End]) {
				t.Fatalf("Get(%v) = %q, %v, %v; want %q", path, raw, ok, err, b[n.Start:n.End])
			}
			out, ok, err := Replace(b, path, []byte(`"R"`))
			if err != nil || !ok {
				t.Fatalf("Replace(%v): %v, %v", path, ok, err)
			}
			checkEdit(t, out, doc, path, false)
			out, ok, err = Delete(b, path)
			if last := path[len(path)-1]; err != nil || ok == last.IsIndex {
				t.Fatalf("Delete(%v): %v, %v", path, ok, err)
			}
			if ok {
				checkEdit(t, out, doc, path, true)
			}
			return true
		})
	})
}

// checkEdit checks that out decodes to doc with the value at path replaced
// by "R" or deleted.
func checkEdit(t *testing.T, out []byte, doc any, path []Segment, del bool) {
	t.Helper()
	got, err := decode(out)
	if err != nil {
		t.Fatalf("edit at %v gave invalid JSON %q: %v", path, out, err)
	}
	want := edited(doc, path, del)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("edit at %v: got %#v, want %#v", path, got, want)
	}
}

// decode is encoding/json's reading of b, numbers as their literals.
func decode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

// at is the decoded value at path.
func at(v any, path []Segment) (any, bool) {
	for _, s := range path {
		switch c := v.(type) {
		case map[string]any:
			if v = c[s.Key]; s.IsIndex {
				return nil, false
			}
		case []any:
			if !s.IsIndex || s.Index >= len(c) {
				return nil, false
			}
			v = c[s.Index]
		default:
			return nil, false
		}
	}
	return v, true
}

// edited returns a deep copy of v with the value at path replaced by "R" or
// (an object member) deleted.
func edited(v any, path []Segment, del bool) any {
	if len(path) == 0 {
		return "R"
	}
	s := path[0]
	switch c := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(c))
		for k, x := range c {
			m[k] = x
		}
		if len(path) == 1 && del {
			delete(m, s.Key)
		} else {
			m[s.Key] = edited(c[s.Key], path[1:], del)
		}
		return m
	case []any:
		a := append([]any(nil), c...)
		a[s.Index] = edited(c[s.Index], path[1:], del)
		return a
	}
	return v
}

func dupKeys(n *Node) bool {
	dup := false
	Walk(n, func(_ []Segment, n *Node) bool {
		seen := map[string]bool{}
		for _, k := range n.Keys {
			if seen[k] {
				dup = true
			}
			seen[k] = true
		}
		return !dup
	})
	return dup
}
