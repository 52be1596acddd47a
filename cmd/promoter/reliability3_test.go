package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"promoter/spconfig"
)

// gitBlobID is the git object id of a blob with content data.
func gitBlobID(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// treeBlobs lists the files under prefix in commit rev with their blob ids.
func (w *e2e) treeBlobs(rev, prefix string) map[string]string {
	w.t.Helper()
	out := map[string]string{}
	for line := range strings.Lines(w.git("ls-tree", "-r", "-z", rev, prefix)) {
		for rec := range strings.SplitSeq(line, "\x00") {
			meta, path, ok := strings.Cut(rec, "\t")
			if f := strings.Fields(meta); ok && len(f) == 3 {
				out[path] = f[2]
			}
		}
	}
	return out
}

// fillTo writes a file at p that leaves about free bytes on its file system
// and returns the bytes left.
func fillTo(t *testing.T, p string, free uint64) uint64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(p), &st); err != nil {
		t.Fatal(err)
	}
	avail := st.Bavail * uint64(st.Bsize)
	if avail <= free {
		t.Fatalf("only %d bytes free, want more than %d to fill", avail, free)
	}
	if err := os.WriteFile(p, make([]byte, avail-free), 0o644); err != nil {
		t.Fatalf("fill %s: %v", p, err)
	}
	if err := syscall.Statfs(filepath.Dir(p), &st); err != nil {
		t.Fatal(err)
	}
	return st.Bavail * uint64(st.Bsize)
}

// TestReliabilityDiskFullWhenThePackFitsButTheFilesDoNot puts the repository
// on a small tmpfs and leaves less room than a source change of 300 objects
// needs in the working tree (each file takes two pages) but more than its
// compressed objects need in one pack. The run writes the pack, moves the
// branch and then fails with "no space left on device" while it updates the
// working tree: no file is left cut or empty (each holds the old or the new
// version), no temporary file is left, and nothing is imported. Once space
// is freed, the next command that opens the repository completes the
// update (never keeping promoter's files as "uncommitted changes"), the
// working tree equals HEAD, git fsck --strict is clean, and the next run
// promotes the change.
func TestReliabilityDiskFullWhenThePackFitsButTheFilesDoNot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a size-limited tmpfs (the full disk is real, not simulated)")
	}
	w := newWorld(t, worldOptions{})
	cfg, err := os.ReadFile(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	const allow = "allowWarnings: [\"^Object to be imported\"]\n"
	cfg = bytes.Replace(cfg, []byte(allow), []byte(allow+"      maxChanges: -1\n"), 1)
	if err := os.WriteFile(w.cfg, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(w.repo, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", w.repo).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a size-limited tmpfs here (%v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", w.repo).Run() })
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	before := w.head()

	// 300 new objects of about 5 KB each: 2.4 MB of working files, a few
	// dozen KB of compressed objects (the bodies repeat).
	const n = 300
	body := strings.Repeat("promoter full disk ", 250)
	for i := range n {
		name := fmt.Sprintf("Full Disk %03d", i)
		e, err := spconfig.NewEntry(hostileEntry(t, "TRANSFORM", name, `{"input":{"type":"static","attributes":{"value":"`+body+name+`"}}}`))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.dev.PutObject(e); err != nil {
			t.Fatal(err)
		}
	}
	filler := filepath.Join(w.repo, ".git", "filler")
	left := fillTo(t, filler, 512<<10)
	r := w.exec(nil, "run", "--config", w.cfg)
	msg := lastError(r.stderr)
	if r.code != exitRuntime || !strings.Contains(msg, "no space left on device") {
		t.Fatalf("want exit 1 naming the full disk (%d bytes were free), got %s", left, r)
	}
	if !strings.Contains(msg, "update working tree") {
		t.Fatalf("the run did not get as far as the working tree (the pack did not fit in %d bytes): %s", left, msg)
	}
	after := w.head()
	if after == before {
		t.Fatalf("HEAD did not move: the commit failed before the working tree update")
	}
	newFiles := w.treeBlobs(after, "tenants/dev")
	oldFiles := w.treeBlobs(before, "tenants/dev")
	if len(newFiles)-len(oldFiles) != n {
		t.Fatalf("the snapshot commit holds %d files under tenants/dev, want %d more than the %d before", len(newFiles), n, len(oldFiles))
	}
	present, missing := 0, 0
	for p, id := range newFiles {
		data, err := os.ReadFile(filepath.Join(w.repo, filepath.FromSlash(p)))
		if os.IsNotExist(err) {
			missing++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := gitBlobID(data); got != id && got != oldFiles[p] {
			t.Errorf("%s holds neither the old nor the new version after the full disk (%d bytes)", p, len(data))
		}
		present++
	}
	if missing == 0 {
		t.Errorf("every file was written although the disk was full: the test proves nothing")
	}
	var temps []string
	filepath.WalkDir(w.repo, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".promoter-new") {
			temps = append(temps, p)
		}
		return nil
	})
	if len(temps) > 0 {
		t.Errorf("temporary files left after the full disk: %v", temps)
	}
	if n := w.realImports(); n != 1 {
		t.Errorf("a run on a full disk imported: %d real imports, want the first one only", n)
	}
	t.Logf("%d bytes free: %d of %d files written before the disk was full", left, present-len(oldFiles), n)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	r = w.exec(nil, "hold", "--config", w.cfg) // any command that opens the repository
	if r.code != exitOK {
		t.Fatalf("hold (list) after space was freed: %s", r)
	}
	if !strings.Contains(r.stderr, "completing the working tree update of an interrupted commit") {
		t.Errorf("opening the repository did not complete the interrupted update:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "left a file with") {
		t.Errorf("recovery kept promoter's own files as someone's changes:\n%s", r.stderr)
	}
	w.intact()
	if _, err := os.Stat(filepath.Join(w.repo, ".git", "promoter-checkout.json")); err == nil {
		t.Error("the checkout journal is still there after the recovery")
	}
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	w.intact()
	if n := w.realImports(); n != 2 {
		t.Errorf("real imports = %d, want 2 (the first promotion and the 300 new objects)", n)
	}
	w.prodMatchesDev()
}

// TestReliabilityKillWhileABookkeepingRefIsLocked kills the run while it
// holds the lock file of one of its own refs (between writing
// refs/.../NAME.lock and renaming it over the ref), which the campaign's
// random kills found: the next run completes the promotion with one import
// and one record, removing the lock the killed run left (it is promoter's:
// a hard link of a .git/promoter-ref-* file), and later runs work too.
func TestReliabilityKillWhileABookkeepingRefIsLocked(t *testing.T) {
	t.Parallel()
	for _, ref := range []string{"refs/heads/main", "refs/promoter/offered/dev-to-prod", "refs/promoter/observed/prod", "refs/notes/promoter", "refs/promoter/applied/prod"} {
		t.Run(ref, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOptions{})
			r := w.exec([]string{crashEnv + "=git:ref-locked:" + ref}, "run", "--config", w.cfg)
			if r.signal != syscall.SIGKILL {
				t.Fatalf("the run never locked %s: %s", ref, r)
			}
			lock := filepath.Join(w.repo, ".git", filepath.FromSlash(ref)+".lock")
			if _, err := os.Stat(lock); err != nil {
				t.Fatalf("the kill left no %s: the test proves nothing (%v)", lock, err)
			}
			w.git("fsck", "--strict", "--no-progress")
			r = w.exec(nil, "run", "--config", w.cfg)
			if r.code != exitOK {
				t.Fatalf("run after a kill holding %s.lock: %s", ref, r)
			}
			if !strings.Contains(r.stderr, "removed the ref lock that an interrupted promoter left") || !strings.Contains(r.stderr, `"ref":"`+ref+`"`) {
				t.Errorf("the next run did not say it removed the stale lock:\n%s", r.stderr)
			}
			if _, err := os.Stat(lock); err == nil {
				t.Errorf("%s is still there", lock)
			}
			w.intact()
			if n := w.realImports(); n != 1 {
				t.Errorf("real imports = %d, want 1", n)
			}
			if n := w.importedRecords(); n != 1 {
				t.Errorf("import records = %d, want 1", n)
			}
			w.prodMatchesDev()
			w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
			w.mustPromoter(exitOK, "run", "--config", w.cfg)
			w.intact()
			if n := w.realImports(); n != 2 {
				t.Errorf("real imports after a second change = %d, want 2", n)
			}
			if own, _ := filepath.Glob(filepath.Join(w.repo, ".git", "promoter-ref-*")); len(own) > 0 {
				t.Errorf("promoter's ref lock files are left: %v", own)
			}
		})
	}
}

// TestReliabilityKillRightAfterAppliedMoved kills the run right after it
// moved refs/promoter/applied/prod, before it cleared the in-flight marker
// (a window the campaign's random kills found): the next run resumes, finds
// the ref already at the imported revision, and finishes with one import,
// one record and no marker.
func TestReliabilityKillRightAfterAppliedMoved(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	r := w.exec([]string{crashEnv + "=git:ref-set:refs/promoter/applied/prod"}, "run", "--config", w.cfg)
	if r.signal != syscall.SIGKILL {
		t.Fatalf("the run never moved the applied ref: %s", r)
	}
	marker := filepath.Join(w.repo, ".git", "promoter", "inflight-prod.json")
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the kill left no in-flight marker: the test proves nothing (%v)", err)
	}
	r = w.exec(nil, "run", "--config", w.cfg)
	if r.code != exitOK || !strings.Contains(r.stdout, "resume") {
		t.Fatalf("want the next run to resume and finish, got %s", r)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the in-flight marker is still there")
	}
	w.intact()
	if n := w.realImports(); n != 1 {
		t.Errorf("real imports = %d, want 1", n)
	}
	if n := w.importedRecords(); n != 1 {
		t.Errorf("import records = %d, want 1", n)
	}
	w.prodMatchesDev()
	w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if n := w.realImports(); n != 2 {
		t.Errorf("real imports after a second change = %d, want 2", n)
	}
	w.intact()
}
