package gitstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"promoter/spconfig"
)

// The crash-safety test re-executes the test binary as a writer that kills
// itself with SIGKILL at a named step (env crashStepEnv).
const (
	crashStepEnv = "GITSTORE_CRASH_STEP"
	crashRepoEnv = "GITSTORE_CRASH_REPO"
)

func TestMain(m *testing.M) {
	if step := os.Getenv(crashStepEnv); step != "" {
		os.Exit(crashChild(step, os.Getenv(crashRepoEnv)))
	}
	os.Exit(m.Run())
}

// crashEntries are the objects the crashing writer commits: enough for a
// packfile.
func crashEntries(version int) []spconfig.Entry {
	var es []spconfig.Entry
	for i := 0; i < 3*packThreshold; i++ {
		raw := fmt.Sprintf(`{"version":1,"self":{"name":"obj %d","id":"%d","type":"TRANSFORM"},"object":{"name":"obj %d","v":%d}}`, i, i, i, version)
		e, err := spconfig.NewEntry([]byte(raw))
		if err != nil {
			panic(err)
		}
		es = append(es, e)
	}
	return es
}

func crashChild(step, path string) int {
	r, err := Open(context.Background(), Options{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	r.step = func(s string) {
		if s == step {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
	if _, err := r.WriteTenant(context.Background(), "dev", []string{"TRANSFORM"}, crashEntries(2), CommitSpec{Message: "v2"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

func TestCrashSafety(t *testing.T) {
	needGit(t)
	steps := []string{"pack-encoded", "index-locked", "objects-written", "journal-written", "ref-locked:refs/heads/main", "ref-moved", "worktree-progress", "worktree-file", "worktree-written"}
	for _, step := range steps {
		t.Run(strings.ReplaceAll(step, "/", "_"), func(t *testing.T) {
			ctx := context.Background()
			r := openTest(t, Options{})
			v1, err := r.WriteTenant(ctx, "dev", []string{"TRANSFORM"}, crashEntries(1), CommitSpec{Message: "v1"})
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), crashStepEnv+"="+step, crashRepoEnv+"="+r.Path())
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("writer was not killed at %s: %v\n%s", step, err, out)
			}
			fsck(t, r.Path())
			// the next run recovers and is consistent; git's index lock,
			// which the writer held from its check to its end, is gone
			r2, err := Open(ctx, Options{Path: r.Path()})
			if err != nil {
				t.Fatal(err)
			}
			head := mustHead(t, r2)
			if head != v1 {
				if info, _ := r2.CommitInfo(head); !strings.HasPrefix(info.Message, "v2") || len(info.Parents) != 1 || info.Parents[0] != v1 {
					t.Fatalf("after the crash HEAD is %s %q", head, info.Message)
				}
			}
			clean(t, r2.Path())
			if _, err := os.Stat(filepath.Join(r2.Path(), ".git", "index.lock")); err == nil {
				t.Fatalf("the killed writer's index.lock is still there after recovery")
			}
			h, err := r2.WriteTenant(ctx, "dev", []string{"TRANSFORM"}, crashEntries(2), CommitSpec{Message: "v2 again"})
			if err != nil {
				t.Fatal(err)
			}
			if head != v1 && !h.IsZero() {
				t.Errorf("the crashed commit was complete, yet the rerun committed again")
			}
			fsck(t, r2.Path())
			clean(t, r2.Path())
			files, err := r2.ReadTenant(mustHead(t, r2), "dev")
			if err != nil || len(files) != 3*packThreshold || !strings.Contains(string(files[0].Data), `"v": 2`) {
				t.Fatalf("after rerun: %d files, err %v", len(files), err)
			}
			if data, _ := os.ReadFile(filepath.Join(r2.Path(), filepath.FromSlash(files[0].Path))); string(data) != string(files[0].Data) {
				t.Errorf("working file %s differs from HEAD", files[0].Path)
			}
		})
	}
}
