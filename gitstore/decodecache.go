package gitstore

import (
	"sync"

	"promoter/spconfig"
)

// A run reads the same object files many times: the desired state, the
// applied state, the source folder for the id index, the drift reference
// (whose files are the live objects, the same blobs as a baseline), again in
// verify. ReadTenant reads and decodes each blob once per process; a blob's
// content never changes, so a cached file is the file. Only successful
// decodes are kept, so a broken file is reported under the path it is read
// from.

// The caches of a Repo (decoded files, trees, the index it wrote last) hold
// what one run reads: they are dropped when the repository lock is released
// (dropCaches), so a long-running daemon keeps nothing between its runs.
//
// decodeCacheBytes bounds one generation of the cache (file and entry
// bytes). When it is full the generation becomes the old one; files found in
// the old generation move to the new.
const decodeCacheBytes = 256 << 20

type decodeCache struct {
	mu        sync.Mutex
	cur, prev map[Hash]decodedBlob
	size      int
}

type decodedBlob struct {
	entry spconfig.Entry
	data  []byte // nil for a remembered entry: the file is EncodeFile(entry)
}

func (c *decodeCache) get(h Hash) (decodedBlob, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.cur[h]; ok {
		return d, true
	}
	d, ok := c.prev[h]
	if ok {
		c.putLocked(h, d)
	}
	return d, ok
}

func (c *decodeCache) put(h Hash, d decodedBlob) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(h, d)
}

// remember records that blob h is the file of entry e (EncodeFile(e) hashes
// to h), so reading that file later needs neither the blob nor a decode: a
// parsed entry's Raw is the compact form of its file, and decoding a file is
// NewEntry of its compact form.
func (c *decodeCache) remember(h Hash, e spconfig.Entry) {
	if len(e.Object()) == 0 {
		return
	}
	c.put(h, decodedBlob{entry: e})
}

func (c *decodeCache) putLocked(h Hash, d decodedBlob) {
	n := len(d.data) + len(d.entry.Raw)
	if c.cur == nil || c.size+n > decodeCacheBytes {
		c.prev, c.cur, c.size = c.cur, map[Hash]decodedBlob{}, 0
	}
	c.cur[h] = d
	c.size += n
}

// cachedFile returns the entry and bytes of the object file with blob id h
// when it was read or remembered before; without withData the bytes of a
// remembered entry are not rebuilt (nil). Callers must not modify the bytes.
func (r *Repo) cachedFile(h Hash, withData bool) (spconfig.Entry, []byte, bool) {
	d, ok := r.decoded.get(h)
	if ok && d.data == nil && withData {
		return d.entry, EncodeFile(d.entry), true
	}
	return d.entry, d.data, ok
}

// clear drops every cached file.
func (c *decodeCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur, c.prev, c.size = nil, nil, 0
}

// dropCaches empties the caches at the end of a run (see above).
func (r *Repo) dropCaches() {
	r.decoded.clear()
	r.trees.clear()
	r.lastIdx.forget()
}
