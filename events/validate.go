package events

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Rules are the validation limits that depend on the deployment rather than on the
// event format. A zero field takes its DefaultRules value.
type Rules struct {
	// Retention is how far in the past an event may lie: older events would land in
	// windows that retention has already dropped.
	Retention time.Duration
	// MaxClockSkew is how far in the future an event may lie, to tolerate producers
	// whose clocks run ahead without letting events fill windows not yet open.
	MaxClockSkew time.Duration
}

// DefaultRules returns the rules Touchpoint runs with: 90 days of retention (as long
// as Kafka keeps raw events) and 5 minutes of clock skew.
func DefaultRules() Rules {
	return Rules{Retention: 90 * 24 * time.Hour, MaxClockSkew: 5 * time.Minute}
}

// FieldError is a validation failure: Field is a JSON path like
// "performance_metrics.cost" or "touchpoints[2].channel".
type FieldError struct{ Field, Reason string }

// Error returns "field: reason", e.g. "performance_metrics.cost: must not be negative".
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Limits of the event format. IDs are short because they become keys in Kafka,
// Postgres and Redis; other strings are bounded so that one event stays well below
// MaxEventBytes.
const (
	maxIDBytes     = 128
	maxStringBytes = 1024
	maxTouchpoints = 100
	maxCreativeIDs = 100
	maxMapEntries  = 50
	maxVariations  = 50
)

// Validate returns nil if e is a valid event at time now, or a *FieldError for the
// first failure. Fields are checked in a fixed order (envelope, then the family's
// fields in declaration order), so the same event always yields the same error.
// Validate does not modify e; it judges the event as stored, so events built in code
// should be normalized first (DecodeJSON and Codec.Decode already normalize).
func (r Rules) Validate(e *Event, now time.Time) error {
	def := DefaultRules()
	if r.Retention == 0 {
		r.Retention = def.Retention
	}
	if r.MaxClockSkew == 0 {
		r.MaxClockSkew = def.MaxClockSkew
	}
	v := validator{oldest: now.Add(-r.Retention), newest: now.Add(r.MaxClockSkew), rules: r}
	v.event(e)
	if v.err != nil {
		return v.err
	}
	return nil // not v.err: a nil *FieldError would make a non-nil error
}

// validator records the first failure; later checks are no-ops, which lets the
// checks read as a flat list in the order they are reported.
type validator struct {
	oldest, newest time.Time
	rules          Rules
	err            *FieldError
}

// check records problem for field unless an earlier failure was recorded. Problems
// are computed by functions that return "" for a valid value, so a passing check
// builds no strings.
func (v *validator) check(field, problem string) {
	if problem != "" && v.err == nil {
		v.err = &FieldError{Field: field, Reason: problem}
	}
}

func (v *validator) event(e *Event) {
	v.check("event_id", eventIDProblem(e.EventID))
	v.check("tenant_id", tenantProblem(e.TenantID))
	v.check("event_type", oneOfProblem(e.EventType, AllTypes))
	v.check("timestamp", v.timeProblem(e.Timestamp))
	v.device(e.Device)
	if v.err != nil {
		return
	}
	switch family := e.EventType.Family(); family {
	case FamilyCampaign:
		if f := firstField(e, customerField, journeyFields, personalizationFields); f != "" {
			v.check(f, notAllowed(family))
		}
		v.campaign(e)
	case FamilyJourney:
		if f := firstField(e, campaignFields, personalizationFields); f != "" {
			v.check(f, notAllowed(family))
		}
		v.journey(e)
	case FamilyPersonalization:
		if f := firstField(e, campaignFields, journeyFields); f != "" {
			v.check(f, notAllowed(family))
		}
		v.personalization(e)
	}
}

func (v *validator) device(d *Device) {
	if d == nil {
		return
	}
	v.check("device.device_id", idProblem(d.DeviceID, false))
	v.check("device.anonymous_id", idProblem(d.AnonymousID, false))
	v.check("device.user_id", idProblem(d.UserID, false))
	if d.IP != "" {
		if _, err := netip.ParseAddr(d.IP); err != nil {
			v.check("device.ip", "must be an IPv4 or IPv6 address")
		}
	}
	v.check("device.user_agent", textProblem(d.UserAgent, false))
	if g := d.Geo; g != nil {
		v.check("device.geo.country", textProblem(g.Country, false))
		v.check("device.geo.region", textProblem(g.Region, false))
		v.check("device.geo.city", textProblem(g.City, false))
		v.check("device.geo.latitude", rangeProblem(g.Latitude, -90, 90))
		v.check("device.geo.longitude", rangeProblem(g.Longitude, -180, 180))
	}
}

func (v *validator) campaign(e *Event) {
	v.check("campaign_id", idProblem(e.CampaignID, true))
	v.check("campaign_name", textProblem(e.CampaignName, true))
	v.check("channel", oneOfProblem(e.Channel, AllChannels))
	if e.Currency != "" { // "" is the default, USD
		v.check("currency", currencyProblem(e.Currency))
	}
	if m := e.PerformanceMetrics; m != nil { // nil means all zeros
		v.check("performance_metrics.impressions", countProblem(m.Impressions))
		v.check("performance_metrics.clicks", countProblem(m.Clicks))
		v.check("performance_metrics.conversions", countProblem(m.Conversions))
		v.check("performance_metrics.cost", amountProblem(m.Cost))
		v.check("performance_metrics.revenue", amountProblem(m.Revenue))
	}

	if lc := e.LaunchConfig; lc != nil {
		v.launchConfig(lc)
	} else if e.EventType == CampaignLaunch {
		v.check("launch_config", "is required on campaign_launch events")
	}

	if e.OptimizationTrigger != "" || e.EventType == CampaignOptimization {
		v.check("optimization_trigger", oneOfProblem(e.OptimizationTrigger,
			[]OptimizationTrigger{TriggerPerformanceThreshold, TriggerBudgetReallocation, TriggerManual}))
	}
	if c := e.ChangesMade; c != nil {
		v.changes(c)
	} else if e.EventType == CampaignOptimization {
		v.check("changes_made", "is required on campaign_optimization events")
	}

	v.check("termination_reason", textProblem(e.TerminationReason, false))
}

func (v *validator) launchConfig(lc *LaunchConfig) {
	v.check("launch_config.target_audience", textProblem(lc.TargetAudience, false))
	v.check("launch_config.budget", amountProblem(lc.Budget))
	v.check("launch_config.duration", durationProblem(lc.Duration))
	if len(lc.CreativeIDs) > maxCreativeIDs {
		v.check("launch_config.creative_ids", tooMany(maxCreativeIDs))
	}
	for i, id := range lc.CreativeIDs {
		if p := idProblem(id, true); p != "" {
			v.check(index("launch_config.creative_ids", i), p)
		}
	}
}

func (v *validator) changes(c *Changes) {
	if c.BidAdjustment == nil && c.AudienceTargeting == "" && len(c.BudgetAllocation) == 0 && len(c.CreativeRotation) == 0 {
		v.check("changes_made", "must contain at least one change")
		return
	}
	if b := c.BidAdjustment; b != nil {
		// A relative change: -1 would set bids to zero, below that they turn negative.
		if math.IsNaN(*b) || math.IsInf(*b, 0) || *b <= -1 {
			v.check("changes_made.bid_adjustment", "must be a finite number greater than -1")
		}
	}
	v.check("changes_made.audience_targeting", textProblem(c.AudienceTargeting, false))
	if key, p := firstBadEntry(c.BudgetAllocation, func(share float64) string {
		return rangeProblem(share, 0, 1)
	}); p != "" {
		v.check(mapEntry("changes_made.budget_allocation", key), p)
	}
	for i, id := range c.CreativeRotation {
		if p := idProblem(id, true); p != "" {
			v.check(index("changes_made.creative_rotation", i), p)
		}
	}
}

func (v *validator) journey(e *Event) {
	v.check("customer_id", idProblem(e.CustomerID, true))
	v.check("journey_id", idProblem(e.JourneyID, true))
	v.check("current_stage", nameProblem(e.CurrentStage, true))
	if e.EventType == JourneyStageChange {
		v.check("previous_stage", nameProblem(e.PreviousStage, true))
		if e.PreviousStage == e.CurrentStage {
			v.check("previous_stage", "must differ from current_stage")
		}
	} else {
		v.check("previous_stage", nameProblem(e.PreviousStage, false))
	}

	switch n := len(e.Touchpoints); {
	case n == 0:
		v.check("touchpoints", "must have at least one touchpoint (the interactions this event reports)")
	case n > maxTouchpoints:
		v.check("touchpoints", tooMany(maxTouchpoints))
	}
	for i := range e.Touchpoints {
		if v.err != nil {
			return
		}
		v.touchpoint(i, &e.Touchpoints[i])
	}

	if ep := e.EntryPoint; ep != nil {
		v.check("entry_point.source", textProblem(ep.Source, true))
		v.check("entry_point.medium", textProblem(ep.Medium, false))
		v.check("entry_point.campaign", textProblem(ep.Campaign, false))
		v.check("entry_point.content", textProblem(ep.Content, false))
		v.check("entry_point.term", textProblem(ep.Term, false))
	} else if e.EventType == JourneyStart {
		v.check("entry_point", "is required on journey_start events")
	}
	if ic := e.InitialContext; ic != nil {
		v.check("initial_context.device_type", textProblem(ic.DeviceType, false))
		v.check("initial_context.location", textProblem(ic.Location, false))
		v.check("initial_context.referral_source", textProblem(ic.ReferralSource, false))
	}

	if cd := e.ConversionData; cd != nil {
		v.check("conversion_data.value", amountProblem(cd.Value))
		v.check("conversion_data.currency", currencyProblem(cd.Currency))
		v.check("conversion_data.attribution_weight", rangeProblem(cd.AttributionWeight, 0, 1))
	} else if e.EventType == ConversionEvent {
		v.check("conversion_data", "is required on conversion_event events")
	}
}

func (v *validator) touchpoint(i int, tp *Touchpoint) {
	// Paths are built only on failure: this runs for every touchpoint of every event.
	field := func(name string) string { return index("touchpoints", i) + "." + name }
	if p := oneOfProblem(tp.Channel, AllChannels); p != "" {
		v.check(field("channel"), p)
	}
	if p := nameProblem(tp.InteractionType, true); p != "" {
		v.check(field("interaction_type"), p)
	}
	if p := v.timeProblem(tp.Timestamp); p != "" {
		v.check(field("timestamp"), p)
	}
	if p := stringMapProblem(tp.Metadata); p != "" {
		v.check(field("metadata"), p)
	} else if key, p := firstBadEntry(tp.Metadata, textValueProblem); p != "" {
		v.check(mapEntry(field("metadata"), key), p)
	}
}

func (v *validator) personalization(e *Event) {
	v.check("customer_id", idProblem(e.CustomerID, true))
	v.check("personalization_engine", oneOfProblem(e.PersonalizationEngine, []Engine{EngineRuleBased, EngineML, EngineRealTime}))

	if tc := e.TriggerContext; tc != nil {
		v.check("trigger_context.behavior_pattern", textProblem(tc.BehaviorPattern, e.EventType == PersonalizationTrigger))
		if p := stringMapProblem(tc.ContextData); p != "" {
			v.check("trigger_context.context_data", p)
		} else if key, p := firstBadEntry(tc.ContextData, textValueProblem); p != "" {
			v.check(mapEntry("trigger_context.context_data", key), p)
		}
		v.check("trigger_context.confidence_score", rangeProblem(tc.ConfidenceScore, 0, 1))
	} else {
		v.check("trigger_context", "is required on personalization events")
	}

	switch n := len(e.ContentVariations); {
	case n == 0 && e.EventType == ContentOptimization:
		v.check("content_variations", "must have at least one variation on content_optimization events")
	case n > maxVariations:
		v.check("content_variations", tooMany(maxVariations))
	}
	for i := range e.ContentVariations {
		cv := &e.ContentVariations[i]
		field := func(name string) string { return index("content_variations", i) + "." + name }
		if p := idProblem(cv.VariantID, true); p != "" {
			v.check(field("variant_id"), p)
		}
		if p := textProblem(cv.ContentType, true); p != "" {
			v.check(field("content_type"), p)
		}
		m := &cv.PerformanceMetrics
		for _, c := range [...]struct {
			name    string
			problem string
		}{
			{"views", countProblem(m.Views)},
			{"clicks", countProblem(m.Clicks)},
			{"conversions", countProblem(m.Conversions)},
			{"engagement_score", amountProblem(m.EngagementScore)},
		} {
			if c.problem != "" {
				v.check(field("performance_metrics."+c.name), c.problem)
			}
		}
	}

	v.check("segment_id", idProblem(e.SegmentID, e.EventType == SegmentUpdate))
	if e.SegmentAction != "" || e.EventType == SegmentUpdate {
		v.check("segment_action", oneOfProblem(e.SegmentAction, []SegmentAction{SegmentEnter, SegmentExit}))
	}
}

func (v *validator) timeProblem(t time.Time) string {
	switch {
	case t.IsZero():
		return "is required"
	case t.After(v.newest):
		return fmt.Sprintf("must not be more than %s in the future", humanDuration(v.rules.MaxClockSkew))
	case t.Before(v.oldest):
		return fmt.Sprintf("must not be older than the %s retention period", humanDuration(v.rules.Retention))
	}
	return ""
}

// humanDuration writes whole days as days, since "2160h0m0s" reads poorly in an API error.
func humanDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + " days"
	}
	return d.String()
}

// The problem functions below return "" for a valid value and the reason otherwise.

func stringProblem(s string, required bool, maxBytes int) string {
	switch {
	case s == "" && required:
		return "is required"
	case len(s) > maxBytes:
		return fmt.Sprintf("must be at most %d bytes", maxBytes)
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	}
	return ""
}

func idProblem(s string, required bool) string { return stringProblem(s, required, maxIDBytes) }

func textProblem(s string, required bool) string { return stringProblem(s, required, maxStringBytes) }

func textValueProblem(s string) string { return textProblem(s, false) }

// eventIDProblem also restricts event IDs to printable ASCII without spaces, since
// they travel in HTTP headers, log lines and DLQ record headers unescaped.
func eventIDProblem(id string) string {
	if p := idProblem(id, true); p != "" {
		return p
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return "must be printable ASCII without spaces"
		}
	}
	return ""
}

// tenantProblem enforces ^[a-z0-9][a-z0-9_-]{0,62}$: tenant IDs are embedded in Redis
// keys, Temporal workflow IDs and URLs, where anything else would need escaping.
func tenantProblem(id string) string {
	const pattern = "must match ^[a-z0-9][a-z0-9_-]{0,62}$"
	if id == "" {
		return "is required"
	}
	if len(id) > 63 || !isLowerAlnum(id[0]) {
		return pattern
	}
	for i := 1; i < len(id); i++ {
		if c := id[i]; !isLowerAlnum(c) && c != '_' && c != '-' {
			return pattern
		}
	}
	return ""
}

// nameProblem enforces ^[a-z][a-z0-9_]{0,63}$ on stage names and interaction types,
// which are grouped by in aggregates and must therefore be spelled one way.
func nameProblem(name string, required bool) string {
	const pattern = "must match ^[a-z][a-z0-9_]{0,63}$"
	if name == "" {
		if required {
			return "is required"
		}
		return ""
	}
	if len(name) > 64 || name[0] < 'a' || name[0] > 'z' {
		return pattern
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !isLowerAlnum(c) && c != '_' {
			return pattern
		}
	}
	return ""
}

func isLowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// oneOfProblem reports a value outside allowed, listing the allowed values so the
// producer can fix the event from the error alone.
func oneOfProblem[T ~string](got T, allowed []T) string {
	for _, a := range allowed {
		if got == a {
			return ""
		}
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	if got == "" {
		return "is required (one of " + strings.Join(names, ", ") + ")"
	}
	return fmt.Sprintf("must be one of %s, got %q", strings.Join(names, ", "), truncate(string(got)))
}

func currencyProblem(code string) string {
	if code == "" {
		return "is required"
	}
	if !isCurrency(code) {
		return fmt.Sprintf("must be an ISO 4217 currency code such as USD or EUR, got %q", truncate(code))
	}
	return ""
}

func countProblem(n int64) string {
	if n < 0 {
		return "must not be negative"
	}
	return ""
}

// amountProblem checks money and scores: NaN and ±Inf would poison every sum they
// enter, and negative increments are not something a producer can mean.
func amountProblem(x float64) string {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return "must be a finite number"
	case x < 0:
		return "must not be negative"
	}
	return ""
}

func rangeProblem(x, lo, hi float64) string {
	if !(x >= lo && x <= hi) { // also catches NaN
		return fmt.Sprintf("must be between %g and %g", lo, hi)
	}
	return ""
}

func durationProblem(s string) string {
	if s == "" {
		return "is required"
	}
	const want = "must be an ISO 8601 duration such as P30D, PT12H, P2W or P1DT6H"
	if len(s) > 64 {
		return want
	}
	d, err := parseISODuration(s)
	switch {
	case err != nil:
		return want + ": " + err.Error()
	case d <= 0:
		return "must be longer than zero"
	}
	return ""
}

// stringMapProblem checks a string map's size and keys: keys name things (UTM
// parameters, features) and are held to the ID limits.
func stringMapProblem(m map[string]string) string {
	if len(m) > maxMapEntries {
		return tooMany(maxMapEntries)
	}
	return ""
}

// firstBadEntry returns the smallest key whose key or value has a problem, so the
// reported failure does not depend on map iteration order.
func firstBadEntry[V any](m map[string]V, valueProblem func(V) string) (key, problem string) {
	for k, val := range m {
		p := idProblem(k, true)
		if p != "" {
			p = "key " + p
		} else {
			p = valueProblem(val)
		}
		if p != "" && (problem == "" || k < key) {
			key, problem = k, p
		}
	}
	return key, problem
}

func tooMany(limit int) string { return fmt.Sprintf("must have at most %d entries", limit) }

func index(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

func mapEntry(field, key string) string { return field + "[" + strconv.Quote(truncate(key)) + "]" }

// truncate bounds what an error message echoes back of a hostile value.
func truncate(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}

// Field groups for the rule that an event carries only its own family's fields.
// Each returns the JSON name of its first non-empty field, or "".
type fieldGroup func(e *Event) string

func customerField(e *Event) string {
	if e.CustomerID != "" {
		return "customer_id"
	}
	return ""
}

func campaignFields(e *Event) string {
	switch {
	case e.CampaignID != "":
		return "campaign_id"
	case e.CampaignName != "":
		return "campaign_name"
	case e.Channel != "":
		return "channel"
	case e.Currency != "":
		return "currency"
	case e.PerformanceMetrics != nil:
		return "performance_metrics"
	case e.LaunchConfig != nil:
		return "launch_config"
	case e.OptimizationTrigger != "":
		return "optimization_trigger"
	case e.ChangesMade != nil:
		return "changes_made"
	case e.TerminationReason != "":
		return "termination_reason"
	}
	return ""
}

func journeyFields(e *Event) string {
	switch {
	case e.JourneyID != "":
		return "journey_id"
	case e.CurrentStage != "":
		return "current_stage"
	case e.PreviousStage != "":
		return "previous_stage"
	case len(e.Touchpoints) > 0:
		return "touchpoints"
	case e.EntryPoint != nil:
		return "entry_point"
	case e.InitialContext != nil:
		return "initial_context"
	case e.ConversionData != nil:
		return "conversion_data"
	}
	return ""
}

func personalizationFields(e *Event) string {
	switch {
	case e.PersonalizationEngine != "":
		return "personalization_engine"
	case e.TriggerContext != nil:
		return "trigger_context"
	case len(e.ContentVariations) > 0:
		return "content_variations"
	case e.SegmentID != "":
		return "segment_id"
	case e.SegmentAction != "":
		return "segment_action"
	}
	return ""
}

// firstField returns the first field set in any of groups, or "" if none is.
func firstField(e *Event, groups ...fieldGroup) string {
	for _, g := range groups {
		if f := g(e); f != "" {
			return f
		}
	}
	return ""
}

// notAllowed is the reason for a field of another family.
func notAllowed(f Family) string { return "not allowed on " + string(f) + " events" }
