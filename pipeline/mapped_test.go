package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestPlanMarksMappedValues: issue 14 item 3. Every value a mapping wrote
// is marked in the text, markdown and JSON plans, with the mapping's line.
func TestPlanMarksMappedValues(t *testing.T) {
	h := newHarness(t, `    mappings:
      - { type: TRANSFORM, name: Get Worker Type, path: "$.attributes.value", from: "#if($workerType=='Employee')Full-Time#{else}Contingent#end", to: "$workerType-mapped" }
`)
	h.prod.AddIdentity("Imogene Mendez")
	res, err := h.runner().Plan(context.Background(), "")
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	const mark = `TRANSFORM Get Worker Type $.attributes.value = "$workerType-mapped" (mapped from "#if($workerType=='Employee')Full-Time#{else}Contingent#end" by pipelines[0].mappings[0] (line 21))`
	const note = `mapped: $.attributes.value = ` // markdown escapes the quotes that follow
	for _, format := range []string{FormatText, FormatMarkdown} {
		var b bytes.Buffer
		if err := RenderPlan(&b, res.Plan, format, false); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), mark) || !strings.Contains(b.String(), note) {
			t.Errorf("%s plan does not mark the mapped value (%q, %q):\n%s", format, mark, note, b.String())
		}
	}
	var b bytes.Buffer
	if err := RenderPlan(&b, res.Plan, FormatJSON, false); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Plan struct {
			MappedValues []MappedValue `json:"mappedValues"`
		} `json:"plan"`
		Diff struct {
			Changes []struct{ Key, Note string } `json:"changes"`
		} `json:"diff"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := MappedValue{Object: "TRANSFORM Get Worker Type", Path: "$.attributes.value", From: "#if($workerType=='Employee')Full-Time#{else}Contingent#end", To: "$workerType-mapped", Mapping: "pipelines[0].mappings[0] (line 21)"}
	if len(doc.Plan.MappedValues) != 1 || doc.Plan.MappedValues[0] != want {
		t.Errorf("JSON mappedValues = %+v, want [%+v]", doc.Plan.MappedValues, want)
	}
	noted := false
	for _, c := range doc.Diff.Changes {
		noted = noted || strings.Contains(c.Note, note+`"$workerType-mapped"`)
	}
	if !noted {
		t.Errorf("no JSON diff change has the note %q", note)
	}
}
