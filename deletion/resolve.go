// Package deletion holds the pure logic of a data subject's deletion: which
// identifiers belong to the subject, given the identity graph.
package deletion

import (
	"maps"
	"slices"
	"strings"

	"github.com/touchpoint/touchpoint/identity"
	"github.com/touchpoint/touchpoint/store"
)

// MinProbabilisticConfidence is the least confidence of a probabilistic device link
// that brings a device into a deletion. Below it a device is as likely someone
// else's, and deleting another person's data is the worse error.
const MinProbabilisticConfidence = 0.9

// Namespaced returns the subject's identifiers as the identity graph names them.
func Namespaced(ids store.SubjectIDs) []string {
	var out []string
	add := func(kind string, vs []string) {
		for _, v := range vs {
			out = append(out, identity.ID(kind, v))
		}
	}
	add(identity.KindCustomer, ids.CustomerIDs)
	add(identity.KindUser, ids.UserIDs)
	add(identity.KindDevice, ids.DeviceIDs)
	add(identity.KindAnonymous, ids.AnonymousIDs)
	slices.Sort(out)
	return out
}

func isAccount(id string) bool {
	k := identity.Kind(id)
	return k == identity.KindCustomer || k == identity.KindUser
}

// Resolution is the subject's identifiers found in the graph, and the devices left
// out because they are shared with another person.
type Resolution struct {
	Added   store.SubjectIDs
	Skipped int
}

// Resolve extends the requested identifiers with the subject's other identifiers in
// the identity graph, conservatively, because it must never reach another person:
//   - accounts (customer and user ids) join only through a deterministic link to a
//     requested account, or, when only devices were named, when those devices link
//     deterministically to exactly one account;
//   - devices and cookies join through a deterministic link, or a probabilistic one
//     of at least MinProbabilisticConfidence, to one of the subject's identifiers,
//     unless they are deterministically linked to an account that is not the
//     subject's: a shared device stays (its events that carry the subject's own ids
//     are erased through those ids).
//
// links must hold every link touching an identifier Resolve may reach: the caller
// fetches the links of the result and resolves again until nothing is added.
func Resolve(req store.SubjectIDs, links []store.IdentityLink) Resolution {
	own := map[string]bool{}
	for _, id := range Namespaced(req) {
		own[id] = true
	}
	accounts := subjectAccounts(own, links)
	for a := range accounts {
		own[a] = true
	}
	// firm ids were named or joined deterministically: only they may bring in a
	// device probabilistically, so uncertain links never chain.
	firm := maps.Clone(own)
	res := Resolution{}
	skipped := map[string]bool{}
	for {
		grew := false
		for _, c := range candidateDevices(own, firm, links) {
			if skipped[c.id] {
				continue
			}
			if linkedToOtherAccount(c.id, own, links) {
				skipped[c.id] = true
				continue
			}
			own[c.id], grew = true, true
			if c.firm {
				firm[c.id] = true
			}
		}
		if !grew {
			break
		}
	}
	res.Skipped = len(skipped)
	res.Added = added(req, own)
	return res
}

// other returns the far end of l from id, or "" if l does not touch id.
func other(l store.IdentityLink, id string) string {
	switch id {
	case l.A:
		return l.B
	case l.B:
		return l.A
	}
	return ""
}

func subjectAccounts(own map[string]bool, links []store.IdentityLink) map[string]bool {
	named := false
	for id := range own {
		named = named || isAccount(id)
	}
	found := map[string]bool{}
	for _, l := range links {
		if l.Method != "deterministic" || !isAccount(l.A) || !isAccount(l.B) {
			continue
		}
		if own[l.A] && !own[l.B] {
			found[l.B] = true
		} else if own[l.B] && !own[l.A] {
			found[l.A] = true
		}
	}
	if named {
		return found
	}
	// Only devices were named: their account is the subject's only if unambiguous.
	for _, l := range links {
		for id := range own {
			if o := other(l, id); l.Method == "deterministic" && isAccount(o) {
				found[o] = true
			}
		}
	}
	if len(found) != 1 {
		return map[string]bool{}
	}
	return found
}

type candidate struct {
	id   string
	firm bool // reached through a deterministic link from a firm id
}

func candidateDevices(own, firm map[string]bool, links []store.IdentityLink) []candidate {
	best := map[string]bool{}
	for _, l := range links {
		det := l.Method == "deterministic"
		if !det && l.Confidence < MinProbabilisticConfidence {
			continue
		}
		for _, pair := range [2][2]string{{l.A, l.B}, {l.B, l.A}} {
			from, to := pair[0], pair[1]
			if own[to] || isAccount(to) || !own[from] || (!det && !firm[from]) {
				continue
			}
			best[to] = best[to] || (det && firm[from])
		}
	}
	out := make([]candidate, 0, len(best))
	for id, f := range best {
		out = append(out, candidate{id, f})
	}
	slices.SortFunc(out, func(a, b candidate) int { return strings.Compare(a.id, b.id) })
	return out
}

func linkedToOtherAccount(dev string, own map[string]bool, links []store.IdentityLink) bool {
	for _, l := range links {
		if o := other(l, dev); l.Method == "deterministic" && isAccount(o) && !own[o] {
			return true
		}
	}
	return false
}

// added returns the identifiers in own that the request did not name, by kind.
func added(req store.SubjectIDs, own map[string]bool) store.SubjectIDs {
	named := map[string]bool{}
	for _, id := range Namespaced(req) {
		named[id] = true
	}
	var out store.SubjectIDs
	for id := range own {
		if named[id] {
			continue
		}
		kind, v, _ := strings.Cut(id, ":")
		switch kind {
		case identity.KindCustomer:
			out.CustomerIDs = append(out.CustomerIDs, v)
		case identity.KindUser:
			out.UserIDs = append(out.UserIDs, v)
		case identity.KindDevice:
			out.DeviceIDs = append(out.DeviceIDs, v)
		case identity.KindAnonymous:
			out.AnonymousIDs = append(out.AnonymousIDs, v)
		}
	}
	for _, l := range []*[]string{&out.CustomerIDs, &out.UserIDs, &out.DeviceIDs, &out.AnonymousIDs} {
		slices.Sort(*l)
	}
	return out
}
