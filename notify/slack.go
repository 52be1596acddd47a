package notify

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Slack is a Slack-compatible incoming-webhook payload (Slack, Mattermost,
// Rocket.Chat and Teams' Slack-compatible connectors accept it): Text is the
// fallback shown in notifications, Blocks the message.
type Slack struct {
	Text   string       `json:"text"`
	Blocks []SlackBlock `json:"blocks"`
}

// SlackBlock is a Block Kit block: section, context or divider.
type SlackBlock struct {
	Type     string      `json:"type"`
	Text     *SlackText  `json:"text,omitempty"`
	Elements []SlackText `json:"elements,omitempty"`
}

// SlackText is a text object.
type SlackText struct {
	Type string `json:"type"` // mrkdwn | plain_text
	Text string `json:"text"`
}

// slackSectionLimit is Block Kit's limit on a section's text.
const slackSectionLimit = 3000

var eventEmoji = map[Event]string{
	EventBlocked: ":no_entry:", EventPromoted: ":white_check_mark:", EventDrift: ":warning:",
	EventRollback: ":rewind:", EventFailed: ":x:",
}

// escape makes text safe for mrkdwn (&, <, > are control characters).
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func section(s string) SlackBlock {
	return SlackBlock{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: cut(s, slackSectionLimit)}}
}

func bullets(title string, items []string) string {
	var b strings.Builder
	b.WriteString("*" + title + "*")
	for _, it := range items {
		b.WriteString("\n• " + escape(it))
	}
	return b.String()
}

// SlackPayload renders a message for a Slack-compatible webhook.
func SlackPayload(m Message) Slack {
	s := Slack{Text: m.Title}
	s.Blocks = append(s.Blocks, section(fmt.Sprintf("%s *%s*", eventEmoji[m.Event], escape(m.Title))))
	if m.Error != "" {
		s.Blocks = append(s.Blocks, section("```"+strings.ReplaceAll(escape(m.Error), "```", "'''")+"```"))
	}
	if len(m.Reasons) > 0 {
		s.Blocks = append(s.Blocks, section(bullets("Blocked because", m.Reasons)))
	}
	if len(m.Objects) > 0 {
		s.Blocks = append(s.Blocks, section(bullets("Imported", m.Objects)))
	}
	if len(m.Drift) > 0 {
		s.Blocks = append(s.Blocks, section(bullets("Changed in "+escape(m.Target)+" outside git", m.Drift)))
	}
	var ctx []SlackText
	add := func(k, v string) {
		if v != "" {
			ctx = append(ctx, SlackText{Type: "mrkdwn", Text: "*" + k + ":* " + v})
		}
	}
	add("pipeline", escape(m.Pipeline))
	add("flow", escape(m.Flow))
	add("outcome", escape(m.Outcome))
	if len(m.Commit) >= 12 {
		add("commit", "`"+escape(m.Commit[:12])+"`")
	}
	if m.PullRequestURL != "" {
		add("pull request", "<"+escape(m.PullRequestURL)+"|open>")
	}
	if len(ctx) > 0 {
		s.Blocks = append(s.Blocks, SlackBlock{Type: "context", Elements: ctx})
	}
	return s
}
