package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"promoter/diff"
)

// Formats of RenderPlan.
const (
	FormatText     = "text"
	FormatMarkdown = "markdown"
	FormatJSON     = "json"
)

// classOrder is the order classes are listed in reports.
var classOrder = []Class{ClassApply, ClassDrift, ClassConflict, ClassNotImportable, ClassNotDeleted, ClassOnlyInTarget, ClassExcluded, ClassNoop}

// RenderPlan writes a plan for people (text, markdown) or programs (json).
// The JSON document is {"schemaVersion": 1, "plan": {...}, "diff": {...}}
// where plan has the fields of Plan and diff is diff.RenderJSON's document.
func RenderPlan(w io.Writer, pl *Plan, format string, color bool) error {
	switch format {
	case FormatText, "":
		return renderPlanText(w, pl, color)
	case FormatMarkdown:
		return renderPlanMarkdown(w, pl)
	case FormatJSON:
		var d bytes.Buffer
		if err := diff.RenderJSON(&d, pl.Diff); err != nil {
			return err
		}
		doc := struct {
			SchemaVersion int             `json:"schemaVersion"`
			Plan          *Plan           `json:"plan"`
			Diff          json.RawMessage `json:"diff"`
		}{1, pl.stable(), d.Bytes()}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	return fmt.Errorf("unknown format %q: use text, markdown or json", format)
}

func countsLine(pl *Plan) string {
	var parts []string
	for _, c := range classOrder {
		parts = append(parts, fmt.Sprintf("%s %d", c, pl.Counts[c]))
	}
	if len(pl.Conflicts) > 0 {
		parts = append(parts, fmt.Sprintf("promotion conflicts %d", len(pl.Conflicts)))
	}
	return strings.Join(parts, ", ")
}

func verdictText(pl *Plan) string {
	switch pl.Verdict {
	case string(OutcomeBlocked):
		return "BLOCKED"
	case string(OutcomeClean):
		return "CLEAN: may be imported"
	case string(OutcomeNothing):
		return "NOTHING TO DO: the target matches"
	}
	return "not gated"
}

func renderPlanText(w io.Writer, pl *Plan, color bool) error {
	fmt.Fprintf(w, "Plan %s: %s -> %s at %s (applied: %s)\n", pl.Pipeline, pl.Source, pl.Target, shortStr(pl.Revision), shortStr(pl.Applied))
	fmt.Fprintf(w, "  %s\n", countsLine(pl))
	for _, line := range proposalLines(pl) {
		fmt.Fprintf(w, "  %s\n", line)
	}
	for _, m := range pl.Mapped {
		fmt.Fprintf(w, "  Mapped value: %s\n", m)
	}
	for _, u := range pl.Unmatched {
		fmt.Fprintf(w, "  Warning: %s\n", u)
	}
	fmt.Fprintln(w)
	if err := diff.RenderText(w, pl.Diff, diff.TextOptions{Title: "Changes (live " + pl.Target + " -> desired)", Color: color}); err != nil {
		return err
	}
	if pv := pl.Preview; pv != nil {
		fmt.Fprintf(w, "\nPreview job %s: %s, %d error(s), %d warning(s)\n", pv.JobID, pv.Status, len(pv.Errors), len(pv.Warnings))
		for _, m := range pv.Errors {
			fmt.Fprintf(w, "  error   %-22s %s\n", diff.EscapeControl(m.Type), diff.EscapeControl(m.Text))
		}
		for _, m := range pv.Warnings {
			fmt.Fprintf(w, "  warning %-22s %s\n", diff.EscapeControl(m.Type), diff.EscapeControl(m.Text))
		}
	}
	if len(pl.ConflictDiff.Changes) > 0 {
		fmt.Fprintln(w)
		if err := diff.RenderText(w, pl.ConflictDiff, diff.TextOptions{Title: "Conflicts (target file -> mapped source version)", Color: color}); err != nil {
			return err
		}
	}
	if line := hubLine(pl); line != "" {
		fmt.Fprintf(w, "\n%s\n", line)
	}
	fmt.Fprintf(w, "\nVerdict: %s\n", verdictText(pl))
	for _, b := range pl.Blocked {
		fmt.Fprintf(w, "  - %s\n", diff.EscapeControl(b)) // reasons name objects
	}
	return nil
}

func renderPlanMarkdown(w io.Writer, pl *Plan) error {
	var head bytes.Buffer
	fmt.Fprintf(&head, "## promoter plan: `%s` (%s → %s)\n\n", pl.Pipeline, pl.Source, pl.Target)
	fmt.Fprintf(&head, "Revision `%s`, last applied `%s`.\n\n**Verdict: %s**\n\n", shortStr(pl.Revision), shortStr(pl.Applied), verdictText(pl))
	for _, b := range pl.Blocked {
		fmt.Fprintf(&head, "- %s\n", mdEscape(b))
	}
	if len(pl.Blocked) > 0 {
		head.WriteString("\n")
	}
	for _, line := range proposalLines(pl) {
		fmt.Fprintf(&head, "%s\n\n", mdEscape(line))
	}
	for _, m := range pl.Mapped {
		fmt.Fprintf(&head, "- Mapped value: %s\n", mdEscape(m.String()))
	}
	for _, u := range pl.Unmatched {
		fmt.Fprintf(&head, "- :warning: %s\n", mdEscape(u.String()))
	}
	if len(pl.Mapped)+len(pl.Unmatched) > 0 {
		head.WriteString("\n")
	}
	head.WriteString("| class | objects |\n|---|---:|\n")
	for _, c := range classOrder {
		fmt.Fprintf(&head, "| %s | %d |\n", c, pl.Counts[c])
	}
	head.WriteString("\n")
	if pv := pl.Preview; pv != nil {
		fmt.Fprintf(&head, "Preview job `%s`: %s, %d error(s), %d warning(s).\n\n", pv.JobID, pv.Status, len(pv.Errors), len(pv.Warnings))
		for _, m := range pv.Errors {
			fmt.Fprintf(&head, "- :x: %s: %s\n", m.Type, mdEscape(m.Text))
		}
		for _, m := range pv.Warnings {
			fmt.Fprintf(&head, "- :warning: %s: %s\n", m.Type, mdEscape(m.Text))
		}
		head.WriteString("\n")
	}
	if line := hubLine(pl); line != "" {
		fmt.Fprintf(&head, "%s\n\n", mdEscape(line))
	}
	if _, err := w.Write(head.Bytes()); err != nil {
		return err
	}
	budget := 60000 - head.Len()
	if budget < 2000 {
		budget = 2000
	}
	if len(pl.ConflictDiff.Changes) > 0 {
		var c bytes.Buffer
		if err := diff.RenderMarkdown(&c, pl.ConflictDiff, diff.MarkdownOptions{Title: "Conflicts (target file → mapped source version)", MaxBytes: budget / 4}); err != nil {
			return err
		}
		if _, err := w.Write(c.Bytes()); err != nil {
			return err
		}
		budget -= c.Len()
	}
	return diff.RenderMarkdown(w, pl.Diff, diff.MarkdownOptions{Title: "Changes", MaxBytes: budget})
}

// hubLine describes the Configuration Hub side of a plan: the draft made,
// or what would go through Configuration Hub.
func hubLine(pl *Plan) string {
	switch h := pl.Hub; {
	case h != nil && h.Problem != "":
		return "Configuration Hub: " + h.Problem
	case h != nil:
		return fmt.Sprintf("Configuration Hub: upload %s, draft %s %s (approval %s), %d object(s) to deploy", h.UploadID, h.DraftID, h.DraftStatus, firstNonEmpty(h.ApprovalStatus, "none"), pl.HubCount())
	case pl.HubCount() > 0:
		return fmt.Sprintf("Configuration Hub: %d object(s) would be deployed (no draft yet: plan never uploads; the run or apply that imports makes the draft after the SP-Config import and deploys only when it is COMPLETE and approved)", pl.HubCount())
	}
	return ""
}

// proposalLines says what the flow took as baseline and copied from the
// source before planning (for a dry run: would).
func proposalLines(pl *Plan) []string {
	var out []string
	verb := func(done, would string) string {
		if pl.DryRun {
			return would
		}
		return done
	}
	if pl.DryRun {
		out = append(out, "Dry run: what the next run would do; nothing was committed, pushed or imported.")
	}
	if n := len(pl.Baseline); n > 0 {
		out = append(out, fmt.Sprintf("Baseline: %d live object(s) of %s %s taken into tenants/%s/ unchanged first.", n, pl.Target, verb("were", "would be"), pl.Target))
	}
	if n := pl.Counts[ClassNotImportable]; n > 0 && len(pl.Handoff) > 0 {
		out = append(out, fmt.Sprintf("Configuration Hub: %d object(s) SP-Config cannot import; promoter plan --upload-file FILE writes their upload document (or set deploy.configurationHub: true on the pipeline).", n))
	}
	if n := len(pl.Declined); n > 0 {
		out = append(out, fmt.Sprintf("Declined: the last pull request was closed without merging; %d file(s) are not proposed again until %s changes them: %s.", n, pl.Source, strings.Join(pl.Declined, ", ")))
	}
	if n := len(pl.Proposed); n > 0 {
		out = append(out, fmt.Sprintf("Proposal: %d object(s) %s copied from %s.", n, verb("were", "would be"), pl.Source))
	}
	return out
}

func mdEscape(s string) string {
	return diff.EscapeControl(strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "\n", " ").Replace(s))
}

func shortStr(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "none"
	}
	return h
}

// stable returns the plan as its JSON document shows it: every class in
// counts (zeros included) and every list present, empty rather than null,
// so programs reading it need no special cases.
func (pl *Plan) stable() *Plan {
	c := *pl
	c.Counts = make(map[Class]int, len(classOrder))
	for _, k := range classOrder {
		c.Counts[k] = 0
	}
	for k, n := range pl.Counts {
		c.Counts[k] = n
	}
	c.Items, c.Conflicts = orEmpty(c.Items), orEmpty(c.Conflicts)
	c.Baseline, c.Proposed, c.Declined, c.Blocked = orEmpty(c.Baseline), orEmpty(c.Proposed), orEmpty(c.Declined), orEmpty(c.Blocked)
	c.Leaks, c.MappingMisses = orEmpty(c.Leaks), orEmpty(c.MappingMisses)
	c.Mapped, c.Unmatched = orEmpty(c.Mapped), orEmpty(c.Unmatched)
	if c.Preview != nil {
		pv := *c.Preview
		pv.Errors, pv.Warnings = orEmpty(pv.Errors), orEmpty(pv.Warnings)
		c.Preview = &pv
	}
	return &c
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
