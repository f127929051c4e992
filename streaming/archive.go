package streaming

import (
	"context"
	"fmt"
	"slices"

	"github.com/touchpoint/touchpoint/events"
)

// DecodeRecord decodes an archived or consumed record value: Avro in the wire format
// or JSON, as the consumer accepts them.
func DecodeRecord(ctx context.Context, codec *events.Codec, value []byte) (events.Event, error) {
	if len(value) > 0 && value[0] == 0 {
		var e events.Event
		err := codec.Decode(ctx, value, &e)
		return e, err
	}
	return events.DecodeJSON(value)
}

// SubjectMatcher says whether a record is one of tenant's events about subject (by
// customer, user, anonymous or device id), for erasing a subject from the archive.
func SubjectMatcher(ctx context.Context, codec *events.Codec, tenant, subject string) func([]byte) (bool, error) {
	return func(value []byte) (bool, error) {
		e, err := DecodeRecord(ctx, codec, value)
		if err != nil {
			return false, fmt.Errorf("decode archived record: %w", err)
		}
		return e.TenantID == tenant && slices.Contains(subjectsOf(&e), subject), nil
	}
}

// OpenRecord decodes a record like DecodeRecord and opens it when it is sealed, so
// readers of the archive see the identifiers the consumer saw. It returns an error
// wrapping ErrShredded for a record whose subject was deleted; a nil u leaves sealed
// events sealed.
func OpenRecord(ctx context.Context, codec *events.Codec, u *Unsealer, value []byte) (events.Event, error) {
	e, err := DecodeRecord(ctx, codec, value)
	if err != nil || u == nil {
		return e, err
	}
	return e, u.Open(ctx, &e)
}
