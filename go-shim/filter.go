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
	// A and AAAA beside a nameserver host: its exact name decides.
	var wire [255]byte
	at := 0
	for rest := n; ; {
		l := strings.IndexByte(rest, '.')
		if l < 0 {
			l = len(rest)
		}
		if l == 0 || l > 63 || at+1+l >= len(wire) || strings.IndexByte(rest[:l], '\\') >= 0 {
			return false
		}
		wire[at] = byte(l)
		for i := range l {
			c := rest[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			wire[at+1+i] = c
		}
		at += 1 + l
		if l == len(rest) {
			break
		}
		rest = rest[l+1:]
	}
	// wire[at] is the root label, already zero.
	bit = hashBits(wire[:at+1])
	return f.names[bit/64]&(1<<(bit%64)) == 0
}

const (
	classINET = 1
	typeA     = 1
	typeAAAA  = 28
)

// hashBits is the header's hash: FxHash-style over the bytes, ASCII
// lower-cased, as 8-byte little-endian words; the 12 top bits.
func hashBits[T string | []byte](label T) uint {
	const k = 0xf1357aea2e62a9c5
	h := uint64(len(label)) * k
	for i := 0; i < len(label); i += 8 {
		var w uint64
		for j := 0; j < 8 && i+j < len(label); j++ {
			c := label[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			w |= uint64(c) << (8 * j)
		}
		h = (bits.RotateLeft64(h, 26) ^ w) * k
	}
	h ^= h >> 29
	h *= k
	return uint(h >> 52)
}
