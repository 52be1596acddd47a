package gitstore

import "promoter/spconfig"

// A run reads the same object files many times: the desired state, the
// applied state, the source folder for the id index, the drift reference
// (whose files are the live objects, the same blobs as a baseline), again in
// verify. ReadTenantEntries decodes each blob once per process and keeps its
// thin entry (spconfig.Entry.Thin: self, key and id claims, no bytes), so
// the cache of a tenant of 50,000 objects is a few megabytes, not the
// tenant (issue 18); a blob's content never changes, so a cached entry is
// the file's. Only successful decodes are kept, so a broken file is
// reported under the path it is read from.

// The caches of a Repo (decoded files, trees) hold
// what one run reads: they are dropped when the repository lock is released
// (dropCaches), so a long-running daemon keeps nothing between its runs.
//
// decodeCacheEntries bounds one generation of the cache (generations).
const decodeCacheEntries = 1 << 18

// decodeCache holds thin entries by blob id, shared by every reader.
type decodeCache struct {
	generations[*spconfig.Entry]
}

// remember records that blob h is the file of entry e (EncodeFile(e) hashes
// to h), so reading that file later as a thin entry needs neither the blob
// nor a decode: a parsed entry's Raw is the compact form of its file, and
// decoding a file is NewEntry of its compact form. It returns the cached
// thin entry (nil when e is no parsed entry).
func (c *decodeCache) remember(h Hash, e spconfig.Entry) *spconfig.Entry {
	if !e.IsThin() && len(e.Object()) == 0 {
		return nil
	}
	t := e.Thin()
	return c.keep(h, &t)
}

// keep is remember of a thin entry the caller made: it is cached as it is
// (shared with the caller) unless blob h has one already, which it returns.
func (c *decodeCache) keep(h Hash, t *spconfig.Entry) *spconfig.Entry { return c.add(h, t) }

// dropCaches empties the caches at the end of a run (see above).
func (r *Repo) dropCaches() {
	r.decoded.clear()
	r.trees.clear()
	if r.objects != nil {
		r.objects.prune()
	}
}
