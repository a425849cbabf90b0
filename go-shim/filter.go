package acmeforward

import "math/bits"

// passFilter is a copy of the core's pass filter (afwd_pass_filter in
// ffi/include/acmeforward.h): a question it rules out gets VerdictPass from
// the core for sure, so classify answers it without crossing into Rust. The
// core computes it from its configuration and state; this file only applies
// the rule the header spells out, step by step. A question it does not rule
// out goes to the core, which decides.
type passFilter struct {
	types         [4]uint64  // bit qtype: a rule other than the challenge rule may take the type
	labels        [64]uint64 // hashBits of the last label of every name such a rule may take
	hairpinLabels [64]uint64 // hashBits of the last label of every hairpin name
	pairs         [64]uint64 // (31*hashBits(first label) + hashBits(last label)) % 4096 of every learned and prefetched nameserver host
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
	n := name
	if n[len(n)-1] == '.' {
		n = n[:len(n)-1]
	}
	// The last label: the bytes after the last '.', scanned once from the end
	// (at most 64 bytes); a backslash in it ends the scan.
	start := len(n)
	for start > 0 && len(n)-start <= 63 {
		c := n[start-1]
		if c == '.' {
			break
		}
		if c == '\\' {
			return false
		}
		start--
	}
	label := n[start:]
	if label == "" || len(label) > 63 || (start >= 2 && n[start-2] == '\\') {
		return false
	}
	bit := hashIn(n, start, len(n))
	if f.labels[bit/64]&(1<<(bit%64)) == 0 {
		return true
	}
	if (qtype != typeA && qtype != typeAAAA) || f.hairpinLabels[bit/64]&(1<<(bit%64)) != 0 {
		return false
	}
	// A and AAAA beside a nameserver host: its first label decides.
	end := 0
	for end < len(n) && end <= 63 {
		c := n[end]
		if c == '.' {
			break
		}
		if c == '\\' {
			return false
		}
		end++
	}
	first := n[:end]
	if first == "" || len(first) > 63 {
		return false
	}
	pair := (31*hashIn(n, 0, end) + bit) % 4096
	return f.pairs[pair/64]&(1<<(pair%64)) == 0
}

const (
	classINET = 1
	typeA     = 1
	typeAAAA  = 28
)

// hashBits is the header's hash: FxHash-style over the bytes, ASCII
// lower-cased, as 8-byte little-endian words; the 12 top bits.
func hashBits(s string) uint { return hashIn(s, 0, len(s)) }

// hashIn is hashBits(s[start:end]), reading the bytes of s around the key
// so that its last partial word is one load.
func hashIn(s string, start, end int) uint {
	h := uint64(end-start) * fxK
	at := start
	for ; end-at >= 8; at += 8 {
		h = (bits.RotateLeft64(h, 26) ^ lowerWord(load8(s, at))) * fxK
	}
	if n := end - at; n > 0 {
		var w uint64
		switch shift := uint(64 - 8*n); {
		case at+8 <= len(s): // the bytes after the key
			w = load8(s, at) & (^uint64(0) >> shift)
		case end >= 8: // the bytes before it
			w = load8(s, end-8) >> shift
		default:
			for i := end - 1; i >= at; i-- {
				w = w<<8 | uint64(s[i])
			}
		}
		h = (bits.RotateLeft64(h, 26) ^ lowerWord(w)) * fxK
	}
	h ^= h >> 29
	h *= fxK
	return uint(h >> 52)
}

// load8 is the little-endian word of s[at:at+8].
func load8(s string, at int) uint64 {
	s = s[at : at+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

const fxK = 0xf1357aea2e62a9c5

// lowerWord lower-cases the ASCII letters among the 8 bytes of w at once:
// bit 7 of each byte of geA / gtZ says whether its low 7 bits are at least
// 'A' / above 'Z' (no carry crosses a byte); bytes of 0x80 and above stay.
func lowerWord(w uint64) uint64 {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	low7 := w &^ high
	geA := low7 + ones*(0x80-'A')
	gtZ := low7 + ones*(0x7f-'Z')
	return w | ((geA^gtZ)&^w&high)>>2
}
