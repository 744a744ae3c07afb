// Package shmem makes and checks the files that carry the shm path: a
// memfd of fixed size, sealed against shrinking and growing, that a node
// maps to hold its functions' linear memories and hands another node of
// the same host over SCM_RIGHTS.
//
// [Create] makes such a file. [Check] is what the receiving side of the
// file runs before it maps it: a file that is not a memfd of the shmem
// filesystem (a hugetlbfs file can fail a write fault with SIGBUS), or
// that is not sealed against shrinking (shrinking it under a mapping makes
// the mapping's pages SIGBUS), is refused. [Map] maps a checked file.
//
// It is a leaf: the standard library and golang.org/x/sys only, so that
// both the engine adapters and transport can use it. It needs Linux;
// elsewhere every call fails with [ErrNotSupported].
package shmem
