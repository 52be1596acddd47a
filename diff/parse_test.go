package diff

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func stdDecode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, bytes.ErrTooLarge
	}
	return v, nil
}

// FuzzParseJSON: parseJSON accepts exactly what encoding/json accepts (for
// valid UTF-8 input) and decodes to the same values.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,-2.5e+3,"x\u00e9\"",true,false,null,{}]}`, `[]`, `"\ud83d\ude00"`, `01`, `{"a":1,"a":2}`, `1.`, `-`, `{"a" 1}`, "\"a\tb\"", ` [ 1 , 2 ] `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseJSON(b)
		want, werr := stdDecode(b)
		if !json.Valid(b) {
			if err == nil {
				t.Fatalf("parseJSON accepted invalid JSON %q", b)
			}
			return
		}
		if werr != nil || err != nil {
			t.Fatalf("valid JSON %q: parseJSON err %v, encoding/json err %v", b, err, werr)
		}
		if !bytes.Equal(bytes.ToValidUTF8(b, nil), b) {
			return // encoding/json replaces invalid UTF-8; parseJSON keeps bytes
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%q decodes differently (-encoding/json +parseJSON):\n%s", b, diff)
		}
	})
}
