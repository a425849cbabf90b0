package acmeforward

import (
	"encoding/binary"
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
	names         [64]uint64 // hashBits of the wire form of every learned and prefetched name
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
	// A and AAAA beside a nameserver host: its exact name decides, by the hash
	// of its wire form (labels with their length bytes, then the root).
	if len(n)+2 > 255 || strings.IndexByte(n, '\\') >= 0 {
		return false
	}
	var wire [256]byte // a byte to spare: the hash reads whole 8-byte words
	at := 0
	for rest := n; ; {
		l := strings.IndexByte(rest, '.')
		if l < 0 {
			l = len(rest)
		}
		if l == 0 || l > 63 {
			return false
		}
		wire[at] = byte(l)
		copy(wire[at+1:], rest[:l])
		at += 1 + l
		if l == len(rest) {
			break
		}
		rest = rest[l+1:]
	}
	// wire[at] is the root label, already zero.
	bit = wireBits(&wire, at+1)
	return f.names[bit/64]&(1<<(bit%64)) == 0
}

// wireBits is hashBits of wire[:n], 8 bytes at a time (the bytes past n are
// zero, as the hash pads the last word).
func wireBits(wire *[256]byte, n int) uint {
	h := uint64(n) * fxK
	for i := 0; i < n; i += 8 {
		w := binary.LittleEndian.Uint64(wire[i : i+8])
		h = (bits.RotateLeft64(h, 26) ^ lower8(w)) * fxK
	}
	h ^= h >> 29
	h *= fxK
	return uint(h >> 52)
}

// lower8 lower-cases the ASCII letters among the 8 bytes of w, all at once;
// other bytes (digits, '-', length bytes, bytes above 0x7f) stay.
func lower8(w uint64) uint64 {
	const ones = 0x0101010101010101
	low7 := w & (0x7f * ones)
	atLeastA := low7 + (0x80-'A')*ones
	aboveZ := low7 + (0x80-'Z'-1)*ones
	upper := atLeastA &^ aboveZ &^ w & (0x80 * ones)
	return w | upper>>2
}

const (
	classINET = 1
	typeA     = 1
	typeAAAA  = 28
)

// hashBits is the header's hash: FxHash-style over the bytes, ASCII
// lower-cased, as 8-byte little-endian words; the 12 top bits.
func hashBits[T string | []byte](b T) uint {
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
