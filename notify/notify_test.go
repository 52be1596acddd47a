package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"promoter/config"
	"promoter/pipeline"
	"promoter/spconfig"
)

var t0 = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

func plan(drift ...string) *pipeline.Plan {
	pl := &pipeline.Plan{Pipeline: "dev-to-prod", Source: "dev", Target: "prod", Revision: "0123456789abcdef0123456789abcdef01234567", Counts: map[pipeline.Class]int{}}
	for _, d := range drift {
		typ, name, _ := strings.Cut(d, " ")
		pl.Items = append(pl.Items, pipeline.PlanItem{Key: spconfig.Key{Type: typ, Name: name}, Class: pipeline.ClassDrift})
	}
	return pl
}

func TestFromResult(t *testing.T) {
	blocked := &pipeline.BlockedError{Pipeline: "dev-to-prod", Reasons: []string{"preview error (SOURCE): owner <Imogene> & co missing"}}
	imported := func(flow string, drift ...string) *pipeline.Result {
		return &pipeline.Result{Pipeline: "dev-to-prod", Flow: flow, Outcome: pipeline.OutcomeImported, Plan: plan(drift...),
			Record: &pipeline.Record{Objects: []string{"TRANSFORM Get Worker Type", "SOURCE Workday"}}}
	}
	tests := []struct {
		name      string
		res       *pipeline.Result
		err       error
		want      []Event
		title     string
		noMessage bool
	}{
		{name: "promoted", res: imported("run"), want: []Event{EventPromoted},
			title: "promoter: dev-to-prod promoted 2 object(s) from dev to prod"},
		{name: "apply promoted", res: imported("apply"), want: []Event{EventPromoted}},
		{name: "rollback", res: imported("rollback"), want: []Event{EventRollback},
			title: "promoter: dev-to-prod rolled back prod: 2 object(s) imported"},
		{name: "promoted over drift", res: imported("run", "SOURCE Active Directory"), want: []Event{EventPromoted, EventDrift},
			title: "promoter: dev-to-prod promoted 2 object(s) from dev to prod; drift: 1 object(s) changed outside git"},
		{name: "blocked", res: &pipeline.Result{Pipeline: "dev-to-prod", Flow: "run", Outcome: pipeline.OutcomeBlocked, Plan: plan()}, err: blocked,
			want: []Event{EventBlocked}, title: "promoter: dev-to-prod blocked: 1 reason(s), nothing imported into prod"},
		{name: "blocked by drift", res: &pipeline.Result{Pipeline: "dev-to-prod", Flow: "run", Outcome: pipeline.OutcomeBlocked, Plan: plan("SOURCE AD")}, err: blocked,
			want: []Event{EventBlocked, EventDrift}},
		{name: "rollback blocked", res: &pipeline.Result{Pipeline: "dev-to-prod", Flow: "rollback", Outcome: pipeline.OutcomeBlocked, Plan: plan()}, err: blocked,
			want: []Event{EventBlocked}},
		{name: "pull request with a blocked plan", res: &pipeline.Result{Pipeline: "dev-to-prod", Flow: "run", Outcome: pipeline.OutcomeProposed,
			PullRequestURL: "https://github.example/pr/1", Plan: &pipeline.Plan{Target: "prod", Verdict: "blocked", Blocked: []string{"conflict: x"}}},
			want: []Event{EventBlocked}, title: "promoter: dev-to-prod proposed a change that its gate blocks (1 reason(s))"},
		{name: "failed", res: &pipeline.Result{Pipeline: "dev-to-prod", Flow: "run", Outcome: pipeline.OutcomeNothing}, err: errors.New("export: job FAILED\nmore"),
			want: []Event{EventFailed}, title: "promoter: dev-to-prod failed: export: job FAILED"},
		{name: "failed without result", res: nil, err: errors.New("boom"), want: []Event{EventFailed}},
		{name: "drift seen by apply with nothing to import", res: &pipeline.Result{Pipeline: "dev-to-prod", Flow: "apply", Outcome: pipeline.OutcomeNothing, Plan: plan("SOURCE AD")},
			want: []Event{EventDrift}, title: "promoter: dev-to-prod: drift in prod, 1 object(s) changed outside git"},
		{name: "nothing to do", res: &pipeline.Result{Pipeline: "dev-to-prod", Flow: "run", Outcome: pipeline.OutcomeNothing, Plan: plan()}, noMessage: true},
		{name: "export", res: &pipeline.Result{Pipeline: "dev-to-prod", Flow: "export", Outcome: pipeline.OutcomeExported}, noMessage: true},
		{name: "clean proposal", res: &pipeline.Result{Pipeline: "dev-to-prod", Flow: "run", Outcome: pipeline.OutcomeProposed, Plan: &pipeline.Plan{Verdict: "clean"}}, noMessage: true},
		{name: "plan never notifies", res: &pipeline.Result{Pipeline: "dev-to-prod", Flow: "plan", Outcome: pipeline.OutcomeBlocked, Plan: plan("SOURCE AD")}, err: blocked, noMessage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := FromResult(tt.res, tt.err, t0)
			if ok == tt.noMessage {
				t.Fatalf("ok = %v, want %v (message %+v)", ok, !tt.noMessage, m)
			}
			if !ok {
				return
			}
			if d := cmp.Diff(tt.want, m.Events); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
			if m.Event != tt.want[0] {
				t.Errorf("event %q, want %q", m.Event, tt.want[0])
			}
			if tt.title != "" && m.Title != tt.title {
				t.Errorf("title %q\n want %q", m.Title, tt.title)
			}
			if !m.Time.Equal(t0) {
				t.Errorf("time %v", m.Time)
			}
		})
	}
}

// receiver is a local webhook receiver that answers the scripted statuses
// in turn (then 200) and records every body.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	bodies   []string
	types    []string
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	rc := &receiver{statuses: statuses}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, string(data))
		rc.types = append(rc.types, r.Header.Get("Content-Type"))
		code := http.StatusOK
		if len(rc.statuses) > 0 {
			code, rc.statuses = rc.statuses[0], rc.statuses[1:]
		}
		rc.mu.Unlock()
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "3")
		}
		w.WriteHeader(code)
		io.WriteString(w, http.StatusText(code))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.bodies...)
}

type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func blockedMessage(t *testing.T) Message {
	m, ok := FromResult(&pipeline.Result{Pipeline: "dev-to-prod", Flow: "run", Outcome: pipeline.OutcomeBlocked, Plan: plan("SOURCE <AD> & co")},
		&pipeline.BlockedError{Pipeline: "dev-to-prod", Reasons: []string{"preview error (SOURCE): owner <Imogene> missing"}}, t0)
	if !ok {
		t.Fatal("no message")
	}
	return m
}

func TestWebhookPayload(t *testing.T) {
	rc := newReceiver(t)
	n := &Notifier{Receivers: []Receiver{{Type: "webhook", URL: rc.URL + "/hook", Events: []string{"drift"}}}}
	if err := n.Send(context.Background(), blockedMessage(t)); err != nil {
		t.Fatal(err)
	}
	bodies := rc.got()
	if len(bodies) != 1 || rc.types[0] != "application/json" {
		t.Fatalf("bodies %q, content types %q", bodies, rc.types)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(bodies[0]), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"event":    "drift", // the receiver subscribes to drift only
		"events":   []any{"blocked", "drift"},
		"pipeline": "dev-to-prod", "flow": "run", "outcome": "blocked", "source": "dev", "target": "prod",
		"title":   "promoter: dev-to-prod blocked: 1 reason(s), nothing imported into prod; drift: 1 object(s) changed outside git",
		"reasons": []any{"preview error (SOURCE): owner <Imogene> missing"},
		"drift":   []any{"SOURCE <AD> & co"},
		"commit":  "0123456789abcdef0123456789abcdef01234567",
		"time":    "2025-03-14T09:30:00Z",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("webhook JSON (-want +got):\n%s", d)
	}
}

func TestSlackPayload(t *testing.T) {
	rc := newReceiver(t)
	n := &Notifier{Receivers: []Receiver{{Type: "slack", URL: rc.URL + "/services/T000/B000/XXXX", Events: []string{"blocked"}}}}
	m := blockedMessage(t)
	m.PullRequestURL = "https://github.example/acme/isc/pull/3"
	if err := n.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var got Slack
	dec := json.NewDecoder(strings.NewReader(rc.got()[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := Slack{
		Text: m.Title,
		Blocks: []SlackBlock{
			{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: ":no_entry: *promoter: dev-to-prod blocked: 1 reason(s), nothing imported into prod; drift: 1 object(s) changed outside git*"}},
			{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: "*Blocked because*\n• preview error (SOURCE): owner &lt;Imogene&gt; missing"}},
			{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: "*Changed in prod outside git*\n• SOURCE &lt;AD&gt; &amp; co"}},
			{Type: "context", Elements: []SlackText{
				{Type: "mrkdwn", Text: "*pipeline:* dev-to-prod"}, {Type: "mrkdwn", Text: "*flow:* run"}, {Type: "mrkdwn", Text: "*outcome:* blocked"},
				{Type: "mrkdwn", Text: "*commit:* `0123456789ab`"}, {Type: "mrkdwn", Text: "*pull request:* <https://github.example/acme/isc/pull/3|open>"},
			}},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("slack payload (-want +got):\n%s", d)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		attempts int
		wantErr  string
		requests int
		delays   func(t *testing.T, d []time.Duration)
	}{
		{name: "5xx then success", statuses: []int{503, 500}, attempts: 5, requests: 3,
			delays: func(t *testing.T, d []time.Duration) {
				// jittered: the first in [50ms,100ms], the second in [100ms,200ms]
				if len(d) != 2 || d[0] < 50*time.Millisecond || d[0] > 100*time.Millisecond || d[1] < 100*time.Millisecond || d[1] > 200*time.Millisecond {
					t.Errorf("delays %v", d)
				}
			}},
		{name: "429 honours Retry-After", statuses: []int{429}, attempts: 5, requests: 2,
			delays: func(t *testing.T, d []time.Duration) {
				if len(d) != 1 || d[0] != 300*time.Millisecond { // Retry-After 3 s capped at MaxDelay
					t.Errorf("delays %v, want [300ms]", d)
				}
			}},
		{name: "bounded failure", statuses: []int{500, 502, 503, 504, 500, 500, 500}, attempts: 4, requests: 4,
			wantErr: "notify webhook receiver notifications[2] at 127.0.0.1",
			delays: func(t *testing.T, d []time.Duration) {
				if len(d) != 3 {
					t.Fatalf("delays %v", d)
				}
				for _, x := range d {
					if x > 300*time.Millisecond {
						t.Errorf("delay %v above the cap", x)
					}
				}
			}},
		{name: "4xx is not retried", statuses: []int{404}, attempts: 5, requests: 1, wantErr: "HTTP 404 Not Found: Not Found (not retried"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, tt.statuses...)
			sl := &sleeps{}
			n := &Notifier{Receivers: []Receiver{{Index: 2, Type: "webhook", URL: rc.URL + "/secret-path-XYZ", Events: []string{"blocked"}}},
				Attempts: tt.attempts, BaseDelay: 100 * time.Millisecond, MaxDelay: 300 * time.Millisecond, Sleep: sl.sleep}
			err := n.Send(context.Background(), blockedMessage(t))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Send: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Send: err %v, want %q", err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), "secret-path-XYZ"):
				t.Errorf("error reveals the receiver URL: %v", err)
			}
			if n := len(rc.got()); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			if tt.delays != nil {
				tt.delays(t, sl.d)
			}
		})
	}
}

// TestRetryAfterHTTPDate: a Retry-After given as an HTTP date is honoured
// as the time until then, read against the notifier's clock.
func TestRetryAfterHTTPDate(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			w.Header().Set("Retry-After", now.Add(7*time.Second).Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	sl := &sleeps{}
	n := &Notifier{Receivers: []Receiver{{Type: "webhook", URL: srv.URL, Events: []string{"blocked"}}},
		BaseDelay: 100 * time.Millisecond, Sleep: sl.sleep, Now: func() time.Time { return now }}
	if err := n.Send(context.Background(), blockedMessage(t)); err != nil {
		t.Fatal(err)
	}
	if len(sl.d) != 1 || sl.d[0] != 7*time.Second {
		t.Errorf("delays %v, want [7s]", sl.d)
	}
}

func TestTransportErrorHidesURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	sl := &sleeps{}
	n := &Notifier{Receivers: []Receiver{{Type: "slack", URL: srv.URL + "/services/SECRET", Events: []string{"blocked"}}}, Attempts: 3, Sleep: sl.sleep}
	err := n.Send(context.Background(), blockedMessage(t))
	if err == nil || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("err %v: want a bounded failure without the URL's path", err)
	}
	if len(sl.d) != 2 {
		t.Errorf("slept %d times, want 2", len(sl.d))
	}
}

func TestHookAndConfig(t *testing.T) {
	rc := newReceiver(t)
	cfg := &config.Config{Notifications: []config.Notification{
		{Type: "webhook", URL: rc.URL + "/a", Events: []string{"promoted"}},
		{Type: "slack", URLEnv: "SLACK_URL", Events: []string{"blocked", "failed"}},
	}}
	sec := &config.Secrets{NotificationURLs: map[int]string{1: rc.URL + "/b"}}
	n := New(cfg, sec, nil)
	if n == nil || len(n.Receivers) != 2 {
		t.Fatalf("New: %+v", n)
	}
	n.Now = func() time.Time { return t0 }
	hook := n.Hook(context.Background())
	hook(&pipeline.Result{Pipeline: "p", Flow: "run", Outcome: pipeline.OutcomeNothing}, nil) // nothing to tell
	hook(&pipeline.Result{Pipeline: "p", Flow: "run", Outcome: pipeline.OutcomeBlocked}, &pipeline.BlockedError{Pipeline: "p", Reasons: []string{"held"}})
	got := rc.got()
	if len(got) != 1 || !strings.Contains(got[0], `"blocks"`) || !strings.Contains(got[0], "held") {
		t.Errorf("receivers got %q, want one Slack message about the block", got)
	}
	if New(&config.Config{}, nil, nil) != nil {
		t.Error("New without receivers is not nil")
	}
}

// TestFromResultEscapesControlCharacters: names with ESC, BEL, a newline or
// a bidirectional override reach every text of the message and of the Slack
// payload escaped, and the result's own lists are left as they were.
func TestFromResultEscapesControlCharacters(t *testing.T) {
	const evil = "Evil\x1b[31m\x07\nFAKE\u202e"
	const escaped = `Evil\x1b[31m\x07\nFAKE\u202e`
	reasons := []string{"conflict: TRANSFORM " + evil}
	res := &pipeline.Result{Pipeline: "dev-to-prod", Flow: "run", Outcome: pipeline.OutcomePartial, Plan: plan("SOURCE " + evil),
		Record: &pipeline.Record{Imported: []string{"RULE " + evil}}}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"blocked", &pipeline.BlockedError{Pipeline: "dev-to-prod", Reasons: reasons}},
		{"failed", errors.New("import: refused " + evil + "\nsecond cause")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := FromResult(res, tc.err, t0)
			if !ok {
				t.Fatal("no message")
			}
			data, err := json.Marshal(struct {
				M Message
				S Slack
			}{m, SlackPayload(m)})
			if err != nil {
				t.Fatal(err)
			}
			var decoded any
			if err := json.Unmarshal(data, &decoded); err != nil {
				t.Fatal(err)
			}
			n := 0
			var walk func(v any)
			walk = func(v any) {
				switch x := v.(type) {
				case string:
					if strings.ContainsAny(x, "\x1b\x07\u202e") || strings.Contains(x, "\nFAKE") {
						t.Errorf("raw control character in %q", x)
					}
					if strings.Contains(x, escaped) {
						n++
					}
				case []any:
					for _, e := range x {
						walk(e)
					}
				case map[string]any:
					for _, e := range x {
						walk(e)
					}
				}
			}
			walk(decoded)
			if n < 4 {
				t.Errorf("the escaped name appears %d times, want it in the message and the payload:\n%s", n, data)
			}
		})
	}
	if reasons[0] != "conflict: TRANSFORM "+evil || res.Record.Imported[0] != "RULE "+evil || res.Plan.Items[0].Object() != "SOURCE "+evil {
		t.Errorf("FromResult changed the result's lists: %q %q %q", reasons, res.Record.Imported, res.Plan.Items[0].Object())
	}
}
