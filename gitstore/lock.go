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
// the holder: pid, host, command and since when. Holding it, Lock first
// completes what an interrupted promoter left (see recover), so every run,
// of the CLI or the daemon, starts from a finished working tree update.
func (r *Repo) Lock(ctx context.Context) (func() error, error) {
	f, err := r.openLockFile()
	if err != nil {
		return nil, err
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
	r.locked.Store(true)
	unlocked := false
	unlock := func() error {
		if unlocked {
			return nil
		}
		unlocked = true
		r.locked.Store(false)
		r.dropCaches()
		f.Truncate(0)
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("unlock repository %s: %w", r.path, err)
		}
		return nil
	}
	r.mu.Lock()
	err = r.recover()
	r.mu.Unlock()
	if err != nil {
		unlock()
		return nil, fmt.Errorf("lock repository %s: %w", r.path, err)
	}
	return unlock, nil
}

func (r *Repo) openLockFile() (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(r.gitDir, "promoter.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock repository %s: %w", r.path, err)
	}
	return f, nil
}

// recoverIfFree runs recover when something is left to recover and no
// other process holds the promoter lock (Open; a holder recovers itself when
// it takes the lock and is the only one that may touch its own files).
func (r *Repo) recoverIfFree() error {
	if !r.interrupted() {
		return nil
	}
	if r.locked.Load() {
		return r.recover()
	}
	f, err := r.openLockFile()
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			r.log.Debug("an interrupted update is left; the process holding the repository lock completes it", "path", r.path)
			return nil
		}
		return fmt.Errorf("lock repository %s: %w", r.path, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return r.recover()
}
