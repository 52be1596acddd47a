package pipeline

import (
	"hash/maphash"
	"slices"

	"promoter/gitstore"
	"promoter/positions"
	"promoter/spconfig"
)

// folder is a set of files (a target folder's managed files, sorted by
// path; an observation or a drift reference, sorted by key) with an index by
// key. A run holds several sets of tens of thousands of files, so the index
// is a table of file positions (keyIndex: 8 bytes a file) rather than a map
// by key (over 60).
type folder struct {
	files []gitstore.FileRef
	at    keyIndex
}

// newFolder is the folder of files, which hold each key once.
func newFolder(files []gitstore.FileRef) folder {
	f := folder{files: files, at: newKeyIndex(len(files))}
	for i := range files {
		f.at.add(files, i)
	}
	return f
}

// folderOf is the folder of a set of files, sorted by key.
func folderOf(m map[spconfig.Key]gitstore.FileRef) folder { return newFolder(filesOf(m)) }

// lastOfEach keeps the last file of each key of files sorted by key.
func lastOfEach(files []gitstore.FileRef) []gitstore.FileRef {
	out := files[:0]
	for i, f := range files {
		if i+1 < len(files) && files[i+1].Entry.Key() == f.Entry.Key() {
			continue
		}
		out = append(out, f)
	}
	return slices.Clip(out)
}

// index returns the position of k's file.
func (f *folder) index(k spconfig.Key) (int, bool) {
	if f == nil {
		return 0, false
	}
	return f.at.find(f.files, k)
}

// get returns the file of k.
func (f *folder) get(k spconfig.Key) (gitstore.FileRef, bool) {
	i, ok := f.index(k)
	if !ok {
		return gitstore.FileRef{}, false
	}
	return f.files[i], true
}

// has reports whether the folder holds k.
func (f *folder) has(k spconfig.Key) bool {
	_, ok := f.index(k)
	return ok
}

// keyIndex finds files by key: a positions.Table of positions in a slice
// of files, hashed by key and compared with the file's own key.
type keyIndex struct {
	positions.Table
}

var keySeed = maphash.MakeSeed()

func keyHash(k spconfig.Key) uint64 { return maphash.Comparable(keySeed, k) }

func newKeyIndex(n int) keyIndex { return keyIndex{positions.New(n)} }

// find returns the position in files of the file of k.
func (x *keyIndex) find(files []gitstore.FileRef, k spconfig.Key) (int, bool) {
	return x.Find(keyHash(k), func(p int) bool { return files[p].Entry.Key() == k })
}

// add indexes files[i] (the table has room: newKeyIndex sized it for
// files). A key indexed already keeps its file; add returns that file's
// position and false.
func (x *keyIndex) add(files []gitstore.FileRef, i int) (int, bool) {
	k := files[i].Entry.Key()
	s := x.Slot(keyHash(k), func(p int) bool { return files[p].Entry.Key() == k })
	if *s != 0 {
		return int(*s - 1), false
	}
	*s = int32(i + 1)
	return i, true
}

// keysOnce indexes a side of a comparison, which may hold a key twice
// (twin files): the position of each key held once.
type keysOnce struct {
	at    keyIndex
	twice map[spconfig.Key]bool // keys held more than once (rare)
}

func onceIndex(files []gitstore.FileRef) keysOnce {
	x := keysOnce{at: newKeyIndex(len(files))}
	for i := range files {
		if _, added := x.at.add(files, i); !added {
			if x.twice == nil {
				x.twice = map[spconfig.Key]bool{}
			}
			x.twice[files[i].Entry.Key()] = true
		}
	}
	return x
}

// find returns the position of k in files (those onceIndex indexed) when
// files hold it once.
func (x *keysOnce) find(files []gitstore.FileRef, k spconfig.Key) (int, bool) {
	if x.twice[k] {
		return 0, false
	}
	return x.at.find(files, k)
}

// once reports whether k is not held twice (the caller asks of a key its
// side holds).
func (x *keysOnce) once(k spconfig.Key) bool { return !x.twice[k] }
