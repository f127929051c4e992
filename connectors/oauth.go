package connectors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"golang.org/x/oauth2"
)

// CachedTokens is a TokenSource caching the token Fetch returns until it expires
// or the API refuses it. It exists instead of oauth2.ReuseTokenSource because APIs
// reject tokens before their stated expiry (revoked session, clock skew), and
// ReuseTokenSource offers no way to drop a token the server refused. Fetch runs
// under the cache's lock, so concurrent callers share one fetch. Safe for
// concurrent use.
type CachedTokens struct {
	Fetch func(ctx context.Context) (*oauth2.Token, error)

	mu  sync.Mutex
	tok *oauth2.Token
}

// Token returns the cached access token, fetching one when missing or expired.
func (t *CachedTokens) Token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok.Valid() {
		return t.tok.AccessToken, nil
	}
	tok, err := t.Fetch(ctx)
	if err != nil {
		return "", err
	}
	t.tok = tok
	return tok.AccessToken, nil
}

// Invalidate drops token if it is still the cached one, so a token another caller
// already replaced is not fetched twice.
func (t *CachedTokens) Invalidate(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && t.tok.AccessToken == token {
		t.tok = nil
	}
}

// RefusedGrantCodes are the OAuth2 error codes of a token endpoint that mean the
// stored grant is no good (revoked or expired refresh token, bad client): retrying
// cannot help.
var RefusedGrantCodes = []string{"invalid_grant", "invalid_client", "unauthorized_client"}

// NewRefreshTokens returns a token source for the refresh-token grant through hc,
// keeping a rotated refresh token. refusedCodes are the token endpoint's error
// codes that mean ErrReauthorize; RefusedGrantCodes if none are given.
func NewRefreshTokens(cfg *oauth2.Config, refreshToken string, hc *http.Client, refusedCodes ...string) *CachedTokens {
	if len(refusedCodes) == 0 {
		refusedCodes = RefusedGrantCodes
	}
	refresh := refreshToken // guarded by the CachedTokens lock Fetch runs under
	return &CachedTokens{Fetch: func(ctx context.Context) (*oauth2.Token, error) {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
		// A token source seeded with only the refresh token refreshes immediately.
		tok, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: refresh}).Token()
		if err != nil {
			var re *oauth2.RetrieveError
			if errors.As(err, &re) && slices.Contains(refusedCodes, re.ErrorCode) {
				return nil, fmt.Errorf("refresh access token: %w: %w", ErrReauthorize, err)
			}
			return nil, fmt.Errorf("refresh access token: %w", err)
		}
		if tok.RefreshToken != "" {
			refresh = tok.RefreshToken
		}
		return tok, nil
	}}
}
