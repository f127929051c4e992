package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// MaxEventBytes is the largest event accepted, in either wire form: large enough for
// 100 touchpoints with metadata, small enough that a hostile producer cannot make the
// pipeline buffer much per record.
const MaxEventBytes = 64 << 10

// DecodeJSON decodes one event from a JSON object, strictly: unknown fields, trailing
// data, non-RFC 3339 timestamps and bodies over MaxEventBytes are rejected, since a
// lenient edge would accept typos ("tenantId") as silently missing fields. The event
// is normalized but not validated, so a caller can report decoding and validation
// failures per item. Errors are *FieldError; Field is "body" unless the failure can
// be pinned to a field.
//
// encoding/json matches field names case-insensitively and lets a repeated name
// override an earlier one; both are accepted here.
//
// Events in the canonical form go through a hand-written decoder (jsonfast.go), five
// times as fast; anything else, including every input that is an error, goes through
// encoding/json (decodeJSONReference), whose results that decoder reproduces.
func DecodeJSON(data []byte) (Event, error) {
	var e Event
	if decodeJSONFast(data, &e) {
		return e, nil
	}
	return decodeJSONReference(data)
}

// decodeJSONReference is DecodeJSON by encoding/json alone: the definition of what
// DecodeJSON accepts, what it decodes it to and what it says about what it rejects.
func decodeJSONReference(data []byte) (Event, error) {
	if len(data) > MaxEventBytes {
		return Event{}, &FieldError{"body", fmt.Sprintf("is %d bytes, more than the %d allowed for one event", len(data), MaxEventBytes)}
	}
	lead := len(data) - len(trimJSONSpaceLeft(data))
	if lead == len(data) || data[lead] != '{' {
		return Event{}, &FieldError{"body", "must be a JSON object"}
	}

	var e Event
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Event{}, jsonError(err, 0)
	}
	if end := int(dec.InputOffset()); len(trimJSONSpaceLeft(data[end:])) != 0 {
		return Event{}, &FieldError{"body", fmt.Sprintf("unexpected data after the JSON object at offset %d", end)}
	}
	e.Normalize()
	return e, nil
}

// SplitJSON splits a request body into its events without decoding them: the body is
// either one JSON object (batch is false) or an array of objects (batch is true).
// Whitespace around and between values is allowed; anything else is an error. Items
// are copies, independent of body.
func SplitJSON(body []byte) (items []json.RawMessage, batch bool, err error) {
	trimmed := trimJSONSpaceLeft(body)
	lead := len(body) - len(trimmed)
	if len(trimmed) == 0 {
		return nil, false, &FieldError{"body", "is empty; want a JSON object or an array of objects"}
	}
	switch trimmed[0] {
	case '{':
		var item json.RawMessage
		if err := json.Unmarshal(trimmed, &item); err != nil {
			return nil, false, jsonError(err, lead)
		}
		return []json.RawMessage{item}, false, nil
	case '[':
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return nil, true, jsonError(err, lead)
		}
		if len(items) == 0 {
			return nil, true, &FieldError{"body", "is an empty array; want at least one event"}
		}
		for i, item := range items {
			if item[0] != '{' { // json.Unmarshal trims the items; they are never empty
				return nil, true, &FieldError{index("body", i), "must be a JSON object"}
			}
		}
		return items, true, nil
	}
	return nil, false, &FieldError{"body", "must be a JSON object or an array of objects"}
}

// jsonError turns an encoding/json error into a *FieldError. Offsets are reported
// relative to the whole body, lead being how many bytes were skipped before parsing.
func jsonError(err error, lead int) *FieldError {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		timeErr   *time.ParseError
	)
	switch {
	case errors.As(err, &syntaxErr):
		// Offset counts the bytes read, including the offending one; report the
		// offending byte's own (0-based) offset, as an editor would show it.
		at := max(int(syntaxErr.Offset)-1, 0) + lead
		return &FieldError{"body", fmt.Sprintf("invalid JSON at offset %d: %s", at, syntaxErr.Error())}
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return &FieldError{field, fmt.Sprintf("must be %s, not JSON %s (offset %d)", jsonKind(typeErr.Type), typeErr.Value, int(typeErr.Offset)+lead)}
	case errors.As(err, &timeErr):
		// time.Time says which value it could not parse, not which field held it.
		return &FieldError{"body", "timestamp " + strconv.Quote(truncate(timeErr.Value)) + " is not RFC 3339 (like 2006-01-02T15:04:05Z)"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &FieldError{"body", "ends before the JSON object does"}
	}
	// The rest are plain errors such as `json: unknown field "x"` and
	// "Time.UnmarshalJSON: input is not a JSON string", whose text is the reason.
	return &FieldError{"body", strings.TrimPrefix(err.Error(), "json: ")}
}

// jsonKind names a Go type the way a JSON producer thinks of it.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}

// trimJSONSpaceLeft drops JSON's four whitespace characters, and only those.
func trimJSONSpaceLeft(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}
