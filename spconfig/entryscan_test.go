package spconfig

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// entryView is everything an Entry exposes, for comparing the two paths.
type entryView struct {
	Raw    string
	Self   Self
	Object string
	Signed bool
	Key    Key
	Err    string
}

func viewOf(e Entry, err error) entryView {
	if err != nil {
		return entryView{Err: err.Error()}
	}
	return entryView{Raw: string(e.Raw), Self: e.Self, Object: string(e.Object()), Signed: e.Signed(), Key: e.Key()}
}

// scanSeeds are entries for both the table test and the fuzz corpus: the
// common shape, whitespace, escapes, every field the fast path reads in
// every odd form it must hand to the reference path.
var scanSeeds = []struct {
	name string
	raw  string
	fast bool // the fast path must take it
}{
	{"plain", `{"version":1,"self":{"name":"Active Directory [source-1]","id":"2c9","type":"SOURCE"},"object":{"name":"Active Directory","n":10.0,"big":12345678901234567890}}`, true},
	{"indented", "{\n  \"version\": 1,\n  \"self\": {\"name\": \"a b\", \"id\": \"1\", \"type\": \"ROLE\"},\n  \"object\": { \"name\" : \"a b\" , \"list\" : [ 1 , -2.5e+3 , true , false , null , { } , [ ] ] }\n}\n", true},
	{"object first", `{"object":{"identityProfileRef":{"type":"IDENTITY_PROFILE","name":"HR"},"name":"active"},"self":{"type":"LIFECYCLE_STATE","name":"active","id":"9"}}`, true},
	{"signed", `{"version":1,"self":{"name":"r","id":"1","type":"RULE"},"object":{"name":"r"},"jwsHeader":"h","jwsSignature":"s"}`, true},
	{"jws null", `{"version":1,"self":{"name":"r","id":"1","type":"RULE"},"object":{"name":"r"},"jwsHeader":null}`, true},
	{"singleton", `{"self":{"id":"x","type":"AUTH_ORG"},"object":{}}`, true},
	{"escaped name", `{"self":{"name":"a\u00e9\"\/b\n","id":"1","type":"SOURCE"},"object":{"name":"src\\x \ud83d\ude00"}}`, true},
	{"non-ascii name", `{"self":{"name":"Zürich / Genève","id":"1","type":"TAG"},"object":{"name":"Zürich"}}`, true},
	{"invalid utf8 name", "{\"self\":{\"name\":\"a\xffb\",\"id\":\"1\",\"type\":\"SOURCE\"},\"object\":{\"name\":\"\xfe\"}}", true},
	{"spaces in strings kept", `{"self":{"name":"  x  ","id":" ","type":"TAG"},"object":{"d":"a  b\t"}}`, true},
	{"source name null", `{"self":{"name":"s [source-1]","id":"1","type":"SOURCE"},"object":{"name":null}}`, true},
	{"source name number", `{"self":{"name":"s [source-1]","id":"1","type":"SOURCE"},"object":{"name":5}}`, true},
	{"ref not object", `{"self":{"name":"active","id":"1","type":"LIFECYCLE_STATE"},"object":{"identityProfileRef":"HR"}}`, true},
	{"ref name number", `{"self":{"name":"active","id":"1","type":"LIFECYCLE_STATE"},"object":{"name":1,"identityProfileRef":{"name":2}}}`, true},
	{"ref null", `{"self":{"name":"active","id":"1","type":"LIFECYCLE_STATE"},"object":{"identityProfileRef":null}}`, true},
	{"self id null", `{"self":{"name":"n","id":null,"type":"TAG"},"object":{}}`, true},
	{"case folded key", `{"Self":{"name":"n","id":"1","type":"TAG"},"object":{}}`, false},
	{"case folded self field", `{"self":{"NAME":"n","name":"m","id":"1","type":"TAG"},"object":{}}`, false},
	{"escaped key", `{"s\u0065lf":{"name":"n","id":"1","type":"TAG"},"object":{}}`, false},
	{"kelvin key", `{"self":{"name":"n","id":"1","type":"TAG"},"object":{"identityProfileRe\u212a":{}}}`, false},
	{"duplicate self", `{"self":{"name":"n","id":"1","type":"TAG"},"self":{"type":"ROLE"},"object":{}}`, false},
	{"duplicate object", `{"self":{"name":"n","id":"1","type":"TAG"},"object":{"a":1},"object":{"a":1}}`, false},
	{"self null", `{"self":null,"object":{}}`, false},
	{"self string", `{"self":"x","object":{}}`, false},
	{"no self", `{"object":{}}`, false},
	{"no type", `{"self":{"name":"n"},"object":{}}`, false},
	{"no name", `{"self":{"type":"TAG","id":"7"},"object":{}}`, false},
	{"type number", `{"self":{"name":"n","type":1},"object":{}}`, false},
	{"object null", `{"self":{"name":"n","type":"TAG"},"object":null}`, false},
	{"object array", `{"self":{"name":"n","type":"TAG"},"object":[]}`, false},
	{"no object", `{"self":{"name":"n","type":"TAG"}}`, false},
	{"jws number", `{"self":{"name":"n","type":"RULE"},"object":{},"jwsHeader":1}`, false},
	{"array", `[1]`, false},
	{"empty", ``, false},
	{"truncated", `{"self":{"name":"n","type":"TAG"},"object":{"a":`, false},
	{"trailing", `{"self":{"name":"n","type":"TAG"},"object":{}} x`, false},
	{"bad number", `{"self":{"name":"n","type":"TAG"},"object":{"a":01}}`, false},
	{"bad escape", `{"self":{"name":"n","type":"TAG"},"object":{"a":"\x"}}`, false},
	{"control char", "{\"self\":{\"name\":\"n\",\"type\":\"TAG\"},\"object\":{\"a\":\"\x01\"}}", false},
	{"deep", `{"self":{"name":"n","type":"TAG"},"object":{"a":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}}`, false},
}

func TestScanEntryMatchesReference(t *testing.T) {
	for _, tc := range scanSeeds {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(tc.raw)
			want := viewOf(newEntryReference(raw))
			got := viewOf(NewEntry(raw))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("NewEntry differs from the reference (-want +got):\n%s", diff)
			}
			e, ok := scanEntry(raw, false)
			if ok != tc.fast {
				t.Errorf("fast path taken = %v, want %v", ok, tc.fast)
			}
			if ok && &e.Raw[0] == &raw[0] {
				t.Errorf("NewEntry's entry aliases the caller's bytes")
			}
			if !bytes.Equal(raw, []byte(tc.raw)) {
				t.Errorf("input was modified")
			}
		})
	}
}

func TestDecodeExportUsesFastPathResults(t *testing.T) {
	var doc strings.Builder
	doc.WriteString(`{"version":1,"objects":[`)
	for i, tc := range scanSeeds {
		if !tc.fast {
			continue
		}
		if i > 0 {
			doc.WriteString(",\n  ")
		}
		doc.WriteString(tc.raw)
	}
	doc.WriteString("]}")
	var got []entryView
	if _, err := DecodeExport(strings.NewReader(doc.String()), func(_ int, e Entry) error {
		got = append(got, viewOf(e, nil))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var want []entryView
	for _, tc := range scanSeeds {
		if tc.fast {
			want = append(want, viewOf(newEntryReference([]byte(tc.raw))))
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeExport entries differ from the reference (-want +got):\n%s", diff)
	}
}

func TestWithObjectFastPath(t *testing.T) {
	e, err := NewEntry([]byte(`{"self":{"name":"s [source-1]","id":"1","type":"SOURCE"},"object":{"name":"old"}}`))
	if err != nil {
		t.Fatal(err)
	}
	ne, err := e.WithObject([]byte(`{ "name" : "new" }`))
	if err != nil {
		t.Fatal(err)
	}
	want := Key{Type: "SOURCE", Name: "new"}
	if ne.Key() != want || string(ne.Object()) != `{"name":"new"}` {
		t.Errorf("WithObject: key %v object %s, want %v {\"name\":\"new\"}", ne.Key(), ne.Object(), want)
	}
}

func FuzzEntryScan(f *testing.F) {
	for _, tc := range scanSeeds {
		f.Add([]byte(tc.raw))
	}
	for i := range 3 {
		f.Add(fmt.Appendf(nil, `{"version":%d,"self":{"name":"n%d","id":"%d","type":"SOURCE"},"object":{"name":"x","identityProfileRef":{"name":"p"}}}`, i, i, i))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		in := bytes.Clone(raw)
		want := viewOf(newEntryReference(raw))
		if e, ok := scanEntry(raw, false); ok {
			if diff := cmp.Diff(want, viewOf(e, nil)); diff != "" {
				t.Fatalf("fast path differs from the reference for %q (-want +got):\n%s", raw, diff)
			}
		}
		if diff := cmp.Diff(want, viewOf(NewEntry(raw))); diff != "" {
			t.Fatalf("NewEntry differs from the reference for %q (-want +got):\n%s", raw, diff)
		}
		if !bytes.Equal(in, raw) {
			t.Fatalf("input was modified")
		}
	})
}

// BenchmarkNewEntry compares the one-pass scanner with the reference path on
// a 1.5 KB SOURCE entry.
func BenchmarkNewEntry(b *testing.B) {
	raw := []byte(`{"version":1,"self":{"name":"AD [source-1]","id":"2c91808","type":"SOURCE"},"object":{"name":"AD","description":"` + strings.Repeat("reviewed every quarter; ", 60) + `","owner":{"type":"IDENTITY","id":"1","name":"o"},"n":10.0}}`)
	for _, p := range []struct {
		name string
		fn   func([]byte) (Entry, error)
	}{{"scan", NewEntry}, {"reference", newEntryReference}} {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.fn(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPlainString8 checks the eight-byte test against the byte test for every
// byte value in every lane.
func TestPlainString8(t *testing.T) {
	plain := func(c byte) bool { return c != '"' && c != '\\' && c >= 0x20 }
	for lane := range 8 {
		for c := range 256 {
			b := []byte("abcdefgh")
			b[lane] = byte(c)
			x := uint64(0)
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(b[i])
			}
			if got := plainString8(x); got != plain(byte(c)) {
				t.Fatalf("lane %d byte %#x: plainString8 = %v", lane, c, got)
			}
		}
	}
}
