// Package segments implements dynamic segments: rules over a customer
// profile's fields and scores, checked when they are saved, evaluated fast
// against many profiles, and the membership changes (segment_update enter
// and exit events) a profile change causes. It does no I/O.
//
// # The rule language
//
//	churn_probability > 0.7 and ltv >= 100 and traits.plan == "pro" and not gdpr
//	engagement_score between 40 and 80 or "vip" in traits.tags
//	last_seen within 30d and customer_id in ["c1", "c2"]
//
// Grammar (EBNF; keywords are case-insensitive, "and" binds tighter than
// "or", "not" tighter than both):
//
//	rule      = or_expr .
//	or_expr   = and_expr { "or" and_expr } .
//	and_expr  = unary { "and" unary } .
//	unary     = "not" unary | primary .
//	primary   = "(" or_expr ")"
//	          | "exists" path
//	          | literal "in" path                       (* list field holds the value *)
//	          | path [ op literal
//	                 | "in" "[" [ literal { "," literal } ] "]"
//	                 | "between" literal "and" literal  (* bounds included *)
//	                 | "within" duration ] .            (* a bare path is a bool field *)
//	op        = "==" | "!=" | "<" | "<=" | ">" | ">=" .
//	path      = ident { "." name } .                    (* name: ident or keyword *)
//	ident     = ( letter | "_" ) { letter | digit | "_" } .
//	literal   = string | number | "true" | "false" | "null" .
//	string    = `"` { character | escape } `"` .        (* Go/JSON escapes *)
//	number    = [ "-" ] digits [ "." digits ] [ ( "e" | "E" ) [ "+" | "-" ] digits ] .
//	duration  = digits ( "s" | "m" | "h" | "d" | "w" ) . (* 30d, 12h, 2w *)
//
// # Types
//
// [Compile] checks a rule against a [Schema] of top-level fields (number,
// string, bool, time, list of strings, object; [ProfileSchema] is the
// customer profile's). Paths into an object field (traits.plan) are dynamic:
// any value type is accepted and checked at evaluation. Comparisons need a
// constant of the field's type; time fields compare with "2006-01-02" or
// RFC 3339 strings; < <= > >= and between need a number or time; null only
// goes with == and != (== null: missing, != null: present). Errors are
// *[Error] values naming line:column, what was found and what was expected:
//
//	1:1: unknown field "lvt" (did you mean "ltv"?)
//	1:7: expected a number to compare with ltv, found string "x"
//	1:1: unbalanced "(" at 1:1: expected ")", found end of rule
//
// Rules are limited to [MaxSourceLen] bytes, [MaxDepth] levels of nesting and
// [MaxNodes] conditions, so a hostile rule costs neither stack nor CPU.
// [CompileJSON] takes the same rules as structured JSON and builds the same
// tree; [Rule.String] renders the canonical text, which compiles back to an
// equal rule.
//
// # Evaluation
//
// [Rule.Match] evaluates closures built at compile time: no parsing,
// reflection or allocation per profile. Logic is two-valued, like SQL's
// WHERE on NULL: a condition on a missing field (absent, nil, zero time) is
// false, and not of it is true; write "exists f and not ..." to exclude
// profiles without f. x != v means exists x and not x == v. "within d" is
// true for a timestamp no more than d before the evaluation time (later ones
// included); such rules are [Rule.TimeDependent] and need periodic
// re-evaluation, since membership changes with time alone.
//
// # Membership
//
// [Tracker.Evaluate] returns a profile's new memberships and one
// [Transition] per segment entered or exited, sorted by segment id; an
// unchanged membership yields none, so re-evaluating is idempotent.
package segments
