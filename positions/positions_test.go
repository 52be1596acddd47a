package positions

import (
	"fmt"
	"hash/maphash"
	"testing"
)

// TestTableFindsEveryItemAndNoOther fills tables to their room with
// colliding hashes (a few bits only) and checks every item is found at its
// position and absent items are not.
func TestTableFindsEveryItemAndNoOther(t *testing.T) {
	seed := maphash.MakeSeed()
	for _, n := range []int{0, 1, 7, 8, 9, 1000} {
		for _, bits := range []uint{64, 3} { // 3: most items share a hash
			items := make([]string, n)
			for i := range items {
				items[i] = fmt.Sprintf("item %d", i)
			}
			hash := func(s string) uint64 { return maphash.String(seed, s) >> (64 - bits) }
			tb := New(n)
			if tb.Len() < 2*n {
				t.Fatalf("n %d: %d slots", n, tb.Len())
			}
			for i, it := range items {
				s := tb.Slot(hash(it), func(p int) bool { return items[p] == it })
				if *s != 0 {
					t.Fatalf("n %d bits %d: %q found before it was added", n, bits, it)
				}
				*s = int32(i + 1)
			}
			for i, it := range items {
				if p, ok := tb.Find(hash(it), func(p int) bool { return items[p] == it }); !ok || p != i {
					t.Fatalf("n %d bits %d: Find(%q) = %d, %v; want %d", n, bits, it, p, ok, i)
				}
			}
			for i := 0; i < 50; i++ {
				absent := fmt.Sprintf("absent %d", i)
				if _, ok := tb.Find(hash(absent), func(p int) bool { return items[p] == absent }); ok {
					t.Fatalf("n %d bits %d: found %q", n, bits, absent)
				}
			}
		}
	}
	var zero Table
	if _, ok := zero.Find(1, func(int) bool { return true }); ok {
		t.Error("the zero table holds a position")
	}
}
