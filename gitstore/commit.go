package gitstore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"

	"promoter/spconfig"
)

// Change sets one repository-relative file to Content, or to the blob Blob
// the repository holds already (Content nil; a first promotion's baseline
// names the observed files so it holds none of their bytes), or with
// neither deletes it.
type Change struct {
	Path    string
	Content []byte
	Blob    Hash
}

// CommitSpec describes a commit.
type CommitSpec struct {
	Branch   string // default the configured branch; another branch is created from Base when missing
	Base     Hash   // parent of a new branch
	Message  string
	Trailers [][2]string // appended as "Key: value" lines
	Changes  []Change
	// AllowEmpty commits even when the changes change nothing (a marker
	// commit, e.g. an observation that becomes the drift reference).
	AllowEmpty bool
}

// packThreshold is the number of new objects from which they go into one
// packfile instead of loose objects.
const packThreshold = 64

// Commit writes the changes as one commit through git plumbing: blobs are
// hashed in memory, unchanged subtrees are reused by hash, only new objects
// are written (one packfile for big changes), and the branch moves with a
// compare-and-swap. It returns the zero Hash when the changes change nothing.
// When the branch is checked out, the working tree and index are updated for
// the changed paths; a changed path with uncommitted edits fails the commit,
// naming the file, before the branch moves.
func (r *Repo) Commit(ctx context.Context, s CommitSpec) (Hash, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refresh()
	msg := buildMessage(s.Message, s.Trailers)
	return r.commitRef(ctx, r.branchRef(s.Branch), s.Base, true, msg, s.Changes, s.AllowEmpty)
}

func buildMessage(msg string, trailers [][2]string) string {
	msg = strings.TrimRight(msg, "\n")
	if msg == "" {
		msg = "promoter commit"
	}
	if len(trailers) > 0 {
		msg += "\n\n"
		for _, t := range trailers {
			msg += strings.ReplaceAll(t[0], "\n", " ") + ": " + strings.ReplaceAll(t[1], "\n", " ") + "\n"
		}
		return msg
	}
	return msg + "\n"
}

// changed is one file a commit changes.
type changed struct {
	path     string
	old, new Hash // zero when absent
	content  []byte
}

// commitRef commits changes on ref (parent: its tip, or base when missing).
func (r *Repo) commitRef(ctx context.Context, ref string, base Hash, worktree bool, msg string, changes []Change, allowEmpty bool) (Hash, error) {
	tip, err := r.Ref(ref)
	if err != nil {
		return Hash{}, err
	}
	parent := tip
	if parent.IsZero() {
		parent = base
	}
	baseTree, err := r.rootTree(parent)
	if err != nil {
		return Hash{}, err
	}
	b := &treeBuilder{r: r, objs: map[Hash]newObject{}}
	root := &pending{}
	for _, c := range changes {
		p := c.Path
		if err := validRepoPath(p); err != nil {
			return Hash{}, fmt.Errorf("commit on %s: %w", ref, err)
		}
		root.add(strings.Split(p, "/"), c.Content, c.Blob, p)
	}
	newTree, err := b.apply(baseTree, root, "")
	if err != nil {
		return Hash{}, fmt.Errorf("commit on %s: %w", ref, err)
	}
	if newTree == baseTree && !allowEmpty {
		// a new branch without changes: nothing to commit either
		return Hash{}, nil
	}
	if newTree == emptyTree {
		// a commit of an empty tree needs the empty tree object (git fsck)
		b.put(plumbing.TreeObject, []byte{})
	}
	checkedOut := worktree && r.checkedOut(ref)
	var il *indexLock
	if checkedOut {
		// An update an earlier commit left unfinished goes first: this
		// commit's journal would replace its journal.
		if err := r.finishInterrupted(); err != nil {
			return Hash{}, fmt.Errorf("commit on %s: %w", ref, err)
		}
		// git's index lock is held from the check until the index is
		// written, so no git command can stage, commit or refresh the
		// index in between, nor after a crash in between.
		if il, err = r.lockIndex(); err != nil {
			return Hash{}, fmt.Errorf("commit on %s: %w", ref, err)
		}
		defer il.release()
		if err := r.checkWorktree(b.changed, il); err != nil {
			return Hash{}, fmt.Errorf("commit on %s: %w", ref, err)
		}
	}
	now := r.o.Now()
	sig := object.Signature{Name: r.o.AuthorName, Email: r.o.AuthorEmail, When: now}
	c := &object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: plumbing.Hash(newTree)}
	if !parent.IsZero() {
		c.ParentHashes = []plumbing.Hash{plumbing.Hash(parent)}
	}
	ch, err := b.addCommit(c)
	if err != nil {
		return Hash{}, err
	}
	if err := ctx.Err(); err != nil {
		return Hash{}, fmt.Errorf("commit on %s: %w", ref, err)
	}
	if err := r.writeObjects(b.objs); err != nil {
		return Hash{}, fmt.Errorf("commit on %s: %w", ref, err)
	}
	r.hit("objects-written")
	if checkedOut {
		if err := r.writeJournal(journal{Ref: ref, Old: tip.String(), New: ch.String()}); err != nil {
			return Hash{}, err
		}
		r.hit("journal-written")
	}
	if err := r.casRef(ref, ch, tip); err != nil {
		if checkedOut {
			r.removeJournal()
		}
		return Hash{}, fmt.Errorf("commit on %s: %w", ref, err)
	}
	r.hit("ref-moved")
	if checkedOut {
		if err := r.updateWorktree(b.changed, false, il); err != nil {
			return ch, fmt.Errorf("commit %s on %s: update working tree: %w", short(ch), ref, err)
		}
		r.removeJournal()
	}
	r.log.Debug("committed", "ref", ref, "commit", ch.String(), "files", len(b.changed), "objects", len(b.objs))
	return ch, nil
}

// checkedOut reports whether HEAD points at ref in a non-bare repository.
func (r *Repo) checkedOut(ref string) bool {
	h, err := r.st.Reference(plumbing.HEAD)
	return err == nil && h.Type() == plumbing.SymbolicReference && h.Target().String() == ref
}

// pending is the tree of changes to apply.
type pending struct {
	children map[string]*pending
	file     bool
	content  []byte
	blob     Hash // with content nil: an existing blob
	full     string
}

func (p *pending) add(parts []string, content []byte, blob Hash, full string) {
	n := p
	for _, part := range parts {
		if n.children == nil {
			n.children = map[string]*pending{}
		}
		c := n.children[part]
		if c == nil {
			c = &pending{}
			n.children[part] = c
		}
		n = c
	}
	n.file, n.content, n.blob, n.full = true, content, blob, full
}

type newObject struct {
	typ  plumbing.ObjectType
	data []byte
}

type treeBuilder struct {
	r       *Repo
	objs    map[Hash]newObject
	changed []changed
}

func (b *treeBuilder) put(t plumbing.ObjectType, data []byte) Hash {
	h := plumbing.ComputeHash(t, data)
	if _, ok := b.objs[Hash(h)]; !ok {
		b.objs[Hash(h)] = newObject{typ: t, data: data}
	}
	return Hash(h)
}

func (b *treeBuilder) addCommit(c *object.Commit) (Hash, error) {
	mo := &plumbing.MemoryObject{}
	if err := c.Encode(mo); err != nil {
		return Hash{}, fmt.Errorf("encode commit: %w", err)
	}
	rd, _ := mo.Reader()
	data, _ := io.ReadAll(rd)
	return b.put(plumbing.CommitObject, data), nil
}

// apply returns the hash of tree t with the pending changes applied.
func (b *treeBuilder) apply(t Hash, p *pending, base string) (Hash, error) {
	ents, err := b.r.treeEntries(t)
	if err != nil {
		return Hash{}, err
	}
	m := make(map[string]object.TreeEntry, len(ents)+len(p.children))
	for _, e := range ents {
		m[e.Name] = e
	}
	for name, c := range p.children {
		if !validTreeName(name) {
			return Hash{}, fmt.Errorf("path %s%s: %q cannot be stored in git", base, name, name)
		}
		old, exists := m[name]
		if c.file {
			if len(c.children) > 0 {
				return Hash{}, fmt.Errorf("path %s%s is both a file and a folder in one commit", base, name)
			}
			if exists && old.Mode == filemode.Dir {
				return Hash{}, fmt.Errorf("path %s%s is a folder in the repository, cannot write a file there", base, name)
			}
			var oldH Hash
			if exists {
				oldH = Hash(old.Hash)
			}
			if c.content == nil && c.blob.IsZero() {
				if exists {
					delete(m, name)
					b.changed = append(b.changed, changed{path: c.full, old: oldH})
				}
				continue
			}
			var h Hash
			if c.content != nil {
				h = b.put(plumbing.BlobObject, c.content)
			} else {
				if err := b.r.st.HasEncodedObject(plumbing.Hash(c.blob)); err != nil {
					return Hash{}, fmt.Errorf("path %s%s: blob %s is not in the repository: %w", base, name, short(c.blob), err)
				}
				h = c.blob // the working file is read from the blob (updateWorktree)
			}
			if exists && h == oldH && old.Mode == filemode.Regular {
				continue
			}
			m[name] = object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: plumbing.Hash(h)}
			b.changed = append(b.changed, changed{path: c.full, old: oldH, new: h, content: c.content})
			continue
		}
		sub := emptyTree
		if exists {
			if old.Mode != filemode.Dir {
				return Hash{}, fmt.Errorf("path %s%s is a file in the repository, cannot make it a folder", base, name)
			}
			sub = Hash(old.Hash)
		}
		nh, err := b.apply(sub, c, base+name+"/")
		if err != nil {
			return Hash{}, err
		}
		switch {
		case nh == sub:
		case nh == emptyTree:
			delete(m, name)
		default:
			m[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: plumbing.Hash(nh)}
		}
	}
	if len(m) == 0 {
		return emptyTree, nil
	}
	out := make([]object.TreeEntry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	sortTree(out)
	data := encodeTree(out)
	h := plumbing.ComputeHash(plumbing.TreeObject, data)
	if Hash(h) == t {
		return t, nil
	}
	b.put(plumbing.TreeObject, data)
	b.r.trees.add(Hash(h), out) // read again by the flow that commits it
	return Hash(h), nil
}

// sortTree orders entries as git does (treeOrder).
func sortTree(es []object.TreeEntry) { slices.SortFunc(es, treeOrder) }

// treeOrder is git's order of tree entries: by name, a folder's name as if
// it ended in "/".
func treeOrder(a, b object.TreeEntry) int {
	return treeCompare(a.Name, a.Mode == filemode.Dir, b.Name, b.Mode == filemode.Dir)
}

// treeCompare compares tree entry names in git's order.
func treeCompare(a string, aDir bool, b string, bDir bool) int {
	n := min(len(a), len(b))
	if c := strings.Compare(a[:n], b[:n]); c != 0 {
		return c
	}
	// one is a prefix of the other: compare the next byte, "/" after a folder's name
	next := func(s string, dir bool) int {
		switch {
		case n < len(s):
			return int(s[n])
		case dir:
			return '/'
		}
		return -1
	}
	return cmp.Compare(next(a, aDir), next(b, bDir))
}

func encodeTree(es []object.TreeEntry) []byte {
	var b bytes.Buffer
	for _, e := range es {
		b.WriteString(strconv.FormatUint(uint64(e.Mode), 8))
		b.WriteByte(' ')
		b.WriteString(e.Name)
		b.WriteByte(0)
		b.Write(e.Hash[:])
	}
	return b.Bytes()
}

// has reports whether the repository holds object h.
func (r *Repo) has(h Hash) bool {
	if r.objects != nil {
		return r.objects.has(h)
	}
	return r.st.HasEncodedObject(plumbing.Hash(h)) == nil
}

// decodeTree parses a tree object (encodeTree's format) as go-git's
// decoder does, modes made canonical; the names are parts of one string
// of the names only (a folder of 50,000 files is one allocation for its
// names, not 50,000, and holds no copy of the modes and ids).
func decodeTree(data []byte) ([]object.TreeEntry, error) {
	n := bytes.Count(data, []byte{0})
	out := make([]object.TreeEntry, 0, n)
	var names strings.Builder
	names.Grow(max(len(data)-n*(20+1+6), 0)) // n counts the zero bytes of ids too: an estimate
	ends := make([]int32, 0, n)
	for s := data; len(s) > 0; {
		sp := bytes.IndexByte(s, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("%w: missing mode terminator", object.ErrMalformedTree)
		}
		mode, err := filemode.New(string(s[:sp]))
		if err != nil {
			return nil, fmt.Errorf("%w: malformed mode", object.ErrMalformedTree)
		}
		s = s[sp+1:]
		nul := bytes.IndexByte(s, 0)
		switch {
		case nul < 0:
			return nil, fmt.Errorf("%w: missing filename terminator", object.ErrMalformedTree)
		case nul == 0:
			return nil, fmt.Errorf("%w: empty filename", object.ErrMalformedTree)
		case len(s) < nul+1+20:
			return nil, fmt.Errorf("%w: truncated object id", object.ErrMalformedTree)
		}
		names.Write(s[:nul])
		ends = append(ends, int32(names.Len()))
		e := object.TreeEntry{Mode: canonicalTreeMode(mode)}
		copy(e.Hash[:], s[nul+1:nul+21])
		out = append(out, e)
		s = s[nul+21:]
	}
	all, start := names.String(), int32(0)
	for i, end := range ends {
		out[i].Name, start = all[start:end], end
	}
	return out, nil
}

// canonicalTreeMode is the mode go-git's tree decoder gives an entry.
func canonicalTreeMode(mode filemode.FileMode) filemode.FileMode {
	switch mode & 0o170000 {
	case 0o040000:
		return filemode.Dir
	case 0o100000:
		if mode&0o111 != 0 {
			return filemode.Executable
		}
		return filemode.Regular
	case 0o120000:
		return filemode.Symlink
	default:
		return filemode.Submodule
	}
}

// writeObjects stores the objects the repository lacks: loose when few, one
// packfile otherwise.
func (r *Repo) writeObjects(objs map[Hash]newObject) error {
	var missing []Hash
	for h := range objs {
		if !r.has(h) {
			missing = append(missing, h)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if len(missing) < packThreshold {
		for _, h := range missing {
			o := objs[h]
			mo := &plumbing.MemoryObject{}
			mo.SetType(o.typ)
			mo.Write(o.data)
			if _, err := r.st.SetEncodedObject(mo); err != nil {
				return fmt.Errorf("write object %s: %w", short(h), err)
			}
		}
		return nil
	}
	sort.Slice(missing, func(i, j int) bool { return objs[missing[i]].typ > objs[missing[j]].typ })
	return r.writePack(objs, missing)
}

// ---- working tree ----

func (r *Repo) abs(p string) string { return filepath.Join(r.path, filepath.FromSlash(p)) }

// readIndex reads .git/index; a missing index is empty.
func (r *Repo) readIndex() (*index.Index, error) {
	idx := &index.Index{Version: 2}
	path := filepath.Join(r.gitDir, "index")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	if fast, ok := decodeIndex(data); ok {
		return fast, nil
	}
	if err := index.NewDecoder(bytes.NewReader(data)).Decode(idx); err != nil {
		return nil, fmt.Errorf("read index %s: %w", path, err)
	}
	return idx, nil
}

// entries reads the index as it is under the lock for the entries of the
// paths cs change, once per lock (no git command can write it while
// promoter holds the lock; the callers of one lock pass the same paths). The
// index is read as a stream and not kept: at 50,000 objects per tenant
// folder it holds 100,000 entries, about 26 MB decoded (issue 18). An index
// the stream does not read (version 4, a required extension) is decoded
// whole and rewritten from its encoding.
func (l *indexLock) entries(cs []changed) (*indexScan, error) {
	if l.scan != nil {
		return l.scan, nil
	}
	paths := make([]string, len(cs))
	for i, c := range cs {
		paths[i] = c.path
	}
	path := filepath.Join(l.r.gitDir, "index")
	f, err := os.Open(path)
	var src io.ReaderAt
	var size int64
	switch {
	case errors.Is(err, os.ErrNotExist):
		empty, _ := encodeIndex(&index.Index{Version: 2})
		src, size = bytes.NewReader(empty), int64(len(empty))
	case err != nil:
		return nil, fmt.Errorf("read index: %w", err)
	default:
		l.file = f
		fi, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("read index: %w", err)
		}
		src, size = f, fi.Size()
	}
	scan, err := scanIndex(src, size, paths)
	if errors.Is(err, errNotStreamed) {
		var data []byte
		if data, err = reencodeIndex(src, size, path); err == nil {
			scan, err = scanIndex(bytes.NewReader(data), int64(len(data)), paths)
		}
	}
	if err != nil {
		return nil, err
	}
	l.scan = scan
	return scan, nil
}

// reencodeIndex decodes the index file in src whole (go-git's Decoder:
// the file is one the stream does not read) and encodes it as version 2, or
// 3 where an entry has extended flags, sorted, with no extension.
func reencodeIndex(src io.ReaderAt, size int64, path string) ([]byte, error) {
	idx := &index.Index{}
	if err := index.NewDecoder(io.NewSectionReader(src, 0, size)).Decode(idx); err != nil {
		return nil, fmt.Errorf("read index %s: %w", path, err)
	}
	slices.SortStableFunc(idx.Entries, indexOrder)
	idx.Version = 2
	for _, e := range idx.Entries {
		if e.IntentToAdd || e.SkipWorktree {
			idx.Version = 3
		}
	}
	data, err := encodeIndex(idx)
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	return data, nil
}

// indexLockWait bounds how long a commit waits for git's index lock that a
// git command holds (an IDE's or a prompt's `git status` takes it for a few
// milliseconds, again and again); indexLockPoll is how often it tries.
var (
	indexLockWait = 10 * time.Second
	indexLockPoll = 5 * time.Millisecond
)

// ownIndexPrefix names the files that promoter links to .git/index.lock.
const ownIndexPrefix = "promoter-index-"

// indexLock is git's .git/index.lock held by promoter. promoter creates it
// as a hard link of a file of its own (.git/promoter-index-*), so a later
// run holding promoter.lock can tell a lock that a killed promoter left (the
// same file) from a running git command's lock, which it only waits for.
type indexLock struct {
	r    *Repo
	f    *os.File // the new index is written through it
	own  string   // promoter's name of the lock file; "" where hard links fail
	done bool
	scan *indexScan // the index read under the lock (entries)
	file *os.File   // the index file scan reads, open until the lock is given up
}

func (r *Repo) indexLockPath() string { return filepath.Join(r.gitDir, "index.lock") }

// lockIndex takes git's index lock, waiting up to indexLockWait while a git
// command holds it.
func (r *Repo) lockIndex() (*indexLock, error) {
	lock := r.indexLockPath()
	f, err := os.CreateTemp(r.gitDir, ownIndexPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("lock index: %w", err)
	}
	l := &indexLock{r: r, f: f, own: f.Name()}
	if err := f.Chmod(0o644); err != nil {
		l.drop()
		return nil, fmt.Errorf("lock index: %w", err)
	}
	deadline := time.Now().Add(indexLockWait)
	for waited := false; ; waited = true {
		err := l.try(lock)
		if err == nil {
			if waited {
				r.log.Info("took git's index lock after waiting for a git command", "path", lock)
			}
			r.hit("index-locked")
			return l, nil
		}
		if !errors.Is(err, os.ErrExist) {
			l.drop()
			return nil, fmt.Errorf("lock index: %w", err)
		}
		if !waited {
			r.log.Info("waiting for git's index lock: a git command is running", "path", lock, "max", indexLockWait)
		}
		if time.Now().After(deadline) {
			l.drop()
			return nil, fmt.Errorf("lock index: %s still exists after %s: a git command is running in %s (an open editor of git commit or git rebase holds it); finish it, or delete that file if no git command runs, then run again", lock, indexLockWait, r.path)
		}
		time.Sleep(indexLockPoll)
	}
}

// try creates the lock file once: a hard link of promoter's file, or an
// exclusive create where the file system has no hard links.
func (l *indexLock) try(lock string) error {
	if l.own == "" {
		f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			l.f = f
		}
		return err
	}
	err := os.Link(l.own, lock)
	if err == nil || errors.Is(err, os.ErrExist) {
		return err
	}
	// no hard links here: a lock a later run cannot tell from git's
	l.r.log.Debug("hard links fail in the git folder; taking the index lock by an exclusive create", "err", err)
	l.f.Close()
	os.Remove(l.own)
	l.f, l.own = nil, ""
	return l.try(lock)
}

// closeFile closes the index file the lock's scan read.
func (l *indexLock) closeFile() {
	if l.file != nil {
		l.file.Close()
		l.file = nil
	}
}

// drop removes promoter's file of a lock not taken.
func (l *indexLock) drop() {
	l.closeFile()
	if l.f != nil {
		l.f.Close()
	}
	if l.own != "" {
		os.Remove(l.own)
	}
	l.done = true
}

// commit writes the new index (through the lock and a rename): the index
// read under the lock with the entries of put in place of their paths'
// entries and none of the paths in drop, dropping the extensions (caches the
// new content invalidates).
func (l *indexLock) commit(put []*index.Entry, drop map[string]bool) error {
	if l.done {
		return errors.New("write index: the index lock was released")
	}
	if l.scan == nil {
		return errors.New("write index: the index was not read under the lock")
	}
	err := l.scan.rewrite(l.f, put, drop) // a failure leaves a partial lock file, which release removes
	l.closeFile()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	path := filepath.Join(l.r.gitDir, "index")
	if err == nil {
		err = os.Rename(l.r.indexLockPath(), path)
	}
	if err != nil {
		l.release()
		return fmt.Errorf("write index: %w", err)
	}
	l.done = true
	if l.own != "" {
		os.Remove(l.own)
	}
	return nil
}

// release gives the lock up without writing the index; after commit it does
// nothing.
func (l *indexLock) release() {
	if l == nil || l.done {
		return
	}
	lock := l.r.indexLockPath()
	if l.own == "" || sameFile(lock, l.own) {
		os.Remove(lock)
	}
	l.drop()
}

func sameFile(a, b string) bool {
	fa, err := os.Lstat(a)
	if err != nil {
		return false
	}
	fb, err := os.Lstat(b)
	return err == nil && os.SameFile(fa, fb)
}

// removeStaleIndexLock removes the index lock a killed promoter left (the
// same file as one of promoter's .git/promoter-index-* files) and those
// files. Only a holder of promoter.lock may call it: no other promoter is
// writing then, and a git command's lock is never one of those files.
func (r *Repo) removeStaleIndexLock() {
	own, _ := filepath.Glob(filepath.Join(r.gitDir, ownIndexPrefix+"*"))
	lock := r.indexLockPath()
	for _, p := range own {
		if sameFile(lock, p) && os.Remove(lock) == nil {
			r.log.Warn("removed git's index lock that an interrupted promoter left (this process holds .git/promoter.lock, so no other promoter is writing)", "path", lock)
		}
		os.Remove(p)
	}
}

func fileHash(p string) (Hash, bool, error) {
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return Hash{}, false, nil
	}
	if err != nil {
		return Hash{}, false, err
	}
	return Hash(plumbing.ComputeHash(plumbing.BlobObject, data)), true, nil
}

// statMatches reports whether the file's stat data equals the index entry's,
// so the file is known unchanged without reading it.
func statMatches(e *index.Entry, fi os.FileInfo) bool {
	return fi.Mode().IsRegular() && uint32(fi.Size()) == e.Size && fi.ModTime().Equal(e.ModifiedAt)
}

// checkWorktree fails when a path the commit changes holds uncommitted work:
// a working file or staged entry that is neither the old nor the new content.
// il is git's index lock, held until updateWorktree writes the index.
func (r *Repo) checkWorktree(cs []changed, il *indexLock) error {
	scan, err := il.entries(cs)
	if err != nil {
		return err
	}
	for _, c := range cs {
		e := scan.last[c.path]
		if e != nil && Hash(e.Hash) != c.old && Hash(e.Hash) != c.new {
			return fmt.Errorf("%s has staged changes that are not committed: commit or unstage them (git restore --staged) in %s, then run again", c.path, r.path)
		}
		fi, err := os.Lstat(r.abs(c.path))
		if errors.Is(err, os.ErrNotExist) {
			continue // nothing there to lose
		}
		if err != nil {
			return fmt.Errorf("check %s: %w", c.path, err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file in the working tree: move it away, then run again", c.path)
		}
		if e != nil && Hash(e.Hash) == c.old && statMatches(e, fi) {
			continue
		}
		h, _, err := fileHash(r.abs(c.path))
		if err != nil {
			return fmt.Errorf("check %s: %w", c.path, err)
		}
		if h != c.old && h != c.new {
			return fmt.Errorf("%s has uncommitted changes in %s that this commit would overwrite: commit or move them away, then run again", c.path, r.path)
		}
	}
	return nil
}

// updateWorktree writes the changed files and updates the index; il is
// git's index lock, which the caller took before it read the index to check
// the paths and which is released (written) here. With careful set (crash
// recovery), a leftover temporary file of a changed path is removed, and a
// file or staged entry holding neither the old nor the new content is a
// person's and left alone.
func (r *Repo) updateWorktree(cs []changed, careful bool, il *indexLock) error {
	defer il.release()
	scan, err := il.entries(cs)
	if err != nil {
		return err
	}
	removed := map[string]bool{}
	var emptied []string
	made := map[string]bool{}
	// Files are written by a few workers: on a large snapshot the time goes
	// to open/write/close system calls, which overlap well (issue 9).
	type job struct {
		c       changed
		content []byte
	}
	jobs := make(chan job)
	var (
		wmu      sync.Mutex
		werr     error
		wg       sync.WaitGroup
		written  []*index.Entry
		failed   = func() bool { wmu.Lock(); defer wmu.Unlock(); return werr != nil }
		workers  = min(8, max(1, len(cs)/64))
		dispatch = func(j job) error {
			if failed() {
				return nil
			}
			jobs <- j
			return nil
		}
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				e, err := r.writeWorkFile(j.c, j.content)
				wmu.Lock()
				if err != nil && werr == nil {
					werr = err
				}
				if e != nil {
					written = append(written, e)
				}
				wmu.Unlock()
			}
		}()
	}
	finish := func() error {
		close(jobs)
		wg.Wait()
		return werr
	}
	for n, c := range cs {
		if n%1000 == 0 {
			r.hit("worktree-progress")
		}
		p := r.abs(c.path)
		if careful {
			if err := os.Remove(tempName(p)); err == nil {
				r.log.Info("removed the temporary file of an interrupted update", "path", c.path)
			}
			if e := scan.last[c.path]; e != nil && Hash(e.Hash) != c.old && Hash(e.Hash) != c.new {
				r.log.Warn("left a file with staged changes alone", "path", c.path)
				continue
			}
			h, ok, err := fileHash(p)
			if err != nil {
				finish()
				return err
			}
			if ok && h != c.old && h != c.new {
				r.log.Warn("left a file with uncommitted changes alone", "path", c.path)
				continue
			}
		}
		if c.new.IsZero() {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				finish()
				return fmt.Errorf("remove %s: %w", c.path, err)
			}
			// emptied folders go after the writes: a worker may still be
			// about to create a file in this one
			emptied = append(emptied, filepath.Dir(p))
			removed[c.path] = true
			continue
		}
		content := c.content
		if content == nil {
			content, err = r.blob(c.new)
			if err != nil {
				finish()
				return err
			}
		}
		if d := filepath.Dir(p); !made[d] {
			if err := os.MkdirAll(d, 0o755); err != nil {
				finish()
				return fmt.Errorf("write %s: %w", c.path, err)
			}
			made[d] = true
		}
		_ = dispatch(job{c: c, content: content})
	}
	if err := finish(); err != nil {
		return err
	}
	for _, d := range emptied {
		removeEmptyParents(r.path, d)
	}
	r.hit("worktree-written")
	return il.commit(written, removed)
}

// indexOrder is git's order of index entries: by name, then stage.
func indexOrder(a, b *index.Entry) int {
	if a.Name != b.Name {
		return strings.Compare(a.Name, b.Name)
	}
	return cmp.Compare(a.Stage, b.Stage)
}

// tempName is the temporary file a working file is written to before it is
// renamed over p: in the same folder, and with a leading dot, which no object
// file name has.
func tempName(p string) string {
	return filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".promoter-new")
}

// writeWorkFile writes one changed file of the working tree and returns its
// index entry. The content goes to a temporary file that is renamed over the
// old one (a new inode, like git checkout), so a crash or a full disk leaves
// the old file or the new one, never a cut one.
func (r *Repo) writeWorkFile(c changed, content []byte) (*index.Entry, error) {
	p := r.abs(c.path)
	tmp := tempName(p)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", c.path, err)
	}
	r.hit("worktree-file")
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	var fi os.FileInfo
	if err == nil {
		fi, err = os.Lstat(p)
	}
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("write %s: %w", c.path, err)
	}
	e := &index.Entry{Name: c.path, Hash: plumbing.Hash(c.new), Mode: filemode.Regular, Size: uint32(fi.Size()), ModifiedAt: fi.ModTime(), CreatedAt: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.Dev, e.Inode, e.UID, e.GID = uint32(st.Dev), uint32(st.Ino), st.Uid, st.Gid
		e.CreatedAt = time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))
	}
	return e, nil
}

func removeEmptyParents(root, dir string) {
	for i := 0; i < 64 && dir != root && strings.HasPrefix(dir, root+string(filepath.Separator)); i++ {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// ---- crash journal ----

// journal records a branch move whose working tree update may not have
// finished; Open completes it.
type journal struct {
	Ref string `json:"ref"`
	Old string `json:"old"`
	New string `json:"new"`
}

func (r *Repo) journalPath() string { return filepath.Join(r.gitDir, "promoter-checkout.json") }

func (r *Repo) writeJournal(j journal) error {
	data, _ := json.Marshal(j)
	if err := writeFileAtomic(r.journalPath(), data); err != nil {
		return fmt.Errorf("write %s: %w", r.journalPath(), err)
	}
	return nil
}

func (r *Repo) removeJournal() { os.Remove(r.journalPath()) }

// interrupted reports whether an earlier writer left something to recover:
// a journal or one of promoter's index or ref lock files.
func (r *Repo) interrupted() bool {
	if _, err := os.Lstat(r.journalPath()); err == nil {
		return true
	}
	own, _ := filepath.Glob(filepath.Join(r.gitDir, ownIndexPrefix+"*"))
	refs, _ := filepath.Glob(filepath.Join(r.gitDir, ownRefPrefix+"*"))
	return len(own)+len(refs) > 0
}

// finishInterrupted completes a working tree update that an earlier commit
// of this process or another left (its journal is still there) before a new
// one starts. It does nothing while another process holds promoter.lock.
func (r *Repo) finishInterrupted() error {
	if _, err := os.Lstat(r.journalPath()); err != nil {
		return nil
	}
	return r.recoverIfFree()
}

// recover completes what a promoter that died or failed in a commit left:
// it removes the index lock and the temporary files it left and completes
// the working tree update of a commit whose branch moved. Only a holder of
// promoter.lock may call it (Lock, recoverIfFree).
func (r *Repo) recover() error {
	r.refresh() // the interrupted writer may have been another process
	r.removeStaleIndexLock()
	r.removeStaleRefLocks()
	data, err := os.ReadFile(r.journalPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", r.journalPath(), err)
	}
	var j journal
	if err := json.Unmarshal(data, &j); err != nil {
		r.log.Warn("ignoring an unreadable checkout journal", "path", r.journalPath(), "err", err)
		r.removeJournal()
		return nil
	}
	// a lock file of the journal's ref is this process's predecessor's:
	// it died between taking and renaming it
	if lock := filepath.Join(r.gitDir, filepath.FromSlash(j.Ref)+".lock"); strings.HasPrefix(j.Ref, "refs/") {
		if err := os.Remove(lock); err == nil {
			r.log.Warn("removed the ref lock of an interrupted commit", "path", lock)
		}
	}
	cur, err := r.Ref(j.Ref)
	if err != nil {
		return err
	}
	if cur.String() == j.New && r.checkedOut(j.Ref) {
		cs, err := r.changedBetween(Hash(plumbing.NewHash(j.Old)), cur)
		if err != nil {
			return err
		}
		r.log.Warn("completing the working tree update of an interrupted commit", "commit", j.New, "files", len(cs))
		il, err := r.lockIndex()
		if err != nil {
			return fmt.Errorf("complete interrupted commit %s: %w", j.New, err)
		}
		if err := r.updateWorktree(cs, true, il); err != nil {
			return fmt.Errorf("complete interrupted commit %s: %w", j.New, err)
		}
	}
	r.removeJournal()
	return nil
}

// changedBetween lists the files that differ between two commits.
func (r *Repo) changedBetween(a, b Hash) ([]changed, error) {
	ta, err := r.rootTree(a)
	if err != nil {
		return nil, err
	}
	tb, err := r.rootTree(b)
	if err != nil {
		return nil, err
	}
	var cs []changed
	err = r.diffTrees(ta, tb, "", func(p string, x, y object.TreeEntry) {
		cs = append(cs, changed{path: p, old: Hash(x.Hash), new: Hash(y.Hash)})
	})
	return cs, err
}

// ---- snapshots ----

// WriteTenant makes tenants/<tenant>/<TYPE>/ match entries for every type in
// types (other types' folders are untouched) and commits. Files of objects
// that are semantically unchanged keep their stored bytes; files of objects
// that are gone are deleted. It returns the zero Hash when nothing changed.
func (r *Repo) WriteTenant(ctx context.Context, tenant string, types []string, entries []spconfig.Entry, s CommitSpec) (Hash, error) {
	files := make([]FileRef, len(entries))
	for i := range entries {
		files[i].Entry = &entries[i]
	}
	return r.WriteTenantFiles(ctx, tenant, types, files, s)
}

// WriteTenantFiles is WriteTenant of files whose entries may be thin
// (ReadTenantEntries): a thin entry's file is its blob (FileRef.Blob), kept
// when the stored file is that blob and read from the repository otherwise.
// Only FileRef.Entry and FileRef.Blob are used.
func (r *Repo) WriteTenantFiles(ctx context.Context, tenant string, types []string, files []FileRef, s CommitSpec) (Hash, error) {
	changes, err := r.tenantChanges(tenant, types, files, s)
	if err != nil {
		return Hash{}, err
	}
	if len(changes) == 0 && !s.AllowEmpty {
		return Hash{}, nil
	}
	return r.Commit(ctx, CommitSpec{Branch: s.Branch, Base: s.Base, Message: s.Message, Trailers: s.Trailers, Changes: changes, AllowEmpty: s.AllowEmpty})
}

// tenantChanges is WriteTenantFiles without the commit: the changes that
// make tenants/<tenant>/<TYPE>/ at the tip of s's branch (or s.Base) match
// files for every type in types.
func (r *Repo) tenantChanges(tenant string, types []string, files []FileRef, s CommitSpec) ([]Change, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, fmt.Errorf("write tenant: %w", err)
	}
	entries := make([]spconfig.Entry, len(files))
	var full []spconfig.Entry
	for i, f := range files {
		entries[i] = *f.Entry
		switch {
		case !f.Entry.IsThin():
			full = append(full, *f.Entry)
		case f.Blob.IsZero():
			return nil, fmt.Errorf("write tenant %s: objects[%d] (%s) is a thin entry without a blob: internal error, nothing was written", tenant, i, f.Entry.Key())
		}
	}
	if err := checkEntries(full); err != nil {
		return nil, fmt.Errorf("write tenant %s: %w; nothing was written", tenant, err)
	}
	inTypes := map[string]bool{}
	for _, t := range types {
		inTypes[t] = true
	}
	for i, e := range entries {
		if !inTypes[e.Self.Type] {
			return nil, fmt.Errorf("write tenant %s: objects[%d] (%s) has type %s, which is not among the types written (%s)", tenant, i, e.Key(), e.Self.Type, strings.Join(types, ", "))
		}
	}
	names, err := FileNames(entries)
	if err != nil {
		return nil, fmt.Errorf("write tenant %s: %w", tenant, err)
	}
	r.refresh()
	tip, err := r.Ref(r.branchRef(s.Branch))
	if err != nil {
		return nil, err
	}
	if tip.IsZero() {
		tip = s.Base
	}
	dir := TenantDir(tenant)
	root, err := r.rootTree(tip)
	if err != nil {
		return nil, err
	}
	// the stored files of the written types
	stored := map[string]object.TreeEntry{}
	for t := range inTypes {
		folder := dir + "/" + EncodeName(t)
		te, ok, err := r.lookup(root, folder)
		if err != nil {
			return nil, err
		}
		if !ok || te.Mode != filemode.Dir {
			continue
		}
		ents, err := r.treeEntries(Hash(te.Hash))
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.Mode.IsFile() {
				stored[folder+"/"+e.Name] = e
			}
		}
	}
	same := r.sameFiles(files, names, dir, stored)
	var changes []Change
	keep := make(map[string]bool, len(entries))
	for i, f := range files {
		p := dir + "/" + names[i]
		keep[p] = true
		if same[i] {
			continue
		}
		e := *f.Entry
		var data []byte
		if e.IsThin() {
			if data, err = r.blob(f.Blob); err != nil {
				return nil, fmt.Errorf("write tenant %s: read the file of %s: %w", tenant, e.Key(), err)
			}
		} else {
			data = EncodeFile(e)
		}
		if old, ok := stored[p]; ok {
			oldData, err := r.blob(Hash(old.Hash))
			if err != nil {
				return nil, err
			}
			if oe, err := DecodeFile(p, oldData); err == nil {
				if e.IsThin() {
					if ne, err := DecodeFile(p, data); err == nil && SemanticEqual(oe, ne) {
						continue
					}
				} else if SemanticEqual(oe, e) {
					continue
				}
			}
		}
		// collision-detecting SHA-1, as git's own ids: the id is also the
		// key of the decode cache
		r.decoded.remember(Hash(plumbing.ComputeHash(plumbing.BlobObject, data)), e)
		changes = append(changes, Change{Path: p, Content: data})
	}
	for p := range stored {
		if !keep[p] {
			changes = append(changes, Change{Path: p})
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	return changes, nil
}

// sameFiles reports, for each file, whether the stored file at its path
// (dir/names[i]) holds exactly its file: a thin entry's blob is the stored
// one, or a full entry's file hashes to the stored blob id (through
// crypto/sha1, as a snapshot compares). The files are encoded and hashed by
// one worker per CPU, each in a buffer of its own, and the entries found
// equal are remembered in the decode cache.
func (r *Repo) sameFiles(files []FileRef, names []string, dir string, stored map[string]object.TreeEntry) []bool {
	same := make([]bool, len(files))
	if len(stored) == 0 {
		return same
	}
	work := func(lo, hi int) {
		var buf []byte
		for i := lo; i < hi; i++ {
			f := files[i]
			old, ok := stored[dir+"/"+names[i]]
			if !ok {
				continue
			}
			if f.Entry.IsThin() {
				same[i] = f.Blob == Hash(old.Hash)
				continue
			}
			var h Hash
			if h, buf = entryFileHash(*f.Entry, buf); h == Hash(old.Hash) {
				r.decoded.remember(Hash(old.Hash), *f.Entry)
				same[i] = true
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, len(files)/1024))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(w*len(files)/workers, (w+1)*len(files)/workers)
		}()
	}
	wg.Wait()
	return same
}

// Dirty lists uncommitted changes in the working tree, in the style of
// `git status --porcelain` ("M path", "D path", "?? path", staged as "S path").
func (r *Repo) Dirty() ([]string, error) {
	r.refresh()
	idx, err := r.readIndex()
	if err != nil {
		return nil, err
	}
	head, err := r.Head()
	if err != nil {
		return nil, err
	}
	t, err := r.rootTree(head)
	if err != nil {
		return nil, err
	}
	inHead := map[string]Hash{}
	if err := r.diffTrees(emptyTree, t, "", func(p string, _, y object.TreeEntry) { inHead[p] = Hash(y.Hash) }); err != nil {
		return nil, err
	}
	var out []string
	tracked := make(map[string]bool, len(idx.Entries))
	for _, e := range idx.Entries {
		tracked[e.Name] = true
		if h, ok := inHead[e.Name]; !ok || h != Hash(e.Hash) {
			out = append(out, "S "+e.Name)
		}
		fi, err := os.Lstat(r.abs(e.Name))
		if err != nil {
			out = append(out, "D "+e.Name)
			continue
		}
		if statMatches(e, fi) {
			continue
		}
		if h, _, err := fileHash(r.abs(e.Name)); err != nil || h != Hash(e.Hash) {
			out = append(out, "M "+e.Name)
		}
	}
	for p := range inHead {
		if !tracked[p] {
			out = append(out, "S "+p)
		}
	}
	err = filepath.WalkDir(r.path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(r.path, p)
		rel = filepath.ToSlash(rel)
		if !tracked[rel] {
			out = append(out, "?? "+rel)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}
