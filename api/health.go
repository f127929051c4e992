package api

import (
	"context"
	"net/http"
	"sync"
	"time"
)

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type checkResult struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// handleReady runs every dependency check in parallel with a short timeout and
// answers 503 naming each failing dependency.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	results := make(map[string]checkResult, len(s.checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range s.checks {
		wg.Go(func() {
			res := checkResult{Status: "ok"}
			if err := c.Fn(ctx); err != nil {
				res = checkResult{Status: "down", Error: err.Error()}
			}
			mu.Lock()
			results[c.Name] = res
			mu.Unlock()
		})
	}
	wg.Wait()
	status := http.StatusOK
	overall := "ready"
	for _, res := range results {
		if res.Status != "ok" {
			status, overall = http.StatusServiceUnavailable, "not ready"
		}
	}
	writeJSON(w, status, map[string]any{"status": overall, "checks": results})
}
