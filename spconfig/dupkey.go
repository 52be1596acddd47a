package spconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// DuplicateKeyError reports a key that appears twice in one JSON object of
// an entry. Readers disagree on such an entry (encoding/json keeps the last
// value, others the first), so promoter refuses it wherever it reads one:
// exports, seeds of the fake tenant and object files.
type DuplicateKeyError struct {
	Path string // the object holding the key, e.g. $.object.attributes
	Key  string
	Self Self // as a last-wins reader sees it; may be empty
}

func (e *DuplicateKeyError) Error() string {
	what := ""
	if e.Self.Type != "" {
		what = fmt.Sprintf(" of %s %q", e.Self.Type, e.Self.Name)
	}
	return fmt.Sprintf("duplicate key %q in %s%s: a key may appear only once in a JSON object (readers would take different values); remove one of them", e.Key, e.Path, what)
}

// duplicateKey returns a *DuplicateKeyError for the first key that appears
// twice in one object of the valid JSON b, or nil.
func duplicateKey(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var walk func(path string, depth int) error
	walk = func(path string, depth int) error {
		tok, err := dec.Token()
		if err != nil || depth > 10000 {
			return nil // not JSON: the caller reports it
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil
				}
				k, _ := kt.(string)
				if seen[k] {
					return &DuplicateKeyError{Path: path, Key: k}
				}
				seen[k] = true
				if err := walk(path+"."+k, depth+1); err != nil {
					return err
				}
			}
			dec.Token()
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
					return err
				}
			}
			dec.Token()
		}
		return nil
	}
	return walk("$", 0)
}
