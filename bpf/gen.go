package bpf

// sockmap_bpfel.go and sockmap_bpfel.o are generated from sockmap.c and
// committed; CI regenerates them and fails on a diff. -target bpfel only:
// the loader runs on little-endian hosts (amd64, arm64).
//go:generate go tool bpf2go -cc clang-16 -strip llvm-strip-16 -target bpfel -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu" sockmap sockmap.c
