// Package gitstore owns the git repository of object files: the on-disk
// layout of one JSON file per exported object (naming, encoding, split and
// assemble, DESIGN section 3) and the repository model of DESIGN section 4
// (plumbing commits that reuse unchanged subtrees and write new objects into
// one packfile, compare-and-swap ref updates, promoter refs and notes,
// reverts, sync and push against a remote, a process lock, and a working tree
// kept equal to HEAD without ever overwriting uncommitted work). Objects
// are read by odb, straight from loose objects and packs; go-git serves
// refs, remotes and repositories odb cannot read.
//
// It does not decide what to commit: snapshots, promotions, gates and records
// belong to package pipeline, and semantic diffs to package diff. The only
// project package it imports is spconfig, for the document model types.
package gitstore
