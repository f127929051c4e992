package segment

import (
	"errors"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
)

func regulationsSetup(t *testing.T, f *RegulationsFake, token string) *Regulations {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	r, err := NewRegulations(RegulationsConfig{BaseURL: srv.URL, Token: token, HTTPClient: srv.Client(),
		Limiter: rate.NewLimiter(rate.Inf, 1), RetryBackoff: 5 * time.Millisecond, MaxThrottleWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var regulationReq = connectors.ErasureRequest{RequestID: "del-1", Regulation: "GDPR",
	UserIDs: []string{"u-2", " u-1 "}, CustomerIDs: []string{"segment:u-3", "mparticle:m-1", "segment:u-2"}}

func TestRegulationSubjectIDs(t *testing.T) {
	if got, want := SubjectIDs(regulationReq), []string{"u-1", "u-2", "u-3"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("subject ids %v, want %v", got, want)
	}
}

func TestRegulationRunningThenDone(t *testing.T) {
	f := NewRegulationsFake()
	f.RunningPolls = 3
	r := regulationsSetup(t, f, f.Token)
	id, err := r.Submit(ctx(t), regulationReq)
	if err != nil {
		t.Fatal(err)
	}
	if regs := f.Regulations(); len(regs) != 1 || !reflect.DeepEqual(regs[0], []string{"u-1", "u-2", "u-3"}) {
		t.Fatalf("regulations at Segment: %v", regs)
	}
	for i := range 3 {
		st, err := r.Status(ctx(t), id)
		if err != nil || st.State != connectors.ErasureRunning {
			t.Fatalf("poll %d: %+v %v, want running", i, st, err)
		}
	}
	st, err := r.Status(ctx(t), id)
	if err != nil || st.State != connectors.ErasureDone {
		t.Fatalf("last poll: %+v %v, want done", st, err)
	}
}

func TestRegulationPartialSuccessFails(t *testing.T) {
	f := NewRegulationsFake()
	f.RunningPolls, f.FinalStatus = 0, StatusPartialSuccess
	r := regulationsSetup(t, f, f.Token)
	id, err := r.Submit(ctx(t), regulationReq)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := r.Status(ctx(t), id); err != nil || st.State != connectors.ErasureFailed {
		t.Fatalf("status %+v %v, want failed", st, err)
	}
	if st, err := r.Status(ctx(t), "reg_unknown"); err != nil || st.State != connectors.ErasureFailed {
		t.Fatalf("unknown regulation: %+v %v, want failed", st, err)
	}
}

func TestRegulationStates(t *testing.T) {
	for status, want := range map[string]connectors.ErasureState{
		StatusInitialized: connectors.ErasureRunning, StatusRunning: connectors.ErasureRunning, StatusFinished: connectors.ErasureDone,
		StatusFailed: connectors.ErasureFailed, StatusInvalid: connectors.ErasureFailed, StatusNotSupported: connectors.ErasureFailed,
		StatusPartialSuccess: connectors.ErasureFailed, "SOMETHING_NEW": connectors.ErasureRunning,
	} {
		if got := RegulationState(status); got != want {
			t.Errorf("%s → %s, want %s", status, got, want)
		}
	}
}

func TestRegulationTransientRetried(t *testing.T) {
	f := NewRegulationsFake()
	r := regulationsSetup(t, f, f.Token)
	f.FailNext(1)
	if _, err := r.Submit(ctx(t), regulationReq); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls(); n != 2 {
		t.Fatalf("calls %d, want 2 (one 500, one retry)", n)
	}
}

func TestRegulationThrottle(t *testing.T) {
	f := NewRegulationsFake()
	r := regulationsSetup(t, f, f.Token)
	f.ThrottleNext(1, 50*time.Millisecond)
	start := time.Now()
	if _, err := r.Submit(ctx(t), regulationReq); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Fatalf("msBeforeNext not honoured: %v", el)
	}
	// A wait beyond MaxThrottleWait goes back to the workflow to sleep durably.
	f.ThrottleNext(1, time.Minute)
	_, err := r.Submit(ctx(t), regulationReq)
	var te *connectors.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != time.Minute {
		t.Fatalf("err %v, want ThrottledError of 1m", err)
	}
}

func TestRegulationBadTokenReauthorize(t *testing.T) {
	f := NewRegulationsFake()
	r := regulationsSetup(t, f, "wrong")
	if _, err := r.Submit(ctx(t), regulationReq); !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("err %v, want ErrReauthorize", err)
	}
	if _, err := r.Status(ctx(t), "reg_0001"); !errors.Is(err, connectors.ErrReauthorize) {
		t.Fatalf("status err %v, want ErrReauthorize", err)
	}
	if n := f.Calls(); n != 2 {
		t.Fatalf("calls %d, want 2: refused credentials are not retried", n)
	}
}

func TestRegulationNothingToErase(t *testing.T) {
	f := NewRegulationsFake()
	r := regulationsSetup(t, f, f.Token)
	_, err := r.Submit(ctx(t), connectors.ErasureRequest{RequestID: "del-2", CustomerIDs: []string{"mparticle:x"}, DeviceIDs: []string{"d"}})
	if !errors.Is(err, connectors.ErrNothingToErase) || f.Calls() != 0 {
		t.Fatalf("err %v calls %d, want ErrNothingToErase and no call", err, f.Calls())
	}
}
