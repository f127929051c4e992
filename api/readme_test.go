package api_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/touchpoint/touchpoint/api"
)

// TestReadmeListsEveryRouteWithItsAccess keeps README's API table in step with the
// route table: every route has a row, with the access the server enforces.
func TestReadmeListsEveryRouteWithItsAccess(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := readmeRoutes(string(b))
	srv := api.New(api.Options{}, api.Deps{})
	for _, rt := range srv.Routes() {
		key := wildcards.ReplaceAllString(rt.Pattern, "{}")
		got, ok := documented[key]
		if !ok {
			t.Errorf("README's API table has no row for %s", rt.Pattern)
			continue
		}
		if got != rt.Access {
			t.Errorf("README gives %s the access %q; the server enforces %q", rt.Pattern, got, rt.Access)
		}
	}
}

var (
	wildcards = regexp.MustCompile(`\{[^}]*\}`)
	tableRow  = regexp.MustCompile("^\\| `([A-Z]+) ([^`]+)`(.*?) \\| ([^|]+) \\|")
	altPath   = regexp.MustCompile("`([/?][^`]*)`")
)

// readmeRoutes maps "METHOD /path/{}" to the access column of README's API table.
// A row may name variants: "`POST /a/{id}/pause` \| `/resume`" (the last segment
// replaced) or "`GET /a/{from}/{to}` or `?workflow_id=`" (the path without them).
func readmeRoutes(readme string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(readme, "\n") {
		m := tableRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		method, path, rest := m[1], m[2], m[3]
		access := readmeAccess(strings.TrimSpace(m[4]))
		base, _, _ := strings.Cut(path, "?")
		paths := []string{base}
		for _, alt := range altPath.FindAllStringSubmatch(rest, -1) {
			if strings.HasPrefix(alt[1], "?") {
				if i := strings.Index(base, "/{"); i > 0 {
					paths = append(paths, base[:i])
				}
			} else {
				paths = append(paths, base[:strings.LastIndex(base, "/")]+alt[1])
			}
		}
		for _, p := range paths {
			out[method+" "+wildcards.ReplaceAllString(p, "{}")] = access
		}
	}
	return out
}

func readmeAccess(col string) string {
	switch col {
	case "—":
		return "public"
	case "admin key":
		return "admin-key"
	}
	return strings.Trim(col, "`")
}
