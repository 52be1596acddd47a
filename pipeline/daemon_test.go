package pipeline

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"promoter/gitstore"
)

func TestRunSlot(t *testing.T) {
	s := NewRunSlot()
	if err := s.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.TryAcquire() {
		t.Fatal("TryAcquire took a taken slot")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Acquire(ctx); !errors.Is(err, context.Canceled) || err.Error() != "wait for the repository: context canceled" {
		t.Errorf("Acquire with a cancelled context = %v", err)
	}
	s.Release()
	if !s.TryAcquire() {
		t.Fatal("TryAcquire did not take a free slot")
	}
	s.Release()
}

// failingHolds is a HoldReader whose reads fail.
type failingHolds struct{ HoldReader }

func (failingHolds) Refs(string) (map[string]gitstore.Hash, error) {
	return nil, errors.New("disk on fire")
}

func TestHoldWatch(t *testing.T) {
	ctx := context.Background()
	store := holdOpen(t, filepath.Join(t.TempDir(), "repo"), "")
	if err := SetHold(ctx, store, "dev-to-prod", "release freeze", "ann", holdT0); err != nil {
		t.Fatal(err)
	}
	var seen [][]Hold
	w := &HoldWatch{OnRefresh: func(hs []Hold) { seen = append(seen, hs) }}
	if hs := w.Holds(); hs != nil {
		t.Errorf("before a refresh: %v", hs)
	}
	w.Refresh(store)
	hs := w.Holds()
	if len(hs) != 1 || hs[0].Pipeline != "dev-to-prod" || hs[0].Reason != "release freeze" || len(seen) != 1 {
		t.Fatalf("holds %v, refreshes %v", hs, seen)
	}
	hs[0].Reason = "changed by the caller"
	if w.Holds()[0].Reason != "release freeze" {
		t.Error("Holds returned the watch's own slice, not a copy")
	}
	w.Refresh(failingHolds{store})
	if hs := w.Holds(); len(hs) != 1 || len(seen) != 1 {
		t.Errorf("a failed read replaced the holds (%v) or was reported (%d)", hs, len(seen))
	}
}

func TestHoldWatchSkipsWhileARunHoldsTheSlot(t *testing.T) {
	store := holdOpen(t, filepath.Join(t.TempDir(), "repo"), "")
	synctest.Test(t, func(t *testing.T) {
		n := 0
		w := &HoldWatch{OnRefresh: func([]Hold) { n++ }}
		slot := NewRunSlot()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { w.Watch(ctx, store, slot, time.Minute); close(done) }()
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		if n != 1 {
			t.Errorf("%d refreshes after a minute, want 1", n)
		}
		if err := slot.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if n != 1 {
			t.Errorf("%d refreshes with the slot taken, want still 1", n)
		}
		slot.Release()
		cancel()
		<-done
	})
}
