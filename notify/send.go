package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"promoter/config"
	"promoter/pipeline"
	"promoter/retry"
)

// Receiver is one configured destination.
type Receiver struct {
	Index  int    // position in notifications[], named in errors instead of the URL
	Type   string // webhook | slack
	URL    string // a credential: never logged
	Events []string
}

// Notifier posts messages to receivers.
type Notifier struct {
	Receivers []Receiver
	HTTP      *http.Client // default: 10 s timeout per attempt
	Logger    *slog.Logger
	// Attempts bounds the tries per receiver (default 5). Delays double
	// from BaseDelay (default 1 s) up to MaxDelay (default 30 s), with
	// jitter (each delay is between half and all of its step); Retry-After
	// (seconds or an HTTP date) is honoured up to MaxDelay.
	Attempts            int
	BaseDelay, MaxDelay time.Duration
	// Sleep waits between attempts; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
}

// New returns the notifier of the configured receivers, or nil when there
// are none. sec holds the URLs given by variable.
func New(cfg *config.Config, sec *config.Secrets, logger *slog.Logger) *Notifier {
	var rs []Receiver
	for i, n := range cfg.Notifications {
		u := n.URL
		if sec != nil && sec.NotificationURLs[i] != "" {
			u = sec.NotificationURLs[i]
		}
		if u == "" {
			continue
		}
		rs = append(rs, Receiver{Index: i, Type: n.Type, URL: u, Events: n.Events})
	}
	if len(rs) == 0 {
		return nil
	}
	return &Notifier{Receivers: rs, Logger: logger}
}

func (n *Notifier) defaults() {
	if n.HTTP == nil {
		n.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if n.Logger == nil {
		n.Logger = slog.New(slog.DiscardHandler)
	}
	if n.Attempts <= 0 {
		n.Attempts = 5
	}
	if n.BaseDelay <= 0 {
		n.BaseDelay = time.Second
	}
	if n.MaxDelay <= 0 {
		n.MaxDelay = 30 * time.Second
	}
	if n.Sleep == nil {
		n.Sleep = retry.Sleep
	}
	if n.Now == nil {
		n.Now = time.Now
	}
}

// Hook returns a pipeline Done hook that sends the flow's notification. It
// sends even when ctx was cancelled (a failed or interrupted run is worth
// telling), bounded by two minutes, and only logs delivery failures.
func (n *Notifier) Hook(ctx context.Context) func(*pipeline.Result, error) {
	return func(res *pipeline.Result, err error) {
		n.defaults()
		m, ok := FromResult(res, err, n.Now())
		if !ok {
			return
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if err := n.Send(sctx, m); err != nil {
			n.Logger.Error("notification not delivered", "pipeline", m.Pipeline, "event", string(m.Event), "error", err)
		}
	}
}

// Send posts m to every receiver subscribed to one of its events.
func (n *Notifier) Send(ctx context.Context, m Message) error {
	n.defaults()
	var errs []error
	for _, r := range n.Receivers {
		rm, ok := m.For(r.Events)
		if !ok {
			continue
		}
		var body []byte
		var err error
		switch r.Type {
		case "slack":
			body, err = json.Marshal(SlackPayload(rm))
		default:
			body, err = json.Marshal(rm)
		}
		if err == nil {
			err = n.post(ctx, r, body)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n.Logger.Info("notified", "receiver", r.Index, "type", r.Type, "host", host(r.URL), "event", string(rm.Event), "pipeline", m.Pipeline)
	}
	return errors.Join(errs...)
}

func host(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "?"
	}
	return p.Host
}

// post delivers one payload with bounded retries.
func (n *Notifier) post(ctx context.Context, r Receiver, body []byte) error {
	name := fmt.Sprintf("notify %s receiver notifications[%d] at %s", r.Type, r.Index, host(r.URL))
	b := retry.Backoff{Min: n.BaseDelay, Max: n.MaxDelay}
	for attempt := 1; ; attempt++ {
		retryAfter, again, err := n.once(ctx, r, body)
		if err == nil {
			return nil
		}
		if !again {
			return fmt.Errorf("%s: %w (not retried; check the receiver's URL and what it accepts)", name, err)
		}
		if attempt >= n.Attempts {
			return fmt.Errorf("%s: %w; gave up after %d attempts", name, err, attempt)
		}
		d := b.Delay(attempt-1, retryAfter)
		n.Logger.Warn("notification failed, retrying", "receiver", r.Index, "host", host(r.URL), "attempt", attempt, "delay", d, "error", err)
		if serr := n.Sleep(ctx, d); serr != nil {
			return fmt.Errorf("%s: %w (stopped retrying: %v)", name, err, serr)
		}
	}
}

// once sends one attempt; again says whether another may help.
func (n *Notifier) once(ctx context.Context, r Receiver, body []byte) (retryAfter time.Duration, again bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(body))
	if err != nil {
		return 0, false, errors.New("invalid URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "promoter")
	resp, err := n.HTTP.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is a secret
		}
		return 0, ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return 0, false, nil
	}
	e := fmt.Errorf("HTTP %s", resp.Status)
	if s := strings.TrimSpace(string(msg)); s != "" {
		e = fmt.Errorf("HTTP %s: %s", resp.Status, s)
	}
	retryAfter = retry.After(resp.Header.Get("Retry-After"), n.Now())
	return retryAfter, resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500, e
}
