package gitstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"promoter/spconfig"
)

// Hash is a git object id. It is gitstore's own type, so no other package
// sees go-git's.
type Hash plumbing.Hash

// String returns the hash in hex.
func (h Hash) String() string { return plumbing.Hash(h).String() }

// IsZero reports whether h is the zero Hash (no object).
func (h Hash) IsZero() bool { return h == Hash{} }

// hashes converts go-git's ids to Hash.
func hashes(hs []plumbing.Hash) []Hash {
	out := make([]Hash, len(hs))
	for i, h := range hs {
		out[i] = Hash(h)
	}
	return out
}

// plumbingHashes converts ids to go-git's.
func plumbingHashes(hs []Hash) []plumbing.Hash {
	out := make([]plumbing.Hash, len(hs))
	for i, h := range hs {
		out[i] = plumbing.Hash(h)
	}
	return out
}

// NewHash returns the hash written as hex in s (as recorded in notes and
// journals); text that is not a full hash gives a hash that is not a commit.
func NewHash(s string) Hash { return Hash(plumbing.NewHash(s)) }

// emptyTree is the id of the tree with no entries.
var emptyTree = NewHash("4b825dc642cb6eb9a060e54bf8d69288fbee4904")

// notesRef holds promoter's notes (git notes --ref=promoter).
const notesRef = "refs/notes/promoter"

// Options configures Open.
type Options struct {
	Path       string // working copy; created when missing, cloned when Remote is set and Path is missing or empty
	Remote     string // optional: URL (https, http, ssh, file) or local path
	Branch     string // default "main"
	Token      string // HTTPS token; basic auth user "x-access-token" unless Username is set; never logged
	Username   string
	SSHKeyFile string
	// AuthorName and AuthorEmail sign commits; default "promoter", "promoter@localhost".
	AuthorName, AuthorEmail string
	Logger                  *slog.Logger
	Now                     func() time.Time
}

// Repo is a working copy that promoter writes through git plumbing. It is
// used by one goroutine at a time (go-git's pack readers are not safe for
// concurrent reads, and a commit adds packs under a reader): a flow that
// reads the repository beside a download does it from one goroutine.
type Repo struct {
	o      Options
	path   string
	gitDir string
	repo   *git.Repository
	st     *filesystem.Storage
	log    *slog.Logger
	mu     sync.Mutex // serialises writers of this value
	// locked is set while this value holds promoter.lock (Lock).
	locked atomic.Bool

	// hooks for the crash-safety tests: called with a step name.
	step func(string)
	// deletes are remote refs the next push removes (cleanBookkeeping).
	deletes []string

	// decoded holds object files already read, by blob id (decodecache.go).
	decoded decodeCache
	// trees holds decoded trees by id (treeEntries).
	trees generations[[]object.TreeEntry]
	// packs is the list of pack files at the last refresh (packNames).
	packsMu sync.Mutex
	packs   string
	// objects reads objects without go-git's storage (odb.go); nil for a
	// repository with alternates.
	objects *odb
}

// File is one object file read from a commit.
type File struct {
	Path  string // repository-relative, e.g. tenants/dev/SOURCE/Active Directory.json
	Rel   string // relative to the tenant folder, e.g. SOURCE/Active Directory.json
	Entry spconfig.Entry
	Data  []byte // exact file bytes (nil when Load was given a full entry: nothing was read)
	Blob  Hash   // the file's git blob id
}

// FileRef is an object file of a commit by reference (ReadTenantEntries):
// its path, blob id and thin entry (spconfig.Entry.Thin), which every reader
// of the blob shares: it must not be modified. A FileRef of a file that is
// not in the repository has a full entry (and may have a zero Blob). Load
// reads the files.
type FileRef struct {
	Path  string
	Blob  Hash
	Entry *spconfig.Entry
}

// CommitInfo describes a commit.
type CommitInfo struct {
	Hash     Hash
	Message  string
	Trailers map[string]string
	Parents  []Hash
	When     time.Time
}

// Open opens the working copy at o.Path, initialising it when missing, and
// cloning o.Remote into it when the folder is missing or empty. An
// interrupted commit of an earlier process is completed first.
func Open(ctx context.Context, o Options) (*Repo, error) {
	if o.Path == "" {
		return nil, errors.New("open repository: no path configured (repo.path)")
	}
	if o.Branch == "" {
		o.Branch = "main"
	}
	if o.AuthorName == "" {
		o.AuthorName = "promoter"
	}
	if o.AuthorEmail == "" {
		o.AuthorEmail = "promoter@localhost"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := plumbing.NewBranchReferenceName(o.Branch).Validate(); err != nil || strings.HasPrefix(o.Branch, "refs/") {
		return nil, fmt.Errorf("open repository %s: branch %q is not a valid branch name", o.Path, o.Branch)
	}
	abs, err := filepath.Abs(o.Path)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", o.Path, err)
	}
	r := &Repo{o: o, path: abs, gitDir: filepath.Join(abs, ".git"), log: o.Logger,
		decoded: decodeCache{generations[*spconfig.Entry]{limit: decodeCacheEntries}},
		trees:   generations[[]object.TreeEntry]{limit: treeCacheEntries, weight: func(e []object.TreeEntry) int { return len(e) }}}
	fresh := false
	if _, err := os.Stat(r.gitDir); errors.Is(err, os.ErrNotExist) {
		if ents, err := os.ReadDir(abs); err == nil && len(ents) > 0 && o.Remote != "" {
			return nil, fmt.Errorf("open repository %s: the folder is not empty and not a git repository: clone %s there yourself or point repo.path to an empty folder", abs, o.Remote)
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("open repository %s: %w", abs, err)
		}
		gr, err := git.PlainInitWithOptions(abs, &git.PlainInitOptions{
			InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(o.Branch)},
		})
		if err != nil {
			return nil, fmt.Errorf("init repository %s: %w", abs, err)
		}
		r.repo = gr
		fresh = true
		r.log.Info("initialised repository", "path", abs, "branch", o.Branch)
	} else {
		gr, err := git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{})
		if err != nil {
			return nil, fmt.Errorf("open repository %s: %w", abs, err)
		}
		r.repo = gr
	}
	if r.repo, err = keepPacksOpen(r.repo); err != nil {
		return nil, fmt.Errorf("open repository %s: %w", abs, err)
	}
	st, ok := r.repo.Storer.(*filesystem.Storage)
	if !ok {
		return nil, fmt.Errorf("open repository %s: unexpected storage", abs)
	}
	r.st = st
	r.objects = openODB(r.gitDir)
	if o.Remote != "" {
		if err := r.ensureRemote(); err != nil {
			return nil, err
		}
	}
	if err := r.recoverIfFree(); err != nil {
		return nil, err
	}
	if fresh && o.Remote != "" {
		if err := r.Sync(ctx); err != nil {
			return nil, fmt.Errorf("clone %s into %s: %w", redactURL(o.Remote), abs, err)
		}
	}
	return r, nil
}

// openPacks is how many pack files odb, and go-git's storage, keep open:
// a repository gains a pack with every large commit, and git gc may not run
// for months. go-git's default storage opens the pack and builds its reader
// again for every object read from it (about a megabyte of buffers each
// time). go-git's storage reads objects only for remote operations and
// where odb cannot (Repo.object).
const openPacks = 16

// objectCacheSize bounds go-git's cache of objects read from packs (its
// default is 96 MB): promoter reads objects through odb and keeps its own
// caches of what it reads again, decoded trees and thin entries.
const objectCacheSize = 4 * cache.MiByte

// keepPacksOpen returns the repository over the same folders with a storage
// that keeps up to openPacks pack files open.
func keepPacksOpen(gr *git.Repository) (*git.Repository, error) {
	st, ok := gr.Storer.(*filesystem.Storage)
	if !ok {
		return nil, errors.New("unexpected storage")
	}
	ns := filesystem.NewStorageWithOptions(st.Filesystem(), cache.NewObjectLRU(objectCacheSize), filesystem.Options{MaxOpenDescriptors: openPacks})
	w, err := gr.Worktree()
	if errors.Is(err, git.ErrIsBareRepository) {
		return git.Open(ns, nil)
	}
	if err != nil {
		return nil, err
	}
	return git.Open(ns, w.Filesystem)
}

func (r *Repo) ensureRemote() error {
	cfg, err := r.repo.Config()
	if err != nil {
		return fmt.Errorf("read git config of %s: %w", r.path, err)
	}
	url := r.o.Remote
	if rc, ok := cfg.Remotes["origin"]; ok {
		if len(rc.URLs) == 1 && rc.URLs[0] == url {
			return nil
		}
		rc.URLs = []string{url}
	} else {
		cfg.Remotes["origin"] = &config.RemoteConfig{
			Name:  "origin",
			URLs:  []string{url},
			Fetch: []config.RefSpec{config.RefSpec("+refs/heads/*:refs/remotes/origin/*")},
		}
	}
	if err := r.repo.SetConfig(cfg); err != nil {
		return fmt.Errorf("write git config of %s: %w", r.path, err)
	}
	return nil
}

// Path returns the working copy's absolute path.
func (r *Repo) Path() string { return r.path }

// refresh makes objects written by other processes (git CLI) visible. go-git
// keeps the indexes of the pack files it loaded; they are loaded again (all
// of them: one pack per run, so more with every run) only when the set of
// pack files changed since the last refresh. Loose objects are read from
// their files and need nothing.
func (r *Repo) refresh() {
	packs := packNames(r.gitDir)
	r.packsMu.Lock()
	defer r.packsMu.Unlock()
	if packs == "" || packs != r.packs {
		r.st.ObjectStorage.Reindex()
		if r.objects != nil {
			r.objects.refresh()
		}
	}
	r.packs = packs
}

// packNames lists the pack index files of a repository in one string ("" when
// the folder cannot be read).
func packNames(gitDir string) string {
	ents, err := os.ReadDir(filepath.Join(gitDir, "objects", "pack"))
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".idx") {
			b.WriteString(e.Name())
			b.WriteByte('\n')
		}
	}
	if b.Len() == 0 {
		return "\n" // no pack: nothing to load, and not the unreadable ""
	}
	return b.String()
}

// branchRef is the ref of branch b (default the configured branch); a full
// ref name (refs/...) is taken as is, so commits can go to bookkeeping refs
// such as refs/promoter/observed/<target>.
func (r *Repo) branchRef(b string) string {
	if strings.HasPrefix(b, "refs/") {
		return b
	}
	if b == "" {
		b = r.o.Branch
	}
	return "refs/heads/" + b
}

// Head returns the tip of the configured branch, or the zero Hash before the
// first commit.
func (r *Repo) Head() (Hash, error) { return r.Ref(r.branchRef("")) }

// Ref returns the value of a ref, or the zero Hash when it does not exist.
func (r *Repo) Ref(name string) (Hash, error) {
	ref, err := r.st.Reference(plumbing.ReferenceName(name))
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return Hash{}, nil
	}
	if err != nil {
		return Hash{}, fmt.Errorf("read ref %s: %w", name, err)
	}
	if ref.Type() == plumbing.SymbolicReference {
		return r.Ref(ref.Target().String())
	}
	return Hash(ref.Hash()), nil
}

// SetRef moves ref name from oldH to newH (compare-and-swap): oldH zero means
// the ref must not exist, newH zero deletes it. It uses git's lock-file
// protocol, so it is atomic against a crash and against the git CLI.
func (r *Repo) SetRef(name string, newH, oldH Hash) error {
	if !strings.HasPrefix(name, "refs/") {
		return fmt.Errorf("set ref %s: name must start with refs/", name)
	}
	if err := plumbing.ReferenceName(name).Validate(); err != nil {
		return fmt.Errorf("set ref %s: %w", name, err)
	}
	return r.casRef(name, newH, oldH)
}

func (r *Repo) casRef(name string, newH, oldH Hash) error {
	p := filepath.Join(r.gitDir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("set ref %s: %w", name, err)
	}
	lock := p + ".lock"
	content := ""
	if !newH.IsZero() {
		content = newH.String() + "\n"
	}
	own, err := r.lockRef(lock, content)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("set ref %s: %s exists: another git process is updating it; if none is running, delete that file", name, lock)
		}
		return fmt.Errorf("set ref %s: %w", name, err)
	}
	done := false
	defer func() {
		if !done {
			os.Remove(lock)
		}
		if own != "" {
			os.Remove(own) // after the rename the ref keeps the content
		}
	}()
	cur, err := r.Ref(name)
	if err != nil {
		return err
	}
	if cur != oldH {
		if oldH.IsZero() {
			return fmt.Errorf("set ref %s: it already exists at %s", name, short(cur))
		}
		return fmt.Errorf("set ref %s: it moved to %s, expected %s (another writer?): run again", name, short(cur), short(oldH))
	}
	if newH.IsZero() {
		os.Remove(lock)
		done = true
		if err := r.st.RemoveReference(plumbing.ReferenceName(name)); err != nil {
			return fmt.Errorf("delete ref %s: %w", name, err)
		}
		return nil
	}
	r.hit("ref-locked:" + name)
	if err := os.Rename(lock, p); err != nil {
		return fmt.Errorf("set ref %s: %w", name, err)
	}
	done = true
	r.hit("ref-set:" + name)
	return nil
}

// ownRefPrefix names the files that promoter links to a ref's lock file.
const ownRefPrefix = "promoter-ref-"

// lockRef takes git's lock file of a ref holding content, the new value. As
// with the index lock, the lock is made as a hard link of a file of
// promoter's own (.git/promoter-ref-*, returned as own), so a later run
// holding promoter.lock can tell a lock that a killed promoter left from a
// git command's (removeStaleRefLocks). Where hard links fail, it is an
// exclusive create, as git makes it, and own is "".
func (r *Repo) lockRef(lock, content string) (own string, err error) {
	write := func(f *os.File) error {
		_, err := f.WriteString(content)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	f, err := os.CreateTemp(r.gitDir, ownRefPrefix+"*")
	if err != nil {
		return "", err
	}
	own = f.Name()
	if err := write(f); err != nil {
		os.Remove(own)
		return "", err
	}
	err = os.Link(own, lock)
	if err == nil {
		return own, nil
	}
	os.Remove(own)
	if errors.Is(err, os.ErrExist) {
		return "", err
	}
	lf, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return "", err
	}
	if err := write(lf); err != nil {
		os.Remove(lock)
		return "", err
	}
	return "", nil
}

// removeStaleRefLocks removes the ref lock files a killed promoter left
// (the same file as one of promoter's .git/promoter-ref-* files) and those
// files. Only a holder of promoter.lock may call it: no other promoter is
// writing then, and a git command's lock is never one of those files.
func (r *Repo) removeStaleRefLocks() {
	own, _ := filepath.Glob(filepath.Join(r.gitDir, ownRefPrefix+"*"))
	if len(own) == 0 {
		return
	}
	refs := filepath.Join(r.gitDir, "refs")
	filepath.WalkDir(refs, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".lock") {
			return nil
		}
		for _, o := range own {
			if sameFile(p, o) && os.Remove(p) == nil {
				rel, _ := filepath.Rel(r.gitDir, strings.TrimSuffix(p, ".lock"))
				r.log.Warn("removed the ref lock that an interrupted promoter left (this process holds .git/promoter.lock, so no other promoter is writing)", "ref", filepath.ToSlash(rel), "path", p)
			}
		}
		return nil
	})
	for _, o := range own {
		os.Remove(o)
	}
}

func short(h Hash) string {
	if h.IsZero() {
		return "(none)"
	}
	return h.String()[:12]
}

// SetStepHook makes the repository call fn with the name of each internal
// step it passes (objects-written, index-locked, journal-written, ref-moved,
// worktree-file, worktree-written, ...), or stops calling it when fn is nil.
// It exists only for crash tests of the real binary (PROMOTER_TEST_CRASH in
// cmd/promoter); set it before any write, never while one runs.
func (r *Repo) SetStepHook(fn func(step string)) { r.step = fn }

// hit calls the crash-test hook.
func (r *Repo) hit(step string) {
	if r.step != nil {
		r.step(step)
	}
}

// Resolve turns a revision into a commit hash: "HEAD", branch and tag names,
// refs/..., full or short hashes, and the suffixes "~N" and "^".
func (r *Repo) Resolve(rev string) (Hash, error) {
	r.refresh()
	if rev == "" {
		return Hash{}, errors.New("resolve revision: empty revision")
	}
	if cands := r.refCandidates(rev); len(cands) > 1 {
		return Hash{}, &AmbiguousError{Rev: rev, Refs: cands}
	}
	h, err := r.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return Hash{}, fmt.Errorf("resolve revision %q: %w: use a branch, tag, ref or commit hash of %s", rev, err, r.path)
	}
	if _, err := r.commitObject(Hash(*h)); err != nil {
		return Hash{}, fmt.Errorf("resolve revision %q: %s is not a commit: %w", rev, h, err)
	}
	return Hash(*h), nil
}

// AmbiguousError is a revision that names more than one ref (git would
// pick the first of them and warn).
type AmbiguousError struct {
	Rev  string
	Refs []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("revision %q is ambiguous: it names %s; use the full ref name", e.Rev, strings.Join(e.Refs, " and "))
}

// refCandidates lists the refs a revision's name part can mean, in git's
// order (gitrevisions: refs/<rev>, refs/tags/, refs/heads/, refs/remotes/),
// that exist.
func (r *Repo) refCandidates(rev string) []string {
	name := rev
	if i := strings.IndexAny(name, "~^@:"); i >= 0 {
		name = name[:i]
	}
	if name == "" || name == "HEAD" {
		return nil
	}
	var out []string
	for _, c := range []string{name, "refs/" + name, "refs/tags/" + name, "refs/heads/" + name, "refs/remotes/" + name, "refs/remotes/" + name + "/HEAD"} {
		if !strings.HasPrefix(c, "refs/") || slices.Contains(out, c) {
			continue
		}
		if _, err := r.st.Reference(plumbing.ReferenceName(c)); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// CommitInfo returns a commit's message, trailers, parents and commit time.
func (r *Repo) CommitInfo(h Hash) (CommitInfo, error) {
	r.refresh()
	c, err := r.commitObject(h)
	if err != nil {
		return CommitInfo{}, fmt.Errorf("read commit %s: %w", short(h), err)
	}
	return CommitInfo{Hash: h, Message: c.Message, Trailers: parseTrailers(c.Message), Parents: hashes(c.ParentHashes), When: c.Committer.When}, nil
}

// parseTrailers reads "Key: value" lines of the message's last paragraph.
func parseTrailers(msg string) map[string]string {
	paras := strings.Split(strings.TrimSpace(msg), "\n\n")
	out := map[string]string{}
	if len(paras) < 2 {
		return out
	}
	for _, line := range strings.Split(paras[len(paras)-1], "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return map[string]string{}
		}
		out[k] = v
	}
	return out
}

// rootTree returns the tree of a commit, emptyTree for the zero hash.
func (r *Repo) rootTree(c Hash) (Hash, error) {
	if c.IsZero() {
		return emptyTree, nil
	}
	co, err := r.commitObject(c)
	if err != nil {
		return Hash{}, fmt.Errorf("read commit %s: %w", short(c), err)
	}
	return Hash(co.TreeHash), nil
}

// goGitObject reads object h through go-git's storage.
func (r *Repo) goGitObject(h Hash) (plumbing.ObjectType, []byte, error) {
	o, err := r.st.EncodedObject(plumbing.AnyObject, plumbing.Hash(h))
	if err != nil {
		return 0, nil, err
	}
	rd, err := o.Reader()
	if err != nil {
		return 0, nil, err
	}
	defer rd.Close()
	data, err := io.ReadAll(rd)
	return o.Type(), data, err
}

// commitObject reads commit h.
func (r *Repo) commitObject(h Hash) (*object.Commit, error) {
	data, err := r.object(h, plumbing.CommitObject)
	if err != nil {
		return nil, err
	}
	mo := &plumbing.MemoryObject{}
	mo.SetType(plumbing.CommitObject)
	mo.Write(data)
	c := &object.Commit{}
	if err := c.Decode(mo); err != nil {
		return nil, err
	}
	c.Hash = plumbing.Hash(h)
	return c, nil
}

// object reads object h, of type want: through r.objects, and through
// go-git where r.objects is nil or does not find it (in a pack it could not
// open). Every object read of a Repo goes through it.
func (r *Repo) object(h Hash, want plumbing.ObjectType) ([]byte, error) {
	var typ plumbing.ObjectType
	var data []byte
	err := errObjectMissing
	if r.objects != nil {
		typ, data, err = r.objects.read(h)
	}
	if errors.Is(err, errObjectMissing) {
		typ, data, err = r.goGitObject(h)
	}
	if err != nil {
		return nil, err
	}
	if typ != want {
		return nil, fmt.Errorf("object %s is a %s, not a %s", short(h), typ, want)
	}
	return data, nil
}

// treeEntries reads a tree's entries; the empty or zero tree has none.
// Callers must not modify the slice: it is shared through the tree cache.
func (r *Repo) treeEntries(t Hash) ([]object.TreeEntry, error) {
	if t.IsZero() || t == emptyTree {
		return nil, nil
	}
	if ents, ok := r.trees.get(t); ok {
		return ents, nil
	}
	data, err := r.object(t, plumbing.TreeObject)
	var ents []object.TreeEntry
	if err == nil {
		ents, err = decodeTree(data)
	}
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", short(t), err)
	}
	r.trees.add(t, ents)
	return ents, nil
}

// treeCacheEntries bounds one generation of the decoded trees a Repo keeps
// (generations: the cache holds two; a tree weighs its entries). Most reads decode a folder tree once (a walk over
// a tenant's type folders) and decoding one is cheap (decodeTree); what
// the cache is for is a tree read many times in a row: the folders on the
// way to the files one reads by path, a tree a commit wrote and its flow
// reads back. A cache of every tree a run read was 7.5 MB of its peak at
// 50,000 objects (issue 18); 32,768 entries are about 1.6 MB.
const treeCacheEntries = 1 << 15

// lookup finds the entry at a slash path below tree t.
func (r *Repo) lookup(t Hash, p string) (object.TreeEntry, bool, error) {
	parts := strings.Split(p, "/")
	cur := t
	for i, name := range parts {
		ents, err := r.treeEntries(cur)
		if err != nil {
			return object.TreeEntry{}, false, err
		}
		found := false
		for _, e := range ents {
			if e.Name == name {
				if i == len(parts)-1 {
					return e, true, nil
				}
				if e.Mode != filemode.Dir {
					return object.TreeEntry{}, false, nil
				}
				cur, found = Hash(e.Hash), true
				break
			}
		}
		if !found {
			return object.TreeEntry{}, false, nil
		}
	}
	return object.TreeEntry{}, false, nil
}

// ReadBlob returns the bytes of blob h.
func (r *Repo) ReadBlob(h Hash) ([]byte, error) { return r.blob(h) }

func (r *Repo) blob(h Hash) ([]byte, error) {
	data, err := r.object(h, plumbing.BlobObject)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", short(h), err)
	}
	return data, nil
}

// ReadFile returns the content of a repository-relative file at rev.
func (r *Repo) ReadFile(rev Hash, p string) ([]byte, bool, error) {
	r.refresh()
	t, err := r.rootTree(rev)
	if err != nil {
		return nil, false, err
	}
	e, ok, err := r.lookup(t, strings.Trim(p, "/"))
	if err != nil || !ok || e.Mode == filemode.Dir {
		return nil, false, err
	}
	data, err := r.blob(Hash(e.Hash))
	if err != nil {
		return nil, false, fmt.Errorf("read %s at %s: %w", p, short(rev), err)
	}
	return data, true, nil
}

// TenantDir returns the repository-relative folder of a tenant.
func TenantDir(tenant string) string { return "tenants/" + tenant }

func checkTenant(tenant string) error {
	if tenant == "" || EncodeName(tenant) != tenant || strings.Contains(tenant, "~") {
		return fmt.Errorf("tenant name %q cannot be a folder name: use letters, digits, space, '.', '_' or '-'", tenant)
	}
	return nil
}

// ReadTenant returns every object file under tenants/<tenant>/<TYPE>/ at rev,
// sorted by path (none for the zero rev), with its bytes and full entry.
// Decode errors name the file.
func (r *Repo) ReadTenant(rev Hash, tenant string) ([]File, error) {
	refs, err := r.ReadTenantEntries(rev, tenant)
	if err != nil {
		return nil, err
	}
	return r.Load(refs)
}

// ReadTenantEntries is ReadTenant by reference: thin entries and blob ids,
// no bytes; a file whose entry is in the decode cache is not read at all.
// Load reads the files a caller compares.
func (r *Repo) ReadTenantEntries(rev Hash, tenant string) ([]FileRef, error) {
	var files []FileRef
	err := r.walkTenant(rev, tenant, func(n int) { files = make([]FileRef, 0, n) }, func(dir, typ, name string, blob Hash, e *spconfig.Entry) {
		files = append(files, FileRef{Path: filePath(dir, typ, name), Entry: e, Blob: blob})
	})
	if err != nil {
		return nil, err
	}
	sortByPath(files)
	return files, nil
}

// ReadTenantThin returns the thin entries of the object files of
// tenants/<tenant>/ at rev, in tree order: ReadTenantEntries without paths
// and blob ids (what an id index needs: 8 bytes a file instead of about
// 110); and the files (as ReadTenantEntries gives them) of the entries want
// accepts, none when want is nil.
func (r *Repo) ReadTenantThin(rev Hash, tenant string, want func(*spconfig.Entry) bool) ([]*spconfig.Entry, []FileRef, error) {
	var out []*spconfig.Entry
	var files []FileRef
	err := r.walkTenant(rev, tenant, func(n int) { out = make([]*spconfig.Entry, 0, n) }, func(dir, typ, name string, blob Hash, e *spconfig.Entry) {
		out = append(out, e)
		if want != nil && want(e) {
			files = append(files, FileRef{Path: filePath(dir, typ, name), Entry: e, Blob: blob})
		}
	})
	if err != nil {
		return nil, nil, err
	}
	sortByPath(files)
	return out, files, nil
}

// sortByPath sorts files by path (a walk of trees sorted as git writes them
// gives them so already; a tree another tool wrote unsorted does not).
func sortByPath(files []FileRef) {
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
}

// filePath is the path of file name in folder typ of tenant folder dir.
func filePath(dir, typ, name string) string { return dir + "/" + typ + "/" + name }

// walkTenant calls fn for every object file of tenants/<tenant>/ at rev,
// dir/typ/name (filePath), with its blob id and thin entry, decoding the
// blobs the decode cache lacks; size is first told how many files there
// may be.
func (r *Repo) walkTenant(rev Hash, tenant string, size func(n int), fn func(dir, typ, name string, blob Hash, e *spconfig.Entry)) error {
	if err := checkTenant(tenant); err != nil {
		return fmt.Errorf("read tenant: %w", err)
	}
	if rev.IsZero() {
		return nil
	}
	r.refresh()
	root, err := r.rootTree(rev)
	if err != nil {
		return err
	}
	dir := TenantDir(tenant)
	te, ok, err := r.lookup(root, dir)
	if err != nil || !ok || te.Mode != filemode.Dir {
		return err
	}
	types, err := r.treeEntries(Hash(te.Hash))
	if err != nil {
		return err
	}
	folders := make([][]object.TreeEntry, len(types))
	n := 0
	for i, t := range types {
		if t.Mode != filemode.Dir {
			continue
		}
		if folders[i], err = r.treeEntries(Hash(t.Hash)); err != nil {
			return err
		}
		n += len(folders[i])
	}
	size(n)
	for i, t := range types {
		for _, e := range folders[i] {
			if !e.Mode.IsFile() || !strings.HasSuffix(e.Name, ".json") {
				continue
			}
			ent, ok := r.decoded.get(Hash(e.Hash))
			if !ok {
				full := filePath(dir, t.Name, e.Name)
				data, err := r.blob(Hash(e.Hash))
				if err != nil {
					return fmt.Errorf("read %s at %s: %w", full, short(rev), err)
				}
				de, err := DecodeFile(full, data)
				if err != nil {
					return fmt.Errorf("read tenant %s at %s: %w", tenant, short(rev), err)
				}
				ent = r.decoded.remember(Hash(e.Hash), de)
			}
			fn(dir, t.Name, e.Name, Hash(e.Hash), ent)
		}
	}
	return nil
}

// Load reads the files of refs: a thin entry's file by its blob id; a full
// entry is the file's entry as it is (Data nil when it has no blob).
func (r *Repo) Load(refs []FileRef) ([]File, error) {
	out := make([]File, len(refs))
	for i, f := range refs {
		rel := f.Path
		if p := strings.SplitN(f.Path, "/", 3); len(p) == 3 && p[0] == "tenants" {
			rel = p[2]
		}
		out[i] = File{Path: f.Path, Rel: rel, Blob: f.Blob}
		if !f.Entry.IsThin() {
			out[i].Entry = *f.Entry
			continue
		}
		if f.Blob.IsZero() {
			return nil, fmt.Errorf("read %s: no blob id to read it by", f.Path)
		}
		data, err := r.blob(f.Blob)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.Path, err)
		}
		e, err := DecodeFile(f.Path, data)
		if err != nil {
			return nil, err
		}
		out[i].Entry, out[i].Data = e, data
	}
	return out, nil
}

// ChangedPaths lists the repository-relative files under prefix that differ
// between two commits (from zero: every file at to), sorted.
func (r *Repo) ChangedPaths(from, to Hash, prefix string) ([]string, error) {
	r.refresh()
	prefix = strings.Trim(prefix, "/")
	ta, err := r.rootTree(from)
	if err != nil {
		return nil, err
	}
	tb, err := r.rootTree(to)
	if err != nil {
		return nil, err
	}
	base := ""
	if prefix != "" {
		ea, oka, err := r.lookup(ta, prefix)
		if err != nil {
			return nil, err
		}
		eb, okb, err := r.lookup(tb, prefix)
		if err != nil {
			return nil, err
		}
		ta, tb = emptyTree, emptyTree
		if oka && ea.Mode == filemode.Dir {
			ta = Hash(ea.Hash)
		}
		if okb && eb.Mode == filemode.Dir {
			tb = Hash(eb.Hash)
		}
		if (oka && ea.Mode != filemode.Dir) || (okb && eb.Mode != filemode.Dir) {
			if ea.Hash != eb.Hash || oka != okb {
				return []string{prefix}, nil
			}
			return nil, nil
		}
		base = prefix + "/"
	}
	var out []string
	err = r.diffTrees(ta, tb, base, func(p string, _, _ object.TreeEntry) { out = append(out, p) })
	sort.Strings(out)
	return out, err
}

// diffTrees calls fn for every file path that differs between trees a and b,
// skipping subtrees with equal hashes. A missing side has a zero entry.
func (r *Repo) diffTrees(a, b Hash, base string, fn func(p string, ea, eb object.TreeEntry)) error {
	if a == b {
		return nil
	}
	ea, err := r.treeEntries(a)
	if err != nil {
		return err
	}
	eb, err := r.treeEntries(b)
	if err != nil {
		return err
	}
	ma := make(map[string]object.TreeEntry, len(ea))
	for _, e := range ea {
		ma[e.Name] = e
	}
	mb := make(map[string]object.TreeEntry, len(eb))
	for _, e := range eb {
		mb[e.Name] = e
	}
	visit := func(name string) error {
		x, okx := ma[name]
		y, oky := mb[name]
		if okx && oky && x.Hash == y.Hash && x.Mode == y.Mode {
			return nil
		}
		xd, yd := okx && x.Mode == filemode.Dir, oky && y.Mode == filemode.Dir
		if xd || yd {
			var xt, yt Hash = emptyTree, emptyTree
			if xd {
				xt = Hash(x.Hash)
			}
			if yd {
				yt = Hash(y.Hash)
			}
			if err := r.diffTrees(xt, yt, base+name+"/", fn); err != nil {
				return err
			}
		}
		xf, yf := okx && !xd, oky && !yd
		if xf || yf {
			var fx, fy object.TreeEntry
			if xf {
				fx = x
			}
			if yf {
				fy = y
			}
			fn(base+name, fx, fy)
		}
		return nil
	}
	for _, e := range ea {
		if err := visit(e.Name); err != nil {
			return err
		}
	}
	for _, e := range eb {
		if _, ok := ma[e.Name]; !ok {
			if err := visit(e.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// noteNames are the paths a note for commit h may have in a notes tree
// (flat, or with git's fanout).
func noteNames(h Hash) []string {
	s := h.String()
	return []string{s, s[:2] + "/" + s[2:], s[:2] + "/" + s[2:4] + "/" + s[4:]}
}

// Note returns the note on commit under refs/notes/promoter.
func (r *Repo) Note(commit Hash) ([]byte, bool, error) {
	r.refresh()
	n, err := r.Ref(notesRef)
	if err != nil || n.IsZero() {
		return nil, false, err
	}
	t, err := r.rootTree(n)
	if err != nil {
		return nil, false, err
	}
	for _, p := range noteNames(commit) {
		e, ok, err := r.lookup(t, p)
		if err != nil {
			return nil, false, err
		}
		if ok && e.Mode.IsFile() {
			data, err := r.blob(Hash(e.Hash))
			return data, err == nil, err
		}
	}
	return nil, false, nil
}

// SetNote sets the note on commit under refs/notes/promoter, as
// `git notes --ref=promoter add -f` would.
func (r *Repo) SetNote(commit Hash, data []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refresh()
	if data == nil {
		data = []byte{}
	}
	names := noteNames(commit)
	changes := []Change{{Path: names[0], Content: data}, {Path: names[1]}, {Path: names[2]}}
	_, err := r.commitRef(context.Background(), notesRef, Hash{}, false, "Notes added by 'promoter'\n", changes, false)
	if err != nil {
		return fmt.Errorf("set note on %s: %w", short(commit), err)
	}
	return nil
}

// Revert applies the inverse of commit's changes (against its first parent)
// on the tip of the configured branch, like `git revert --no-edit`. A path
// changed since then is a conflict and nothing is committed.
func (r *Repo) Revert(ctx context.Context, commit Hash, message string) (Hash, error) {
	r.refresh()
	c, err := r.commitObject(commit)
	if err != nil {
		return Hash{}, fmt.Errorf("revert %s: %w", short(commit), err)
	}
	var parent Hash
	if len(c.ParentHashes) > 0 {
		parent = Hash(c.ParentHashes[0])
	}
	pt, err := r.rootTree(parent)
	if err != nil {
		return Hash{}, err
	}
	tip, err := r.Head()
	if err != nil {
		return Hash{}, err
	}
	tt, err := r.rootTree(tip)
	if err != nil {
		return Hash{}, err
	}
	var changes []Change
	var derr error
	err = r.diffTrees(pt, Hash(c.TreeHash), "", func(p string, before, after object.TreeEntry) {
		if derr != nil {
			return
		}
		now, ok, err := r.lookup(tt, p)
		if err != nil {
			derr = err
			return
		}
		if ok != !after.Hash.IsZero() || ok && now.Hash != after.Hash {
			derr = fmt.Errorf("revert %s: conflict: %s changed after that commit; revert by hand (git revert %s) and resolve it", short(commit), p, commit)
			return
		}
		ch := Change{Path: p}
		if !before.Hash.IsZero() {
			data, err := r.blob(Hash(before.Hash))
			if err != nil {
				derr = err
				return
			}
			ch.Content = data
		}
		changes = append(changes, ch)
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return Hash{}, err
	}
	if message == "" {
		subject, _, _ := strings.Cut(c.Message, "\n")
		message = fmt.Sprintf("Revert %q\n\nThis reverts commit %s.", subject, commit)
	}
	return r.Commit(ctx, CommitSpec{Message: message, Changes: changes})
}

// redactURL removes credentials from a URL for messages.
func redactURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if at := strings.LastIndex(u[i+3:], "@"); at >= 0 {
			return u[:i+3] + "REDACTED@" + u[i+3+at+1:]
		}
	}
	return u
}
