package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"net/netip"
)

// IPKeys are the two keyed hashes an IP address is reduced to on entry; the address
// itself is never kept.
//
// The matcher uses both. Prefix (the /24 of IPv4, the /48 of IPv6) blocks candidate
// pairs and marks "same network, different address": it survives an ISP renumbering a
// home within its block, and a /24 or /48 covers many subscribers, so it identifies no
// one alone. Exact separates a household from its neighbours in the same block, which is
// the strongest evidence the matcher has; it is kept only as a keyed hash, so without the
// secret it cannot be reversed by enumerating the 2^32 IPv4 addresses, and rotating the
// secret unlinks all stored keys at once.
type IPKeys struct {
	Prefix, Exact string
}

// MinSecretLen is the shortest secret an IPHasher accepts. A short key could be guessed
// and then every IPv4 address enumerated, which would undo the hashing.
const MinSecretLen = 16

// ErrWeakSecret reports a secret shorter than MinSecretLen.
var ErrWeakSecret = errors.New("identity: IP hashing secret shorter than 16 bytes")

// IPHasher computes IPKeys under one secret. It reuses its HMAC state across calls, so it
// is not safe for concurrent use; make one per goroutine.
type IPHasher struct {
	mac hash.Hash
	buf []byte
	sum []byte
}

// NewIPHasher returns a hasher keyed by secret.
func NewIPHasher(secret []byte) (*IPHasher, error) {
	if len(secret) < MinSecretLen {
		return nil, ErrWeakSecret
	}
	return &IPHasher{mac: hmac.New(sha256.New, secret)}, nil
}

// Keys returns the keys of ip, or zero keys when ip is not an IP address.
func (h *IPHasher) Keys(ip string) IPKeys {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return IPKeys{}
	}
	// An IPv4 client seen through a dual-stack socket is still an IPv4 client.
	addr = addr.Unmap().WithZone("")
	bits := 48
	if addr.Is4() {
		bits = 24
	}
	prefix, err := addr.Prefix(bits)
	if err != nil {
		return IPKeys{}
	}
	return IPKeys{Prefix: h.key('p', prefix.Addr(), bits), Exact: h.key('x', addr, addr.BitLen())}
}

// key hashes an address under a tag, so that a prefix key can never equal the exact key
// of the network's zero address.
func (h *IPHasher) key(tag byte, addr netip.Addr, bits int) string {
	h.buf = append(h.buf[:0], tag, byte(bits))
	h.buf = append(h.buf, addr.AsSlice()...)
	h.mac.Reset()
	h.mac.Write(h.buf)
	h.sum = h.mac.Sum(h.sum[:0])
	// 128 bits keep collisions out of reach at any realistic number of addresses.
	return hex.EncodeToString(h.sum[:16])
}

// IPKey returns the keyed hash of ip's network prefix (/24 for IPv4, /48 for IPv6), or ""
// when ip is not an address or secret is shorter than MinSecretLen.
func IPKey(ip string, secret []byte) string {
	h, err := NewIPHasher(secret)
	if err != nil {
		return ""
	}
	return h.Keys(ip).Prefix
}

// ExactIPKey returns the keyed hash of the whole address ip, or "" when ip is not an
// address or secret is shorter than MinSecretLen.
func ExactIPKey(ip string, secret []byte) string {
	h, err := NewIPHasher(secret)
	if err != nil {
		return ""
	}
	return h.Keys(ip).Exact
}
