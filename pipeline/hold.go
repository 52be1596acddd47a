package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"promoter/gitstore"
)

// Holds pause automatic promotion of a pipeline (`promoter hold` /
// `promoter release`). A hold lives in the repository, so every replica and
// every clone sees it: the ref refs/promoter/hold/<pipeline> points to a
// commit whose tree holds one file, hold.json. Setting and releasing a hold
// each add a commit on top of the previous one (never delete the ref), so a
// release reaches other clones as an ordinary fast-forward and
// `git log -p refs/promoter/hold/<pipeline>` shows who held and released
// when and why. While a pipeline is held its gate blocks: export, snapshot
// and propose still run, nothing is imported.

// holdFile is the file in a hold commit's tree.
const holdFile = "hold.json"

// HoldRefPrefix is the prefix of the hold refs; the rest is the pipeline name.
const HoldRefPrefix = "refs/promoter/hold/"

func holdRef(pipeline string) string { return HoldRefPrefix + pipeline }

// Hold is an active hold on a pipeline: what Holds and HoldOf return, the
// gate's reason and, as JSON, an element of "holds" in the daemon's
// /api/pipelines (server); By is empty when the holder is unknown.
type Hold struct {
	Pipeline string    `json:"pipeline"`
	Reason   string    `json:"reason"`
	By       string    `json:"by,omitempty"`
	Since    time.Time `json:"since"`
}

// holdDoc is hold.json: the hold's state after its latest commit.
type holdDoc struct {
	Pipeline   string     `json:"pipeline"`
	Held       bool       `json:"held"`
	Reason     string     `json:"reason"`
	By         string     `json:"by"`
	Since      time.Time  `json:"since"`
	ReleasedBy string     `json:"releasedBy,omitempty"`
	ReleasedAt *time.Time `json:"releasedAt,omitempty"`
}

// HoldReader is what reading holds needs of the repository.
type HoldReader interface {
	Ref(name string) (gitstore.Hash, error)
	Refs(prefix string) (map[string]gitstore.Hash, error)
	ReadFile(rev gitstore.Hash, path string) ([]byte, bool, error)
}

// HoldStore is what setting and releasing holds needs of the repository.
type HoldStore interface {
	HoldReader
	Lock(ctx context.Context) (func() error, error)
	Sync(ctx context.Context) error
	Push(ctx context.Context, branches ...string) error
	CommitRef(ctx context.Context, ref, message string, changes []gitstore.Change) (gitstore.Hash, error)
}

// readHold returns the state of a pipeline's hold ref; ok is false when the
// pipeline was never held.
func readHold(store interface {
	Ref(string) (gitstore.Hash, error)
	ReadFile(gitstore.Hash, string) ([]byte, bool, error)
}, pipeline string) (doc holdDoc, ok bool, err error) {
	ref := holdRef(pipeline)
	h, err := store.Ref(ref)
	if err != nil || h.IsZero() {
		return doc, false, err
	}
	data, found, err := store.ReadFile(h, holdFile)
	if err != nil {
		return doc, false, fmt.Errorf("read hold %s: %w", ref, err)
	}
	if !found {
		return doc, false, fmt.Errorf("read hold %s: commit %s has no %s; set the hold again with promoter hold %s", ref, h.String()[:12], holdFile, pipeline)
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return doc, false, fmt.Errorf("read hold %s: %s of commit %s: %w", ref, holdFile, h.String()[:12], err)
	}
	return doc, true, nil
}

// Holds lists the active holds of every pipeline, sorted by pipeline. It
// reads the local repository; flows and SetHold sync it with the remote.
func Holds(store HoldReader) ([]Hold, error) {
	refs, err := store.Refs(HoldRefPrefix)
	if err != nil {
		return nil, err
	}
	var out []Hold
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		p := strings.TrimPrefix(name, HoldRefPrefix)
		doc, ok, err := readHold(store, p)
		if err != nil {
			return nil, err
		}
		if ok && doc.Held {
			out = append(out, Hold{Pipeline: p, Reason: doc.Reason, By: doc.By, Since: doc.Since})
		}
	}
	return out, nil
}

// HoldOf returns the active hold of one pipeline, or nil.
func HoldOf(store interface {
	Ref(string) (gitstore.Hash, error)
	ReadFile(gitstore.Hash, string) ([]byte, bool, error)
}, pipeline string) (*Hold, error) {
	doc, ok, err := readHold(store, pipeline)
	if err != nil || !ok || !doc.Held {
		return nil, err
	}
	return &Hold{Pipeline: pipeline, Reason: doc.Reason, By: doc.By, Since: doc.Since}, nil
}

// SetHold holds a pipeline (or replaces the reason of its hold): it takes
// the repository lock, syncs with the remote, commits the hold on
// refs/promoter/hold/<pipeline> and pushes it.
func SetHold(ctx context.Context, store HoldStore, pipeline, reason, by string, now time.Time) error {
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("hold %s: a reason is required (say why and for how long, e.g. --reason \"prod change freeze until Monday\")", pipeline)
	}
	doc := holdDoc{Pipeline: pipeline, Held: true, Reason: reason, By: by, Since: now.UTC().Truncate(time.Second)}
	msg := fmt.Sprintf("Hold %s: %s\n\nPromoter-Pipeline: %s\nPromoter-Hold-By: %s\n", pipeline, oneLine(reason), pipeline, oneLine(by))
	return writeHold(ctx, store, pipeline, "hold", msg, func(cur holdDoc, held bool) (holdDoc, bool) {
		if held && cur.Held && cur.Reason == reason && cur.By == by {
			return cur, false // the same hold again: keep its original time
		}
		return doc, true
	})
}

// ReleaseHold releases the hold of a pipeline. released is nil when the
// pipeline was not held (releasing is idempotent).
func ReleaseHold(ctx context.Context, store HoldStore, pipeline, by string, now time.Time) (released *Hold, err error) {
	msg := fmt.Sprintf("Release %s\n\nPromoter-Pipeline: %s\nPromoter-Released-By: %s\n", pipeline, pipeline, oneLine(by))
	err = writeHold(ctx, store, pipeline, "release", msg, func(cur holdDoc, held bool) (holdDoc, bool) {
		if !held || !cur.Held {
			return cur, false
		}
		released = &Hold{Pipeline: pipeline, Reason: cur.Reason, By: cur.By, Since: cur.Since}
		at := now.UTC().Truncate(time.Second)
		cur.Held, cur.ReleasedBy, cur.ReleasedAt = false, by, &at
		return cur, true
	})
	return released, err
}

// writeHold commits the hold document change decides on, under the lock and
// between a sync and a push, so the hold reaches the remote as a
// fast-forward of the remote's hold history.
func writeHold(ctx context.Context, store HoldStore, pipeline, op, msg string, change func(cur holdDoc, held bool) (holdDoc, bool)) error {
	unlock, err := store.Lock(ctx)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, pipeline, err)
	}
	defer unlock()
	if err := store.Sync(ctx); err != nil {
		return fmt.Errorf("%s %s: sync repository: %w", op, pipeline, err)
	}
	cur, held, err := readHold(store, pipeline)
	if err != nil {
		// A damaged hold blocks the gate; a hold replaces it, a release
		// releases it.
		cur, held = holdDoc{Pipeline: pipeline, Held: true, Reason: "unreadable hold: " + err.Error()}, true
	}
	doc, write := change(cur, held)
	if !write {
		return nil
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, pipeline, err)
	}
	data = append(data, '\n')
	if _, err := store.CommitRef(ctx, holdRef(pipeline), msg, []gitstore.Change{{Path: holdFile, Content: data}}); err != nil {
		return fmt.Errorf("%s %s: %w", op, pipeline, err)
	}
	if err := store.Push(ctx); err != nil {
		return fmt.Errorf("%s %s: recorded locally but not pushed, other replicas do not see it yet: run the command again: %w", op, pipeline, err)
	}
	return nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// GateReason is the gate's reason for a hold.
func (h Hold) GateReason() string {
	return fmt.Sprintf("pipeline %s is held by %s since %s: %s; run promoter release %s", h.Pipeline, h.By, h.Since.UTC().Format(time.RFC3339), h.Reason, h.Pipeline)
}

// holdReasons returns the gate's reason when this pipeline is held. A hold
// that cannot be read blocks too: a pause must never be skipped silently.
func (r *Runner) holdReasons() []string {
	h, err := HoldOf(r.Store, r.Pipeline.Name)
	if err != nil {
		return []string{fmt.Sprintf("hold of pipeline %s cannot be read (%v); fix or release it with promoter release %s", r.Pipeline.Name, err, r.Pipeline.Name)}
	}
	if h == nil {
		return nil
	}
	return []string{h.GateReason()}
}
