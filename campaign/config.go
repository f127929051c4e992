// Package campaign holds the rules of a campaign's lifecycle: its launch
// configuration, the state a CampaignLifecycle workflow carries, the optimization
// rules that turn the campaign's performance into decisions, and the events those
// decisions are reported as. It is pure: no I/O, no clocks, randomness only from a
// seed the caller passes, so the workflow that runs it stays deterministic.
package campaign

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/touchpoint/touchpoint/events"
)

// Config is how a campaign is launched and the targets its rules hold it to.
type Config struct {
	CampaignID     string         `json:"campaign_id"`
	Name           string         `json:"name"`
	Channel        events.Channel `json:"channel"`
	Currency       string         `json:"currency,omitempty"` // "": USD
	TargetAudience string         `json:"target_audience"`
	Budget         float64        `json:"budget"`
	// Duration and EvaluationInterval are ISO 8601 durations ("P30D", "PT6H").
	Duration           string   `json:"duration"`
	EvaluationInterval string   `json:"evaluation_interval,omitempty"` // "": P1D
	CreativeIDs        []string `json:"creative_ids"`
	// The thresholds; zero turns the rule off.
	TargetCPA float64 `json:"target_cpa,omitempty"`
	CTRFloor  float64 `json:"ctr_floor,omitempty"`
	ROASFloor float64 `json:"roas_floor,omitempty"`
	// MinImpressions is the evidence an interval needs before a threshold rule acts on
	// it: a CTR over 40 impressions is noise. Zero: DefaultMinImpressions.
	MinImpressions int64 `json:"min_impressions,omitempty"`
}

// DefaultMinImpressions is the evidence threshold when the config sets none.
const DefaultMinImpressions = 1000

// DefaultEvaluationInterval is how often rules run when the config sets no interval.
const DefaultEvaluationInterval = 24 * time.Hour

// MinEvaluationInterval bounds how often a campaign reads its performance: the
// stream's daily rows and the platforms' syncs change no faster than that matters.
const MinEvaluationInterval = time.Second

// Validate returns nil for a launchable config, or an error naming the first bad
// field, in the words the API answers with.
func (c Config) Validate() error {
	probe := c.LaunchEvent("validate", "probe", time.Now())
	if err := events.DefaultRules().Validate(&probe, time.Now()); err != nil {
		var fe *events.FieldError
		if errors.As(err, &fe) { // named as the config names them
			return &events.FieldError{Field: configField(fe.Field), Reason: fe.Reason}
		}
		return err
	}
	checks := []struct {
		field, problem string
	}{
		{"budget", positive(c.Budget)},
		{"creative_ids", creativesProblem(c.CreativeIDs)},
		{"target_cpa", nonNegative(c.TargetCPA)},
		{"ctr_floor", fraction(c.CTRFloor)},
		{"roas_floor", nonNegative(c.ROASFloor)},
		{"evaluation_interval", c.intervalProblem()},
	}
	if c.MinImpressions < 0 {
		checks = append(checks, struct{ field, problem string }{"min_impressions", "must not be negative"})
	}
	for _, ch := range checks {
		if ch.problem != "" {
			return &events.FieldError{Field: ch.field, Reason: ch.problem}
		}
	}
	return nil
}

// configField is the config's name of a launch event's field.
func configField(eventField string) string {
	if eventField == "campaign_name" {
		return "name"
	}
	return strings.TrimPrefix(eventField, "launch_config.")
}

func positive(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return "must be a positive number"
	}
	return ""
}

func nonNegative(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return "must be a finite number, zero or more (zero turns the rule off)"
	}
	return ""
}

func fraction(v float64) string {
	if math.IsNaN(v) || v < 0 || v >= 1 {
		return "must be a fraction in [0, 1) (zero turns the rule off)"
	}
	return ""
}

func creativesProblem(ids []string) string {
	if len(ids) == 0 {
		return "must name at least one creative"
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != len(ids) {
		return "must not repeat a creative"
	}
	return ""
}

func (c Config) intervalProblem() string {
	if c.EvaluationInterval == "" {
		return ""
	}
	d, err := events.ParseISODuration(c.EvaluationInterval)
	switch {
	case err != nil:
		return err.Error()
	case d < MinEvaluationInterval:
		return fmt.Sprintf("must be at least %s", MinEvaluationInterval)
	}
	if total, err := events.ParseISODuration(c.Duration); err == nil && d > total {
		return "must not be longer than the duration"
	}
	return ""
}

// Length is the campaign's duration; Validate has checked it parses.
func (c Config) Length() time.Duration {
	d, _ := events.ParseISODuration(c.Duration)
	return d
}

// Interval is how often the rules run.
func (c Config) Interval() time.Duration {
	if c.EvaluationInterval == "" {
		return DefaultEvaluationInterval
	}
	d, _ := events.ParseISODuration(c.EvaluationInterval)
	return d
}

func (c Config) minImpressions() int64 {
	if c.MinImpressions > 0 {
		return c.MinImpressions
	}
	return DefaultMinImpressions
}

func (c Config) currency() string {
	if c.Currency == "" {
		return "USD"
	}
	return c.Currency
}
