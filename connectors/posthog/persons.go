package posthog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
)

// MaxBulkDelete is how many distinct ids one bulk_delete call takes.
const MaxBulkDelete = 1000

// personsPrefix starts the external id Persons.Submit returns.
const personsPrefix = "persons:"

// errNoPerson marks a 404 from GET /persons/{id}/: the person is gone.
var errNoPerson = errors.New("posthog: no such person")

// PersonsConfig configures Persons.
type PersonsConfig struct {
	BaseURL   string // DefaultBaseURL if empty
	APIKey    string // personal API key with person:read and person:write
	ProjectID string

	HTTPClient       *http.Client
	Limiter          *rate.Limiter // DefaultLimiter() if nil
	MaxRetries       int           // 3 if zero
	RetryBackoff     time.Duration // 1s if zero, doubled each retry
	ThrottleBackoff  time.Duration // a 429 without Retry-After; 30s if zero
	MaxThrottleWait  time.Duration // longer throttles go back to the workflow; 20s if zero
	MaxThrottleWaits int           // short throttles waited out in-process per call; 2 if zero
}

// Persons is a connectors.Eraser over PostHog's persons API. Submit finds the
// persons behind the subject's distinct ids (user, device and anonymous ids),
// deletes them with bulk_delete (delete_events true) and returns
// "persons:<id>,<id>…", PostHog's own person ids: opaque, so no identifier of the
// subject is stored with the propagation or enters workflow history. Status
// re-reads those persons and is done when none remains; PostHog then deletes
// their events asynchronously, which its API does not report on.
//
// A retried Submit is harmless: while the persons are still visible it deletes
// them again and returns the same external id; once they are gone it finds
// nothing (connectors.ErrNothingToErase). E-mail hashes are not used: PostHog
// stores e-mail as a plain person property and its ?email= filter takes the address.
type Persons struct {
	cfg  PersonsConfig
	doer *connectors.Doer
}

// NewPersons validates cfg and returns the eraser.
func NewPersons(cfg PersonsConfig) (*Persons, error) {
	if cfg.APIKey == "" || cfg.ProjectID == "" {
		return nil, errors.New("posthog: API key and project id are required")
	}
	connectors.SetDefault(&cfg.BaseURL, DefaultBaseURL)
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	connectors.SetDefault(&cfg.MaxRetries, 3)
	connectors.SetDefault(&cfg.MaxThrottleWaits, 2)
	connectors.SetDefault(&cfg.RetryBackoff, time.Second)
	connectors.SetDefault(&cfg.ThrottleBackoff, 30*time.Second)
	connectors.SetDefault(&cfg.MaxThrottleWait, 20*time.Second)
	lim := cfg.Limiter
	if lim == nil {
		lim = DefaultLimiter()
	}
	return &Persons{cfg: cfg, doer: &connectors.Doer{
		Platform: Platform, HTTP: cfg.HTTPClient, Limiter: lim, Classify: classifyPersons,
		MaxRetries: cfg.MaxRetries, Backoff: cfg.RetryBackoff, ThrottleBackoff: cfg.ThrottleBackoff,
		MaxThrottleWaits: cfg.MaxThrottleWaits, MaxWait: cfg.MaxThrottleWait,
	}}, nil
}

// DistinctIDs are the PostHog distinct ids an erasure may match: its user,
// device and anonymous ids, deduplicated and sorted.
func DistinctIDs(req connectors.ErasureRequest) []string {
	var ids []string
	for _, l := range [][]string{req.UserIDs, req.DeviceIDs, req.AnonymousIDs} {
		for _, id := range l {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// person is the part of a persons list entry Persons reads.
type person struct {
	ID          json.RawMessage `json:"id"` // an integer; a UUID string on some versions
	UUID        string          `json:"uuid"`
	DistinctIDs []string        `json:"distinct_ids"`
}

// key is the id GET /persons/{id}/ takes.
func (p person) key() string {
	var s string
	if json.Unmarshal(p.ID, &s) == nil && s != "" {
		return s
	}
	if k := strings.TrimSpace(string(p.ID)); k != "" && k != "null" {
		return k
	}
	return p.UUID
}

// Submit deletes the persons behind the erasure's distinct ids.
func (p *Persons) Submit(ctx context.Context, req connectors.ErasureRequest) (string, error) {
	found, matched, err := p.find(ctx, DistinctIDs(req))
	if err != nil {
		return "", fmt.Errorf("posthog: request %s: %w", req.RequestID, err)
	}
	if len(found) == 0 {
		return "", connectors.ErrNothingToErase
	}
	for start := 0; start < len(matched); start += MaxBulkDelete {
		if err := p.bulkDelete(ctx, matched[start:min(start+MaxBulkDelete, len(matched))]); err != nil {
			return "", fmt.Errorf("posthog: request %s: %w", req.RequestID, err)
		}
	}
	return personsPrefix + strings.Join(found, ","), nil
}

// find looks each distinct id up and returns the sorted person ids found and
// the distinct ids that matched a person.
func (p *Persons) find(ctx context.Context, distinctIDs []string) (persons, matched []string, err error) {
	for _, id := range distinctIDs {
		got, err := p.lookup(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		if len(got) > 0 {
			matched = append(matched, id)
		}
		for _, g := range got {
			persons = append(persons, g.key())
		}
	}
	slices.Sort(persons)
	return slices.Compact(persons), matched, nil
}

// lookup lists the persons with one distinct id, following next.
func (p *Persons) lookup(ctx context.Context, distinctID string) ([]person, error) {
	u := fmt.Sprintf("%s/api/projects/%s/persons/?%s", p.cfg.BaseURL, url.PathEscape(p.cfg.ProjectID),
		url.Values{"distinct_id": {distinctID}}.Encode())
	var out []person
	for pages := 0; u != ""; pages++ {
		if pages == 100 {
			return nil, errors.New("persons lookup: more than 100 pages")
		}
		resp, err := p.doer.Do(ctx, p.request(http.MethodGet, u, nil))
		if err != nil {
			return nil, fmt.Errorf("persons lookup: %w", err)
		}
		var page struct {
			Next    *string  `json:"next"`
			Results []person `json:"results"`
		}
		if err := json.Unmarshal(resp.Body, &page); err != nil {
			return nil, fmt.Errorf("persons lookup: decode: %w", err)
		}
		out = append(out, page.Results...)
		u = ""
		if page.Next != nil {
			u = *page.Next
		}
	}
	return out, nil
}

func (p *Persons) bulkDelete(ctx context.Context, distinctIDs []string) error {
	payload, err := json.Marshal(map[string]any{"distinct_ids": distinctIDs, "delete_events": true})
	if err != nil {
		return fmt.Errorf("encode bulk_delete: %w", err)
	}
	// delete_events is in the query too: PostHog's reference lists the bulk_delete
	// options as query parameters, its privacy guide as body fields.
	u := fmt.Sprintf("%s/api/projects/%s/persons/bulk_delete/?delete_events=true", p.cfg.BaseURL, url.PathEscape(p.cfg.ProjectID))
	if _, err := p.doer.Do(ctx, p.request(http.MethodPost, u, payload)); err != nil {
		return fmt.Errorf("bulk_delete: %w", err)
	}
	return nil
}

// Status reads each submitted person: done when PostHog no longer has any.
func (p *Persons) Status(ctx context.Context, externalID string) (connectors.ErasureStatus, error) {
	list, ok := strings.CutPrefix(externalID, personsPrefix)
	if !ok || list == "" {
		return connectors.ErasureStatus{}, fmt.Errorf("posthog: external id %q is not a persons list", externalID)
	}
	ids := strings.Split(list, ",")
	left := 0
	for _, id := range ids {
		present, err := p.exists(ctx, id)
		if err != nil {
			return connectors.ErasureStatus{}, fmt.Errorf("posthog: person %s: %w", id, err)
		}
		if present {
			left++
		}
	}
	if left > 0 {
		return connectors.ErasureStatus{State: connectors.ErasureRunning,
			Detail: fmt.Sprintf("%d of %d persons still present", left, len(ids))}, nil
	}
	return connectors.ErasureStatus{State: connectors.ErasureDone,
		Detail: fmt.Sprintf("%d persons deleted; PostHog deletes their events asynchronously", len(ids))}, nil
}

func (p *Persons) exists(ctx context.Context, id string) (bool, error) {
	u := fmt.Sprintf("%s/api/projects/%s/persons/%s/", p.cfg.BaseURL, url.PathEscape(p.cfg.ProjectID), url.PathEscape(id))
	_, err := p.doer.Do(ctx, p.request(http.MethodGet, u, nil))
	switch {
	case errors.Is(err, errNoPerson):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

func (p *Persons) request(method, u string, payload []byte) connectors.Request {
	req := connectors.Request{Method: method, URL: u, Body: payload, Header: http.Header{"Authorization": {"Bearer " + p.cfg.APIKey}}}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// classifyPersons is classify with 2xx for bulk_delete's 202 and 404 marked, so
// Status can tell a deleted person from a failure.
func classifyPersons(r *connectors.Response) connectors.Verdict {
	switch {
	case r.Status >= 200 && r.Status < 300:
		return connectors.Succeeded()
	case r.Status == http.StatusNotFound:
		return connectors.Permanent(fmt.Errorf("%w: %w", errNoPerson, apiError(r.Status, r.Body)))
	}
	return classify(r)
}
