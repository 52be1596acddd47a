// Package positions finds items of a slice its caller holds by a hash of
// them: an open-addressing table (linear probing) of positions, 4 bytes a
// slot and at least twice as many slots as positions. A set of tens of
// thousands of objects indexed this way costs about 8 bytes an object,
// where a Go map by key costs its key and value and their slack (issue 18).
package positions

// Table is the table; the zero Table holds nothing (Slot must not be
// called on it).
type Table struct {
	slots []int32 // position + 1; 0 is an empty slot
}

// New returns a table with room for n positions.
func New(n int) Table {
	size := 8
	for size < 2*n {
		size <<= 1
	}
	return Table{slots: make([]int32, size)}
}

// Slot returns the slot of the position with hash h whose item match
// accepts, or the empty slot where such a position goes. A slot holds 0
// when empty, the position + 1 otherwise; the caller writes a position
// into an empty slot (at most n, the room New was given) or replaces the
// one a slot holds by another of the same item.
func (t *Table) Slot(h uint64, match func(pos int) bool) *int32 {
	mask := uint64(len(t.slots) - 1)
	for s := h & mask; ; s = (s + 1) & mask {
		if p := t.slots[s]; p == 0 || match(int(p-1)) {
			return &t.slots[s]
		}
	}
}

// Find returns the position with hash h whose item match accepts.
func (t *Table) Find(h uint64, match func(pos int) bool) (int, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	if p := *t.Slot(h, match); p != 0 {
		return int(p - 1), true
	}
	return 0, false
}

// Len returns the number of slots.
func (t *Table) Len() int { return len(t.slots) }
