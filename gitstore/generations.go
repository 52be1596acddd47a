package gitstore

import "sync"

// generations caches what is decoded from objects, by object id (an
// object's content never changes, so neither does what is decoded from it),
// in two generations: when the current one would hold more than limit, it
// becomes the old one; a value found in the old one moves to the current.
// The decode cache (decodecache.go) and the tree cache (treeEntries) are
// two.
type generations[V any] struct {
	limit  int
	weight func(V) int // a value's share of limit; nil: 1 each

	mu        sync.Mutex
	cur, prev map[Hash]V
	n         int // the weight cur holds
}

// get returns the value cached for h.
func (g *generations[V]) get(h Hash) (V, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if v, ok := g.cur[h]; ok {
		return v, true
	}
	v, ok := g.prev[h]
	if ok {
		g.putLocked(h, v)
	}
	return v, ok
}

// add caches v for h unless the current generation holds h already, and
// returns the value cached for h. A value heavier than limit is not cached.
func (g *generations[V]) add(h Hash, v V) V {
	if g.weigh(v) > g.limit {
		return v
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if cur, ok := g.cur[h]; ok {
		return cur
	}
	g.putLocked(h, v)
	return v
}

func (g *generations[V]) weigh(v V) int {
	if g.weight == nil {
		return 1
	}
	return g.weight(v)
}

func (g *generations[V]) putLocked(h Hash, v V) {
	w := g.weigh(v)
	if g.cur == nil || g.n+w > g.limit {
		g.prev, g.cur, g.n = g.cur, make(map[Hash]V), 0
	}
	g.cur[h] = v
	g.n += w
}

// clear drops every cached value.
func (g *generations[V]) clear() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cur, g.prev, g.n = nil, nil, 0
}
