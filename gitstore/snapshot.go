package gitstore

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"promoter/spconfig"
)

// Snapshot writes a tenant snapshot from a stream of entries (issue 9): each
// entry is encoded as its file and compared with the stored file as it
// arrives (by blob hash first, decoding the stored file only when the hashes
// differ), and only the files that change are kept in memory. The result is
// the commit WriteTenant makes for the same entries. A Snapshot is used by
// one goroutine.
type Snapshot struct {
	r       *Repo
	tenant  string
	types   []string
	inTypes map[string]bool
	spec    CommitSpec

	// stored are the files at the tip of the written types' folders, by
	// encoded type name (folderAt): the repository's cached tree entries,
	// shared, not copied (at 50,000 objects a map of their paths was 8 MB;
	// issue 18).
	stored   []storedFolder
	folderAt map[string]int32
	nStored  int    // the files stored holds
	buf      []byte // the file of the entry being added (reused)
	recs     []snapRec
	counts   map[string]int
	err      error // the first failed Add; sticky

	written map[string]*spconfig.Entry // path -> thin entry of a changed file (Remember), between Changes and Commit

	// Remember keeps the added entries in the repository's decode cache as
	// thin entries (those whose files are unchanged at once, the changed
	// ones when they are committed), so reading the folder later in the
	// same process as thin entries (a run's plan indexes the source folder,
	// its observations are read back) reads no blob.
	Remember bool
}

// storedFolder is one type's folder at the tip.
type storedFolder struct {
	name string // the encoded type name
	ents []object.TreeEntry
}

// snapRec is one added entry: what is needed to name, compare and write it.
// Most entries of an export are byte-equal to their stored file: such a
// record is that file's place (16 bytes, no path of its own; at 50,000
// objects the records with paths were 7 MB of a run's peak, issue 18).
type snapRec struct {
	folder, at int32     // a byte-equal stored file: stored[folder].ents[at]
	x          *snapFile // any other record (folder is -1)
}

// snapFile is a record whose file is not a byte-equal stored one.
type snapFile struct {
	plain   string // tenant-relative plain path "<TYPE>/<name>.json"
	data    []byte // the encoded file when it differs from the stored one
	raw     []byte // the entry's bytes when they are not recoverable from data
	changed bool
	thin    *spconfig.Entry // with Remember, the thin entry of a changed file (remembered once it is written)
}

// plain is the tenant-relative plain path of rec.
func (sn *Snapshot) plain(rec *snapRec) string {
	if rec.x != nil {
		return rec.x.plain
	}
	f := &sn.stored[rec.folder]
	return f.name + "/" + f.ents[rec.at].Name
}

// NewSnapshot starts a snapshot of tenants/<tenant>/<TYPE>/ for the given
// types, compared with the tip of the branch of s (or s.Base when the branch
// does not exist). s.Changes is ignored.
func (r *Repo) NewSnapshot(tenant string, types []string, s CommitSpec) (*Snapshot, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, fmt.Errorf("write tenant: %w", err)
	}
	r.refresh()
	tip, err := r.Ref(r.branchRef(s.Branch))
	if err != nil {
		return nil, err
	}
	if tip.IsZero() {
		tip = s.Base
	}
	root, err := r.rootTree(tip)
	if err != nil {
		return nil, err
	}
	sn := &Snapshot{r: r, tenant: tenant, types: types, inTypes: map[string]bool{}, spec: s,
		folderAt: map[string]int32{}, counts: map[string]int{}}
	dir := TenantDir(tenant)
	for _, t := range types {
		sn.inTypes[t] = true
	}
	for t := range sn.inTypes {
		folder := EncodeName(t)
		te, ok, err := r.lookup(root, dir+"/"+folder)
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
		if !slices.IsSortedFunc(ents, treeOrder) { // git writes trees sorted; a tree that is not is searched in a sorted copy
			ents = slices.SortedFunc(slices.Values(ents), treeOrder)
		}
		sn.folderAt[folder] = int32(len(sn.stored))
		sn.stored = append(sn.stored, storedFolder{folder, ents})
	}
	n := 0
	for _, f := range sn.stored {
		n += len(f.ents)
	}
	sn.nStored = n
	sn.recs = make([]snapRec, 0, sn.SizeHint()) // no growth by doubling in the usual case
	return sn, nil
}

// storedFile returns the blob of the stored file at plain, a tenant-relative
// path "<TYPE>/<name>.json", and its place (stored[folder].ents[at]).
func (sn *Snapshot) storedFile(plain string) (h Hash, folder, at int32, ok bool) {
	name, base, _ := strings.Cut(plain, "/")
	folder, ok = sn.folderAt[name]
	if !ok {
		return Hash{}, 0, 0, false
	}
	ents := sn.stored[folder].ents
	i, found := slices.BinarySearchFunc(ents, base, func(e object.TreeEntry, name string) int {
		return treeCompare(e.Name, e.Mode == filemode.Dir, name, false)
	})
	if !found || !ents[i].Mode.IsFile() {
		return Hash{}, 0, 0, false
	}
	return Hash(ents[i].Hash), folder, int32(i), true
}

// SetSpec sets the commit's message, trailers and AllowEmpty (known to an
// export only after its download); the branch and base stay those given to
// NewSnapshot.
func (sn *Snapshot) SetSpec(s CommitSpec) {
	sn.spec.Message, sn.spec.Trailers, sn.spec.AllowEmpty = s.Message, s.Trailers, s.AllowEmpty
}

// Counts returns the number of entries added per type.
func (sn *Snapshot) Counts() map[string]int { return sn.counts }

// Len returns the number of entries added.
func (sn *Snapshot) Len() int { return len(sn.recs) }

// SizeHint is a capacity for what a snapshot adds: the files its folders
// held before it and a little room (a folder changes by a few files), so a
// list of them, the snapshot's own included, does not grow by doubling.
func (sn *Snapshot) SizeHint() int { return sn.nStored + sn.nStored/64 }

// Add adds the next entry. An entry that is not a parsed export entry, or
// whose type is not among the snapshot's types, is refused, and so is one
// whose stored file cannot be read to compare it. Errors are sticky: every
// later Add and Commit return the first one, and nothing is written.
func (sn *Snapshot) Add(e spconfig.Entry) error {
	_, _, err := sn.AddBlob(e)
	return err
}

// BlobState says where the file of an added entry is (Snapshot.AddBlob).
type BlobState int

const (
	// BlobStored: the repository holds the file's blob already (the stored
	// file is byte-equal).
	BlobStored BlobState = iota
	// BlobWritten: the file changed; Commit writes its blob.
	BlobWritten
	// BlobKept: a semantically equal stored file with other bytes stays, so
	// the entry's own file is never written.
	BlobKept
)

// AddBlob is Add that also returns the entry's file by reference (its blob
// id; with Remember, its thin entry unless the state is BlobKept) and where
// that blob is. A snapshot with Remember keeps the entries of the blobs it
// stores in the decode cache as thin entries (see ReadTenantEntries), the
// ones it returns.
func (sn *Snapshot) AddBlob(e spconfig.Entry) (FileRef, BlobState, error) {
	if sn.err != nil {
		return FileRef{}, BlobKept, sn.err
	}
	i := len(sn.recs)
	if err := checkEntries([]spconfig.Entry{e}); err != nil {
		var de *spconfig.DecodeError
		if errors.As(err, &de) {
			de.Index = i
		}
		sn.err = fmt.Errorf("write tenant %s: %w; nothing was written", sn.tenant, err)
		return FileRef{}, BlobKept, sn.err
	}
	if !sn.inTypes[e.Self.Type] {
		sn.err = fmt.Errorf("write tenant %s: objects[%d] (%s) has type %s, which is not among the types written (%s)", sn.tenant, i, e.Key(), e.Self.Type, strings.Join(sn.types, ", "))
		return FileRef{}, BlobKept, sn.err
	}
	sn.counts[e.Self.Type]++
	k := e.Key()
	plain := EncodeName(e.Self.Type) + "/" + EncodeName(baseName(k)) + ".json"
	var h Hash
	h, sn.buf = entryFileHash(e, sn.buf)
	same, folder, at, err := sn.compare(plain, h, e)
	if err != nil {
		sn.err = fmt.Errorf("write tenant %s: objects[%d] (%s): %w; nothing was written", sn.tenant, i, k, err)
		return FileRef{}, BlobKept, sn.err
	}
	ref := FileRef{Blob: h}
	state := BlobWritten
	rec := snapRec{folder: -1}
	switch {
	case same == hashEqual:
		rec.folder, rec.at, state = folder, at, BlobStored
		if sn.Remember {
			ref.Entry = sn.r.decoded.remember(h, e)
		}
	case same == semanticEqual:
		rec.x, state = &snapFile{plain: plain, raw: e.Raw}, BlobKept // the stored bytes stay; the entry's own are kept in case its name changes
	default:
		rec.x = &snapFile{plain: plain, data: bytes.Clone(sn.buf), changed: true}
		if sn.Remember {
			t := e.Thin()
			rec.x.thin, ref.Entry = &t, &t
		}
	}
	sn.recs = append(sn.recs, rec)
	return ref, state, nil
}

type equality int

const (
	differs equality = iota
	hashEqual
	semanticEqual
)

// compare compares an entry's file, whose blob id is h, with the stored file
// at plain, and returns that file's place (storedFile) when it is the same
// blob.
func (sn *Snapshot) compare(plain string, h Hash, e spconfig.Entry) (same equality, folder, at int32, err error) {
	old, folder, at, ok := sn.storedFile(plain)
	if !ok {
		return differs, 0, 0, nil
	}
	if h == old {
		return hashEqual, folder, at, nil
	}
	oldData, err := sn.r.blob(old)
	if err != nil {
		return differs, 0, 0, err
	}
	if oe, err := DecodeFile(TenantDir(sn.tenant)+"/"+plain, oldData); err == nil && SemanticEqual(oe, e) {
		return semanticEqual, 0, 0, nil
	}
	return differs, 0, 0, nil
}

// entry rebuilds the entry of a record (only needed when its name collided).
func (sn *Snapshot) entry(rec *snapRec) (spconfig.Entry, error) {
	var raw, data []byte
	if rec.x != nil {
		raw, data = rec.x.raw, rec.x.data
	}
	if raw == nil {
		if data == nil {
			b, err := sn.r.blob(Hash(sn.stored[rec.folder].ents[rec.at].Hash))
			if err != nil {
				return spconfig.Entry{}, err
			}
			data = b
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, data); err != nil {
			return spconfig.Entry{}, fmt.Errorf("rebuild %s: %w", sn.plain(rec), err)
		}
		raw = buf.Bytes()
	}
	return spconfig.NewEntry(raw)
}

// Commit writes the files that changed, deletes the files of the written
// types whose objects are gone, and commits like WriteTenant. It returns the
// zero Hash when nothing changed (unless the spec allows an empty commit).
func (sn *Snapshot) Commit(ctx context.Context) (Hash, error) {
	changes, err := sn.Changes()
	s := sn.spec
	if err != nil || (len(changes) == 0 && !s.AllowEmpty) {
		return Hash{}, err
	}
	c, err := sn.r.Commit(ctx, CommitSpec{Branch: s.Branch, Base: s.Base, Message: s.Message, Trailers: s.Trailers, Changes: changes, AllowEmpty: s.AllowEmpty})
	if err == nil && sn.Remember {
		for _, ch := range changes {
			if ch.Content != nil {
				if t, ok := sn.written[ch.Path]; ok {
					// collision-detecting SHA-1, as git's own ids: the id is
					// the key of the decode cache
					sn.r.decoded.keep(Hash(plumbing.ComputeHash(plumbing.BlobObject, ch.Content)), t)
				}
			}
		}
	}
	sn.written = nil
	return c, err
}

// Changes is Commit without the commit: the changes the snapshot makes (a
// dry run lays them over the tip). The snapshot is spent either way.
func (sn *Snapshot) Changes() ([]Change, error) {
	if sn.err != nil {
		return nil, sn.err
	}
	dir := TenantDir(sn.tenant) + "/"
	sn.written = map[string]*spconfig.Entry{}
	// kept marks the stored files an added entry keeps, by folder
	kept := make([][]bool, len(sn.stored))
	for i, f := range sn.stored {
		kept[i] = make([]bool, len(f.ents))
	}
	keep := func(plain string) {
		if _, folder, at, ok := sn.storedFile(plain); ok {
			kept[folder][at] = true
		}
	}
	var changes []Change
	collided := sn.collisions()
	for i := range sn.recs {
		rec := &sn.recs[i]
		switch {
		case collided[i]:
			continue
		case rec.x == nil:
			kept[rec.folder][rec.at] = true
			continue
		}
		keep(rec.x.plain)
		if rec.x.changed {
			changes = append(changes, Change{Path: dir + rec.x.plain, Content: rec.x.data})
			if rec.x.thin != nil {
				sn.written[dir+rec.x.plain] = rec.x.thin
			}
		}
	}
	if len(collided) > 0 {
		taken := make(map[string]bool, len(sn.recs))
		var es []spconfig.Entry
		for i := range sn.recs {
			if !collided[i] {
				taken[strings.ToLower(sn.plain(&sn.recs[i]))] = true
				continue
			}
			e, err := sn.entry(&sn.recs[i])
			if err != nil {
				return nil, fmt.Errorf("write tenant %s: %w", sn.tenant, err)
			}
			es = append(es, e)
		}
		names, err := fileNames(es, taken)
		if err != nil {
			return nil, fmt.Errorf("write tenant %s: %w", sn.tenant, err)
		}
		for j, e := range es {
			p := dir + names[j]
			keep(names[j])
			data := EncodeFile(e)
			same, _, _, err := sn.compare(names[j], BlobID(data), e)
			if err != nil {
				return nil, err
			}
			if same == differs {
				changes = append(changes, Change{Path: p, Content: data})
			}
		}
	}
	var gone []string
	for fi, f := range sn.stored {
		for i, e := range f.ents {
			if e.Mode.IsFile() && !kept[fi][i] {
				gone = append(gone, dir+f.name+"/"+e.Name)
			}
		}
	}
	sort.Strings(gone)
	for _, p := range gone {
		changes = append(changes, Change{Path: p})
	}
	sn.recs, sn.stored = nil, nil
	return changes, nil
}

// collisions marks the records whose paths equal another's but for case
// (names that would collide on a case-insensitive file system): their names
// are resolved at Changes. The records are sorted by a hash of the
// lower-cased path, so only records of equal hashes are compared; a map of
// every lower-cased path was about 5 MB at 50,000 objects (issue 18).
func (sn *Snapshot) collisions() map[int]bool {
	type hashed struct {
		h uint64
		i int32
	}
	// a stored record's lower-cased path is hashed in parts, not built
	// (maphash gives the bytes' hash however they are written)
	var mh maphash.Hash
	folders := make([]string, len(sn.stored))
	for i, f := range sn.stored {
		folders[i] = strings.ToLower(f.name) + "/"
	}
	hs := make([]hashed, len(sn.recs))
	for i := range sn.recs {
		mh.Reset()
		if rec := &sn.recs[i]; rec.x != nil {
			mh.WriteString(strings.ToLower(rec.x.plain))
		} else {
			mh.WriteString(folders[rec.folder])
			mh.WriteString(strings.ToLower(sn.stored[rec.folder].ents[rec.at].Name))
		}
		hs[i] = hashed{mh.Sum64(), int32(i)}
	}
	slices.SortFunc(hs, func(a, b hashed) int { return cmp.Or(cmp.Compare(a.h, b.h), cmp.Compare(a.i, b.i)) })
	collided := map[int]bool{}
	for lo := 0; lo < len(hs); {
		hi := lo + 1
		for hi < len(hs) && hs[hi].h == hs[lo].h {
			hi++
		}
		if hi-lo > 1 { // the few records of one hash: the same path but for case?
			lower := make([]string, hi-lo)
			for a := lo; a < hi; a++ {
				lower[a-lo] = strings.ToLower(sn.plain(&sn.recs[hs[a].i]))
			}
			for a := lo; a < hi; a++ {
				for b := a + 1; b < hi; b++ {
					if lower[a-lo] == lower[b-lo] {
						collided[int(hs[a].i)], collided[int(hs[b].i)] = true, true
					}
				}
			}
		}
		lo = hi
	}
	return collided
}

// BlobID is the git blob id of data through crypto/sha1, for comparing with
// stored ids (not for naming new objects); plumbing.ComputeHash's
// collision-detecting SHA-1 costs about twice as much and adds nothing to a
// comparison (issue 9).
func BlobID(data []byte) Hash {
	h := sha1.New()
	var head [32]byte
	h.Write(append(strconv.AppendInt(append(head[:0], "blob "...), int64(len(data)), 10), 0))
	h.Write(data)
	var out Hash
	h.Sum(out[:0])
	return out
}
