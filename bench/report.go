package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

func mb(kb int64) string { return fmt.Sprintf("%.0f MB", float64(kb)/1024) }

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(a)/float64(b))
}

func printTables(rs []*sizeResult) {
	w := os.Stdout
	fmt.Fprintln(w, "1-3. promoter beside the floor client (bench/floor.go: token, start the job, poll every 50 ms, download, decode;")
	fmt.Fprintln(w, "     imports: multipart POST, poll, download the results), best of 2, measured in this process run next to each step")
	fmt.Fprintln(w, "| work | objects (doc) | promoter | floor (+ git where an alternative needs it) | ratio |")
	fmt.Fprintln(w, "|---|---:|---:|---|---:|")
	for _, r := range rs {
		doc := fmt.Sprintf("%d (%s)", r.n, mb(int64(r.docBytes)/1024))
		alt := r.fInitial + r.gWriteInitial + r.gInitial.wall
		fmt.Fprintf(w, "| initial snapshot | %s | %s | floor %s + writing the files %s + `git add -A && git commit` %s = %s | %s |\n", doc, ms(r.initial.wall),
			ms(r.fInitial), ms(r.gWriteInitial), ms(r.gInitial.wall), ms(alt), ratio(r.initial.wall, alt))
		alt = r.fChange + r.gWriteChange + r.gChange.wall
		fmt.Fprintf(w, "| re-export, 1%% changed | %s | %s | floor %s + writing %d files %s + git add+commit %s = %s | %s |\n", doc, ms(r.change.wall),
			ms(r.fChange), len(changedIndexes(r.n)), ms(r.gWriteChange), ms(r.gChange.wall), ms(alt), ratio(r.change.wall, alt))
		fmt.Fprintf(w, "| re-export, nothing changed | %s | %s | floor %s | %s |\n", doc, ms(r.no.wall), ms(r.fNo), ratio(r.no.wall, r.fNo))
		fmt.Fprintf(w, "| `promoter run`, 1%% changed and imported | %s | %s | 3 exports + preview + import %s | %s |\n", doc, ms(r.run.wall), ms(r.fRun), ratio(r.run.wall, r.fRun))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "details (CPU = user+sys of the promoter process; RSS = its peak, VmHWM)")
	fmt.Fprintln(w, "| objects | doc | initial: CPU, RSS | 1%: CPU, RSS | none: CPU, RSS, commit, files written | same tree | first run (baseline): wall, RSS | run: CPU, RSS, RSS/doc | fake tenants CPU during the run | requests | 429s |")
	fmt.Fprintln(w, "|---:|---:|---|---|---|---|---|---|---:|---|---:|")
	for _, r := range rs {
		doc := int64(r.docBytes) / 1024
		commit := "no commit"
		if !r.noCommit {
			commit = "MADE A COMMIT"
		}
		var ops []string
		total := 0
		for k, v := range r.runRequests {
			ops = append(ops, fmt.Sprintf("%s %d", k, v))
			total += v
		}
		sort.Strings(ops)
		fmt.Fprintf(w, "| %d | %s | %s, %s | %s, %s | %s, %s, %s, %d | %v | %s, %s | %s, %s, %.2f | %s | %d: %s | %d |\n", r.n, mb(doc),
			ms(r.initial.cpu), mb(r.initial.rssKB), ms(r.change.cpu), mb(r.change.rssKB), ms(r.no.cpu), mb(r.no.rssKB), commit, r.filesWritten,
			r.sameTree[0] && r.sameTree[1], ms(r.setup.wall), mb(r.setup.rssKB), ms(r.run.cpu), mb(r.run.rssKB), float64(r.run.rssKB)/float64(doc),
			ms(r.runServerCPU), total, strings.Join(ops, ", "), r.run429)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "steps of the measured `promoter run` (from its log)")
	for _, r := range rs {
		var parts []string
		for _, s := range r.steps {
			parts = append(parts, s.name+" "+ms(s.d))
		}
		fmt.Fprintf(w, "- %d objects (%d imported, %d preview and %d import jobs): %s\n", r.n, r.imported, r.imports[0], r.imports[1], strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
}

// ---- 4. API efficiency in simulated time ----

// vclock is a simulated clock: Sleep advances it at once.
type vclock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *vclock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *vclock) Sleep(ctx context.Context, d time.Duration) error {
	if d > 0 {
		c.mu.Lock()
		c.t = c.t.Add(d)
		c.mu.Unlock()
	}
	return ctx.Err()
}

// countingTransport serves requests in process with the fake tenant's
// handler and records each request's simulated time.
type countingTransport struct {
	h     http.Handler
	clock *vclock
	mu    sync.Mutex
	reqs  []simReq
}

type simReq struct {
	op   string
	at   time.Time
	code int
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	if r.Body != nil {
		r.Body.Close()
	}
	t.mu.Lock()
	t.reqs = append(t.reqs, simReq{op: opOf(r.Method, r.URL.Path), at: t.clock.Now(), code: rec.Code})
	t.mu.Unlock()
	return rec.Result(), nil
}

func (t *countingTransport) take() []simReq {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.reqs
	t.reqs = nil
	return r
}

type simEnv struct {
	clock *vclock
	tr    *countingTransport
	c     *spconfig.Client
	doc   []byte
}

func newSim(delay time.Duration) (*simEnv, error) {
	clock := &vclock{t: time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC)}
	s := synth{n: 200, tenant: "dev"}
	t, err := spconfigtest.New(spconfigtest.Options{Seed: s.document(), Identities: s.identities(), JobDelay: delay, Now: clock.Now})
	if err != nil {
		return nil, err
	}
	tr := &countingTransport{h: t, clock: clock}
	c, err := spconfig.New(spconfig.Config{
		BaseURL: "http://127.0.0.1:1", ClientID: "promoter", ClientSecret: "promoter-secret",
		HTTPClient: &http.Client{Transport: tr}, Now: clock.Now, Sleep: clock.Sleep,
	})
	if err != nil {
		return nil, err
	}
	e, err := spconfig.NewEntry([]byte(s.entry(50, 1)))
	if err != nil {
		return nil, err
	}
	doc := (&spconfig.ExportDocument{ExportHeader: spconfig.ExportHeader{Version: 1}, Objects: []spconfig.Entry{e}}).Bytes()
	return &simEnv{clock: clock, tr: tr, c: c, doc: doc}, nil
}

// jobStats summarises the requests of one job.
type jobStats struct {
	requests, polls int
	minGap          time.Duration // between consecutive status polls
	seenAfter       time.Duration // from start to the poll that saw the job done
	maxPerSecond    int           // most requests in any 1 s window
	n429            int
}

func stats(reqs []simReq, start time.Time) jobStats {
	var s jobStats
	var last time.Time
	s.minGap = time.Duration(1 << 62)
	for i, r := range reqs {
		s.requests++
		if r.code == http.StatusTooManyRequests {
			s.n429++
		}
		if r.op == "status" {
			s.polls++
			if !last.IsZero() {
				s.minGap = min(s.minGap, r.at.Sub(last))
			}
			last = r.at
			s.seenAfter = r.at.Sub(start)
		}
		n := 0
		for _, o := range reqs[i:] {
			if o.at.Sub(r.at) < time.Second {
				n++
			}
		}
		s.maxPerSecond = max(s.maxPerSecond, n)
	}
	return s
}

func apiEfficiency(w io.Writer) error {
	ctx := context.Background()
	fmt.Fprintln(w, "4. API efficiency in simulated time (client defaults: polls start at 1 s and grow; 95 requests per 10 s)")
	fmt.Fprintln(w, "| job delay | polls per export job | requests per export | done seen after | min gap between polls | most requests in 1 s | requests per run (3 exports, preview, import) | 429s |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, delay := range []time.Duration{5 * time.Second, 60 * time.Second, 600 * time.Second, 1800 * time.Second} {
		env, err := newSim(delay)
		if err != nil {
			return err
		}
		o := spconfig.WaitOptions{Timeout: 2 * time.Hour}
		start := env.clock.Now()
		if _, _, err := env.c.Export(ctx, spconfig.ExportPayload{}, o, func(int, spconfig.Entry) error { return nil }); err != nil {
			return fmt.Errorf("simulated export with delay %s: %w", delay, err)
		}
		one := stats(env.tr.take(), start)
		// the rest of a run: plan export, preview, import, verify export
		if _, _, err := env.c.Export(ctx, spconfig.ExportPayload{}, o, func(int, spconfig.Entry) error { return nil }); err != nil {
			return err
		}
		if _, _, err := env.c.Import(ctx, env.doc, nil, true, o, nil); err != nil {
			return fmt.Errorf("simulated preview with delay %s: %w", delay, err)
		}
		if _, _, err := env.c.Import(ctx, env.doc, nil, false, o, nil); err != nil {
			return fmt.Errorf("simulated import with delay %s: %w", delay, err)
		}
		if _, _, err := env.c.Export(ctx, spconfig.ExportPayload{}, o, func(int, spconfig.Entry) error { return nil }); err != nil {
			return err
		}
		rest := stats(env.tr.take(), start)
		fmt.Fprintf(w, "| %s | %d | %d | %s (+%.0f%%) | %s | %d | %d | %d |\n", delay, one.polls, one.requests, one.seenAfter.Round(100*time.Millisecond),
			100*(one.seenAfter.Seconds()-delay.Seconds())/delay.Seconds(), one.minGap, one.maxPerSecond, one.requests+rest.requests, one.n429+rest.n429)
	}
	// a burst at the documented limit: one client, 400 status requests back to back
	env, err := newSim(time.Hour)
	if err != nil {
		return err
	}
	start := env.clock.Now()
	job, err := env.c.StartExport(ctx, spconfig.ExportPayload{})
	if err != nil {
		return err
	}
	for range 400 {
		if _, err := env.c.ExportStatus(ctx, job.JobID); err != nil {
			return fmt.Errorf("burst: %w", err)
		}
	}
	reqs := env.tr.take()
	n429, worst := 0, 0
	for i, r := range reqs {
		if r.code == http.StatusTooManyRequests {
			n429++
		}
		n := 0
		for _, o := range reqs[i:] {
			if o.at.Sub(r.at) < 10*time.Second {
				n++
			}
		}
		worst = max(worst, n)
	}
	fmt.Fprintf(w, "\nburst of %d requests from one client against the tenant's limit of 100 per 10 s: %d 429s, at most %d requests in any 10 s, %s simulated\n\n",
		len(reqs), n429, worst, env.clock.Now().Sub(start).Round(time.Second))
	return nil
}
