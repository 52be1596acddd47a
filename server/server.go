// Package server is the HTTP side of `promoter serve`: /healthz, /readyz,
// /metrics (a handler passed in), the read-only status page at /, the JSON
// status at /api/pipelines and the manual trigger
// POST /api/pipelines/{name}/run behind a bearer token. It does not schedule
// or run pipelines (pipeline.Scheduler does) and does not define metrics
// (package metrics does).
package server

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"promoter/pipeline"
)

// Scheduler is what the server needs of pipeline.Scheduler.
type Scheduler interface {
	Trigger(name, trigger string) error
	Status() []pipeline.PipelineStatus
}

// Options configure New.
type Options struct {
	// Metrics serves /metrics; nil answers 404.
	Metrics http.Handler
	// TriggerToken is the bearer token of the manual trigger; "" disables it
	// (403 explaining how to enable it).
	TriggerToken string
	// Holds returns the active holds; optional.
	Holds  func() []pipeline.Hold
	Logger *slog.Logger
	Now    func() time.Time
	// Version is shown on the status page.
	Version string
}

// Server serves the daemon's endpoints. It starts not ready; SetReady makes
// it ready once the configuration is loaded and the repository opened.
type Server struct {
	o   Options
	mux *http.ServeMux

	mu       sync.Mutex
	sched    Scheduler
	notReady string
}

// New returns a server that is not ready yet.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{o: o, mux: http.NewServeMux(), notReady: "starting"}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if o.Metrics != nil {
		s.mux.Handle("GET /metrics", o.Metrics)
	}
	s.mux.HandleFunc("GET /{$}", s.statusPage)
	s.mux.HandleFunc("GET /api/pipelines", s.apiStatus)
	s.mux.HandleFunc("POST /api/pipelines/{name}/run", s.trigger)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
}

// SetReady makes the server ready, serving sched.
func (s *Server) SetReady(sched Scheduler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sched, s.notReady = sched, ""
}

// SetNotReady makes /readyz fail with reason (e.g. "shutting down"); the
// status page keeps working.
func (s *Server) SetNotReady(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notReady = reason
}

func (s *Server) state() (Scheduler, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sched, s.notReady
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if _, reason := s.state(); reason != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %s\n", reason)
		return
	}
	fmt.Fprintln(w, "ready")
}

type apiMessage struct {
	Pipeline string `json:"pipeline,omitempty"`
	Status   string `json:"status,omitempty"`
	Error    string `json:"error,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// trigger is POST /api/pipelines/{name}/run.
func (s *Server) trigger(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if s.o.TriggerToken == "" {
		writeJSON(w, http.StatusForbidden, apiMessage{Pipeline: name, Error: "the manual trigger is disabled: set serve.triggerTokenEnv (or serve.triggerTokenFile) in the configuration to name an environment variable (or file) holding a token, restart promoter serve, and send it as \"Authorization: Bearer <token>\""})
		return
	}
	auth := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.o.TriggerToken)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="promoter"`)
		msg := "missing bearer token: send \"Authorization: Bearer <token>\" with the token of serve.triggerTokenEnv"
		if auth != "" {
			msg = "wrong bearer token"
		}
		s.o.Logger.Warn("manual trigger refused", "pipeline", name, "remote", r.RemoteAddr, "reason", msg)
		writeJSON(w, http.StatusUnauthorized, apiMessage{Pipeline: name, Error: msg})
		return
	}
	sched, reason := s.state()
	if sched == nil {
		writeJSON(w, http.StatusServiceUnavailable, apiMessage{Pipeline: name, Error: "not ready: " + reason})
		return
	}
	err := sched.Trigger(name, pipeline.TriggerManual)
	switch {
	case err == nil:
		s.o.Logger.Info("manual trigger accepted", "pipeline", name, "remote", r.RemoteAddr)
		writeJSON(w, http.StatusAccepted, apiMessage{Pipeline: name, Status: "started"})
	case errors.Is(err, pipeline.ErrUnknownPipeline):
		writeJSON(w, http.StatusNotFound, apiMessage{Pipeline: name, Error: err.Error()})
	case errors.Is(err, pipeline.ErrRunning):
		writeJSON(w, http.StatusConflict, apiMessage{Pipeline: name, Error: err.Error()})
	case errors.Is(err, pipeline.ErrStopping):
		writeJSON(w, http.StatusServiceUnavailable, apiMessage{Pipeline: name, Error: err.Error()})
	default:
		writeJSON(w, http.StatusInternalServerError, apiMessage{Pipeline: name, Error: err.Error()})
	}
}

// apiRun is one run in GET /api/pipelines.
type apiRun struct {
	ID       int64     `json:"id"`
	Trigger  string    `json:"trigger"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	Outcome  string    `json:"outcome,omitempty"`
	// Report is the outcome as people read it, e.g. "imported (resumed)".
	Report string `json:"report,omitempty"`
	// ResumedJob is the import job a previous run started that this run
	// verified and recorded.
	ResumedJob string                `json:"resumedJob,omitempty"`
	Error      string                `json:"error,omitempty"`
	Blocked    []string              `json:"blockedReasons,omitempty"`
	Steps      []pipeline.StepResult `json:"steps,omitempty"`
}

type apiPipeline struct {
	Name       string          `json:"name"`
	Source     string          `json:"source"`
	Target     string          `json:"target"`
	Mode       string          `json:"mode"`
	Schedule   string          `json:"schedule,omitempty"`
	Next       time.Time       `json:"nextRun,omitzero"`
	Running    *apiRun         `json:"running,omitempty"`
	DenyWindow string          `json:"denyWindow,omitempty"`
	Holds      []pipeline.Hold `json:"holds,omitempty"`
	Runs       []apiRun        `json:"runs"`
}

func toAPIRun(r pipeline.RunRecord) apiRun {
	a := apiRun{ID: r.ID, Trigger: r.Trigger, Started: r.Started, Finished: r.Finished, Outcome: string(r.Outcome),
		Report: string(r.Outcome), Error: r.Error, Blocked: r.Blocked, Steps: r.Steps}
	if res := r.Result; res != nil && res.Resumed != nil {
		a.ResumedJob = res.Resumed.ImportJob
		if res.Outcome == r.Outcome {
			a.Report = res.Report()
		}
	}
	return a
}

// apiStatus is GET /api/pipelines: the status page as JSON.
func (s *Server) apiStatus(w http.ResponseWriter, _ *http.Request) {
	sched, reason := s.state()
	if sched == nil {
		writeJSON(w, http.StatusServiceUnavailable, apiMessage{Error: "not ready: " + reason})
		return
	}
	holds := s.holds()
	out := []apiPipeline{}
	for _, p := range sched.Status() {
		ap := apiPipeline{Name: p.Name, Source: p.Source, Target: p.Target, Mode: p.Mode, Schedule: p.Schedule,
			Next: p.Next, DenyWindow: p.DenyWindow, Holds: holds[p.Name], Runs: []apiRun{}}
		if p.Running != nil {
			r := toAPIRun(*p.Running)
			ap.Running = &r
		}
		for _, r := range p.Runs {
			ap.Runs = append(ap.Runs, toAPIRun(r))
		}
		out = append(out, ap)
	}
	writeJSON(w, http.StatusOK, map[string]any{"pipelines": out})
}

func (s *Server) holds() map[string][]pipeline.Hold {
	out := map[string][]pipeline.Hold{}
	if s.o.Holds == nil {
		return out
	}
	for _, h := range s.o.Holds() {
		out[h.Pipeline] = append(out[h.Pipeline], h)
	}
	return out
}
