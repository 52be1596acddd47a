package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"promoter/spconfig"
)

// stringsIn returns every string value of a decoded JSON document with the
// path that leads to it (what a receiver renders).
func stringsIn(v any, path string, out map[string]string) {
	switch x := v.(type) {
	case string:
		out[path] = x
	case []any:
		for i, e := range x {
			stringsIn(e, fmt.Sprintf("%s[%d]", path, i), out)
		}
	case map[string]any:
		for k, e := range x {
			stringsIn(e, path+"."+k, out)
		}
	}
}

// TestNotificationsEscapeControlCharactersInNames promotes two objects whose
// names hold ESC, BEL, a newline, a tab, DEL and a bidirectional override,
// makes a real import refuse the first (a failed import whose error names
// it), then changes both in prod outside git (blocked: the first is a
// conflict, the second drift), and reads
// every notification a generic webhook and a Slack-compatible receiver on
// 127.0.0.1 got: none may carry the raw characters in any text a chat tool
// shows (title, reasons, objects, drift, error, blocks), and the name must
// be there, escaped.
func TestNotificationsEscapeControlCharactersInNames(t *testing.T) {
	t.Parallel()
	const evil = "Evil\x1b[31m red\x07\nFAKE LINE\tend\x7f\u202e"
	const escaped = `Evil\x1b[31m red\x07\nFAKE LINE\tend\x7f\u202e`
	hook, slack := newWebhookSink(t), newWebhookSink(t)
	w := newWorld(t, worldOptions{})
	cfg := fmt.Sprintf("notifications:\n  - type: webhook\n    url: %s/hook\n  - type: slack\n    url: %s/slack\n", hook.URL, slack.URL)
	appendFile(t, w.cfg, cfg)
	put := func(srv interface{ PutObject(spconfig.Entry) error }, name, value string) {
		t.Helper()
		e, err := spconfig.NewEntry(hostileEntry(t, "TRANSFORM", name, `{"input":{"type":"static","attributes":{"value":"`+value+`"}}}`))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.PutObject(e); err != nil {
			t.Fatal(err)
		}
	}

	put(w.dev, evil, "one")
	put(w.dev, evil+" 2", "one")
	if r := w.exec(nil, "run", "--config", w.cfg); r.code != exitOK {
		t.Fatalf("first run: %s", r)
	}
	put(w.dev, evil, "two")
	if err := w.prod.SetFaults("reject-object=TRANSFORM:" + evil); err != nil {
		t.Fatal(err)
	}
	if r := w.exec(nil, "run", "--config", w.cfg); r.code != exitRuntime {
		t.Fatalf("run with the object refused: want exit %d, got %s", exitRuntime, r)
	}
	w.prod.SetFaults("")
	put(w.prod, evil, "changed in prod")
	put(w.prod, evil+" 2", "changed in prod")
	if r := w.exec(nil, "run", "--config", w.cfg); r.code != exitBlocked {
		t.Fatalf("run over drift: want exit %d, got %s", exitBlocked, r)
	}

	for name, sink := range map[string]*webhookSink{"webhook": hook, "slack": slack} {
		sink.mu.Lock()
		msgs := append([]map[string]any(nil), sink.msgs...)
		sink.mu.Unlock()
		if len(msgs) != 3 {
			t.Errorf("%s receiver got %d messages, want 3 (promoted, failed, blocked)", name, len(msgs))
		}
		named, drift := 0, false
		for i, m := range msgs {
			texts := map[string]string{}
			stringsIn(m, fmt.Sprintf("%s[%d]", name, i), texts)
			mentions := false
			for path, s := range texts {
				if strings.Contains(s, escaped) {
					mentions = true
					drift = drift || strings.Contains(path, ".drift[") || strings.Contains(s, "outside git*\n• TRANSFORM "+escaped+" 2")
				}
				for _, b := range []string{"\x1b", "\x07", "\x7f", "\u202e", "\nFAKE LINE", "\tend"} {
					if i := strings.Index(s, b); i >= 0 {
						t.Errorf("%s carries %q raw: ...%q...", path, b, s[max(0, i-60):min(len(s), i+30)])
					}
				}
			}
			if mentions {
				named++
			}
		}
		if !drift {
			t.Errorf("%s receiver: no drift list names the second object: the test proves too little\n%v", name, msgs)
		}
		if named != len(msgs) {
			t.Errorf("%s receiver: only %d of %d messages name the object escaped: the test proves too little\n%v", name, named, len(msgs), msgs)
		}
	}
}

// appendFile appends text to the file at p.
func appendFile(t *testing.T, p, text string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
