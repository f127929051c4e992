package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Audit is the append-only, hash-chained audit log (table audit_log). Every entry's
// hash covers its content and the previous entry's hash, so altering, removing or
// inserting an entry is detected by Verify. Subjects are stored only as keyed hashes
// (Hasher), never as the identifiers themselves.
type Audit struct {
	DB     *pgxpool.Pool
	Hasher SubjectHasher
}

// AuditEntry is one thing that happened. Subjects are plaintext identifiers of the
// data subjects concerned; Append hashes them with the Hasher and never stores them.
// Detail must not hold personal data either: it is stored as given (as JSON).
type AuditEntry struct {
	TenantID string // "" for system-wide entries
	Actor    string // "key:<key_id>", "admin", "system:retention", "workflow:<id>"
	Action   string // "deletion.requested", "consent.set", "apikey.create", ...
	Subjects []string
	Detail   map[string]any
	Outcome  string // "ok" (the default when empty) or "error: ..." (see OutcomeOf)
}

// OutcomeOf is the outcome to log for an operation that returned err.
func OutcomeOf(err error) string {
	if err == nil {
		return "ok"
	}
	return "error: " + err.Error()
}

// auditLockKey is the advisory lock that serialises appends across every process:
// each append must read the chain's head and add to it without another append in
// between. ("tp_audit" in ASCII.)
const auditLockKey int64 = 0x74705f6175646974

// auditGenesis is the prev_hash of the first entry.
var auditGenesis = make([]byte, sha256.Size)

// auditTimeLayout has a fixed microsecond precision: Postgres keeps microseconds, so
// the time hashed at append is exactly the time read back at verify.
const auditTimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// Append adds an entry in its own transaction and returns its seq.
func (a Audit) Append(ctx context.Context, e AuditEntry) (int64, error) {
	var seq int64
	err := pgx.BeginFunc(ctx, a.DB, func(tx pgx.Tx) error {
		var err error
		seq, err = a.AppendTx(ctx, tx, e)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("audit: %w", err)
	}
	return seq, nil
}

// AppendTx adds an entry inside the caller's transaction, so the entry commits (or
// rolls back) with the change it records. It takes the chain's lock until the
// transaction ends: append last, just before commit, so the lock is held briefly
// and never taken before the caller's other locks, and run at READ COMMITTED (an
// older snapshot would miss the head; the insert then fails on the primary key
// rather than forking the chain).
func (a Audit) AppendTx(ctx context.Context, tx pgx.Tx, e AuditEntry) (int64, error) {
	row, err := a.prepare(e)
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, auditLockKey); err != nil {
		return 0, fmt.Errorf("audit %s: lock chain: %w", e.Action, err)
	}
	if err := readHead(ctx, tx, &row); err != nil {
		return 0, fmt.Errorf("audit %s: %w", e.Action, err)
	}
	row.hash = row.digest()
	_, err = tx.Exec(ctx, `
		INSERT INTO audit_log (seq, at, tenant_id, actor, action, subject_hashes, detail, outcome, prev_hash, hash)
		OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)`,
		row.seq, row.at, row.tenant, row.actor, row.action, row.subjects, row.detail, row.outcome, row.prev, row.hash)
	if err != nil {
		return 0, fmt.Errorf("audit %s: insert: %w", e.Action, err)
	}
	return row.seq, nil
}

// SubjectHashFor is the hash entries about a subject carry (see AuditFilter).
func (a Audit) SubjectHashFor(tenant, subject string) []byte {
	return a.Hasher.Hash(tenant, subject)
}

// auditRow is an entry as stored and hashed.
type auditRow struct {
	seq      int64
	at       time.Time
	tenant   string
	actor    string
	action   string
	subjects [][]byte
	detail   string // JSON
	outcome  string
	prev     []byte
	hash     []byte
}

// prepare checks an entry and turns it into a row without seq, time and hashes.
func (a Audit) prepare(e AuditEntry) (auditRow, error) {
	if e.Actor == "" || e.Action == "" {
		return auditRow{}, fmt.Errorf("audit: entry needs an actor and an action (got %q, %q)", e.Actor, e.Action)
	}
	if len(e.Subjects) > 0 && !a.Hasher.Valid() {
		return auditRow{}, fmt.Errorf("audit %s: no subject hasher configured", e.Action)
	}
	r := auditRow{tenant: e.TenantID, actor: e.Actor, action: e.Action, outcome: e.Outcome}
	if r.outcome == "" {
		r.outcome = "ok"
	}
	// Never nil: pgx would write NULL, the column is NOT NULL.
	r.subjects = make([][]byte, 0, len(e.Subjects))
	for _, s := range e.Subjects {
		r.subjects = append(r.subjects, a.Hasher.Hash(e.TenantID, s))
	}
	detail := e.Detail
	if detail == nil {
		detail = map[string]any{}
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return auditRow{}, fmt.Errorf("audit %s: detail: %w", e.Action, err)
	}
	r.detail = string(b)
	return r, nil
}

// readHead sets the row's seq, time and prev_hash from the chain's last entry. The
// time comes from the database clock, read under the lock, so times follow seq
// whichever host appends.
func readHead(ctx context.Context, tx pgx.Tx, r *auditRow) error {
	var last *int64
	var prev []byte
	err := tx.QueryRow(ctx, `
		SELECT clock_timestamp(), l.seq, l.hash
		FROM (SELECT 1) one
		LEFT JOIN LATERAL (SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1) l ON true`).
		Scan(&r.at, &last, &prev)
	if err != nil {
		return fmt.Errorf("read chain head: %w", err)
	}
	r.at = r.at.UTC().Truncate(time.Microsecond)
	r.seq, r.prev = 1, auditGenesis
	if last != nil {
		r.seq, r.prev = *last+1, prev
	}
	return nil
}

// digest is SHA-256 over the row's canonical encoding: a version tag, then every
// field length-prefixed (8 bytes, big-endian), so no two different rows encode the
// same. Detail is hashed in canonical form (see canonicalJSON) because jsonb does not
// give back the text it was given.
func (r auditRow) digest() []byte {
	h := sha256.New()
	field := func(b []byte) {
		writeUint64(h, uint64(len(b)))
		h.Write(b)
	}
	field([]byte("touchpoint-audit/v1"))
	writeUint64(h, uint64(r.seq))
	field([]byte(r.at.UTC().Truncate(time.Microsecond).Format(auditTimeLayout)))
	field([]byte(r.tenant))
	field([]byte(r.actor))
	field([]byte(r.action))
	writeUint64(h, uint64(len(r.subjects)))
	for _, s := range r.subjects {
		field(s)
	}
	canon, err := canonicalJSON(r.detail)
	if err != nil {
		// Undecodable detail cannot come from Append; hash the raw text so Verify
		// reports a mismatch rather than failing.
		canon = []byte("invalid:" + r.detail)
	}
	field(canon)
	field([]byte(r.outcome))
	field(r.prev)
	return h.Sum(nil)
}

func writeUint64(h hash.Hash, n uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	h.Write(b[:])
}

// canonicalJSON re-encodes a JSON document so that every text of the same value
// encodes the same: object keys sorted, no whitespace, numbers as exact rationals
// ("1.50", "1.5" and "15e-1" are all "3/2"). jsonb reorders keys and rewrites
// numbers (Go's 1e+21 comes back as 1000000000000000000000).
func canonicalJSON(doc string) ([]byte, error) {
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeCanonical(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeCanonical(buf *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		fmt.Fprint(buf, v)
	case json.Number:
		r, ok := new(big.Rat).SetString(v.String())
		if !ok {
			return fmt.Errorf("number %q", v)
		}
		buf.WriteString(r.RatString())
	case string:
		b, _ := json.Marshal(v)
		buf.Write(b)
	case []any:
		buf.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeCanonical(buf, x); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		buf.WriteByte('{')
		for i, k := range slices.Sorted(maps.Keys(v)) {
			if i > 0 {
				buf.WriteByte(',')
			}
			b, _ := json.Marshal(k)
			buf.Write(b)
			buf.WriteByte(':')
			if err := writeCanonical(buf, v[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("unexpected JSON value %T", v)
	}
	return nil
}

// Kinds of chain breaks in a VerifyReport.
const (
	BreakAltered = "altered" // the entry's hash does not match its content
	BreakMissing = "missing" // a seq is absent: the entry was removed
	BreakLink    = "link"    // prev_hash does not match the previous entry's hash
)

// VerifyReport is the result of walking the chain.
type VerifyReport struct {
	Checked   int64  // entries verified intact, from seq 1
	HeadSeq   int64  // the last intact entry (0 if none)
	HeadHash  []byte // its hash: record it elsewhere to detect removal of the newest entries
	BrokenSeq int64  // the first broken entry; 0 when the chain is intact
	Kind      string // BreakAltered, BreakMissing or BreakLink
	Problem   string // what is wrong, for people
}

// OK reports whether the whole chain verified.
func (r VerifyReport) OK() bool { return r.BrokenSeq == 0 }

// Verify walks the chain in seq order, streaming the rows, recomputes every hash and
// checks every link, and stops at the first break. Removing the newest entries
// leaves a valid shorter chain: compare HeadSeq/HeadHash with a copy kept elsewhere
// to detect that.
func (a Audit) Verify(ctx context.Context) (VerifyReport, error) {
	rows, err := a.DB.Query(ctx, `
		SELECT seq, at, tenant_id, actor, action, subject_hashes, detail::text, outcome, prev_hash, hash
		FROM audit_log ORDER BY seq`)
	if err != nil {
		return VerifyReport{}, fmt.Errorf("audit verify: %w", err)
	}
	defer rows.Close()
	var rep VerifyReport
	prev := auditGenesis
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.seq, &r.at, &r.tenant, &r.actor, &r.action, &r.subjects, &r.detail, &r.outcome, &r.prev, &r.hash); err != nil {
			return rep, fmt.Errorf("audit verify: read entry after seq %d: %w", rep.HeadSeq, err)
		}
		if rep.checkRow(r, prev) {
			return rep, nil
		}
		prev = r.hash
	}
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("audit verify: %w", err)
	}
	return rep, nil
}

// checkRow checks one row against the chain so far; it records the break and
// returns true if the row breaks the chain.
func (rep *VerifyReport) checkRow(r auditRow, prev []byte) bool {
	want := rep.HeadSeq + 1
	switch {
	case r.seq != want:
		rep.BrokenSeq, rep.Kind = want, BreakMissing
		rep.Problem = fmt.Sprintf("entry %d is missing (the next entry is %d): entries were removed", want, r.seq)
	case !bytes.Equal(r.prev, prev):
		rep.BrokenSeq, rep.Kind = r.seq, BreakLink
		rep.Problem = linkProblem(r.seq, rep.HeadSeq)
	case !bytes.Equal(r.digest(), r.hash):
		rep.BrokenSeq, rep.Kind = r.seq, BreakAltered
		rep.Problem = fmt.Sprintf("entry %d's hash does not match its content: the entry was altered", r.seq)
	default:
		rep.Checked++
		rep.HeadSeq, rep.HeadHash = r.seq, r.hash
		return false
	}
	return true
}

func linkProblem(seq, prevSeq int64) string {
	if prevSeq == 0 {
		return fmt.Sprintf("entry %d's prev_hash is not the genesis value: the entry was forged, or the chain before it replaced", seq)
	}
	return fmt.Sprintf("entry %d's prev_hash does not match entry %d's hash: entry %d was altered and rehashed, or entries were replaced or inserted", seq, prevSeq, prevSeq)
}

// HexBytes is a hash, shown as hex in JSON.
type HexBytes []byte

// MarshalJSON writes the bytes as a hex string.
func (b HexBytes) MarshalJSON() ([]byte, error) {
	return json.Marshal(hex.EncodeToString(b))
}

func (b HexBytes) String() string { return hex.EncodeToString(b) }

// AuditRecord is a stored entry, as List returns it.
type AuditRecord struct {
	Seq           int64           `json:"seq"`
	At            time.Time       `json:"at"`
	TenantID      string          `json:"tenant_id"`
	Actor         string          `json:"actor"`
	Action        string          `json:"action"`
	SubjectHashes []HexBytes      `json:"subject_hashes"`
	Detail        json.RawMessage `json:"detail"`
	Outcome       string          `json:"outcome"`
	PrevHash      HexBytes        `json:"prev_hash"`
	Hash          HexBytes        `json:"hash"`
}

// AuditFilter narrows List; zero fields do not filter.
type AuditFilter struct {
	Action      string // exact action, or a prefix ending in "." ("deletion.")
	Actor       string
	SubjectHash []byte // see SubjectHashFor
	BeforeSeq   int64  // only entries older than this seq: the next page
	Limit       int    // default 100, at most 1000
}

// List returns a tenant's entries, newest first.
func (a Audit) List(ctx context.Context, tenant string, f AuditFilter) ([]AuditRecord, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	actionPrefix := ""
	action := f.Action
	if strings.HasSuffix(action, ".") {
		actionPrefix, action = action, ""
	}
	rows, err := a.DB.Query(ctx, `
		SELECT seq, at, tenant_id, actor, action, subject_hashes, detail, outcome, prev_hash, hash
		FROM audit_log
		WHERE tenant_id = $1
		  AND ($2 = '' OR action = $2)
		  AND ($3 = '' OR starts_with(action, $3))
		  AND ($4 = '' OR actor = $4)
		  AND ($5::bytea IS NULL OR subject_hashes @> ARRAY[$5::bytea])
		  AND ($6 = 0 OR seq < $6)
		ORDER BY seq DESC
		LIMIT $7`,
		tenant, action, actionPrefix, f.Actor, f.SubjectHash, f.BeforeSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("audit list %s: %w", tenant, err)
	}
	out, err := pgx.CollectRows(rows, scanAuditRecord)
	if err != nil {
		return nil, fmt.Errorf("audit list %s: %w", tenant, err)
	}
	return out, nil
}

func scanAuditRecord(row pgx.CollectableRow) (AuditRecord, error) {
	var r AuditRecord
	var subjects [][]byte
	var prev, hash []byte
	var detail []byte
	if err := row.Scan(&r.Seq, &r.At, &r.TenantID, &r.Actor, &r.Action, &subjects, &detail, &r.Outcome, &prev, &hash); err != nil {
		return r, err
	}
	r.SubjectHashes = make([]HexBytes, len(subjects))
	for i, s := range subjects {
		r.SubjectHashes[i] = s
	}
	r.Detail, r.PrevHash, r.Hash = detail, prev, hash
	return r, nil
}

// ErrAuditBroken is what VerifyReport.Err wraps.
var ErrAuditBroken = errors.New("audit chain broken")

// Err returns nil for an intact chain and an error naming the first break otherwise.
func (r VerifyReport) Err() error {
	if r.OK() {
		return nil
	}
	return fmt.Errorf("%w at entry %d (%s): %s", ErrAuditBroken, r.BrokenSeq, r.Kind, r.Problem)
}
