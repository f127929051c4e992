package posthog

import (
	"errors"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
)

func personsSetup(t *testing.T, f *PersonsFake, key string) *Persons {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	p, err := NewPersons(PersonsConfig{BaseURL: srv.URL, APIKey: key, ProjectID: f.ProjectID, HTTPClient: srv.Client(),
		Limiter: rate.NewLimiter(rate.Inf, 1), RetryBackoff: 5 * time.Millisecond, MaxThrottleWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var personsReq = connectors.ErasureRequest{RequestID: "del-3", UserIDs: []string{"user-1"},
	DeviceIDs: []string{"dev-1", "dev-9"}, AnonymousIDs: []string{"anon-1"}, EmailSHA256: []string{"ab"}}

func TestPersonRunningThenDone(t *testing.T) {
	f := NewPersonsFake()
	f.RunningPolls, f.PageSize = 3, 1
	a := f.AddPerson("user-1", "anon-1")
	b := f.AddPerson("dev-1")
	f.AddPerson("someone-else")
	p := personsSetup(t, f, f.APIKey)
	ext, err := p.Submit(ctx(t), personsReq)
	if err != nil {
		t.Fatal(err)
	}
	if want := "persons:1,2"; ext != want || a != 1 || b != 2 {
		t.Fatalf("external id %q, want %q", ext, want)
	}
	if got, want := f.BulkDeletes(), [][]string{{"anon-1", "dev-1", "user-1"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("bulk deletes %v, want %v", got, want)
	}
	for i := range 3 {
		st, err := p.Status(ctx(t), ext)
		if err != nil || st.State != connectors.ErasureRunning {
			t.Fatalf("poll %d: %+v %v, want running", i, st, err)
		}
	}
	st, err := p.Status(ctx(t), ext)
	if err != nil || st.State != connectors.ErasureDone {
		t.Fatalf("last poll %+v %v, want done", st, err)
	}
	// Once the persons are gone a repeated submit finds nothing and deletes nothing.
	if _, err := p.Submit(ctx(t), personsReq); !errors.Is(err, connectors.ErrNothingToErase) || len(f.BulkDeletes()) != 1 {
		t.Fatalf("resubmit: %v, %d bulk deletes", err, len(f.BulkDeletes()))
	}
}

func TestPersonResubmitSameExternalID(t *testing.T) {
	f := NewPersonsFake()
	f.RunningPolls = 5
	f.AddPerson("user-1")
	p := personsSetup(t, f, f.APIKey)
	first, err := p.Submit(ctx(t), personsReq)
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.Submit(ctx(t), personsReq)
	if err != nil || again != first {
		t.Fatalf("resubmit %q %v, want %q", again, err, first)
	}
}

func TestPersonNothingToErase(t *testing.T) {
	f := NewPersonsFake()
	f.AddPerson("other")
	p := personsSetup(t, f, f.APIKey)
	if _, err := p.Submit(ctx(t), personsReq); !errors.Is(err, connectors.ErrNothingToErase) {
		t.Fatalf("err %v, want ErrNothingToErase", err)
	}
	if _, err := p.Submit(ctx(t), connectors.ErasureRequest{RequestID: "x", EmailSHA256: []string{"ab"}}); !errors.Is(err, connectors.ErrNothingToErase) {
		t.Fatalf("no distinct ids: %v", err)
	}
	if len(f.BulkDeletes()) != 0 {
		t.Fatal("bulk_delete called with nothing to erase")
	}
}

func TestPersonTransientAndThrottle(t *testing.T) {
	f := NewPersonsFake()
	f.AddPerson("user-1")
	p := personsSetup(t, f, f.APIKey)
	f.FailNext(1)
	ext, err := p.Submit(ctx(t), personsReq)
	if err != nil {
		t.Fatal(err)
	}
	f.ThrottleNext(1, time.Second)
	start := time.Now()
	if _, err := p.Status(ctx(t), ext); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < time.Second {
		t.Fatal("Retry-After not honoured")
	}
	f.ThrottleNext(1, time.Minute)
	_, err = p.Status(ctx(t), ext)
	var te *connectors.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != time.Minute {
		t.Fatalf("err %v, want ThrottledError of 1m", err)
	}
}

func TestPersonBadKey(t *testing.T) {
	f := NewPersonsFake()
	p := personsSetup(t, f, "phx_wrong")
	if _, err := p.Submit(ctx(t), personsReq); !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("err %v, want ErrReauthorize", err)
	}
	if f.Calls() != 1 {
		t.Fatalf("calls %d, want 1", f.Calls())
	}
	if _, err := p.Status(ctx(t), "not-persons"); err == nil {
		t.Fatal("bad external id accepted")
	}
}
