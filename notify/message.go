// Package notify tells people what promoter did: it derives an event
// (blocked, promoted, drift, rollback, failed) from the result of a flow and
// posts it to the configured receivers, a generic JSON webhook or a
// Slack-compatible incoming webhook ({"text", "blocks"}), retrying 429, 5xx
// and transport errors with capped, jittered backoff and a bounded number of
// attempts. Every text of a message has its control characters escaped as in
// every human output of promoter (diff.EscapeControl).
//
// It does not decide anything about a promotion (package pipeline does) and
// never fails a flow: a notification that cannot be delivered is logged.
// Receiver URLs are credentials (Slack's are): they never appear in errors
// or logs, only the receiver's index and host.
package notify

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"promoter/diff"
	"promoter/pipeline"
)

// Event is what a notification is about; the names are the configuration's
// notifications[].events values.
type Event string

// Events.
const (
	EventBlocked  Event = "blocked"  // the gate blocked (preview errors, conflict, drift, policy, hold)
	EventPromoted Event = "promoted" // a real import succeeded
	EventDrift    Event = "drift"    // the target changed outside git
	EventRollback Event = "rollback" // a rollback was imported
	EventFailed   Event = "failed"   // the flow ended with an error
)

// maxListed bounds the reasons and objects a message lists.
const maxListed = 20

// Message is one notification. The generic webhook receives it as JSON with
// Event set to the first of Events the receiver subscribes to.
type Message struct {
	Event          Event     `json:"event"`
	Events         []Event   `json:"events"`
	Pipeline       string    `json:"pipeline"`
	Flow           string    `json:"flow,omitempty"`
	Outcome        string    `json:"outcome,omitempty"`
	Source         string    `json:"source,omitempty"`
	Target         string    `json:"target,omitempty"`
	Title          string    `json:"title"`
	Reasons        []string  `json:"reasons,omitempty"`
	Objects        []string  `json:"objects,omitempty"` // imported objects
	Drift          []string  `json:"drift,omitempty"`   // objects changed in the target outside git
	Commit         string    `json:"commit,omitempty"`
	PullRequestURL string    `json:"pullRequestUrl,omitempty"`
	Error          string    `json:"error,omitempty"`
	Time           time.Time `json:"time"`
}

// FromResult derives the message of a finished flow (the pipeline's Done
// hook). ok is false when there is nothing to tell: nothing to do, a clean
// plan, an export, a proposal without problems, and every `promoter plan`
// (a read-only query whose output is its report).
func FromResult(res *pipeline.Result, err error, now time.Time) (m Message, ok bool) {
	if res == nil {
		res = &pipeline.Result{}
	}
	if res.Flow == "plan" {
		return m, false
	}
	m = Message{Pipeline: res.Pipeline, Flow: res.Flow, Outcome: string(res.Outcome), Commit: res.PromotionCommit,
		PullRequestURL: res.PullRequestURL, Time: now.UTC()}
	pl := res.Plan
	if pl != nil {
		m.Source, m.Target = pl.Source, pl.Target
		if m.Commit == "" {
			m.Commit = pl.Revision
		}
		for _, it := range pl.Items {
			if it.Class == pipeline.ClassDrift {
				m.Drift = append(m.Drift, it.Object())
			}
		}
	}
	blocked := pipeline.IsBlocked(err) || res.Outcome == pipeline.OutcomeBlocked || (pl != nil && pl.Verdict == string(pipeline.OutcomeBlocked))
	switch {
	case err != nil && !pipeline.IsBlocked(err):
		m.Events = append(m.Events, EventFailed)
		m.Error = err.Error()
	case blocked:
		m.Events = append(m.Events, EventBlocked)
		var b *pipeline.BlockedError
		if errors.As(err, &b) {
			m.Reasons = b.Reasons
		} else if pl != nil {
			m.Reasons = pl.Blocked
		}
	case res.Outcome == pipeline.OutcomeImported && res.Flow == "rollback":
		m.Events = append(m.Events, EventRollback)
	case res.Outcome == pipeline.OutcomeImported:
		m.Events = append(m.Events, EventPromoted)
	}
	if res.Outcome == pipeline.OutcomeImported && res.Record != nil {
		m.Objects = res.Record.Objects
	}
	if res.Outcome == pipeline.OutcomePartial && res.Record != nil {
		m.Objects = res.Record.Imported
	}
	if len(m.Drift) > 0 {
		m.Events = append(m.Events, EventDrift)
	}
	if len(m.Events) == 0 {
		return Message{}, false
	}
	m.Event = m.Events[0]
	m.escapeControl()
	m.Title = title(m, pl)
	m.Reasons = capList(m.Reasons)
	m.Objects = capList(m.Objects)
	m.Drift = capList(m.Drift)
	return m, true
}

// escapeControl escapes, in every text a receiver shows, the characters
// that could act on a terminal or fake the layout of a message (object names
// may hold ESC, BEL, newlines, bidirectional overrides: the tenant allows
// them), as the text plan does (diff.EscapeControl). The error's own line
// breaks are escaped too: a name in it could otherwise fake a line of the
// message. The title is made from the escaped fields.
func (m *Message) escapeControl() {
	for _, s := range []*string{&m.Pipeline, &m.Flow, &m.Outcome, &m.Source, &m.Target, &m.Commit, &m.PullRequestURL, &m.Error} {
		*s = diff.EscapeControl(*s)
	}
	for _, list := range []*[]string{&m.Reasons, &m.Objects, &m.Drift} {
		// the lists may be the result's own: escape into new ones
		*list = slices.Clone(*list)
		for i, s := range *list {
			(*list)[i] = diff.EscapeControl(s)
		}
	}
}

func capList(s []string) []string {
	if len(s) <= maxListed {
		return s
	}
	return append(slices.Clone(s[:maxListed]), fmt.Sprintf("... and %d more", len(s)-maxListed))
}

func title(m Message, pl *pipeline.Plan) string {
	target := m.Target
	if target == "" {
		target = "the target"
	}
	imported := len(m.Objects)
	if imported == 0 && pl != nil {
		imported = pl.ImportCount()
	}
	var t string
	switch m.Event {
	case EventFailed:
		first, _, _ := strings.Cut(m.Error, `\n`) // the first line (m.Error is escaped)
		t = fmt.Sprintf("%s failed: %s", m.Pipeline, first)
		if m.Outcome == string(pipeline.OutcomePartial) {
			t = fmt.Sprintf("%s: partial import into %s, %d object(s) imported: %s", m.Pipeline, target, len(m.Objects), first)
		}
	case EventBlocked:
		t = fmt.Sprintf("%s blocked: %d reason(s), nothing imported into %s", m.Pipeline, len(m.Reasons), target)
		if m.PullRequestURL != "" || m.Outcome == string(pipeline.OutcomeProposed) {
			t = fmt.Sprintf("%s proposed a change that its gate blocks (%d reason(s))", m.Pipeline, len(m.Reasons))
		}
	case EventRollback:
		t = fmt.Sprintf("%s rolled back %s: %d object(s) imported", m.Pipeline, target, imported)
	case EventPromoted:
		t = fmt.Sprintf("%s promoted %d object(s) from %s to %s", m.Pipeline, imported, m.Source, target)
	case EventDrift:
		t = fmt.Sprintf("%s: drift in %s, %d object(s) changed outside git", m.Pipeline, target, len(m.Drift))
	}
	if m.Event != EventDrift && len(m.Drift) > 0 {
		t += fmt.Sprintf("; drift: %d object(s) changed outside git", len(m.Drift))
	}
	return "promoter: " + t
}

// For returns the message as a receiver subscribed to events sees it: Event
// is the first of m.Events it subscribes to. ok is false when it subscribes
// to none of them.
func (m Message) For(events []string) (Message, bool) {
	for _, e := range m.Events {
		if slices.Contains(events, string(e)) {
			m.Event = e
			return m, true
		}
	}
	return m, false
}
