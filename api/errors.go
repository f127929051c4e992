package api

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/touchpoint/touchpoint"
)

type errorBody struct {
	Error string `json:"error"`
	Kind  string `json:"kind"`
}

// statusOf maps a domain error kind to its HTTP status; this is the one place that
// decides it.
func statusOf(kind string) int {
	switch kind {
	case touchpoint.EInvalid:
		return http.StatusBadRequest
	case touchpoint.EUnauthorized:
		return http.StatusUnauthorized
	case touchpoint.EForbidden:
		return http.StatusForbidden
	case touchpoint.ENotFound:
		return http.StatusNotFound
	case touchpoint.EConflict:
		return http.StatusConflict
	case touchpoint.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case touchpoint.ERateLimited:
		return http.StatusTooManyRequests
	case touchpoint.EUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeError answers with err's status and message; internal errors are logged and
// described to the caller only as "internal error".
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind := touchpoint.KindOf(err)
	if kind == touchpoint.EInternal || kind == touchpoint.EUnavailable {
		slog.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, statusOf(kind), errorBody{Error: touchpoint.MessageOf(err), Kind: kind})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("api: write response", "err", err)
	}
}
