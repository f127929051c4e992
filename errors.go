// Package touchpoint holds the domain error kinds shared by every layer, so that a
// store or a validator can say what went wrong and the API maps it to an HTTP status
// in one place.
package touchpoint

import (
	"errors"
	"fmt"
)

// Error kinds.
const (
	EInvalid      = "invalid"      // bad input
	ENotFound     = "not_found"    // no such thing
	EConflict     = "conflict"     // already exists
	EUnauthorized = "unauthorized" // no or unknown credentials
	EForbidden    = "forbidden"    // credentials do not allow this
	ETooLarge     = "too_large"    // request too big
	ERateLimited  = "rate_limited" // slow down
	EUnavailable  = "unavailable"  // a dependency is down
	EInternal     = "internal"     // a bug or an unexpected failure
)

// Error is an error with a kind and a message meant for the caller.
type Error struct {
	Kind    string
	Message string
}

func (e *Error) Error() string { return e.Kind + ": " + e.Message }

// Errorf returns an *Error of the given kind.
func Errorf(kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of err, EInternal when it carries none.
func KindOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return EInternal
}

// MessageOf returns the caller-facing message of err; internal errors are not
// described, so their details stay in the logs.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
