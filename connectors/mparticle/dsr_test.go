package mparticle

import (
	"context"
	"errors"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
)

func dsrSetup(t *testing.T, f *DSRFake, secret string) *DSR {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	d, err := NewDSR(DSRConfig{BaseURL: srv.URL, Key: f.Key, Secret: secret, HTTPClient: srv.Client(),
		Limiter: rate.NewLimiter(rate.Inf, 1), RetryBackoff: 5 * time.Millisecond, MaxThrottleWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func dsrCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

var dsrReq = connectors.ErasureRequest{RequestID: "del-7", Regulation: "GDPR",
	UserIDs: []string{"c-2"}, CustomerIDs: []string{"mparticle:c-1", "segment:s-1", "mparticle:c-2"},
	EmailSHA256: []string{"ab12"}}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestDSRSubjectRequestID(t *testing.T) {
	a, b := SubjectRequestID("del-7", 0), SubjectRequestID("del-7", 1)
	if !uuidV4.MatchString(a) || !uuidV4.MatchString(b) || a == b {
		t.Fatalf("ids %s %s: want two distinct UUID v4", a, b)
	}
	if SubjectRequestID("del-7", 0) != a {
		t.Fatal("subject_request_id is not deterministic")
	}
}

func TestDSRRunningThenDone(t *testing.T) {
	f := NewDSRFake()
	f.RunningPolls = 3
	d := dsrSetup(t, f, f.Secret)
	ext, err := d.Submit(dsrCtx(t), dsrReq)
	if err != nil {
		t.Fatal(err)
	}
	want := SubjectRequestID("del-7", 0) + "," + SubjectRequestID("del-7", 1)
	if ext != want {
		t.Fatalf("external id %q, want %q", ext, want)
	}
	reqs, _ := f.Requests()
	got := map[string]any{}
	for id, body := range reqs {
		got[id] = body["subject_identities"]
		if body["regulation"] != "gdpr" || body["subject_request_type"] != "erasure" || body["api_version"] != "3.0" {
			t.Fatalf("request body %v", body)
		}
	}
	ids := func(v string) map[string]any {
		return map[string]any{"controller_customer_id": map[string]any{"value": v, "encoding": "raw"}}
	}
	if w := map[string]any{SubjectRequestID("del-7", 0): ids("c-1"), SubjectRequestID("del-7", 1): ids("c-2")}; !reflect.DeepEqual(got, w) {
		t.Fatalf("identities sent %v, want %v", got, w)
	}
	for i := range 3 {
		st, err := d.Status(dsrCtx(t), ext)
		if err != nil || st.State != connectors.ErasureRunning {
			t.Fatalf("poll %d: %+v %v, want running", i, st, err)
		}
	}
	st, err := d.Status(dsrCtx(t), ext)
	if err != nil || st.State != connectors.ErasureDone || !strings.Contains(st.Detail, "completed") {
		t.Fatalf("last poll %+v %v, want done", st, err)
	}
}

func TestDSRResubmitIsSameRequest(t *testing.T) {
	f := NewDSRFake()
	f.RunningPolls = 0
	d := dsrSetup(t, f, f.Secret)
	first, err := d.Submit(dsrCtx(t), dsrReq)
	if err != nil {
		t.Fatal(err)
	}
	again, err := d.Submit(dsrCtx(t), dsrReq) // 409: in progress
	if err != nil || again != first {
		t.Fatalf("resubmit: %q %v, want %q", again, err, first)
	}
	if _, err := d.Status(dsrCtx(t), first); err != nil { // now completed
		t.Fatal(err)
	}
	if again, err = d.Submit(dsrCtx(t), dsrReq); err != nil || again != first { // 400 duplicate
		t.Fatalf("resubmit after completion: %q %v", again, err)
	}
	if reqs, submits := f.Requests(); len(reqs) != 2 || submits != 6 {
		t.Fatalf("%d requests from %d submissions, want 2 from 6", len(reqs), submits)
	}
}

func TestDSRCancelledFails(t *testing.T) {
	f := NewDSRFake()
	f.RunningPolls, f.FinalStatus = 0, DSRCancelled
	d := dsrSetup(t, f, f.Secret)
	ext, err := d.Submit(dsrCtx(t), dsrReq)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := d.Status(dsrCtx(t), ext); err != nil || st.State != connectors.ErasureFailed {
		t.Fatalf("status %+v %v, want failed", st, err)
	}
}

func TestDSRTransientAndThrottle(t *testing.T) {
	f := NewDSRFake()
	d := dsrSetup(t, f, f.Secret)
	f.FailNext(1)
	if _, err := d.Submit(dsrCtx(t), connectors.ErasureRequest{RequestID: "r", Regulation: "CCPA", UserIDs: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls(); n != 2 {
		t.Fatalf("calls %d, want 2", n)
	}
	f.ThrottleNext(1, time.Second)
	start := time.Now()
	if _, err := d.Status(dsrCtx(t), SubjectRequestID("r", 0)); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < time.Second {
		t.Fatal("Retry-After not honoured")
	}
	f.ThrottleNext(1, time.Hour)
	_, err := d.Status(dsrCtx(t), SubjectRequestID("r", 0))
	var te *connectors.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != time.Hour {
		t.Fatalf("err %v, want ThrottledError of 1h", err)
	}
}

func TestDSRBadCredentials(t *testing.T) {
	f := NewDSRFake()
	d := dsrSetup(t, f, "wrong")
	if _, err := d.Submit(dsrCtx(t), dsrReq); !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("err %v, want ErrReauthorize", err)
	}
	if f.Calls() != 1 {
		t.Fatalf("calls %d, want 1", f.Calls())
	}
}

func TestDSRNothingToErase(t *testing.T) {
	f := NewDSRFake()
	d := dsrSetup(t, f, f.Secret)
	_, err := d.Submit(dsrCtx(t), connectors.ErasureRequest{RequestID: "r", Regulation: "GDPR", CustomerIDs: []string{"segment:x"}, EmailSHA256: []string{"ab"}})
	if !errors.Is(err, connectors.ErrNothingToErase) || f.Calls() != 0 {
		t.Fatalf("err %v calls %d", err, f.Calls())
	}
	if _, err := d.Submit(dsrCtx(t), connectors.ErasureRequest{RequestID: "r", Regulation: "LGPD", UserIDs: []string{"x"}}); err == nil {
		t.Fatal("unknown regulation accepted")
	}
}
