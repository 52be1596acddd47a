package gitstore

import "testing"

func TestGenerationsKeepTheRecentAndRefuseTheHeavy(t *testing.T) {
	h := func(i byte) Hash { return Hash{i} }
	g := generations[[]int]{limit: 4, weight: func(v []int) int { return len(v) }}
	if got := g.add(h(1), []int{1, 1}); len(got) != 2 {
		t.Fatalf("add returned %v", got)
	}
	if got := g.add(h(1), []int{9}); len(got) != 2 || got[0] != 1 {
		t.Errorf("a second add of an id kept in the current generation returned %v, want the first value", got)
	}
	g.add(h(2), []int{2, 2})       // cur holds weight 4
	g.add(h(3), []int{3, 3, 3})    // rotates: 1 and 2 old, 3 current
	if _, ok := g.get(h(1)); !ok { // 1 moves to the current generation, which rotates: 3 old, 1 current, 2 dropped
		t.Error("1 is lost after one rotation, want it found in the old generation")
	}
	g.add(h(4), []int{4, 4, 4}) // rotates: 1 old, 4 current
	if _, ok := g.get(h(2)); ok {
		t.Error("2 survived two rotations without a read")
	}
	if _, ok := g.get(h(4)); !ok {
		t.Error("4, just added, is missing")
	}
	if got := g.add(h(5), []int{5, 5, 5, 5, 5}); len(got) != 5 {
		t.Errorf("a value heavier than the limit: add returned %v", got)
	}
	if _, ok := g.get(h(5)); ok {
		t.Error("a value heavier than the limit was cached")
	}
	g.clear()
	if _, ok := g.get(h(4)); ok {
		t.Error("clear kept 4")
	}
	var d generations[int] // nil weight: each value weighs 1
	d.limit = 1
	d.add(h(1), 1)
	d.add(h(2), 2)
	if v, ok := d.get(h(1)); !ok || v != 1 {
		t.Errorf("weight 1: 1 is %v, %v after one rotation", v, ok)
	}
}
