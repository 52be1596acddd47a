package gitstore

import (
	"bytes"
	"encoding/json"
	"testing"
)

var indentSeeds = []string{
	`{}`, `[]`, `{"a":{}}`, `{"a":[]}`, `[[],{},[{}]]`, `"x"`, `1`, `null`,
	`{"version":1,"self":{"name":"a","id":"1","type":"TAG"},"object":{"n":10.0,"big":12345678901234567890,"l":[1,true,false,null]}}`,
	`{"s":"quote \" brace { bracket [ comma , colon : backslash \\ unicode \u00e9 \/"}`,
	`{"k\"ey":"v\\","e":""}`,
	"{\"bad utf8\":\"\xff\"}",
}

func TestIndentCompactMatchesIndent(t *testing.T) {
	for _, s := range indentSeeds {
		checkIndent(t, []byte(s))
	}
	for _, s := range []string{`{ "a":1}`, `{"a":1`, `{"a":1}}`, `{"a":"x`} { // not valid compact JSON
		if _, ok := indentCompact(nil, []byte(s)); ok {
			t.Errorf("indentCompact(%q) accepted it", s)
		}
	}
}

func checkIndent(t *testing.T, in []byte) {
	t.Helper()
	var c bytes.Buffer
	if json.Compact(&c, in) != nil {
		return
	}
	var want bytes.Buffer
	if err := json.Indent(&want, c.Bytes(), "", "  "); err != nil {
		t.Fatalf("json.Indent(%q): %v", c.Bytes(), err)
	}
	got, ok := indentCompact([]byte("prefix"), c.Bytes())
	if !ok || string(got) != "prefix"+want.String() {
		t.Fatalf("indentCompact(%q) = %q, %v; want %q", c.Bytes(), got, ok, want.String())
	}
}

func FuzzIndentCompact(f *testing.F) {
	for _, s := range indentSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkIndent(t, in) })
}
