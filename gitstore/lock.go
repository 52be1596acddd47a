package gitstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// lockPoll is how often a waiting Lock retries.
const lockPoll = 50 * time.Millisecond

// Lock takes the exclusive promoter lock on the repository (flock on
// .git/promoter.lock, which records the holder). When another process (or
// Repo value) holds it, Lock waits until ctx is done and then fails naming
// the holder: pid, host, command and since when.
func (r *Repo) Lock(ctx context.Context) (func() error, error) {
	p := filepath.Join(r.gitDir, "promoter.lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock repository %s: %w", r.path, err)
	}
	t := time.NewTicker(lockPoll)
	defer t.Stop()
	for waited := false; ; waited = true {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock repository %s: %w", r.path, err)
		}
		if !waited && r.o.Logger != nil {
			holder, _ := io.ReadAll(io.NewSectionReader(f, 0, 4096))
			r.o.Logger.Warn("waiting for the repository lock", "path", r.path, "holder", strings.TrimSpace(string(holder)))
		}
		select {
		case <-ctx.Done():
			holder, _ := io.ReadAll(io.NewSectionReader(f, 0, 4096))
			f.Close()
			h := strings.TrimSpace(string(holder))
			if h == "" {
				h = "another process"
			}
			return nil, fmt.Errorf("lock repository %s: held by %s: wait for it to finish or stop it (%w)", r.path, h, ctx.Err())
		case <-t.C:
		}
	}
	host, _ := os.Hostname()
	info := fmt.Sprintf("pid %d on host %s, command %q, since %s\n", os.Getpid(), host, strings.Join(os.Args, " "), r.o.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(info), 0)
	}
	unlocked := false
	return func() error {
		if unlocked {
			return nil
		}
		unlocked = true
		f.Truncate(0)
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("unlock repository %s: %w", r.path, err)
		}
		return nil
	}, nil
}
