package gitstore

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shortIndexLockWait makes commits give up on git's index lock quickly.
func shortIndexLockWait(t *testing.T, d time.Duration) {
	old := indexLockWait
	indexLockWait = d
	t.Cleanup(func() { indexLockWait = old })
}

// TestCommitWaitsForGitsIndexLock holds .git/index.lock as a git command
// would: a commit waits while it is held briefly and succeeds, and fails
// naming the file, without moving the branch, when it is held too long.
func TestCommitWaitsForGitsIndexLock(t *testing.T) {
	ctx := context.Background()
	r := openTest(t, Options{})
	v1, err := r.WriteTenant(ctx, "dev", []string{"TRANSFORM"}, crashEntries(1), CommitSpec{Message: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(r.Path(), ".git", "index.lock")

	t.Run("held briefly", func(t *testing.T) {
		shortIndexLockWait(t, 5*time.Second)
		if err := os.WriteFile(lock, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(300 * time.Millisecond)
			os.Remove(lock)
		}()
		start := time.Now()
		h, err := r.WriteTenant(ctx, "dev", []string{"TRANSFORM"}, crashEntries(2), CommitSpec{Message: "v2"})
		if err != nil || h.IsZero() {
			t.Fatalf("commit beside a git command that holds the index lock for 300ms: %v", err)
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Errorf("the commit took %s: it did not wait for the index lock", d)
		}
		clean(t, r.Path())
		fsck(t, r.Path())
	})
	t.Run("held too long", func(t *testing.T) {
		shortIndexLockWait(t, 200*time.Millisecond)
		if err := os.WriteFile(lock, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		head := mustHead(t, r)
		_, err := r.WriteTenant(ctx, "dev", []string{"TRANSFORM"}, crashEntries(3), CommitSpec{Message: "v3"})
		if err == nil || !strings.Contains(err.Error(), lock) {
			t.Fatalf("want an error naming %s, got %v", lock, err)
		}
		if got := mustHead(t, r); got != head {
			t.Errorf("the branch moved to %s although the index could not be locked", got)
		}
		if _, err := os.Stat(lock); err != nil {
			t.Errorf("promoter removed a git command's index lock: %v", err)
		}
		os.Remove(lock)
		clean(t, r.Path())
	})
	_ = v1
}

// TestGitCannotTouchTheIndexDuringACommit runs `git add` of a user's file
// while promoter writes the working tree: git must refuse (the index is
// locked) or the staged file must survive the commit, never be unstaged
// silently.
func TestGitCannotTouchTheIndexDuringACommit(t *testing.T) {
	ctx := context.Background()
	r := openTest(t, Options{})
	if _, err := r.WriteTenant(ctx, "dev", []string{"TRANSFORM"}, crashEntries(1), CommitSpec{Message: "v1"}); err != nil {
		t.Fatal(err)
	}
	user := filepath.Join(r.Path(), "notes.txt")
	if err := os.WriteFile(user, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var addOut string
	var addErr error
	r.step = func(s string) {
		if s == "worktree-progress" && addOut == "" && addErr == nil {
			addOut, addErr = gitTry(r.Path(), "add", "notes.txt")
			if addErr == nil {
				addOut = "ok"
			}
		}
	}
	if _, err := r.WriteTenant(ctx, "dev", []string{"TRANSFORM"}, crashEntries(2), CommitSpec{Message: "v2"}); err != nil {
		t.Fatal(err)
	}
	r.step = nil
	staged := gitCmd(t, r.Path(), "diff", "--cached", "--name-only")
	switch {
	case addErr != nil && strings.Contains(addOut, "index.lock"):
		// refused: the user sees it and runs git add again
	case addErr == nil && strings.Contains(staged, "notes.txt"):
	default:
		t.Fatalf("git add during the commit: err %v, output %q; staged afterwards: %q", addErr, addOut, staged)
	}
	if st := gitCmd(t, r.Path(), "status", "--porcelain"); strings.Contains(st, "tenants/") {
		t.Errorf("promoter's files are not committed cleanly:\n%s", st)
	}
}

// TestFailedWorktreeUpdateIsCompletedBeforeTheNextCommit makes the working
// tree update fail after the branch moved, in a process that goes on (the
// daemon): the next commit of the same Repo, or the next Lock, completes it
// first instead of replacing its journal.
func TestFailedWorktreeUpdateIsCompletedBeforeTheNextCommit(t *testing.T) {
	for _, next := range []string{"commit", "lock"} {
		t.Run(next, func(t *testing.T) {
			ctx := context.Background()
			r := openTest(t, Options{})
			if _, err := r.WriteTenant(ctx, "dev", []string{"TRANSFORM"}, crashEntries(1), CommitSpec{Message: "v1"}); err != nil {
				t.Fatal(err)
			}
			// a folder where the temporary file of one object goes makes
			// its write fail after the branch moved
			blocker := tempName(filepath.Join(r.Path(), "tenants", "dev", "TRANSFORM", "obj 7.json"))
			r.step = func(s string) {
				if s == "ref-moved" {
					os.MkdirAll(filepath.Join(blocker, "x"), 0o755)
				}
			}
			v2, err := r.WriteTenant(ctx, "dev", []string{"TRANSFORM"}, crashEntries(2), CommitSpec{Message: "v2"})
			r.step = nil
			if err == nil || v2.IsZero() {
				t.Fatalf("want the working tree update to fail after the branch moved, got %s, %v", v2, err)
			}
			os.RemoveAll(blocker)
			if _, err := os.Stat(r.journalPath()); err != nil {
				t.Fatalf("the failed update left no journal: %v", err)
			}
			switch next {
			case "commit":
				if _, err := r.Commit(ctx, CommitSpec{Message: "other", Changes: []Change{{Path: "tenants/prod/README", Content: []byte("x\n")}}}); err != nil {
					t.Fatal(err)
				}
			case "lock":
				unlock, err := r.Lock(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer unlock()
			}
			if _, err := os.Stat(r.journalPath()); err == nil {
				t.Errorf("the journal is still there")
			}
			clean(t, r.Path())
			fsck(t, r.Path())
		})
	}
}

// TestDiskFullAfterTheBranchMovedLeavesNoCutFile puts the repository on a
// small tmpfs and fills it right after the branch moved, when the objects
// fit but the working files do not: no working file is left cut or empty,
// and once space is freed the next Lock completes the update.
func TestDiskFullAfterTheBranchMovedLeavesNoCutFile(t *testing.T) {
	needGit(t)
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a size-limited tmpfs here (%v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	ctx := context.Background()
	r := openTest(t, Options{Path: filepath.Join(dir, "repo")})
	if _, err := r.WriteTenant(ctx, "dev", []string{"TRANSFORM"}, crashEntries(1), CommitSpec{Message: "v1"}); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(dir, "filler")
	r.step = func(s string) {
		if s != "ref-moved" {
			return
		}
		f, err := os.Create(filler)
		if err != nil {
			return
		}
		defer f.Close()
		chunk := make([]byte, 64<<10)
		for {
			if _, err := f.Write(chunk); err != nil {
				break
			}
		}
		for n := 1 << 10; n > 0; n /= 2 { // the last pages
			for {
				if _, err := f.Write(chunk[:n]); err != nil {
					break
				}
			}
		}
	}
	v2, err := r.WriteTenant(ctx, "dev", []string{"TRANSFORM"}, crashEntries(2), CommitSpec{Message: "v2"})
	r.step = nil
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("want the working tree update to fail with no space left, got %v", err)
	}
	files, err := r.ReadTenant(v2, "dev")
	if err != nil || len(files) == 0 {
		t.Fatalf("read v2 %s: %d files, %v", v2, len(files), err)
	}
	info, _ := r.CommitInfo(v2)
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(r.Path(), filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatal(err)
		}
		old, _, _ := r.ReadFile(info.Parents[0], f.Path)
		if string(data) != string(f.Data) && string(data) != string(old) {
			t.Fatalf("%s is neither the old nor the new version after a full disk: %q", f.Path, data)
		}
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	unlock, err := r.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	clean(t, r.Path())
	fsck(t, r.Path())
}

// TestCommitReadsAnIndexGitWroteSinceTheLastCommit checks the index kept
// from promoter's last commit: a file git staged in between (a new index
// file) stays staged through the next commit, and the commit's own paths are
// in the index as committed.
func TestCommitReadsAnIndexGitWroteSinceTheLastCommit(t *testing.T) {
	ctx := context.Background()
	r := openTest(t, Options{})
	if _, err := r.WriteTenant(ctx, "dev", []string{"TRANSFORM"}, crashEntries(1), CommitSpec{Message: "v1"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.Path(), "notes.txt"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("git", "-C", r.Path(), "add", "notes.txt").CombinedOutput(); err != nil {
		t.Fatalf("git add: %v %s", err, out)
	}
	if _, err := r.WriteTenant(ctx, "dev", []string{"TRANSFORM"}, crashEntries(2), CommitSpec{Message: "v2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.WriteTenant(ctx, "dev", []string{"TRANSFORM"}, crashEntries(3), CommitSpec{Message: "v3"}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", r.Path(), "status", "--porcelain").CombinedOutput()
	if err != nil {
		t.Fatalf("git status: %v %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "A  notes.txt" {
		t.Errorf("git status after two commits = %q, want only the staged notes.txt", got)
	}
}
