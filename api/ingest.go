package api

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/seal"
	"github.com/touchpoint/touchpoint/store"
)

// Content types the ingest endpoint takes.
const (
	contentJSON      = "application/json"
	contentAvro      = "application/vnd.touchpoint.avro"       // one record, Confluent wire format
	contentAvroBatch = "application/vnd.touchpoint.avro-batch" // records, each preceded by its 4-byte big-endian length
)

// item is one event of a request, decoded or not.
type item struct {
	event events.Event
	err   error
	kind  string // error kind when err != nil
}

type rejection struct {
	Index   int    `json:"index"`
	EventID string `json:"event_id,omitempty"`
	Reason  string `json:"reason"`
}

type ingestResponse struct {
	Accepted int         `json:"accepted"`
	EventIDs []string    `json:"event_ids"`
	Rejected []rejection `json:"rejected,omitempty"`
}

type batchErrorBody struct {
	Error    string      `json:"error"`
	Kind     string      `json:"kind"`
	Rejected []rejection `json:"rejected,omitempty"`
	EventIDs []string    `json:"event_ids,omitempty"`
}

// handleIngest takes one event or a batch, accepts the valid ones, and answers 202
// only after Kafka acknowledged them. Invalid events of a batch are reported with
// their index and reason and do not hold back the others.
func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	items, batch, err := s.decode(r, body)
	if err != nil {
		writeError(w, r, err)
		return
	}
	good, rejected := s.check(items, tenantOf(r.Context()), s.opts.Now())
	if len(good) == 0 {
		s.rejectAll(w, r, items, rejected, batch)
		return
	}
	if ok, retry := s.limits.allow(tenantOf(r.Context()), len(good), s.opts.Now()); !ok {
		s.metrics.rejected.WithLabelValues("rate_limited").Add(float64(len(good)))
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		writeError(w, r, touchpoint.Errorf(touchpoint.ERateLimited,
			"tenant rate limit of %g events/s exceeded; retry after %ds", s.opts.TenantRate, retry))
		return
	}
	ids := eventIDs(good)
	if err := s.publisher.Publish(r.Context(), good); err != nil {
		// The events may be partly written; resending them with the same event_ids is
		// safe because the pipeline deduplicates by event_id.
		writeErrorBody(w, r, fmt.Errorf("publish: %w", err), batchErrorBody{
			Error: "event stream unavailable; retry with the same event_ids", Kind: touchpoint.EUnavailable, EventIDs: ids,
		})
		return
	}
	s.metrics.accepted.Add(float64(len(good)))
	writeJSON(w, http.StatusAccepted, ingestResponse{Accepted: len(good), EventIDs: ids, Rejected: rejected})
}

func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > s.opts.MaxBodyBytes {
		return nil, touchpoint.Errorf(touchpoint.ETooLarge, "request body of %d bytes exceeds the limit of %d", r.ContentLength, s.opts.MaxBodyBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, touchpoint.Errorf(touchpoint.ETooLarge, "request body exceeds the limit of %d bytes", s.opts.MaxBodyBytes)
	}
	if err != nil {
		return nil, touchpoint.Errorf(touchpoint.EInvalid, "read body: %v", err)
	}
	if len(body) == 0 {
		return nil, touchpoint.Errorf(touchpoint.EInvalid, "empty body: send one event or an array of events")
	}
	return body, nil
}

// decode splits the body into events by its content type.
func (s *Server) decode(r *http.Request, body []byte) ([]item, bool, error) {
	ct := r.Header.Get("Content-Type")
	mt := contentJSON
	if ct != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return nil, false, touchpoint.Errorf(touchpoint.EInvalid, "bad Content-Type %q: %v", ct, err)
		}
	}
	var items []item
	var batch bool
	var err error
	switch mt {
	case contentJSON:
		items, batch, err = s.decodeJSON(body)
	case contentAvro:
		items = []item{s.decodeAvro(r, body)}
	case contentAvroBatch:
		items, err = s.decodeAvroBatch(r, body)
		batch = true
	default:
		return nil, false, &touchpoint.Error{Kind: touchpoint.EInvalid, Message: fmt.Sprintf(
			"unsupported Content-Type %q: use %s, %s or %s", mt, contentJSON, contentAvro, contentAvroBatch)}
	}
	if err != nil {
		return nil, false, err
	}
	if len(items) > s.opts.MaxBatchEvents {
		return nil, false, touchpoint.Errorf(touchpoint.ETooLarge, "batch of %d events exceeds the limit of %d", len(items), s.opts.MaxBatchEvents)
	}
	return items, batch, nil
}

func (s *Server) decodeJSON(body []byte) ([]item, bool, error) {
	raws, batch, err := events.SplitJSON(body)
	if err != nil {
		return nil, false, touchpoint.Errorf(touchpoint.EInvalid, "malformed JSON: %v", err)
	}
	if len(raws) == 0 {
		return nil, false, touchpoint.Errorf(touchpoint.EInvalid, "empty batch")
	}
	items := make([]item, len(raws))
	for i, raw := range raws {
		e, err := events.DecodeJSON(raw)
		items[i] = item{event: e, err: err, kind: touchpoint.EInvalid}
	}
	return items, batch, nil
}

func (s *Server) decodeAvro(r *http.Request, rec []byte) item {
	var e events.Event
	err := s.codec.Decode(r.Context(), rec, &e)
	return item{event: e, err: err, kind: touchpoint.EInvalid}
}

// decodeAvroBatch reads length-prefixed wire-format records. A broken frame makes the
// rest unreadable, so it fails the request; a bad record inside a frame does not.
func (s *Server) decodeAvroBatch(r *http.Request, body []byte) ([]item, error) {
	var items []item
	for off := 0; off < len(body); {
		if len(body)-off < 4 {
			return nil, touchpoint.Errorf(touchpoint.EInvalid, "avro batch: truncated length prefix at byte %d", off)
		}
		n := int(binary.BigEndian.Uint32(body[off:]))
		off += 4
		if n > len(body)-off {
			return nil, touchpoint.Errorf(touchpoint.EInvalid, "avro batch: record %d claims %d bytes, %d left", len(items), n, len(body)-off)
		}
		items = append(items, s.decodeAvro(r, body[off:off+n]))
		off += n
	}
	if len(items) == 0 {
		return nil, touchpoint.Errorf(touchpoint.EInvalid, "empty batch")
	}
	return items, nil
}

// check assigns missing event ids, validates, and enforces the key's tenant.
func (s *Server) check(items []item, tenant string, now time.Time) ([]events.Event, []rejection) {
	var good []events.Event
	var rejected []rejection
	for i := range items {
		it := &items[i]
		if it.err == nil {
			s.checkOne(it, tenant, now)
		}
		if it.err != nil {
			rejected = append(rejected, rejection{Index: i, EventID: it.event.EventID, Reason: it.err.Error()})
			s.metrics.rejected.WithLabelValues(it.kind).Inc()
			continue
		}
		good = append(good, it.event)
	}
	return good, rejected
}

func (s *Server) checkOne(it *item, tenant string, now time.Time) {
	e := &it.event
	if e.EventID == "" {
		e.EventID = events.NewEventID()
	}
	if e.Sealed != nil {
		// Only the edge seals, with keys it holds: a producer's "sealed" would name a
		// key that does not exist and the consumer would drop the event as shredded.
		it.err = &events.FieldError{Field: "sealed", Reason: "is set by Touchpoint's ingest edge, not by producers"}
		return
	}
	if err := s.opts.Rules.Validate(e, now); err != nil {
		it.err = err
		return
	}
	if e.TenantID != tenant {
		it.err = fmt.Errorf("tenant_id: %q does not match the API key's tenant %q", e.TenantID, tenant)
		it.kind = touchpoint.EForbidden
	}
}

// rejectAll answers a request none of whose events was accepted: a single event gets
// its own reason and status, a batch gets 400 with every rejection.
func (s *Server) rejectAll(w http.ResponseWriter, r *http.Request, items []item, rejected []rejection, batch bool) {
	if !batch {
		writeError(w, r, &touchpoint.Error{Kind: items[0].kind, Message: rejected[0].Reason})
		return
	}
	writeErrorBody(w, r, nil, batchErrorBody{
		Error: fmt.Sprintf("none of the %d events is valid", len(items)), Kind: touchpoint.EInvalid, Rejected: rejected,
	})
}

// writeErrorBody answers with a body that carries more than a message; cause, when
// set, is logged.
func writeErrorBody(w http.ResponseWriter, r *http.Request, cause error, b batchErrorBody) {
	if cause != nil {
		slog.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "err", cause)
	}
	writeJSON(w, statusOf(b.Kind), b)
}

func eventIDs(evs []events.Event) []string {
	ids := make([]string, len(evs))
	for i := range evs {
		ids[i] = evs[i].EventID
	}
	return ids
}

// SealingPublisher seals the personal fields of every event with a data subject under
// the subject's key (package seal) before handing the events to Next, so that Kafka
// only ever holds them encrypted and a deletion can make them unreadable at once by
// destroying the key. Events are validated before they are sealed (check runs
// first), so validation judges the real identifiers; the consumer validates again
// after opening them. One key lookup per request and tenant, for the subjects the
// sealer's cache does not hold. The caller's events are not modified.
type SealingPublisher struct {
	Next   Publisher
	Sealer *seal.Edge
}

// Publish seals copies of evs and publishes them. A failed key lookup fails the
// request like a Kafka failure (503 with the event ids to resend).
func (p SealingPublisher) Publish(ctx context.Context, evs []events.Event) error {
	sealed := slices.Clone(evs) // Seal replaces Device records, never modifies them
	if err := p.Sealer.SealAll(ctx, sealed); err != nil {
		return fmt.Errorf("seal personal fields: %w", err)
	}
	return p.Next.Publish(ctx, sealed)
}

// NewSealer returns the sealer of the ingest edge (and of `touchpoint produce`):
// keys from keys, cached by keyed subject hash.
func NewSealer(keys store.SubjectKeys) *seal.Edge {
	ensure := func(ctx context.Context, tenant string, subjects []string) (map[string]seal.Key, error) {
		got, err := keys.Ensure(ctx, tenant, subjects)
		if err != nil {
			return nil, err
		}
		out := make(map[string]seal.Key, len(got))
		for s, k := range got {
			out[s] = seal.Key(k)
		}
		return out, nil
	}
	return seal.NewEdge(ensure, store.NewSubjectHasher(keys.SecretsKey).Hash)
}
