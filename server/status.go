package server

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"
	"time"

	"promoter/pipeline"
)

// statusView is what the status page template renders.
type statusView struct {
	Now       time.Time
	NotReady  string
	Version   string
	Pipelines []pipelineView
}

type pipelineView struct {
	pipeline.PipelineStatus
	Holds    []pipeline.Hold
	Blocked  []string     // reasons of the last blocked run, when the last run was blocked
	LastPlan *planView    // plan of the newest run that has one
	Last     *runViewItem // newest run
	History  []runViewItem
}

type runViewItem struct {
	pipeline.RunRecord
	Duration string
}

type planView struct {
	RunID   int64
	Started time.Time
	HTML    template.HTML
}

func (s *Server) statusPage(w http.ResponseWriter, _ *http.Request) {
	sched, reason := s.state()
	v := statusView{Now: s.o.Now(), NotReady: reason, Version: s.o.Version}
	if sched != nil {
		holds := s.holds()
		for _, p := range sched.Status() {
			pv := pipelineView{PipelineStatus: p, Holds: holds[p.Name]}
			for i, r := range p.Runs {
				item := runViewItem{RunRecord: r, Duration: r.Duration().Round(time.Millisecond).String()}
				pv.History = append(pv.History, item)
				if i == 0 {
					pv.Last = &pv.History[0]
					if r.Outcome == pipeline.OutcomeBlocked {
						pv.Blocked = r.Blocked
					}
				}
				if pv.LastPlan == nil && r.Plan != nil {
					var md bytes.Buffer
					if err := pipeline.RenderPlan(&md, r.Plan, pipeline.FormatMarkdown, false); err == nil {
						pv.LastPlan = &planView{RunID: r.ID, Started: r.Started, HTML: markdownHTML(md.String())}
					}
				}
			}
			v.Pipelines = append(v.Pipelines, pv)
		}
	}
	var buf bytes.Buffer
	if err := statusTmpl.Execute(&buf, v); err != nil {
		s.o.Logger.Error("render status page", "error", err)
		http.Error(w, "render status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(buf.Bytes())
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Format("2006-01-02 15:04:05 MST")
}

func outcomeClass(o pipeline.Outcome) string {
	switch o {
	case pipeline.OutcomeImported, pipeline.OutcomeNothing, pipeline.OutcomeClean, pipeline.OutcomeExported:
		return "ok"
	case pipeline.OutcomeBlocked:
		return "blocked"
	case pipeline.OutcomeFailed:
		return "failed"
	}
	return "other"
}

var statusTmpl = template.Must(template.New("status").Funcs(template.FuncMap{
	"time":    fmtTime,
	"outcome": outcomeClass,
	"dur":     func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"first":   func(s string) string { l, _, _ := strings.Cut(s, "\n"); return l },
}).Parse(statusHTML))

const statusHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="30">
<title>promoter status</title>
<style>
body { font-family: system-ui, sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
header { background: #24292f; color: #fff; padding: 12px 24px; }
header h1 { margin: 0; font-size: 20px; }
header .meta { font-size: 13px; color: #c9d1d9; }
main { padding: 16px 24px; }
section.pipeline { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 12px 16px; margin-bottom: 16px; }
h2 { margin: 0 0 8px; font-size: 18px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
.ok { color: #1a7f37; font-weight: 600; }
.blocked { color: #9a6700; font-weight: 600; }
.failed { color: #cf222e; font-weight: 600; }
.other { color: #0969da; font-weight: 600; }
.banner { background: #fff8c5; border: 1px solid #d4a72c; padding: 8px 12px; border-radius: 6px; margin: 8px 0; }
.plan { border-top: 1px solid #d0d7de; margin-top: 12px; padding-top: 8px; }
.plan pre { background: #f6f8fa; padding: 8px; overflow-x: auto; font-size: 12px; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; margin: 0 0 8px; font-size: 14px; }
dt { color: #57606a; }
dd { margin: 0; }
</style>
</head>
<body>
<header>
<h1>promoter</h1>
<div class="meta">status at {{time .Now}}{{if .Version}} · version {{.Version}}{{end}}{{if .NotReady}} · not ready: {{.NotReady}}{{end}}</div>
</header>
<main>
{{if not .Pipelines}}<p>No pipelines yet{{if .NotReady}} ({{.NotReady}}){{end}}.</p>{{end}}
{{range .Pipelines}}
<section class="pipeline" id="pipeline-{{.Name}}">
<h2>{{.Name}}</h2>
<dl>
<dt>Promotes</dt><dd>{{.Source}} → {{.Target}} ({{.Mode}} mode)</dd>
<dt>Schedule</dt><dd>{{if .Schedule}}<code>{{.Schedule}}</code>{{else}}manual only{{end}}</dd>
<dt>Next run</dt><dd>{{time .Next}}</dd>
<dt>Now</dt><dd>{{if .Running}}<span class="other">running</span> since {{time .Running.Started}} ({{.Running.Trigger}}){{else}}idle{{end}}</dd>
{{if .Last}}<dt>Last run</dt><dd><span class="{{outcome .Last.Outcome}}">{{.Last.Outcome}}</span> at {{time .Last.Started}} in {{.Last.Duration}}</dd>{{end}}
</dl>
{{if .DenyWindow}}<div class="banner">Deny window open (<code>{{.DenyWindow}}</code>) until {{time .DenyUntil}}: no import happens before then.</div>{{end}}
{{range .Holds}}<div class="banner">On hold since {{time .Since}}{{if .By}} by {{.By}}{{end}}: {{.Reason}}</div>{{end}}
{{if .Blocked}}<div class="banner"><strong>Blocked:</strong><ul>{{range .Blocked}}<li>{{.}}</li>{{end}}</ul></div>{{end}}
{{with .Last}}{{if eq (outcome .Outcome) "failed"}}<div class="banner"><strong>Failed:</strong> {{.Error}}</div>{{end}}{{end}}
{{if .History}}
<h3>Recent runs</h3>
<table>
<thead><tr><th>#</th><th>started</th><th>trigger</th><th>outcome</th><th>duration</th><th>steps</th></tr></thead>
<tbody>
{{range .History}}<tr>
<td>{{.ID}}</td><td>{{time .Started}}</td><td>{{.Trigger}}</td><td class="{{outcome .Outcome}}">{{.Outcome}}</td><td>{{.Duration}}</td>
<td>{{if .Steps}}<table><tbody>{{range .Steps}}<tr><td>{{.Name}}</td><td>{{.Outcome}}</td><td>{{dur .Duration}}</td><td>{{first .Detail}}</td></tr>{{end}}</tbody></table>{{end}}{{if eq (outcome .Outcome) "blocked"}}<ul class="blocked">{{range .Blocked}}<li>{{.}}</li>{{end}}</ul>{{else if .Error}}<div class="failed">{{first .Error}}</div>{{end}}</td>
</tr>{{end}}
</tbody>
</table>
{{else}}<p>No runs yet.</p>{{end}}
{{with .LastPlan}}
<div class="plan">
<h3>Last plan (run {{.RunID}}, {{time .Started}})</h3>
{{.HTML}}
</div>
{{end}}
</section>
{{end}}
</main>
</body>
</html>
`
