package streaming

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/seal"
	"github.com/touchpoint/touchpoint/store"
)

// KeyLookup finds subject keys by the token sealed events carry (store.SubjectKeys).
type KeyLookup interface {
	ByTokens(ctx context.Context, tokens []string) (map[string]store.SubjectKey, error)
}

// ErrShredded: the event was sealed under a key that no longer exists, because its
// subject was deleted. The event is unreadable and is dropped, not dead-lettered.
var ErrShredded = errors.New("sealed event's subject key was destroyed")

// Error classes of sealed events: "shredded" is counted as dropped, "sealed" (a
// ciphertext that does not open, or no key store to open it with) is dead-lettered.
const (
	classShredded = "shredded"
	classSealed   = "sealed"
)

// Key cache bounds. Found keys are kept briefly (TTL), so a destroyed key stops
// opening events within it even if Forget is never called; tokens found missing are
// kept as long, since a destroyed key never comes back (tokens are random and a new
// key gets a new one).
const (
	keyCacheSize = 200_000
	keyCacheTTL  = time.Minute
)

// Unsealer opens sealed events with their subjects' keys, looked up by token in one
// query per batch and cached. Safe for concurrent use.
type Unsealer struct {
	keys  KeyLookup // nil: sealed events cannot be opened
	found *seal.Cache[string, seal.Key]
	gone  *seal.Cache[string, struct{}]
}

// NewUnsealer returns an Unsealer reading keys from keys; nil keys opens nothing.
func NewUnsealer(keys KeyLookup) *Unsealer {
	return &Unsealer{
		keys:  keys,
		found: seal.NewCache[string, seal.Key](keyCacheSize, keyCacheTTL),
		gone:  seal.NewCache[string, struct{}](keyCacheSize, keyCacheTTL),
	}
}

// Forget drops every cached key, so that keys destroyed since they were cached stop
// opening events at once. Call it whenever the privacy state (suppression list,
// consent) is reloaded with changes: a deletion suppresses its subject, then
// destroys its keys.
func (u *Unsealer) Forget() {
	u.found.Reset()
	u.gone.Reset()
}

// Open opens one sealed event in place; an unsealed event is left as it is. It
// returns an error wrapping ErrShredded when the event's key was destroyed. Readers
// of the raw archive (replay, identity update, erasure) use it: the archive holds the
// original, sealed records.
func (u *Unsealer) Open(ctx context.Context, e *events.Event) error {
	if e.Sealed == nil {
		return nil
	}
	keys, err := u.load(ctx, []string{e.Sealed.Token})
	if err != nil {
		return err
	}
	return u.openWith(keys, e)
}

// load returns the keys of tokens that still exist, from the cache or from one
// lookup of the tokens the cache does not know; a token absent from the result was
// destroyed.
func (u *Unsealer) load(ctx context.Context, tokens []string) (map[string]seal.Key, error) {
	keys := map[string]seal.Key{}
	if u.keys == nil {
		return keys, nil
	}
	var missing []string
	seen := map[string]bool{}
	for _, t := range tokens {
		if seen[t] {
			continue
		}
		seen[t] = true
		if k, ok := u.found.Get(t); ok {
			keys[t] = k
		} else if _, ok := u.gone.Get(t); !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return keys, nil
	}
	got, err := u.keys.ByTokens(ctx, missing)
	if err != nil {
		return nil, fmt.Errorf("unseal: look up %d subject keys: %w", len(missing), err)
	}
	for _, t := range missing {
		if k, ok := got[t]; ok {
			keys[t] = seal.Key(k)
			u.found.Put(t, keys[t])
		} else {
			u.gone.Put(t, struct{}{})
		}
	}
	return keys, nil
}

// openWith opens e with its key from keys, which load returned.
func (u *Unsealer) openWith(keys map[string]seal.Key, e *events.Event) error {
	if u.keys == nil {
		return errors.New("sealed event, but no subject key store is configured to open it")
	}
	k, ok := keys[e.Sealed.Token]
	if !ok {
		return fmt.Errorf("event %q: %w", e.EventID, ErrShredded)
	}
	return seal.Open(e, k)
}

// decoded is one record of a poll, decoded (and opened, if sealed) or not.
type decoded struct {
	rec   *kgo.Record
	event events.Event
	class string
	err   error
}

// decodePoll decodes every record of a poll, then opens the sealed ones with keys
// fetched in one lookup for the whole poll. A failed lookup (Postgres down) is
// retried until ctx ends: the records may be fine, so they must not be dropped or
// dead-lettered for it.
func (c *Consumer) decodePoll(ctx context.Context, fetches kgo.Fetches) []decoded {
	out := make([]decoded, 0, fetches.NumRecords())
	var tokens []string
	fetches.EachRecord(func(r *kgo.Record) {
		d := decoded{rec: r}
		d.event, d.class, d.err = c.decode(ctx, r)
		if d.err == nil && d.event.Sealed != nil {
			tokens = append(tokens, d.event.Sealed.Token)
		}
		out = append(out, d)
	})
	if len(tokens) == 0 {
		return out
	}
	var keys map[string]seal.Key
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		var err error
		if keys, err = c.unseal.load(ctx, tokens); err == nil {
			break
		}
		slog.Warn("consumer: looking up subject keys failed, retrying", "err", err, "backoff", backoff)
		if sleep(ctx, backoff) != nil {
			return out // the caller sees ctx's error and re-reads the poll
		}
	}
	for i := range out {
		d := &out[i]
		if d.err != nil || d.event.Sealed == nil {
			continue
		}
		if err := c.unseal.openWith(keys, &d.event); err != nil {
			d.class, d.err = classSealed, err
			if errors.Is(err, ErrShredded) {
				d.class = classShredded
			}
		}
	}
	return out
}

// ForgetSubjectKeys drops the consumer's cached subject keys; see Unsealer.Forget.
func (c *Consumer) ForgetSubjectKeys() { c.unseal.Forget() }
