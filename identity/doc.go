// Package identity resolves the many identifiers one person leaves behind — device ids,
// anonymous (cookie) ids, user ids, customer ids — into one person per set of linked ids.
//
// Deterministic links come from identifiers seen together in one event: a logged-in
// user_id ties every device and anonymous id it appears with to one person (Graph).
// Probabilistic links join devices that never authenticated together, from IP address,
// user agent and geolocation, with a Fellegi–Sunter model whose per-field match and
// non-match probabilities are estimated from the deterministic links (Match).
//
// Raw IP addresses are never kept: they are reduced to keyed hashes on entry (IPHasher).
// Links expire when unseen for a configurable time (90 days by default).
//
// The package is pure: no I/O, no clocks, no goroutines. A store persists a Graph through
// Snapshot and Restore; the event stream feeds it through Observe.
package identity
