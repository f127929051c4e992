package events

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// Subject is the schema-registry subject of Event's schema: Kafka topic
// "marketing-events", record value, Confluent's default topic naming strategy.
const Subject = "marketing-events-value"

// Errors of Codec.Decode, wrapped with detail; test with errors.Is.
var (
	// ErrNotWireFormat: the record does not start with the Confluent header (magic
	// byte 0, 4-byte schema id).
	ErrNotWireFormat = errors.New("events: not in the Confluent wire format")
	// ErrUnknownSchema: the registry has no schema with the record's id.
	ErrUnknownSchema = errors.New("events: unknown schema id")
	// ErrIncompatibleSchema: the record's schema exists but Event cannot be read
	// from it (not Avro, not a record, or not compatible with Schema).
	// ErrRegistryUnavailable: the registry could not be asked; the record may be
	// fine, so a consumer retries instead of dead-lettering it.
	ErrRegistryUnavailable = errors.New("events: schema registry unavailable")
	ErrIncompatibleSchema  = errors.New("events: schema incompatible with " + Subject)
)

// wireHeaderBytes is the Confluent header: magic byte 0 and a big-endian schema id.
const wireHeaderBytes = 5

// avroAPI bounds what hamba/avro allocates for hostile input: no string or bytes value
// longer than an event may be, no collection larger than the scanner lets through.
var avroAPI = avro.Config{
	MaxByteSliceSize:  MaxEventBytes,
	MaxSliceAllocSize: maxCollectionItems,
}.Freeze()

// writerPool recycles encoding buffers: encoding is on the producer's hot path.
var writerPool = sync.Pool{
	New: func() any { return avro.NewWriter(nil, 1024, avro.WithWriterConfig(avroAPI)) },
}

// Codec encodes events in the Confluent wire format with Schema, and decodes records
// written with Schema or with any registered schema compatible with it. It is safe
// for concurrent use.
type Codec struct {
	reg    *sr.Client
	id     int
	own    writerSchema // Schema, for records carrying id
	compat *avro.SchemaCompatibility

	mu        sync.Mutex
	writers   map[int]*lookup  // by schema id
	nowFn     func() time.Time // time.Now; tests move it
	negTTL    time.Duration
	maxLookup int
}

// writerSchema is how to read records written with one schema.
type writerSchema struct {
	shape  *shape      // the writer's layout, to check the bytes before decoding
	reader avro.Schema // Schema itself, or Schema resolved against the writer
}

// lookup is one registry lookup, shared by every Decode that needs its schema id.
type lookup struct {
	done chan struct{} // closed once ws or err is set
	ws   *writerSchema
	err  error
	// expires is when a failed lookup may be retried; zero while pending and for
	// results that cannot change (schemas under an id are immutable). Guarded by mu.
	expires time.Time
}

// Registry lookups: failures are remembered briefly so that a flood of records with
// bad ids costs one request per id per negativeTTL, and at most maxLookups ids are
// remembered so that a flood of distinct bad ids cannot grow memory or load the
// registry without bound.
const (
	negativeTTL   = 10 * time.Second
	maxLookups    = 1000
	lookupTimeout = 10 * time.Second
)

var ourShape = func() *shape {
	sh, err := compileShape(Schema, map[string]*shape{})
	if err != nil {
		panic(fmt.Sprintf("events: compiling the embedded schema: %v", err))
	}
	return sh
}()

// NewCodec registers SchemaText under Subject and returns a Codec that writes its id.
// Registering is idempotent: the registry returns the existing id for a schema it
// already has.
func NewCodec(ctx context.Context, reg *sr.Client) (*Codec, error) {
	if reg == nil {
		return nil, errors.New("events: NewCodec needs a schema registry client")
	}
	id, err := reg.RegisterSchema(ctx, Subject, sr.Schema{Schema: SchemaText, Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		return nil, fmt.Errorf("events: registering the event schema under %s: %w", Subject, err)
	}
	return &Codec{
		reg:       reg,
		id:        id,
		own:       writerSchema{shape: ourShape, reader: Schema},
		compat:    avro.NewSchemaCompatibility(),
		writers:   make(map[int]*lookup),
		nowFn:     time.Now,
		negTTL:    negativeTTL,
		maxLookup: maxLookups,
	}, nil
}

// SchemaID is the registry id of Schema, written in every record c encodes.
func (c *Codec) SchemaID() int { return c.id }

// Encode returns e in the wire format.
func (c *Codec) Encode(e *Event) ([]byte, error) {
	return c.AppendEncode(nil, e)
}

// AppendEncode appends e in the wire format to dst. Events that would encode to more
// than MaxEventBytes are refused, since no consumer would accept them. Timestamps are
// written to the millisecond.
func (c *Codec) AppendEncode(dst []byte, e *Event) ([]byte, error) {
	if e == nil {
		return dst, errors.New("events: encoding a nil event")
	}
	w := writerPool.Get().(*avro.Writer)
	defer func() {
		if cap(w.Buffer()) <= 2*MaxEventBytes { // don't keep a rare huge buffer alive
			writerPool.Put(w)
		}
	}()
	w.Reset(nil)
	w.Error = nil // Reset keeps the error of the writer's previous use

	w.WriteVal(Schema, e)
	if w.Error != nil {
		return dst, fmt.Errorf("events: encoding event %q as Avro: %w", truncate(e.EventID), w.Error)
	}
	body := w.Buffer()
	if len(body) > MaxEventBytes {
		return dst, fmt.Errorf("events: event %q encodes to %d bytes, more than the %d allowed", truncate(e.EventID), len(body), MaxEventBytes)
	}
	dst = append(dst, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.id))
	return append(dst, body...), nil
}

// Decode decodes the wire-format record b into e and normalizes it; it does not
// validate. Records written with SchemaID decode directly; records with another id
// are decoded through their writer schema, looked up in the registry once. Errors
// wrap ErrNotWireFormat, ErrUnknownSchema or ErrIncompatibleSchema where those apply;
// an error wrapping none of them and not from ctx means either a malformed record or
// a registry failure (which wraps the registry client's error).
//
// Decode never panics and allocates in proportion to len(b), whatever b holds. On
// error, e is left zero.
func (c *Codec) Decode(ctx context.Context, b []byte, e *Event) error {
	*e = Event{}
	if len(b) > MaxEventBytes+wireHeaderBytes {
		return fmt.Errorf("events: record of %d bytes is larger than the %d allowed", len(b), MaxEventBytes+wireHeaderBytes)
	}
	if len(b) < wireHeaderBytes || b[0] != 0 {
		return fmt.Errorf("%w: want magic byte 0 and a 4-byte schema id, got %d bytes starting %s",
			ErrNotWireFormat, len(b), hexPrefix(b))
	}
	id := int(binary.BigEndian.Uint32(b[1:wireHeaderBytes]))
	ws := &c.own
	if id != c.id {
		var err error
		if ws, err = c.writerSchema(ctx, id); err != nil {
			return err
		}
	}

	body := b[wireHeaderBytes:]
	if err := checkAvro(ws.shape, body); err != nil {
		return fmt.Errorf("events: malformed Avro record (schema id %d): %w", id, err)
	}
	if err := avroAPI.Unmarshal(ws.reader, body, e); err != nil {
		*e = Event{}
		return fmt.Errorf("events: decoding Avro record (schema id %d): %w", id, err)
	}
	e.Normalize()
	return nil
}

func hexPrefix(b []byte) string {
	if len(b) > 8 {
		return fmt.Sprintf("%x…", b[:8])
	}
	return fmt.Sprintf("%x", b)
}

// writerSchema returns how to read records with schema id, looking it up in the
// registry if no lookup is remembered. Concurrent calls for one id share one lookup,
// which is not cancelled when one caller gives up.
func (c *Codec) writerSchema(ctx context.Context, id int) (*writerSchema, error) {
	now := c.nowFn()
	c.mu.Lock()
	l := c.writers[id]
	if l != nil && !l.expires.IsZero() && now.After(l.expires) {
		l = nil
		delete(c.writers, id)
	}
	if l == nil {
		if len(c.writers) >= c.maxLookup {
			c.sweepLocked(now)
		}
		if len(c.writers) >= c.maxLookup {
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: schema id %d not looked up: %d schema ids seen recently, the most remembered",
				ErrUnknownSchema, id, c.maxLookup)
		}
		l = &lookup{done: make(chan struct{})}
		c.writers[id] = l
		go c.lookUp(context.WithoutCancel(ctx), id, l)
	}
	c.mu.Unlock()

	select {
	case <-l.done:
		return l.ws, l.err
	case <-ctx.Done():
		return nil, fmt.Errorf("events: waiting for schema id %d: %w", id, ctx.Err())
	}
}

// sweepLocked forgets expired failures. c.mu must be held.
func (c *Codec) sweepLocked(now time.Time) {
	for id, l := range c.writers {
		if !l.expires.IsZero() && now.After(l.expires) {
			delete(c.writers, id)
		}
	}
}

// lookUp fills in l and closes l.done.
func (c *Codec) lookUp(ctx context.Context, id int, l *lookup) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	ws, err := c.resolve(ctx, id)

	c.mu.Lock()
	l.ws, l.err = ws, err
	if err != nil && !errors.Is(err, ErrIncompatibleSchema) {
		l.expires = c.nowFn().Add(c.negTTL)
	}
	c.mu.Unlock()
	close(l.done)
}

// resolve fetches schema id and works out how to read Event from records written
// with it.
func (c *Codec) resolve(ctx context.Context, id int) (*writerSchema, error) {
	s, err := c.reg.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%w: schema id %d is not in the registry", ErrUnknownSchema, id)
		}
		return nil, fmt.Errorf("%w: looking up schema id %d: %w", ErrRegistryUnavailable, id, err)
	}
	if s.Type != sr.TypeAvro {
		return nil, fmt.Errorf("%w: schema id %d is a %s schema", ErrIncompatibleSchema, id, s.Type)
	}
	if len(s.References) > 0 {
		return nil, fmt.Errorf("%w: schema id %d refers to other schemas, which is not supported", ErrIncompatibleSchema, id)
	}
	// A cache of its own, so that the writer's names neither clash with nor replace
	// Schema's in hamba's global cache.
	writer, err := avro.ParseWithCache(s.Schema, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("%w: schema id %d does not parse: %v", ErrIncompatibleSchema, id, err)
	}
	if writer.Type() != avro.Record {
		return nil, fmt.Errorf("%w: schema id %d is an Avro %s, not a record", ErrIncompatibleSchema, id, writer.Type())
	}
	sh, err := compileShape(writer, map[string]*shape{})
	if err != nil {
		return nil, fmt.Errorf("%w: schema id %d: %v", ErrIncompatibleSchema, id, err)
	}
	if writer.Fingerprint() == Schema.Fingerprint() { // the same schema under another id
		return &writerSchema{shape: sh, reader: Schema}, nil
	}
	reader, err := c.compat.Resolve(Schema, writer)
	if err != nil {
		return nil, fmt.Errorf("%w: schema id %d: %v", ErrIncompatibleSchema, id, err)
	}
	return &writerSchema{shape: sh, reader: reader}, nil
}

// InProcessRegistry returns a client of a new in-memory schema registry (franz-go's
// srfake), reached through an http.RoundTripper that calls the registry's handler
// directly: the dev stack and tests get a real registry protocol with no socket.
func InProcessRegistry() (*sr.Client, error) {
	reg := srfake.NewRegistry()
	cl, err := sr.NewClient(
		sr.URLs("http://schema-registry.in-process"),
		sr.HTTPClient(&http.Client{Transport: handlerTransport{reg.Handler()}}),
	)
	if err != nil {
		return nil, fmt.Errorf("events: creating the in-process registry client: %w", err)
	}
	return cl, nil
}

// handlerTransport serves requests with an http.Handler in the calling goroutine.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	// Handlers expect a server request, whose Body is never nil; a RoundTripper must
	// not modify its request, so change a shallow copy.
	in := req.WithContext(req.Context())
	if in.Body == nil {
		in.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, in)
	if req.Body != nil {
		_ = req.Body.Close() // a RoundTripper must close the body, even on error
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// RegistryClient returns a client of the schema registry at url (or at any of a
// comma-separated list of URLs, tried in order, as SCHEMA_REGISTRY_URL may hold).
func RegistryClient(url string) (*sr.Client, error) {
	var urls []string
	for _, u := range strings.Split(url, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return nil, errors.New("events: no schema registry URL")
	}
	cl, err := sr.NewClient(sr.URLs(urls...))
	if err != nil {
		return nil, fmt.Errorf("events: creating the schema registry client for %s: %w", url, err)
	}
	return cl, nil
}
