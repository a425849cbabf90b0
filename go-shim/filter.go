package acmeforward

import (
	"math/bits"
	"strings"
)

// passFilter is a copy of the core's pass filter (afwd_pass_filter in
// ffi/include/acmeforward.h): a question it rules out gets VerdictPass from
// the core for sure, so Classify answers it without crossing into Rust. The
// core computes it from its configuration and state; this file only applies
// the rule the header spells out, step by step. A question it does not rule
// out goes to the core, which decides.
type passFilter struct {
	types         [4]uint64  // bit qtype: a rule other than the challenge rule may take the type
	labels        [64]uint64 // hashBits of the last label of every name such a rule may take
	hairpinLabels [64]uint64 // hashBits of the last label of every hairpin name
	pairs         [64]uint64 // (31*hashBits(first label) + hashBits(last label)) % 4096 of every learned and prefetched name
	generation    uint64     // the core's afwd_engine_pass_filter_generation of this copy
}

// passes reports whether the question is ruled out (passes for sure).
func (f *passFilter) passes(name string, qtype, qclass uint16) bool {
	if qclass != classINET {
		return true
	}
	if name == "" || name[0] == '_' || name[0] == '\\' {
		return false
	}
	if qtype >= 256 {
		return false
	}
	if f.types[qtype/64]&(1<<(qtype%64)) == 0 {
		return true
	}
	n := strings.TrimSuffix(name, ".")
	start := strings.LastIndexByte(n, '.') + 1
	label := n[start:]
	if label == "" || len(label) > 63 || (start >= 2 && n[start-2] == '\\') || strings.IndexByte(label, '\\') >= 0 {
		return false
	}
	bit := hashBits(label)
	if f.labels[bit/64]&(1<<(bit%64)) == 0 {
		return true
	}
	if (qtype != typeA && qtype != typeAAAA) || f.hairpinLabels[bit/64]&(1<<(bit%64)) != 0 {
		return false
	}
	// A and AAAA beside a nameserver host: its first label decides.
	first := n
	if dot := strings.IndexByte(n, '.'); dot >= 0 {
		first = n[:dot]
	}
	if first == "" || len(first) > 63 || strings.IndexByte(first, '\\') >= 0 {
		return false
	}
	pair := (31*hashBits(first) + bit) % 4096
	return f.pairs[pair/64]&(1<<(pair%64)) == 0
}

const (
	classINET = 1
	typeA     = 1
	typeAAAA  = 28
)

// hashBits is the header's hash: FxHash-style over the bytes, ASCII
// lower-cased, as 8-byte little-endian words; the 12 top bits.
func hashBits(b string) uint {
	h := newFxHasher(len(b))
	for i := range len(b) {
		h.add(lower(b[i]))
	}
	return h.sum()
}

const fxK = 0xf1357aea2e62a9c5

// fxHasher computes hashBits a byte at a time.
type fxHasher struct {
	h, word uint64
	n       uint // bytes in word
}

func newFxHasher(length int) fxHasher { return fxHasher{h: uint64(length) * fxK} }

func (x *fxHasher) add(c byte) {
	x.word |= uint64(c) << (8 * x.n)
	x.n++
	if x.n == 8 {
		x.h = (bits.RotateLeft64(x.h, 26) ^ x.word) * fxK
		x.word, x.n = 0, 0
	}
}

func (x *fxHasher) sum() uint {
	h := x.h
	if x.n > 0 {
		h = (bits.RotateLeft64(h, 26) ^ x.word) * fxK
	}
	h ^= h >> 29
	h *= fxK
	return uint(h >> 52)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
