package deletion

import (
	"reflect"
	"testing"

	"github.com/touchpoint/touchpoint/store"
)

func det(a, b string) store.IdentityLink {
	if a > b {
		a, b = b, a
	}
	return store.IdentityLink{A: a, B: b, Method: "deterministic", Confidence: 1}
}

func prob(a, b string, c float64) store.IdentityLink {
	if a > b {
		a, b = b, a
	}
	return store.IdentityLink{A: a, B: b, Method: "probabilistic", Confidence: c}
}

func TestResolveFollowsTheSubjectAndStopsAtOtherPeople(t *testing.T) {
	links := []store.IdentityLink{
		det("customer:c1", "user:u1"),       // the subject's login: joins
		det("customer:c1", "device:phone"),  // the subject's phone
		det("device:phone", "anon:cookie1"), // a cookie on it
		prob("device:phone", "device:tablet", 0.95),
		prob("device:tablet", "device:tv", 0.99),   // chained uncertainty: stays
		prob("device:phone", "device:laptop", 0.5), // too uncertain: stays
		det("customer:c1", "device:family-pc"),     // shared with c2: stays
		det("customer:c2", "device:family-pc"),
		det("customer:c2", "device:c2-phone"), // another person's device: never reached
	}
	got := Resolve(store.SubjectIDs{CustomerIDs: []string{"c1"}}, links)
	want := store.SubjectIDs{UserIDs: []string{"u1"}, DeviceIDs: []string{"phone", "tablet"}, AnonymousIDs: []string{"cookie1"}}
	if !reflect.DeepEqual(got.Added, want) {
		t.Fatalf("added %+v, want %+v", got.Added, want)
	}
	if got.Skipped != 1 {
		t.Fatalf("skipped %d shared devices, want 1", got.Skipped)
	}
}

func TestResolveFromDevicesOnlyNeedsOneAccount(t *testing.T) {
	one := Resolve(store.SubjectIDs{DeviceIDs: []string{"d1"}}, []store.IdentityLink{det("customer:c1", "device:d1")})
	if !reflect.DeepEqual(one.Added, store.SubjectIDs{CustomerIDs: []string{"c1"}}) {
		t.Fatalf("one account: added %+v", one.Added)
	}
	two := Resolve(store.SubjectIDs{DeviceIDs: []string{"d1"}}, []store.IdentityLink{
		det("customer:c1", "device:d1"), det("customer:c2", "device:d1"),
	})
	if len(two.Added.CustomerIDs) != 0 {
		t.Fatalf("ambiguous device brought in accounts %v", two.Added.CustomerIDs)
	}
}

func TestResolveWithoutLinksAddsNothing(t *testing.T) {
	got := Resolve(store.SubjectIDs{CustomerIDs: []string{"c1"}, EmailSHA256: []string{"ab"}}, nil)
	if !reflect.DeepEqual(got.Added, store.SubjectIDs{}) {
		t.Fatalf("added %+v", got.Added)
	}
}
