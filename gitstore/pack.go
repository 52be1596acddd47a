package gitstore

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// writePack writes the objects as one packfile and its version 2 index into
// .git/objects/pack (issue 9). It replaces go-git's packfile encoder for new
// objects: go-git copies every object into an in-memory storage, compresses
// at zlib's default level and then parses the whole pack again to build the
// index; here objects are compressed at zlib.BestSpeed (the level git uses
// for loose objects, core.looseCompression) by a few workers, and the index
// is built from what was written. No deltas: new snapshot files rarely
// resemble each other enough to pay for the search. The pack and index
// become visible by rename, pack first, so a reader never sees an index
// without its pack.
func (r *Repo) writePack(objs map[Hash]newObject, hashes []Hash) error {
	dir := filepath.Join(r.gitDir, "objects", "pack")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write packfile: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "tmp_pack_")
	if err != nil {
		return fmt.Errorf("write packfile: %w", err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	sum := sha1.New()
	bw := bufio.NewWriterSize(io.MultiWriter(tmp, sum), 1<<20)
	var head [12]byte
	copy(head[:], "PACK")
	binary.BigEndian.PutUint32(head[4:], 2)
	binary.BigEndian.PutUint32(head[8:], uint32(len(hashes)))
	bw.Write(head[:])

	type entry struct {
		h      Hash
		offset uint64
		crc    uint32
	}
	entries := make([]entry, len(hashes))
	offset := uint64(len(head))
	// Objects are compressed in batches by a few workers, then written in
	// order; a batch bounds the compressed bytes held in memory.
	const batch = 256
	workers := max(1, min(runtime.GOMAXPROCS(0), 4))
	packed := make([][]byte, batch)
	zs := make([]*zlib.Writer, workers)
	bufs := make([]*bytes.Buffer, batch)
	for i := range bufs {
		bufs[i] = &bytes.Buffer{}
	}
	for start := 0; start < len(hashes); start += batch {
		end := min(start+batch, len(hashes))
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := start + w; i < end; i += workers {
					o := objs[hashes[i]]
					b := bufs[i-start]
					b.Reset()
					writeObjectHeader(b, o.typ, len(o.data))
					if zs[w] == nil {
						zs[w], _ = zlib.NewWriterLevel(b, zlib.BestSpeed)
					} else {
						zs[w].Reset(b)
					}
					zs[w].Write(o.data) // a bytes.Buffer write cannot fail
					zs[w].Close()
					packed[i-start] = b.Bytes()
				}
			}()
		}
		wg.Wait()
		for i := start; i < end; i++ {
			p := packed[i-start]
			entries[i] = entry{h: hashes[i], offset: offset, crc: crc32.ChecksumIEEE(p)}
			if _, err := bw.Write(p); err != nil {
				return fmt.Errorf("write packfile %s: %w", tmpName, err)
			}
			offset += uint64(len(p))
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write packfile %s: %w", tmpName, err)
	}
	checksum := sum.Sum(nil)
	if _, err := tmp.Write(checksum); err != nil {
		return fmt.Errorf("write packfile %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write packfile %s: %w", tmpName, err)
	}
	r.hit("pack-encoded")

	sort.Slice(entries, func(i, j int) bool { return bytes.Compare(entries[i].h[:], entries[j].h[:]) < 0 })
	var idx bytes.Buffer
	idxSum := sha1.New()
	iw := io.MultiWriter(&idx, idxSum)
	put32 := func(w io.Writer, v uint32) {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], v)
		w.Write(b[:])
	}
	iw.Write([]byte{0xff, 't', 'O', 'c'})
	put32(iw, 2)
	var fan [256]uint32
	for _, e := range entries {
		fan[e.h[0]]++
	}
	n := uint32(0)
	for i := range fan {
		n += fan[i]
		put32(iw, n)
	}
	for _, e := range entries {
		iw.Write(e.h[:])
	}
	for _, e := range entries {
		put32(iw, e.crc)
	}
	var large []uint64
	for _, e := range entries {
		if e.offset < 1<<31 {
			put32(iw, uint32(e.offset))
			continue
		}
		put32(iw, 1<<31|uint32(len(large)))
		large = append(large, e.offset)
	}
	for _, o := range large {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], o)
		iw.Write(b[:])
	}
	iw.Write(checksum)
	idx.Write(idxSum.Sum(nil))

	base := filepath.Join(dir, fmt.Sprintf("pack-%x", checksum))
	if err := os.Chmod(tmpName, 0o444); err != nil {
		return fmt.Errorf("write packfile: %w", err)
	}
	if err := os.Rename(tmpName, base+".pack"); err != nil {
		return fmt.Errorf("write packfile: %w", err)
	}
	ok = true
	if err := writeFileAtomic(base+".idx", idx.Bytes()); err != nil {
		return fmt.Errorf("write pack index %s.idx: %w", base, err)
	}
	os.Chmod(base+".idx", 0o444)
	r.refresh()
	return nil
}

// writeObjectHeader writes a pack entry's type and size header.
func writeObjectHeader(w *bytes.Buffer, typ plumbing.ObjectType, size int) {
	c := byte(typ)<<4 | byte(size&0x0f)
	size >>= 4
	for size > 0 {
		w.WriteByte(c | 0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	w.WriteByte(c)
}
