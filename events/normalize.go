package events

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// Normalize puts e in the one canonical form that both wire forms decode to, so that
// the same event read from JSON and read from Avro compare equal with reflect.DeepEqual
// (and dedupe, hash and store identically):
//   - timestamps are UTC and truncated to milliseconds, the precision Avro's
//     timestamp-millis carries (this also drops any monotonic clock reading);
//   - empty slices and maps are nil, since Avro decodes an empty array as an empty
//     slice while JSON leaves an omitted one nil;
//   - a campaign event without a currency gets "USD", the documented default, so
//     that aggregates never see an empty currency.
func (e *Event) Normalize() {
	e.Timestamp = normalizeTime(e.Timestamp)
	if e.EventType.Family() == FamilyCampaign && e.Currency == "" {
		e.Currency = "USD"
	}

	if lc := e.LaunchConfig; lc != nil && len(lc.CreativeIDs) == 0 {
		lc.CreativeIDs = nil
	}
	if c := e.ChangesMade; c != nil {
		if len(c.BudgetAllocation) == 0 {
			c.BudgetAllocation = nil
		}
		if len(c.CreativeRotation) == 0 {
			c.CreativeRotation = nil
		}
	}

	if len(e.Touchpoints) == 0 {
		e.Touchpoints = nil
	}
	for i := range e.Touchpoints {
		tp := &e.Touchpoints[i]
		tp.Timestamp = normalizeTime(tp.Timestamp)
		if len(tp.Metadata) == 0 {
			tp.Metadata = nil
		}
	}

	if tc := e.TriggerContext; tc != nil && len(tc.ContextData) == 0 {
		tc.ContextData = nil
	}
	if len(e.ContentVariations) == 0 {
		e.ContentVariations = nil
	}
}

// normalizeTime returns t in UTC at millisecond precision. The zero time stays zero,
// so "missing" survives normalization and validation can report it.
func normalizeTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Millisecond)
}

// NewEventID returns a new UUIDv7 (RFC 9562) as a lowercase hyphenated string. Its
// first 48 bits are the Unix time in milliseconds, so IDs sort by creation time, which
// keeps the (tenant_id, event_id) dedup index append-mostly. The 12 bits after the
// version carry the sub-millisecond fraction (RFC 9562 §6.2, method 3), ordering IDs
// made within one millisecond by one clock; the remaining 62 bits come from crypto/rand.
func NewEventID() string {
	return newUUIDv7(time.Now())
}

func newUUIDv7(now time.Time) string {
	var u [16]byte
	// crypto/rand.Read never fails (it aborts the program if the OS cannot supply
	// randomness), so there is no error to handle.
	_, _ = rand.Read(u[8:])

	ms := now.UnixMilli()
	// Scale the nanoseconds left over within the millisecond to 12 bits.
	frac := uint16((now.UnixNano() - ms*int64(time.Millisecond)) * 4096 / int64(time.Millisecond))
	binary.BigEndian.PutUint64(u[0:8], uint64(ms)<<16)
	binary.BigEndian.PutUint16(u[6:8], 0x7000|frac&0x0fff) // version 7
	u[8] = u[8]&0x3f | 0x80                                // variant 10

	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], u[10:16])
	return string(s[:])
}
