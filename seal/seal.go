// Package seal moves an event's personal fields into a ciphertext under a key of the
// event's data subject (crypto-shredding): Kafka keeps raw events for 90 days and
// cannot delete one record, but once the subject's key is destroyed every sealed
// record of that subject is unreadable at once, wherever a copy lives. The package is
// pure: keys come from the caller (store.SubjectKeys holds them).
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/touchpoint/touchpoint/events"
)

// Key is one subject's key: Token names it in sealed events (random, so it says
// nothing about the subject), Key is the 32-byte AES-256 key. It converts to and from
// store.SubjectKey, which has the same fields.
type Key struct {
	Token string
	Key   []byte
}

// CustomerIDPrefix starts the customer_id a sealed event carries in place of the real
// one: journey and personalization events require a customer_id, so a sealed event
// still validates on its own (for readers that validate before opening), and the
// placeholder cannot be mistaken for a real id.
const CustomerIDPrefix = "sealed:"

// Errors of Seal and Open; test with errors.Is.
var (
	// ErrAlreadySealed: Seal was given an event that is sealed already.
	ErrAlreadySealed = errors.New("seal: event is sealed already")
	// ErrWrongKey: the key's token is not the one the event was sealed under.
	ErrWrongKey = errors.New("seal: key does not match the event's token")
	// ErrOpen: the ciphertext does not open under the key: it was tampered with,
	// moved to another event, or sealed under another key.
	ErrOpen = errors.New("seal: sealed identity does not open")
)

// Subject is the event's primary data subject, whose key seals it: the first
// non-empty of customer_id, device.user_id, device.anonymous_id, device.device_id.
// "" means the event names no one (campaign events) and is not sealed.
func Subject(e *events.Event) string {
	if e.CustomerID != "" {
		return e.CustomerID
	}
	if d := e.Device; d != nil {
		for _, id := range [...]string{d.UserID, d.AnonymousID, d.DeviceID} {
			if id != "" {
				return id
			}
		}
	}
	return ""
}

// Seal encrypts e's personal fields under k, clears them in e and records the
// ciphertext in e.Sealed. Events without a subject are left as they are. The
// additional data binds tenant, event id and token, so a ciphertext copied into
// another event does not open. e.Device and e.Device.Geo are replaced by copies, never
// modified, so events sharing them are not affected.
func Seal(e *events.Event, k Key) error {
	if e.Sealed != nil {
		return ErrAlreadySealed
	}
	if Subject(e) == "" {
		return nil
	}
	if e.EventID == "" {
		return errors.New("seal: event has no event_id to bind the ciphertext to")
	}
	aead, err := newAEAD(k)
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (it aborts the program instead)
	plain := appendIdentity(make([]byte, 0, 128), e)
	ct := aead.Seal(nil, nonce, plain, additionalData(e, k.Token))
	clearIdentity(e, k.Token)
	e.Sealed = &events.SealedIdentity{Token: k.Token, Nonce: nonce, Ciphertext: ct}
	return nil
}

// Open restores the personal fields Seal moved into e.Sealed and clears e.Sealed. An
// event that is not sealed is left as it is.
func Open(e *events.Event, k Key) error {
	s := e.Sealed
	if s == nil {
		return nil
	}
	if s.Token != k.Token {
		return ErrWrongKey
	}
	aead, err := newAEAD(k)
	if err != nil {
		return err
	}
	if len(s.Nonce) != aead.NonceSize() {
		return fmt.Errorf("%w: nonce of %d bytes", ErrOpen, len(s.Nonce))
	}
	plain, err := aead.Open(nil, s.Nonce, s.Ciphertext, additionalData(e, s.Token))
	if err != nil {
		return fmt.Errorf("%w: event %q: %v", ErrOpen, e.EventID, err)
	}
	id, err := parseIdentity(plain)
	if err != nil {
		return fmt.Errorf("%w: event %q: %v", ErrOpen, e.EventID, err)
	}
	id.restore(e)
	e.Sealed = nil
	return nil
}

func newAEAD(k Key) (cipher.AEAD, error) {
	if len(k.Key) != 32 {
		return nil, fmt.Errorf("seal: key of %d bytes, want 32", len(k.Key))
	}
	if k.Token == "" {
		return nil, errors.New("seal: key without a token")
	}
	b, err := aes.NewCipher(k.Key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return a, nil
}

// additionalData is what the ciphertext is bound to: a version, the tenant, the
// event id and the token, each length-prefixed so that no two tuples encode alike.
func additionalData(e *events.Event, token string) []byte {
	ad := make([]byte, 0, 32+len(e.TenantID)+len(e.EventID)+len(token))
	ad = append(ad, "touchpoint/seal/v1"...)
	for _, s := range [...]string{e.TenantID, e.EventID, token} {
		ad = binary.AppendUvarint(ad, uint64(len(s)))
		ad = append(ad, s...)
	}
	return ad
}

// identity is the sealed part of an event. Region is sealed along with city and
// coordinates: together with the event time it narrows a person down, and nothing
// reads it before the consumer has opened the event. Only the country stays clear.
type identity struct {
	customerID, deviceID, anonymousID, userID, ip, userAgent, region, city string
	latitude, longitude                                                    float64
}

// identityVersion is the first byte of the plaintext, so the layout can change.
const identityVersion = 1

func appendIdentity(b []byte, e *events.Event) []byte {
	var id identity
	id.customerID = e.CustomerID
	if d := e.Device; d != nil {
		id.deviceID, id.anonymousID, id.userID, id.ip, id.userAgent = d.DeviceID, d.AnonymousID, d.UserID, d.IP, d.UserAgent
		if g := d.Geo; g != nil {
			id.region, id.city, id.latitude, id.longitude = g.Region, g.City, g.Latitude, g.Longitude
		}
	}
	b = append(b, identityVersion)
	for _, s := range id.strings() {
		b = binary.AppendUvarint(b, uint64(len(*s)))
		b = append(b, *s...)
	}
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(id.latitude))
	return binary.BigEndian.AppendUint64(b, math.Float64bits(id.longitude))
}

func (id *identity) strings() [8]*string {
	return [8]*string{&id.customerID, &id.deviceID, &id.anonymousID, &id.userID, &id.ip, &id.userAgent, &id.region, &id.city}
}

func parseIdentity(b []byte) (identity, error) {
	var id identity
	if len(b) == 0 || b[0] != identityVersion {
		return id, errors.New("unknown plaintext version")
	}
	b = b[1:]
	for _, s := range id.strings() {
		n, used := binary.Uvarint(b)
		if used <= 0 || n > uint64(len(b)-used) {
			return id, errors.New("truncated plaintext")
		}
		*s = string(b[used : used+int(n)])
		b = b[used+int(n):]
	}
	if len(b) != 16 {
		return id, errors.New("malformed plaintext")
	}
	id.latitude = math.Float64frombits(binary.BigEndian.Uint64(b))
	id.longitude = math.Float64frombits(binary.BigEndian.Uint64(b[8:]))
	return id, nil
}

// clearIdentity empties the personal fields; customer_id keeps a placeholder where
// the event had one (see CustomerIDPrefix).
func clearIdentity(e *events.Event, token string) {
	if e.CustomerID != "" {
		e.CustomerID = CustomerIDPrefix + token
	}
	if e.Device == nil {
		return
	}
	d := *e.Device
	d.DeviceID, d.AnonymousID, d.UserID, d.IP, d.UserAgent = "", "", "", "", ""
	if d.Geo != nil {
		g := *d.Geo
		g.Region, g.City, g.Latitude, g.Longitude = "", "", 0, 0
		d.Geo = &g
	}
	e.Device = &d
}

// restore puts the fields back. The device and geo records are recreated if the
// cleartext part lost them (they are not authenticated, the ciphertext is).
func (id identity) restore(e *events.Event) {
	e.CustomerID = id.customerID
	hasDevice := id.deviceID != "" || id.anonymousID != "" || id.userID != "" || id.ip != "" || id.userAgent != ""
	hasGeo := id.region != "" || id.city != "" || id.latitude != 0 || id.longitude != 0
	if e.Device == nil && !hasDevice && !hasGeo {
		return
	}
	d := events.Device{}
	if e.Device != nil {
		d = *e.Device
	}
	d.DeviceID, d.AnonymousID, d.UserID, d.IP, d.UserAgent = id.deviceID, id.anonymousID, id.userID, id.ip, id.userAgent
	if d.Geo != nil || hasGeo {
		g := events.Geo{}
		if d.Geo != nil {
			g = *d.Geo
		}
		g.Region, g.City, g.Latitude, g.Longitude = id.region, id.city, id.latitude, id.longitude
		d.Geo = &g
	}
	e.Device = &d
}
