package gitstore

import (
	"bytes"
	"cmp"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// odb reads objects straight from the repository's object folder: loose
// objects, and packs through their version 2 indexes mapped into memory as
// they are (mapFile), never decoded. go-git's storage decodes every pack
// index it opens (each object's name and offset, and once an object is read
// by offset a map from offset to name: over 60 bytes an object) and copies
// each object it reads into its cache; at 50,000 objects per tenant that was
// about 20 MB of a run's live heap (issue 18). A repository with
// objects/info/alternates is read through go-git as before (Repo.objects is
// nil), and so is an object odb does not find (in a pack whose index it
// cannot open).
type odb struct {
	dir string // the objects folder

	mu    sync.Mutex
	names string           // packNames at the last open
	packs map[string]*pack // by index file name; kept until close (readers may hold one)
	order []*pack          // the packs of names, newest index first

	bases baseCache

	fmu   sync.Mutex // guards the open files of packs (pack.f, users, used) and open
	open  []*pack    // the packs with an open file
	clock uint64     // counts file uses, for the least recently used
}

// acquire returns p's open file for a read; release ends the read.
func (db *odb) acquire(p *pack) (*os.File, error) {
	db.fmu.Lock()
	defer db.fmu.Unlock()
	db.clock++
	p.used = db.clock
	if p.f == nil {
		f, err := os.Open(p.path)
		if err != nil {
			return nil, err
		}
		p.f = f
		db.open = append(db.open, p)
	}
	p.users++
	db.evictLocked()
	return p.f, nil
}

func (db *odb) release(p *pack) {
	db.fmu.Lock()
	defer db.fmu.Unlock()
	p.users--
	db.evictLocked()
}

// evictLocked closes the least recently used files no read is using while
// more than openPacks are open (the indexes stay mapped: no descriptor).
func (db *odb) evictLocked() {
	for len(db.open) > openPacks {
		v := -1
		for i, q := range db.open {
			if q.users == 0 && (v < 0 || q.used < db.open[v].used) {
				v = i
			}
		}
		if v < 0 {
			return
		}
		db.closeFileLocked(v)
	}
}

// closeFileLocked closes the file of db.open[i].
func (db *odb) closeFileLocked(i int) {
	db.open[i].f.Close()
	db.open[i].f = nil
	db.open = slices.Delete(db.open, i, i+1)
}

// errObjectMissing is the error of an object odb does not hold.
var errObjectMissing = plumbing.ErrObjectNotFound

// openODB returns the odb of gitDir, or nil when it has alternates.
func openODB(gitDir string) *odb {
	dir := filepath.Join(gitDir, "objects")
	if _, err := os.Stat(filepath.Join(dir, "info", "alternates")); err == nil {
		return nil
	}
	db := &odb{dir: dir, packs: map[string]*pack{}}
	db.refresh()
	return db
}

// refresh opens the packs that appeared since the last call; one it cannot
// open is left out (Repo.object reads what odb does not find through
// go-git).
func (db *odb) refresh() {
	names := packNames(filepath.Dir(db.dir))
	db.mu.Lock()
	defer db.mu.Unlock()
	if names == db.names && names != "" {
		return
	}
	var order []*pack
	for _, n := range strings.Fields(names) {
		p, ok := db.packs[n]
		if !ok {
			var err error
			if p, err = openPack(filepath.Join(db.dir, "pack", n)); err != nil {
				continue
			}
			db.packs[n] = p
		}
		order = append(order, p)
	}
	slices.SortStableFunc(order, func(a, b *pack) int { return cmp.Compare(b.mod, a.mod) })
	db.names, db.order = names, order
}

// close unmaps and closes every pack.
func (db *odb) close() {
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, p := range db.packs {
		db.closePack(p)
	}
	db.packs, db.order, db.names = map[string]*pack{}, nil, ""
	db.bases.clear()
}

// closePack unmaps p's index and closes its file; no read may be using it.
func (db *odb) closePack(p *pack) {
	p.unmap()
	db.fmu.Lock()
	defer db.fmu.Unlock()
	if i := slices.Index(db.open, p); i >= 0 {
		db.closeFileLocked(i)
	}
}

// prune closes the packs that are gone from the folder (git gc, repack)
// since they were opened; no reader may be running.
func (db *odb) prune() {
	db.mu.Lock()
	defer db.mu.Unlock()
	keep := map[string]bool{}
	for _, n := range strings.Fields(db.names) {
		keep[n] = true
	}
	for n, p := range db.packs {
		if !keep[n] {
			db.closePack(p)
			delete(db.packs, n)
		}
	}
	db.bases.clear()
}

// find returns the pack holding h and its offset there.
func (db *odb) find(h Hash) (*pack, int64, bool) {
	db.mu.Lock()
	order := db.order
	db.mu.Unlock()
	for _, p := range order {
		if off, ok := p.find(h); ok {
			return p, off, true
		}
	}
	return nil, 0, false
}

// has reports whether the repository holds object h.
func (db *odb) has(h Hash) bool {
	if _, _, ok := db.find(h); ok {
		return true
	}
	_, err := os.Stat(db.loosePath(h))
	return err == nil
}

func (db *odb) loosePath(h Hash) string {
	s := h.String()
	return filepath.Join(db.dir, s[:2], s[2:])
}

// read returns the type and content of object h.
func (db *odb) read(h Hash) (plumbing.ObjectType, []byte, error) {
	for try := 0; try < 2; try++ {
		var typ plumbing.ObjectType
		var data []byte
		var err error
		if p, off, ok := db.find(h); ok {
			typ, data, err = db.readPacked(p, off, 0)
		} else {
			typ, data, err = db.readLoose(h)
		}
		// not loose: in a pack written since the last refresh; or in a pack
		// git gc removed since (the object is in the pack that replaced it)
		if errors.Is(err, os.ErrNotExist) {
			if try == 0 {
				db.refresh()
			}
			continue
		}
		if err == nil && Hash(plumbing.ComputeHash(typ, data)) != h {
			err = fmt.Errorf("object %s is damaged: its content hashes to %s", h, plumbing.ComputeHash(typ, data))
		}
		return typ, data, err
	}
	return 0, nil, errObjectMissing
}

// readLoose reads a loose object ("<type> <size>\x00<content>", deflated).
func (db *odb) readLoose(h Hash) (plumbing.ObjectType, []byte, error) {
	f, err := os.Open(db.loosePath(h))
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	zr, err := zlib.NewReader(f)
	if err != nil {
		return 0, nil, fmt.Errorf("loose object %s: %w", h, err)
	}
	defer zr.Close()
	data, err := io.ReadAll(zr)
	if err != nil {
		return 0, nil, fmt.Errorf("loose object %s: %w", h, err)
	}
	head, content, ok := bytes.Cut(data, []byte{0})
	typName, size, ok2 := strings.Cut(string(head), " ")
	typ, terr := plumbing.ParseObjectType(typName)
	n, serr := strconv.Atoi(size)
	if !ok || !ok2 || terr != nil || serr != nil || n != len(content) {
		return 0, nil, fmt.Errorf("loose object %s: bad header %q", h, head)
	}
	return typ, content, nil
}

// maxDeltaDepth bounds a chain of deltas (git's default is 50; a longer
// chain, or a cycle, is a broken pack).
const maxDeltaDepth = 10_000

// readPacked reads the object at off in p, applying deltas.
func (db *odb) readPacked(p *pack, off int64, depth int) (plumbing.ObjectType, []byte, error) {
	if depth > maxDeltaDepth {
		return 0, nil, fmt.Errorf("pack %s: delta chain longer than %d at offset %d", p.name, maxDeltaDepth, off)
	}
	f, err := db.acquire(p)
	if err != nil {
		return 0, nil, err
	}
	defer db.release(p)
	hd, err := p.header(f, off)
	if err != nil {
		return 0, nil, err
	}
	raw, err := p.inflate(f, hd.data, hd.size)
	if err != nil {
		return 0, nil, fmt.Errorf("pack %s at offset %d: %w", p.name, off, err)
	}
	var typ plumbing.ObjectType
	var base []byte
	switch hd.typ {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
		return hd.typ, raw, nil
	case plumbing.OFSDeltaObject:
		typ, base, err = db.base(p, hd.base, depth)
	case plumbing.REFDeltaObject:
		bp, boff, ok := db.find(hd.ref)
		if !ok {
			return 0, nil, fmt.Errorf("pack %s at offset %d: delta base %s not found", p.name, off, hd.ref)
		}
		typ, base, err = db.base(bp, boff, depth)
	default:
		return 0, nil, fmt.Errorf("pack %s at offset %d: object type %d", p.name, off, hd.typ)
	}
	if err != nil {
		return 0, nil, err
	}
	data, err := packfile.PatchDelta(base, raw)
	if err != nil {
		return 0, nil, fmt.Errorf("pack %s at offset %d: %w", p.name, off, err)
	}
	return typ, data, nil
}

// base reads the delta base at off in p (shared through the base cache:
// it must not be modified).
func (db *odb) base(p *pack, off int64, depth int) (plumbing.ObjectType, []byte, error) {
	if typ, data, ok := db.bases.get(p, off); ok {
		return typ, data, nil
	}
	typ, data, err := db.readPacked(p, off, depth+1)
	if err == nil {
		db.bases.put(p, off, typ, data)
	}
	return typ, data, err
}

// pack is one pack file: its index mapped, the pack read at offsets
// through the file odb.acquire opens.
type pack struct {
	name  string // the pack's file name, for errors
	path  string
	mod   int64  // modification time (ns): newest packs are searched first, as git does
	idx   []byte // the .idx file (version 2)
	unmap func()
	n     int
	size  int64 // of the .pack

	f     *os.File // open while in odb.open
	users int      // reads using f
	used  uint64   // odb.clock at the last acquire
}

// idxHeader is the start of a version 2 pack index.
var idxHeader = []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}

// openPack opens the pack of index file idxPath.
func openPack(idxPath string) (*pack, error) {
	data, unmap, err := mapFile(idxPath)
	if err != nil {
		return nil, err
	}
	bad := func(why string) (*pack, error) {
		unmap()
		return nil, fmt.Errorf("pack index %s: %s", filepath.Base(idxPath), why)
	}
	if len(data) < 8+256*4+40 || !bytes.Equal(data[:8], idxHeader) {
		return bad("not a version 2 index")
	}
	n := int(binary.BigEndian.Uint32(data[8+255*4:]))
	if len(data) < 8+256*4+n*28+40 {
		return bad("cut short")
	}
	packPath := strings.TrimSuffix(idxPath, ".idx") + ".pack"
	st, err := os.Stat(packPath)
	if err != nil {
		unmap()
		return nil, err
	}
	return &pack{name: filepath.Base(packPath), path: packPath, mod: st.ModTime().UnixNano(), idx: data, unmap: unmap, n: n, size: st.Size()}, nil
}

// find looks h up in the index: its offset in the pack.
func (p *pack) find(h Hash) (int64, bool) {
	fan := p.idx[8:]
	lo := 0
	if h[0] > 0 {
		lo = int(binary.BigEndian.Uint32(fan[(int(h[0])-1)*4:]))
	}
	hi := int(binary.BigEndian.Uint32(fan[int(h[0])*4:]))
	names := p.idx[8+256*4:]
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch c := bytes.Compare(names[m*20:m*20+20], h[:]); {
		case c == 0:
			return p.offset(m), true
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return 0, false
}

// offset is the pack offset of the i-th object of the index.
func (p *pack) offset(i int) int64 {
	offs := p.idx[8+256*4+p.n*24:]
	o := binary.BigEndian.Uint32(offs[i*4:])
	if o&0x80000000 == 0 {
		return int64(o)
	}
	large := p.idx[8+256*4+p.n*28:]
	j := int(o &^ 0x80000000)
	if len(large) < (j+1)*8+40 {
		return -1 // read as a bad offset by header
	}
	return int64(binary.BigEndian.Uint64(large[j*8:]))
}

// entryHeader is a pack entry's header: its type, its size once inflated,
// where its deflated data starts and, for a delta, its base.
type entryHeader struct {
	typ  plumbing.ObjectType
	size int64
	data int64
	base int64 // OFS_DELTA: the base's offset
	ref  Hash  // REF_DELTA: the base's name
}

// header reads the entry header at off.
func (p *pack) header(f *os.File, off int64) (entryHeader, error) {
	var buf [64]byte
	if off < 12 || off >= p.size {
		return entryHeader{}, fmt.Errorf("pack %s: offset %d outside the pack", p.name, off)
	}
	n, err := f.ReadAt(buf[:], off)
	if err != nil && !(errors.Is(err, io.EOF) && n > 0) {
		return entryHeader{}, fmt.Errorf("pack %s at offset %d: %w", p.name, off, err)
	}
	b := buf[:n]
	bad := func() (entryHeader, error) {
		return entryHeader{}, fmt.Errorf("pack %s at offset %d: bad entry header", p.name, off)
	}
	if len(b) == 0 {
		return bad()
	}
	h := entryHeader{typ: plumbing.ObjectType((b[0] >> 4) & 7), size: int64(b[0] & 0x0f)}
	i, shift := 1, uint(4)
	for c := b[0]; c&0x80 != 0; shift += 7 {
		if i >= len(b) || shift > 56 {
			return bad()
		}
		c = b[i]
		h.size |= int64(c&0x7f) << shift
		i++
	}
	switch h.typ {
	case plumbing.OFSDeltaObject:
		if i >= len(b) {
			return bad()
		}
		c := b[i]
		rel := int64(c & 0x7f)
		for i++; c&0x80 != 0; i++ {
			if i >= len(b) || rel > 1<<55 {
				return bad()
			}
			c = b[i]
			rel = (rel+1)<<7 | int64(c&0x7f)
		}
		if h.base = off - rel; rel <= 0 || h.base < 12 {
			return bad()
		}
	case plumbing.REFDeltaObject:
		if i+20 > len(b) {
			return bad()
		}
		copy(h.ref[:], b[i:i+20])
		i += 20
	}
	h.data = off + int64(i)
	return h, nil
}

// maxObjectSize bounds the size an entry header may claim.
const maxObjectSize = 1 << 40

var zlibReaders sync.Pool

// inflate reads size bytes of deflated data starting at off. Above 64 MiB
// the buffer grows as data arrives, so a broken header claiming a huge size
// costs only what the pack holds.
func (p *pack) inflate(f *os.File, off, size int64) ([]byte, error) {
	if size > maxObjectSize {
		return nil, fmt.Errorf("entry claims %d bytes", size)
	}
	src := io.NewSectionReader(f, off, p.size-off)
	var zr io.ReadCloser
	if r, ok := zlibReaders.Get().(io.ReadCloser); ok {
		if err := r.(zlib.Resetter).Reset(src, nil); err != nil {
			return nil, err
		}
		zr = r
	} else {
		r, err := zlib.NewReader(src)
		if err != nil {
			return nil, err
		}
		zr = r
	}
	defer zlibReaders.Put(zr)
	var out []byte
	if size <= 64<<20 {
		out = make([]byte, size) // exactly (a bytes.Buffer would leave up to as much again free)
		if n, err := io.ReadFull(zr, out); err != nil {
			return nil, fmt.Errorf("inflated %d of %d bytes: %w", n, size, err)
		}
	} else {
		buf := bytes.NewBuffer(make([]byte, 0, 64<<20))
		if n, err := io.CopyN(buf, zr, size); err != nil {
			return nil, fmt.Errorf("inflated %d of %d bytes: %w", n, size, err)
		}
		out = buf.Bytes()
	}
	// the end of the stream, where zlib checks its checksum
	var one [1]byte
	for range 4 {
		n, err := zr.Read(one[:])
		switch {
		case n > 0:
			return nil, fmt.Errorf("more than the %d bytes its header says", size)
		case err == io.EOF:
			return out, nil
		case err != nil:
			return nil, err
		}
	}
	return nil, fmt.Errorf("no end after %d bytes", size)
}

// baseCacheBytes bounds the delta bases odb keeps inflated (a pack git
// repacked holds chains of deltas; each object of a chain would otherwise
// read its bases again).
const baseCacheBytes = 4 << 20

// baseCache holds recently used delta bases; when full it starts over.
type baseCache struct {
	mu sync.Mutex
	m  map[baseKey]baseVal
	n  int
}

type baseKey struct {
	p   *pack
	off int64
}

type baseVal struct {
	typ  plumbing.ObjectType
	data []byte
}

func (c *baseCache) get(p *pack, off int64) (plumbing.ObjectType, []byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[baseKey{p, off}]
	return v.typ, v.data, ok
}

func (c *baseCache) put(p *pack, off int64, typ plumbing.ObjectType, data []byte) {
	if len(data) > baseCacheBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || c.n+len(data) > baseCacheBytes {
		c.m, c.n = map[baseKey]baseVal{}, 0
	}
	if _, ok := c.m[baseKey{p, off}]; !ok {
		c.m[baseKey{p, off}] = baseVal{typ, data}
		c.n += len(data)
	}
}

func (c *baseCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m, c.n = nil, 0
}
