package pipeline

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"promoter/config"
	"promoter/gitstore"
	"promoter/spconfig"
)

// keyedFiles makes n files of distinct keys (a few types, scopes and names
// that differ in one byte, so hashes and comparisons both matter).
func keyedFiles(t *testing.T, r *rand.Rand, n int) []gitstore.FileRef {
	t.Helper()
	types := []string{"SOURCE", "ROLE", "LIFECYCLE_STATE", "TRANSFORM"}
	var out []gitstore.FileRef
	for len(out) < n {
		i := len(out)
		typ := types[r.IntN(len(types))]
		obj := fmt.Sprintf(`{"id":"id%d","name":"Obj %d"}`, i, i)
		if typ == "LIFECYCLE_STATE" {
			obj = fmt.Sprintf(`{"id":"id%d","name":"Obj %d","identityProfileRef":{"name":"P%d"}}`, i, i, i%3)
		}
		e, err := spconfig.NewEntry(fmt.Appendf(nil, `{"version":1,"self":{"type":%q,"id":"id%d","name":"Obj %d"},"object":%s}`, typ, i, i, obj))
		if err != nil {
			t.Fatal(err)
		}
		th := e.Thin()
		out = append(out, gitstore.FileRef{Path: fmt.Sprintf("f%d.json", i), Entry: &th})
	}
	return out
}

func TestFolderFindsEveryKeyAndNoOther(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 8, 9, 1000, 5000} {
		all := keyedFiles(t, r, n+n/2)
		files, absent := all[:n], all[n:]
		f := newFolder(files)
		if f.at.Len() < 2*n {
			t.Fatalf("%d files: %d slots, want at least %d", n, f.at.Len(), 2*n)
		}
		for i, x := range files {
			if got, ok := f.index(x.Entry.Key()); !ok || got != i {
				t.Fatalf("%d files: index(%s) = %d, %v; want %d", n, x.Entry.Key(), got, ok, i)
			}
		}
		for _, x := range absent {
			if f.has(x.Entry.Key()) {
				t.Fatalf("%d files: has(%s) for a key it does not hold", n, x.Entry.Key())
			}
		}
		if n > 0 { // a key added twice keeps its first file
			dup := append(slices.Clone(files), gitstore.FileRef{Path: "twin.json", Entry: files[n/2].Entry})
			g := folder{files: dup, at: newKeyIndex(len(dup))}
			for i := range files {
				g.at.add(dup, i)
			}
			if prev, added := g.at.add(dup, len(dup)-1); added || prev != n/2 {
				t.Fatalf("%d files: add of a key held already = %d, %v; want %d, false", n, prev, added, n/2)
			}
		}
	}
	var nilFolder *folder
	if nilFolder.has(spconfig.Key{Type: "ROLE", Name: "x"}) {
		t.Error("a nil folder holds a key")
	}
}

func TestKeysInOrderIsTheSortedUnion(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	all := keyedFiles(t, r, 600)
	for round := 0; round < 50; round++ {
		var desired, live []gitstore.FileRef
		for _, f := range all {
			switch r.IntN(3) {
			case 0:
				desired = append(desired, f)
			case 1:
				live = append(live, f)
			default:
				desired, live = append(desired, f), append(live, f)
			}
		}
		r.Shuffle(len(desired), func(i, j int) { desired[i], desired[j] = desired[j], desired[i] })
		sortFiles(live)
		byKey := make([]int32, len(desired))
		for i := range byKey {
			byKey[i] = int32(i)
		}
		slices.SortFunc(byKey, func(a, b int32) int { return compareKeys(desired[a].Entry.Key(), desired[b].Entry.Key()) })
		var want []spconfig.Key
		for _, f := range append(slices.Clone(desired), live...) {
			want = append(want, f.Entry.Key())
		}
		slices.SortFunc(want, compareKeys)
		want = slices.Compact(want)
		got := slices.Collect(keysInOrder(desired, byKey, live))
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: keysInOrder gave %d keys, want the %d of the sorted union", round, len(got), len(want))
		}
	}
}

// TestManagedOfRefusesMisplacedAndTwinFiles: a target folder's file outside
// the folder of its type, or two files of one object, are errors naming the
// files; files of other types and excluded objects are left out.
func TestManagedOfRefusesMisplacedAndTwinFiles(t *testing.T) {
	files := keyedFiles(t, rand.New(rand.NewPCG(7, 8)), 40)
	var role, transforms int // a ROLE to exclude; TRANSFORM is not among the types
	for i := range files {
		files[i].Path = "tenants/prod/" + files[i].Entry.Type() + "/" + fmt.Sprint(i) + ".json"
		switch files[i].Entry.Type() {
		case "ROLE":
			role = i
		case "TRANSFORM":
			transforms++
		}
	}
	excl := files[role].Entry.Key()
	if excl.Type != "ROLE" || transforms == 0 {
		t.Fatal("the files need a ROLE and a TRANSFORM")
	}
	r := &Runner{Pipeline: &config.Pipeline{Name: "p", Source: "dev", Target: "prod",
		Exclude: []config.ObjectRef{{Type: "ROLE", Name: excl.Name}}}}
	types := []string{"SOURCE", "ROLE", "LIFECYCLE_STATE"}
	f, err := r.managedOf(slices.Clone(files), types)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range files {
		k := x.Entry.Key()
		if want := slices.Contains(types, k.Type) && k != excl; f.has(k) != want {
			t.Fatalf("%s: managed %v, want %v", k, f.has(k), want)
		}
	}
	var src int
	for i, x := range files {
		if x.Entry.Type() == "SOURCE" {
			src = i
			break
		}
	}
	for _, bad := range []struct{ path, want string }{
		{"tenants/prod/ROLE/x.json", "sits outside tenants/prod/SOURCE/"},
		{"tenants/prod/SOURCEX/x.json", "sits outside tenants/prod/SOURCE/"},
		{"tenants/dev/SOURCE/x.json", "sits outside tenants/prod/SOURCE/"},
		{"tenants/prod/SOURCE", "sits outside tenants/prod/SOURCE/"},
	} {
		fs := slices.Clone(files)
		fs[src].Path = bad.path
		if _, err := r.managedOf(fs, types); err == nil || !strings.Contains(err.Error(), bad.path+" holds a SOURCE object but "+bad.want) {
			t.Errorf("%s: got %v, want an error that it %s", bad.path, err, bad.want)
		}
	}
	twin := append(slices.Clone(files), gitstore.FileRef{Path: "tenants/prod/SOURCE/twin.json", Entry: files[src].Entry})
	if _, err := r.managedOf(twin, types); err == nil || !strings.Contains(err.Error(), files[src].Path+" and tenants/prod/SOURCE/twin.json hold the same object") {
		t.Errorf("twin files: got %v", err)
	}
}
