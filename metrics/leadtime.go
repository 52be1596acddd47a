package metrics

import (
	"sync"
	"time"

	"promoter/gitstore"
	"promoter/pipeline"
)

// CommitReader is what LeadTimes needs of the repository.
type CommitReader interface {
	Resolve(rev string) (gitstore.Hash, error)
	CommitInfo(h gitstore.Hash) (gitstore.CommitInfo, error)
}

// LeadTimes carries, per pipeline, when the change a run imported entered
// the repository (see LeadTimeCommit) from the end of the run, while the run
// still has the repository (Observe), to the scheduler's record of it (Take,
// whose time goes to Metrics.Run). Safe for concurrent use.
type LeadTimes struct {
	mu   sync.Mutex
	when map[string]time.Time
}

// Observe looks up the lead-time commit of a finished run of pipeline name
// (res and err as the run returned them) and keeps its time. It keeps nothing
// when the run imported nothing or the commit cannot be read.
func (l *LeadTimes) Observe(store CommitReader, name string, res *pipeline.Result, err error) {
	c := LeadTimeCommit(pipeline.RunRecord{Outcome: outcomeOf(res, err), Result: res, Plan: planOf(res)})
	if c == "" {
		return
	}
	h, rerr := store.Resolve(c)
	if rerr != nil {
		return
	}
	ci, cerr := store.CommitInfo(h)
	if cerr != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.when == nil {
		l.when = map[string]time.Time{}
	}
	l.when[name] = ci.When
}

// Take returns and forgets the time Observe kept for pipeline name, zero
// when there is none.
func (l *LeadTimes) Take(name string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.when[name]
	delete(l.when, name)
	return t
}

func outcomeOf(res *pipeline.Result, err error) pipeline.Outcome {
	if res != nil && res.Outcome == pipeline.OutcomePartial {
		return res.Outcome
	}
	if err != nil || res == nil {
		return pipeline.OutcomeFailed
	}
	return res.Outcome
}

func planOf(res *pipeline.Result) *pipeline.Plan {
	if res == nil {
		return nil
	}
	return res.Plan
}
