package connectors

import (
	"context"
	"errors"
)

// ErasureRequest is one data subject's deletion as a platform receives it. The
// identifiers are the subject's resolved ones; each platform uses those it knows
// (Segment user ids, PostHog distinct ids, GA4 user and client ids, e-mail hashes for
// audience lists and files).
type ErasureRequest struct {
	// RequestID is Touchpoint's id of the deletion, stable across retries, so a
	// platform that deduplicates by request id sees one request.
	RequestID string
	// Regulation is "GDPR" or "CCPA".
	Regulation   string
	CustomerIDs  []string
	UserIDs      []string
	EmailSHA256  []string // lower-case hex SHA-256 of the trimmed, lower-cased address
	DeviceIDs    []string
	AnonymousIDs []string
}

// ErasureState is how far a platform has got with a submitted erasure.
type ErasureState string

// The states an Eraser reports.
const (
	ErasureRunning ErasureState = "running" // accepted, not finished: poll again later
	ErasureDone    ErasureState = "done"
	// ErasureFailed is a final refusal by the platform (invalid, unsupported): a
	// person has to look at it; polling again cannot help.
	ErasureFailed ErasureState = "failed"
)

// ErasureStatus is one poll's answer.
type ErasureStatus struct {
	State  ErasureState
	Detail string // the platform's own status words, for the audit trail
}

// Eraser propagates a deletion to one platform. Submit must be safe to call again
// for the same RequestID (it returns the platform's id of the first submission when
// the platform lets it find one); Status is read-only.
type Eraser interface {
	Submit(ctx context.Context, req ErasureRequest) (externalID string, err error)
	Status(ctx context.Context, externalID string) (ErasureStatus, error)
}

// ErrNothingToErase means the platform holds none of the request's identifiers (for
// example PostHog finds no person): the propagation to it is complete.
var ErrNothingToErase = errors.New("platform holds none of the subject's identifiers")
