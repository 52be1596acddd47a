package pipeline

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// scanSecretsReference is the scanner before issue 18 (members and element
// spans, a path string per member); scanSecrets must find the same.
func scanSecretsReference(obj []byte, extra []*regexp.Regexp) ([]secretFinding, error) {
	var out []secretFinding
	var walk func(start int, path string, segs []PathSegment) error
	walk = func(start int, path string, segs []PathSegment) error {
		start = skipSpace(obj, start)
		if start >= len(obj) {
			return errJSONSyntax
		}
		switch obj[start] {
		case '{':
			ms, _, err := members(obj, start)
			if err != nil {
				return err
			}
			for _, m := range ms {
				p := path + "." + m.key
				s := append(segs[:len(segs):len(segs)], PathSegment{Key: m.key})
				if isSecretKey(m.key, extra) && obj[m.valStart] == '"' {
					var v string
					if json.Unmarshal(obj[m.valStart:m.valEnd], &v) == nil && v != "" && strings.Trim(v, "*") != "" && v != redacted {
						out = append(out, secretFinding{path: p, segs: s})
						continue
					}
				}
				if err := walk(m.valStart, p, s); err != nil {
					return err
				}
			}
		case '[':
			for i := 0; ; i++ {
				vs, _, ok, err := elementSpan(obj, start, i)
				if err != nil {
					return err
				}
				if !ok {
					break
				}
				if err := walk(vs, fmt.Sprintf("%s[%d]", path, i), append(segs[:len(segs):len(segs)], PathSegment{Index: i, IsIndex: true})); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err := walk(0, "$", nil)
	return out, err
}

func TestScanSecretsMatchesReference(t *testing.T) {
	objs := []string{
		`{}`, `[]`, `"x"`, `12`, `null`,
		`{"password":"hunter2","name":"x"}`,
		`{"a":{"b":[{"apiToken":"t"},{"apiToken":""},{"apiToken":"***"}],"c":[[{"secret":"s"}]]}}`,
		`{"clientSecret":{"value":"v","password":"p"},"tokenUrl":"https://x","list":[1,2,{"passwd":"q"}]}`,
		`{"pass\u0077ord":"escaped key","k\"ey":{"privateKey":"pk"}, "über":{"secret":"u"}}`,
		`{ "spaced" : [ { "password" : "p" } , { "x" : null } ] , "adminPwd" : "a" }`,
		`{"password":"REDACTED-BY-PROMOTER","nested":{"password":12,"credential":{"password":"deep"}}}`,
		`{"a":[`, `{"a":}`, `{"a":1,}`, `[1,]`, `{"a" 1}`,
		// Entries are valid JSON (spconfig.NewEntry checks); on `[1 2]` the
		// reference stopped quietly after the first element, the scanner
		// reports invalid JSON.
	}
	for i := 0; i < 50; i++ {
		objs = append(objs, runBenchEntry('d', i, 1))
	}
	extras := [][]*regexp.Regexp{nil, {regexp.MustCompile(`(?i)^x$`)}}
	for _, extra := range extras {
		for _, o := range objs {
			got, gerr := scanSecrets([]byte(o), extra)
			want, werr := scanSecretsReference([]byte(o), extra)
			if fmt.Sprint(gerr) != fmt.Sprint(werr) || !reflect.DeepEqual(got, want) {
				t.Errorf("%s (extra %v):\n got %v, %v\nwant %v, %v", o, extra, got, gerr, want, werr)
			}
		}
	}
}
