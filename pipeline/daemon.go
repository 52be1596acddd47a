package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// RunSlot lets one run at a time of a daemon use the Store the runs share:
// gitstore's repository is not meant for concurrent use. (Every run also
// takes the repository lock, which serialises with `promoter run` in other
// processes.) The zero RunSlot is not usable; call NewRunSlot.
type RunSlot struct{ ch chan struct{} }

// NewRunSlot returns a free slot.
func NewRunSlot() *RunSlot { return &RunSlot{ch: make(chan struct{}, 1)} }

// Acquire waits for the slot, or returns an error when ctx ends first.
func (s *RunSlot) Acquire(ctx context.Context) error {
	select {
	case s.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the repository: %w", ctx.Err())
	}
}

// TryAcquire takes the slot when it is free and reports whether it did.
func (s *RunSlot) TryAcquire() bool {
	select {
	case s.ch <- struct{}{}:
		return true
	default:
		return false
	}
}

// Release frees the slot taken by Acquire or TryAcquire.
func (s *RunSlot) Release() { <-s.ch }

// HoldWatch keeps the active holds read from the repository (after every run,
// at start and periodically), so that a status page never waits for a run
// to release the repository.
type HoldWatch struct {
	Logger *slog.Logger // warnings about holds that could not be read
	// OnRefresh, when set, is called with the holds after each successful
	// read, e.g. to export their count per pipeline.
	OnRefresh func([]Hold)

	mu    sync.Mutex
	holds []Hold
}

// Holds returns a copy of the holds read last.
func (w *HoldWatch) Holds() []Hold {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.holds)
}

// Refresh re-reads the holds. Call it with the repository to itself (the
// RunSlot held); on an error it logs and keeps the holds read before.
func (w *HoldWatch) Refresh(store HoldReader) {
	hs, err := Holds(store)
	if err != nil {
		if w.Logger != nil {
			w.Logger.Warn("read holds", "error", err)
		}
		return
	}
	if w.OnRefresh != nil {
		w.OnRefresh(hs)
	}
	w.mu.Lock()
	w.holds = hs
	w.mu.Unlock()
}

// Watch refreshes the holds every interval until ctx ends, so holds set by
// other processes or replicas show up; it skips a tick while a run holds the
// slot (the run refreshes them when it ends).
func (w *HoldWatch) Watch(ctx context.Context, store HoldReader, slot *RunSlot, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if slot.TryAcquire() {
				w.Refresh(store)
				slot.Release()
			}
		}
	}
}
