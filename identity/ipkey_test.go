package identity

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

var secret = []byte("a-secret-of-at-least-16-bytes")

func TestIPKeysGroupByNetwork(t *testing.T) {
	tests := []struct {
		a, b              string
		samePrefix, exact bool
	}{
		{"198.51.100.7", "198.51.100.200", true, false},
		{"198.51.100.7", "198.51.101.7", false, false},
		{"198.51.100.7", "198.51.100.7", true, true},
		{"::ffff:198.51.100.7", "198.51.100.7", true, true},
		{"2001:db8:1:aaaa::1", "2001:db8:1:bbbb::2", true, false},
		{"2001:db8:1::1", "2001:db8:2::1", false, false},
		{"fe80::1%eth0", "fe80::1", true, true},
	}
	h, err := NewIPHasher(secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		ka, kb := h.Keys(tt.a), h.Keys(tt.b)
		if ka.Prefix == "" || ka.Exact == "" {
			t.Fatalf("%s: no keys", tt.a)
		}
		if (ka.Prefix == kb.Prefix) != tt.samePrefix {
			t.Errorf("%s vs %s: same prefix key = %v, want %v", tt.a, tt.b, ka.Prefix == kb.Prefix, tt.samePrefix)
		}
		if (ka.Exact == kb.Exact) != tt.exact {
			t.Errorf("%s vs %s: same exact key = %v, want %v", tt.a, tt.b, ka.Exact == kb.Exact, tt.exact)
		}
		if ka.Prefix == ka.Exact {
			t.Errorf("%s: prefix and exact keys coincide", tt.a)
		}
	}
}

func TestIPKeysNeverContainTheAddress(t *testing.T) {
	for _, ip := range []string{"10.0.0.1", "192.168.1.254", "8.8.8.8", "2001:db8::1", "2001:db8:85a3::8a2e:370:7334"} {
		addr := netip.MustParseAddr(ip)
		// The address in every form it could leak in: text, its bytes in hex, and its
		// network prefix.
		forms := []string{ip, hex.EncodeToString(addr.AsSlice())}
		if addr.Is4() {
			b := addr.As4()
			forms = append(forms, hex.EncodeToString(b[:3]), strings.Join(strings.Split(ip, ".")[:3], "."))
		} else {
			b := addr.As16()
			forms = append(forms, hex.EncodeToString(b[:6]))
		}
		for _, key := range []string{IPKey(ip, secret), ExactIPKey(ip, secret)} {
			if len(key) != 32 {
				t.Fatalf("%s: key %q is not 128 bits of hex", ip, key)
			}
			for _, f := range forms {
				if strings.Contains(key, f) {
					t.Errorf("%s: key %s contains %q", ip, key, f)
				}
			}
		}
	}
}

func TestIPKeysDependOnTheSecret(t *testing.T) {
	other := []byte("another-secret-of-16-bytes")
	if IPKey("198.51.100.7", secret) == IPKey("198.51.100.7", other) {
		t.Error("prefix key does not depend on the secret")
	}
	if ExactIPKey("198.51.100.7", secret) == ExactIPKey("198.51.100.7", other) {
		t.Error("exact key does not depend on the secret")
	}
	if IPKey("198.51.100.7", secret) != IPKey("198.51.100.99", secret) {
		t.Error("prefix key differs within a /24")
	}
}

func TestIPKeysRefuseBadInput(t *testing.T) {
	if k := IPKey("198.51.100.7", []byte("short")); k != "" {
		t.Errorf("key %q under a short secret", k)
	}
	if _, err := NewIPHasher([]byte("short")); err != ErrWeakSecret {
		t.Errorf("NewIPHasher(short) err = %v", err)
	}
	for _, ip := range []string{"", "not-an-ip", "300.1.1.1", "198.51.100.0/24"} {
		if k := ExactIPKey(ip, secret); k != "" {
			t.Errorf("key %q for %q", k, ip)
		}
	}
}
