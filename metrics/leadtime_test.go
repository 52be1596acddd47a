package metrics

import (
	"errors"
	"testing"
	"time"

	"promoter/gitstore"
	"promoter/pipeline"
)

type commits map[string]time.Time

func (c commits) Resolve(rev string) (gitstore.Hash, error) {
	if _, ok := c[rev]; !ok {
		return gitstore.Hash{}, errors.New("unknown revision")
	}
	var h gitstore.Hash
	copy(h[:], rev)
	return h, nil
}

func (c commits) CommitInfo(h gitstore.Hash) (gitstore.CommitInfo, error) {
	for rev, when := range c {
		var k gitstore.Hash
		copy(k[:], rev)
		if k == h {
			return gitstore.CommitInfo{When: when}, nil
		}
	}
	return gitstore.CommitInfo{}, errors.New("no such commit")
}

func TestLeadTimes(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	store := commits{"snap": t0}
	imported := &pipeline.Result{Outcome: pipeline.OutcomeImported, SnapshotCommit: "snap"}
	var l LeadTimes
	if got := l.Take("p"); !got.IsZero() {
		t.Errorf("Take before Observe = %v", got)
	}
	l.Observe(store, "p", imported, nil)
	if got := l.Take("p"); !got.Equal(t0) {
		t.Errorf("Take = %v, want %v", got, t0)
	}
	if got := l.Take("p"); !got.IsZero() {
		t.Errorf("second Take = %v, want zero (taken)", got)
	}
	l.Observe(store, "p", imported, errors.New("failed after import"))
	if got := l.Take("p"); !got.IsZero() {
		t.Errorf("a failed run kept %v", got)
	}
	l.Observe(store, "p", &pipeline.Result{Outcome: pipeline.OutcomeImported, SnapshotCommit: "gone"}, nil)
	if got := l.Take("p"); !got.IsZero() {
		t.Errorf("an unreadable commit kept %v", got)
	}
}
