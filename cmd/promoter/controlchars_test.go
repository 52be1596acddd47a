package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestControlCharactersInNamesAreEscapedInHumanOutput adds an object whose
// name holds ESC, BEL, a newline and a tab (the tenant allows them) and
// reads every human output of a run: the text plan and run summary, the
// text logs, and `promoter diff` in text and Markdown. None may carry the
// raw characters, which would recolour the terminal, ring it or fake a line.
func TestControlCharactersInNamesAreEscapedInHumanOutput(t *testing.T) {
	t.Parallel()
	const evil = "Evil\x1b[31m red\x07\nFAKE LINE\tend\x7f\u202e"
	addEvil := func(body []byte) []byte {
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Errorf("fake export is not JSON: %v", err)
			return body
		}
		var objs []json.RawMessage
		json.Unmarshal(doc["objects"], &objs)
		objs = append(objs, hostileEntry(t, "TRANSFORM", evil, `{"input":{"type":"static","attributes":{"value":"x"}}}`))
		doc["objects"] = marshalRaw(objs)
		return marshalRaw(doc)
	}
	w := newWorld(t, worldOptions{dev: tenantSetup{wrap: rewriteDownloads(addEvil)}})
	text := []string{"PROMOTER_LOG_FORMAT=text"}
	outputs := map[string]string{}
	r := w.exec(text, "plan", "--config", w.cfg)
	outputs["plan"] = r.stdout + r.stderr
	r = w.exec(text, "run", "--config", w.cfg)
	if r.code != exitOK {
		t.Fatalf("run: %s", r)
	}
	outputs["run"] = r.stdout + r.stderr
	for _, f := range []string{"text", "markdown"} {
		d := w.exec(text, "diff", "--repo", w.repo, "--format", f, "HEAD~1", "HEAD")
		outputs["diff "+f] = d.stdout + d.stderr
	}
	seen := false
	for name, out := range outputs {
		if strings.Contains(out, "Evil") {
			seen = true
		}
		for _, bad := range []string{"\x1b", "\x07", "\x7f", "\u202e", "\nFAKE LINE", "\tend"} {
			if strings.Contains(out, bad) {
				i := strings.Index(out, bad)
				t.Errorf("%s prints %q raw: ...%q...", name, bad, out[max(0, i-60):min(len(out), i+30)])
			}
		}
	}
	if !seen {
		t.Fatalf("no output names the object: the test proves nothing\n%v", outputs)
	}
}
