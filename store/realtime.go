package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/touchpoint/touchpoint/aggregate"
)

// Realtime is the Redis view: each tenant's recent 5-second windows and running
// totals. Postgres is the source of truth; this view is derived, updated after each
// batch commits, idempotent per (tenant, partition, offset), and rebuildable. Every key
// carries the tenant as a hash tag, so all of a tenant's keys live in one Redis Cluster
// slot and one Lua script can update them atomically.
type Realtime struct {
	RDB       *redis.Client
	WindowTTL time.Duration // how long a window stays in Redis (default 2h)
}

func windowKey(t string, b aggregate.Bucket) string {
	return "tp:{" + t + "}:w:" + strconv.FormatInt(b, 10)
}
func totalKey(t string) string   { return "tp:{" + t + "}:total" }
func appliedKey(t string) string { return "tp:{" + t + "}:applied" }
func freshKey(t string) string   { return "tp:{" + t + "}:fresh" }

func (r Realtime) ttl() time.Duration {
	if r.WindowTTL > 0 {
		return r.WindowTTL
	}
	return 2 * time.Hour
}

// applyScript adds a batch's increments unless this (tenant, partition) already saw
// an offset at least as high: a batch re-applied after a crash changes nothing.
var applyScript = redis.NewScript(`
local last = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if last >= tonumber(ARGV[2]) then return 0 end
local i = 5
local n = tonumber(ARGV[i]); i = i + 1
for j = 1, n do redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i+1]); i = i + 2 end
for k = 4, #KEYS do
  local m = tonumber(ARGV[i]); i = i + 1
  for j = 1, m do redis.call('HINCRBY', KEYS[k], ARGV[i], ARGV[i+1]); i = i + 2 end
  redis.call('EXPIRE', KEYS[k], ARGV[3])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SET', KEYS[3], ARGV[4])
return 1
`)

// Apply adds one tenant's deltas from one partition's batch ending at offset: every
// event to the running totals (from the week level, where each event counts once),
// and the windows Redis keeps, those younger than the window TTL. An older window
// would only linger for the TTL beside the ones a rebuild gives; late events would
// make a key each. It reports whether the deltas were new.
func (r Realtime) Apply(ctx context.Context, tenant string, partition int32, offset int64, d *aggregate.Deltas) (bool, error) {
	now := time.Now()
	held := r.Holds(now)
	keys := []string{appliedKey(tenant), totalKey(tenant), freshKey(tenant)}
	args := []any{partition, offset, int64(r.ttl().Seconds()), now.UnixMilli()}
	args = appendFields(args, encodeAll(d.Only(aggregate.Week)))
	for b, fields := range encode(d.Only(aggregate.Window)) {
		if !held(aggregate.Window, b) {
			continue
		}
		keys = append(keys, windowKey(tenant, b))
		args = appendFields(args, fields)
	}
	n, err := applyScript.Run(ctx, r.RDB, keys, args...).Int()
	if err != nil {
		return false, fmt.Errorf("redis: apply %s/%d@%d: %w", tenant, partition, offset, err)
	}
	return n == 1, nil
}

// Holds says which rows Apply reads as of now: the week level (for the running
// totals) and windows younger than the TTL. The consumer copies only those out of a
// batch.
func (r Realtime) Holds(now time.Time) func(aggregate.Level, aggregate.Bucket) bool {
	oldest := now.Add(-r.ttl()).Unix()
	return func(l aggregate.Level, b aggregate.Bucket) bool {
		return l == aggregate.Week || l == aggregate.Window && b+int64(aggregate.WindowSize/time.Second) > oldest
	}
}

func appendFields(args []any, fields map[string]int64) []any {
	args = append(args, len(fields))
	for f, v := range fields {
		args = append(args, f, v)
	}
	return args
}

// Windows returns the tenant's 5-second windows with from <= bucket <= to that Redis
// holds, by bucket.
func (r Realtime) Windows(ctx context.Context, tenant string, from, to aggregate.Bucket) (map[aggregate.Bucket]*aggregate.Deltas, error) {
	windows, _, _, err := r.Snapshot(ctx, tenant, from, to)
	return windows, err
}

// Totals returns the tenant's running totals (Level Week, Bucket 0 keys, as
// Aggregates.Totals gives them) and when the view last changed.
func (r Realtime) Totals(ctx context.Context, tenant string) (*aggregate.Deltas, time.Time, error) {
	_, totals, at, err := r.Snapshot(ctx, tenant, 1, 0)
	return totals, at, err
}

// Snapshot reads the tenant's windows with from <= bucket <= to, its running totals and
// when the view last changed, in one MULTI, so that the figures are those of one
// moment: read apart, a batch applied in between would show in the totals but not in
// the windows. All of them share the tenant's hash slot.
func (r Realtime) Snapshot(ctx context.Context, tenant string, from, to aggregate.Bucket) (map[aggregate.Bucket]*aggregate.Deltas, *aggregate.Deltas, time.Time, error) {
	step := int64(aggregate.WindowSize / time.Second)
	pipe := r.RDB.TxPipeline()
	cmds := map[aggregate.Bucket]*redis.MapStringStringCmd{}
	for b := from; b <= to; b += step {
		cmds[b] = pipe.HGetAll(ctx, windowKey(tenant, b))
	}
	tot := pipe.HGetAll(ctx, totalKey(tenant))
	fresh := pipe.Get(ctx, freshKey(tenant))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, time.Time{}, fmt.Errorf("redis: read the view of %s: %w", tenant, err)
	}
	windows := map[aggregate.Bucket]*aggregate.Deltas{}
	for b, cmd := range cmds {
		if fields := cmd.Val(); len(fields) > 0 {
			windows[b] = decode(fields, tenant, aggregate.Window, b)
		}
	}
	var at time.Time
	if ms, err := fresh.Int64(); err == nil {
		at = time.UnixMilli(ms).UTC()
	}
	return windows, decode(tot.Val(), tenant, aggregate.Week, 0), at, nil
}

// Replace rebuilds a tenant's view from Postgres figures: windows (Window level),
// totals, and the offsets those figures include. It uses optimistic locking on the
// applied offsets so a batch applied concurrently is never wiped out: the rebuild
// retries with fresh figures instead.
func (r Realtime) Replace(ctx context.Context, tenant string, windows, totals *aggregate.Deltas, applied map[int32]int64) error {
	err := r.RDB.Watch(ctx, func(tx *redis.Tx) error {
		current, err := tx.HGetAll(ctx, appliedKey(tenant)).Result()
		if err != nil {
			return err
		}
		for p, v := range current {
			part, _ := strconv.ParseInt(p, 10, 32)
			if off, _ := strconv.ParseInt(v, 10, 64); off > applied[int32(part)] {
				return errRebuildStale
			}
		}
		var old []string
		iter := tx.Scan(ctx, 0, "tp:{"+tenant+"}:w:*", 1000).Iterator()
		for iter.Next(ctx) {
			old = append(old, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, append(old, totalKey(tenant), appliedKey(tenant))...)
			for b, fields := range encode(windows) {
				p.HSet(ctx, windowKey(tenant, b), toArgs(fields)...)
				p.Expire(ctx, windowKey(tenant, b), r.ttl())
			}
			if fields := encodeAll(totals); len(fields) > 0 {
				p.HSet(ctx, totalKey(tenant), toArgs(fields)...)
			}
			for part, off := range applied {
				p.HSet(ctx, appliedKey(tenant), strconv.Itoa(int(part)), off)
			}
			p.Set(ctx, freshKey(tenant), time.Now().UnixMilli(), 0)
			return nil
		})
		return err
	}, appliedKey(tenant))
	if err != nil {
		return fmt.Errorf("redis: rebuild %s: %w", tenant, err)
	}
	return nil
}

// errRebuildStale says a batch newer than the rebuild's figures reached Redis first.
var errRebuildStale = errors.New("newer batch already applied; rebuild again")

// IsStale reports whether a Replace lost a race with a newer batch.
func IsStale(err error) bool {
	return errors.Is(err, errRebuildStale) || errors.Is(err, redis.TxFailedErr)
}

func toArgs(fields map[string]int64) []any {
	out := make([]any, 0, 2*len(fields))
	for f, v := range fields {
		out = append(out, f, v)
	}
	return out
}

// Field names: a prefix naming the family, the row's key parts, then the metric. Ids
// may contain "|", so decode splits the fixed parts off from the right.
func encode(d *aggregate.Deltas) map[aggregate.Bucket]map[string]int64 {
	out := map[aggregate.Bucket]map[string]int64{}
	at := func(b aggregate.Bucket) map[string]int64 {
		if out[b] == nil {
			out[b] = map[string]int64{}
		}
		return out[b]
	}
	for k, v := range d.Campaigns {
		m := at(k.Bucket)
		p := "c|" + k.CampaignID + "|" + k.Channel + "|"
		m[p+"impressions"] += v.Impressions
		m[p+"clicks"] += v.Clicks
		m[p+"conversions"] += v.Conversions
		m[p+"cost_micros"] += v.CostMicros
		m[p+"revenue_micros"] += v.RevenueMicros
		m[p+"events"] += v.Events
	}
	for k, v := range d.Channels {
		m := at(k.Bucket)
		p := "ch|" + k.Channel + "|"
		m[p+"journeys_started"] += v.JourneysStarted
		m[p+"stage_changes"] += v.StageChanges
		m[p+"conversions"] += v.Conversions
	}
	for k, v := range d.ConversionValues {
		at(k.Bucket)["cv|"+k.Channel+"|"+k.Currency] += v
	}
	for k, v := range d.Interactions {
		at(k.Bucket)["i|"+k.Channel+"|"+k.InteractionType] += v
	}
	for k, v := range d.Variants {
		m := at(k.Bucket)
		p := "v|" + k.VariantID + "|"
		m[p+"views"] += v.Views
		m[p+"clicks"] += v.Clicks
		m[p+"conversions"] += v.Conversions
		m[p+"engagement_micros"] += v.EngagementMicros
		m[p+"engagement_count"] += v.EngagementCount
	}
	for k, v := range d.EventTypes {
		at(k.Bucket)["e|"+k.EventType] += v
	}
	return out
}

// encodeAll encodes deltas of any level and bucket as one set of fields.
func encodeAll(d *aggregate.Deltas) map[string]int64 {
	out := map[string]int64{}
	for _, fields := range encode(d) {
		for f, v := range fields {
			out[f] += v
		}
	}
	return out
}

func decode(fields map[string]string, tenant string, l aggregate.Level, b aggregate.Bucket) *aggregate.Deltas {
	d := aggregate.New()
	for f, raw := range fields {
		v, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			continue
		}
		family, rest, _ := strings.Cut(f, "|")
		switch family {
		case "c":
			decodeCampaign(d, rest, tenant, l, b, v)
		case "ch":
			decodeChannel(d, rest, tenant, l, b, v)
		case "cv":
			ch, cur := cutLast(rest)
			d.ConversionValues[aggregate.ConversionValueKey{Tenant: tenant, Level: l, Bucket: b, Channel: ch, Currency: cur}] += v
		case "i":
			ch, it := cutLast(rest)
			d.Interactions[aggregate.InteractionKey{Tenant: tenant, Level: l, Bucket: b, Channel: ch, InteractionType: it}] += v
		case "v":
			decodeVariant(d, rest, tenant, l, b, v)
		case "e":
			d.EventTypes[aggregate.EventTypeKey{Tenant: tenant, Level: l, Bucket: b, EventType: rest}] += v
		}
	}
	return d
}

func cutLast(s string) (string, string) {
	i := strings.LastIndexByte(s, '|')
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i+1:]
}

func decodeCampaign(d *aggregate.Deltas, rest, tenant string, l aggregate.Level, b aggregate.Bucket, v int64) {
	head, metric := cutLast(rest)
	id, ch := cutLast(head)
	k := aggregate.CampaignKey{Tenant: tenant, Level: l, Bucket: b, CampaignID: id, Channel: ch}
	row := d.Campaigns[k]
	if row == nil {
		row = &aggregate.CampaignDelta{}
		d.Campaigns[k] = row
	}
	switch metric {
	case "impressions":
		row.Impressions += v
	case "clicks":
		row.Clicks += v
	case "conversions":
		row.Conversions += v
	case "cost_micros":
		row.CostMicros += v
	case "revenue_micros":
		row.RevenueMicros += v
	case "events":
		row.Events += v
	}
}

func decodeChannel(d *aggregate.Deltas, rest, tenant string, l aggregate.Level, b aggregate.Bucket, v int64) {
	ch, metric := cutLast(rest)
	k := aggregate.ChannelKey{Tenant: tenant, Level: l, Bucket: b, Channel: ch}
	row := d.Channels[k]
	if row == nil {
		row = &aggregate.ChannelDelta{}
		d.Channels[k] = row
	}
	switch metric {
	case "journeys_started":
		row.JourneysStarted += v
	case "stage_changes":
		row.StageChanges += v
	case "conversions":
		row.Conversions += v
	}
}

func decodeVariant(d *aggregate.Deltas, rest, tenant string, l aggregate.Level, b aggregate.Bucket, v int64) {
	id, metric := cutLast(rest)
	k := aggregate.VariantKey{Tenant: tenant, Level: l, Bucket: b, VariantID: id}
	row := d.Variants[k]
	if row == nil {
		row = &aggregate.VariantDelta{}
		d.Variants[k] = row
	}
	switch metric {
	case "views":
		row.Views += v
	case "clicks":
		row.Clicks += v
	case "conversions":
		row.Conversions += v
	case "engagement_micros":
		row.EngagementMicros += v
	case "engagement_count":
		row.EngagementCount += v
	}
}

// EventCounts returns the tenant's running event counts by type and when the view
// last changed: the cheap question ("how many so far?") without the whole view.
func (r Realtime) EventCounts(ctx context.Context, tenant string, types []string) (map[string]int64, time.Time, error) {
	fields := make([]string, len(types))
	for i, t := range types {
		fields[i] = "e|" + t
	}
	pipe := r.RDB.Pipeline()
	vals := pipe.HMGet(ctx, totalKey(tenant), fields...)
	fresh := pipe.Get(ctx, freshKey(tenant))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, time.Time{}, fmt.Errorf("redis: read event counts of %s: %w", tenant, err)
	}
	out := make(map[string]int64, len(types))
	for i, v := range vals.Val() {
		if s, ok := v.(string); ok {
			n, _ := strconv.ParseInt(s, 10, 64)
			out[types[i]] = n
		}
	}
	var at time.Time
	if ms, err := fresh.Int64(); err == nil {
		at = time.UnixMilli(ms).UTC()
	}
	return out, at, nil
}
