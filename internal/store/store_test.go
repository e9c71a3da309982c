package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

var ctx = context.Background()

func norm(t *testing.T, in contact.Input) contact.Input {
	t.Helper()
	out, err := contact.Normalize(in, "FR")
	if err != nil {
		t.Fatalf("Normalize(%+v): %v", in, err)
	}
	return out
}

func counts(t *testing.T, s *store.Store) map[string]int64 {
	t.Helper()
	c, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func types(evs []event.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func TestUpsertMergesByEmailOrPhone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		first, err := s.WriteContact(ctx, store.WriteContactParams{Source: "api", Input: norm(t, contact.Input{
			Email: " Ada@Example.COM ", Phone: "06 12 34 56 78", Country: "FR", Source: "webinar", Offer: "audit",
			Tags: []string{"a"}, CustomFields: map[string]any{"x": 1.0}})})
		if err != nil {
			t.Fatal(err)
		}
		c := first.Contact
		if !first.Created || c.Email != "ada@example.com" || c.EmailDisplay != "Ada@Example.COM" || c.Phone != "+33612345678" {
			t.Fatalf("created contact = %+v", first)
		}
		clk.Advance(time.Minute)
		// Matched by phone alone; later non-empty values win, tags unite, custom fields merge.
		second, err := s.WriteContact(ctx, store.WriteContactParams{Source: "api", Input: norm(t, contact.Input{
			Phone: "+33 6 12 34 56 78", Company: "Analytical Engines", Source: "ads",
			Tags: []string{"b", "a"}, CustomFields: map[string]any{"y": "z"}})})
		if err != nil {
			t.Fatal(err)
		}
		got := second.Contact
		if second.Created || got.ID != c.ID {
			t.Fatalf("second upsert created=%v id=%d; want merge into %d", second.Created, got.ID, c.ID)
		}
		if got.Company != "Analytical Engines" || got.Source != "ads" || got.Offer != "audit" || got.Email != "ada@example.com" {
			t.Errorf("merged = %+v", got)
		}
		// education: a new contact's score puts it in the bottom band.
		if fmt.Sprint(got.Tags) != "[a education b]" || len(got.CustomFields) != 2 {
			t.Errorf("tags %v custom %v; want [a education b] and two keys", got.Tags, got.CustomFields)
		}
		if !got.UpdatedAt.Equal(storetest.Epoch.Add(time.Minute)) || !got.CreatedAt.Equal(storetest.Epoch) {
			t.Errorf("times created %v updated %v", got.CreatedAt, got.UpdatedAt)
		}
		stored, err := s.GetContact(ctx, c.ID)
		if err != nil || fmt.Sprint(stored) != fmt.Sprint(got) {
			t.Errorf("GetContact = %+v, %v; want %+v", stored, err, got)
		}
		// A no-op upsert writes nothing.
		before := counts(t, s)
		if _, err := s.WriteContact(ctx, store.WriteContactParams{Source: "api", Input: norm(t, contact.Input{Email: "ada@example.com", Company: "Analytical Engines"})}); err != nil {
			t.Fatal(err)
		}
		if after := counts(t, s); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("no-op upsert changed counts %v → %v", before, after)
		}
		evs, _, err := s.Timeline(ctx, c.ID, nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(types(evs)) != "[field_changed lead_created]" {
			t.Errorf("timeline = %v; want [field_changed lead_created]", types(evs))
		}
		var props struct{ Changes []contact.Change }
		json.Unmarshal(evs[0].Properties, &props)
		if len(props.Changes) != 4 { // company, source, tags, custom_fields
			t.Errorf("field_changed changes = %+v; want 4", props.Changes)
		}
	})
}

func TestUpsertConflictsAndCreate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		a, _ := s.WriteContact(ctx, store.WriteContactParams{Input: norm(t, contact.Input{Email: "a@example.com"})})
		b, _ := s.WriteContact(ctx, store.WriteContactParams{Input: norm(t, contact.Input{Phone: "+442071838750"})})
		before := counts(t, s)
		_, err := s.WriteContact(ctx, store.WriteContactParams{Input: norm(t, contact.Input{Email: "a@example.com", Phone: "+442071838750", Company: "x"})})
		var ce *contact.ConflictError
		if !errors.As(err, &ce) || ce.EmailContact != a.Contact.ID || ce.PhoneContact != b.Contact.ID {
			t.Errorf("upsert across two contacts: err = %v; want ConflictError", err)
		}
		_, err = s.WriteContact(ctx, store.WriteContactParams{Mode: store.Create, Input: norm(t, contact.Input{Email: "A@example.com"})})
		if !errors.Is(err, contact.ErrExists) {
			t.Errorf("create with taken email: err = %v; want ErrExists", err)
		}
		_, err = s.WriteContact(ctx, store.WriteContactParams{Input: norm(t, contact.Input{Company: "no identity"})})
		var ve *contact.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("upsert without identity: err = %v; want ValidationError", err)
		}
		if after := counts(t, s); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("rejected writes changed counts %v → %v", before, after)
		}
	})
}

func TestConcurrentUpsertsOfOneEmailMakeOneContact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		const n = 40
		var wg sync.WaitGroup
		ids := make([]int64, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := s.WriteContact(ctx, store.WriteContactParams{Input: norm(t, contact.Input{
					Email: "Same@Example.com", Tags: []string{fmt.Sprintf("t%d", i)}})})
				ids[i], errs[i] = r.Contact.ID, err
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("upsert %d: %v", i, errs[i])
			}
			if ids[i] != ids[0] {
				t.Fatalf("upsert %d got contact %d; upsert 0 got %d", i, ids[i], ids[0])
			}
		}
		c, _ := s.GetContact(ctx, ids[0])
		if len(c.Tags) != n+1 { // and the score band's education tag
			t.Errorf("tags = %d; want %d (no lost update)", len(c.Tags), n+1)
		}
		if got := counts(t, s)["contacts"]; got != 1 {
			t.Errorf("contacts = %d; want 1", got)
		}
	})
}

func TestPatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		a, _ := s.WriteContact(ctx, store.WriteContactParams{Input: norm(t, contact.Input{Email: "a@example.com", Company: "A", Tags: []string{"x", "y"}})})
		s.WriteContact(ctx, store.WriteContactParams{Input: norm(t, contact.Input{Email: "b@example.com"})})
		got, err := s.PatchContact(ctx, a.Contact.ID, norm(t, contact.Input{Tags: []string{"z"}, Clear: []string{"company"}, Status: "contacted"}), "api")
		if err != nil {
			t.Fatal(err)
		}
		if got.Company != "" || fmt.Sprint(got.Tags) != "[z]" || got.Status != "contacted" {
			t.Errorf("patched = %+v", got)
		}
		l, _, _ := s.ListContacts(ctx, store.ListContactsParams{Tag: "x", Limit: 10})
		if len(l) != 0 {
			t.Errorf("tag x still lists %d contacts", len(l))
		}
		_, err = s.PatchContact(ctx, a.Contact.ID, norm(t, contact.Input{Email: "b@example.com"}), "api")
		var ve *contact.ValidationError
		if !errors.As(err, &ve) || ve.Field != "email" {
			t.Errorf("patch to a taken email: err = %v; want email ValidationError", err)
		}
		_, err = s.PatchContact(ctx, a.Contact.ID, norm(t, contact.Input{Clear: []string{"email"}}), "api")
		if !errors.As(err, &ve) {
			t.Errorf("patch clearing the only identity: err = %v; want ValidationError", err)
		}
		if _, err := s.PatchContact(ctx, 999, norm(t, contact.Input{Company: "x"}), "api"); !errors.Is(err, contact.ErrNotFound) {
			t.Errorf("patch of unknown id: err = %v; want ErrNotFound", err)
		}
	})
}

func TestListContactsFiltersAndPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		for i := range 7 {
			in := contact.Input{Email: fmt.Sprintf("p%d@example.com", i), Source: []string{"ads", "seo"}[i%2], Owner: "sam"}
			if i%3 == 0 {
				in.Tags = []string{"vip"}
			}
			s.WriteContact(ctx, store.WriteContactParams{Input: norm(t, in)})
			clk.Advance(time.Hour)
		}
		var all []int64
		var after int64
		for {
			page, next, err := s.ListContacts(ctx, store.ListContactsParams{After: after, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				all = append(all, c.ID)
			}
			if next == 0 {
				break
			}
			after = next
		}
		if len(all) != 7 {
			t.Errorf("paged through %d contacts; want 7", len(all))
		}
		for _, tc := range []struct {
			p    store.ListContactsParams
			want int
		}{
			{store.ListContactsParams{Source: "ads"}, 4},
			{store.ListContactsParams{Tag: "vip"}, 3},
			{store.ListContactsParams{Email: "p2@example.com"}, 1},
			{store.ListContactsParams{Owner: "sam", Source: "seo"}, 3},
			{store.ListContactsParams{UpdatedSince: storetest.Epoch.Add(5 * time.Hour)}, 2},
			{store.ListContactsParams{Owner: "nobody"}, 0},
		} {
			tc.p.Limit = 100
			got, _, err := s.ListContacts(ctx, tc.p)
			if err != nil || len(got) != tc.want {
				t.Errorf("ListContacts(%+v) = %d contacts, %v; want %d", tc.p, len(got), err, tc.want)
			}
		}
	})
}

func TestAppendEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		at := storetest.Epoch.Add(-time.Hour)
		res := s.AppendEvents(ctx, []store.EventInput{
			{Email: "new@example.com", Type: "page_viewed", OccurredAt: at, Source: "api", Properties: json.RawMessage(`{"url":"/pricing"}`), IdempotencyKey: "k1"},
			{ContactID: 424242, Type: "page_viewed", OccurredAt: at, Source: "api"},
			{Email: "new@example.com", Type: "form_submitted", OccurredAt: at, Source: "api"},
		})
		if res[0].Err != nil || !res[0].ContactCreated || res[0].EventID == 0 {
			t.Errorf("item 0 = %+v; want accepted with a new contact", res[0])
		}
		if !errors.Is(res[1].Err, contact.ErrNotFound) {
			t.Errorf("item 1 err = %v; want ErrNotFound", res[1].Err)
		}
		if res[2].Err != nil || res[2].ContactCreated || res[2].ContactID != res[0].ContactID {
			t.Errorf("item 2 = %+v; want accepted on contact %d", res[2], res[0].ContactID)
		}
		before := counts(t, s)
		again := s.AppendEvents(ctx, []store.EventInput{{Email: "new@example.com", Type: "page_viewed", OccurredAt: at, Source: "api", IdempotencyKey: "k1"}})
		if !again[0].Duplicate || again[0].EventID != res[0].EventID {
			t.Errorf("retry with key k1 = %+v; want duplicate of event %d", again[0], res[0].EventID)
		}
		if after := counts(t, s); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("duplicate changed counts %v → %v", before, after)
		}
		// The same key from another source is another event.
		other := s.AppendEvents(ctx, []store.EventInput{{ContactID: res[0].ContactID, Type: "page_viewed", OccurredAt: at, Source: "form", IdempotencyKey: "k1"}})
		if other[0].Err != nil || other[0].Duplicate {
			t.Errorf("same key, other source = %+v; want a new event", other[0])
		}
		evs, _, _ := s.Timeline(ctx, res[0].ContactID, nil, 10)
		// Newest first: lead_created and what scoring wrote (the pricing page
		// moved the lead up a band) are stamped now, the events an hour
		// before, ties by id.
		if got := fmt.Sprint(types(evs)); got != "[field_changed score_band_changed lead_created page_viewed form_submitted page_viewed]" {
			t.Errorf("timeline = %v", got)
		}
	})
}

func TestConcurrentAppendsAreAllDurable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		const writers, per = 16, 50
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failed []error
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					in := []store.EventInput{{Email: fmt.Sprintf("w%d@example.com", i%5), Type: "page_viewed",
						OccurredAt: storetest.Epoch, Source: "api", IdempotencyKey: fmt.Sprintf("%d-%d", w, i)}}
					if r := s.AppendEvents(ctx, in); r[0].Err != nil {
						mu.Lock()
						failed = append(failed, r[0].Err)
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		if len(failed) > 0 {
			t.Fatalf("%d appends failed, first: %v", len(failed), failed[0])
		}
		c := counts(t, s)
		if c["contacts"] != 5 || c["events"] != writers*per+5 {
			t.Errorf("counts = %v; want 5 contacts and %d events", c, writers*per+5)
		}
	})
}

func TestTimelinePages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		r := s.AppendEvents(ctx, []store.EventInput{{Email: "t@example.com", Type: "a", OccurredAt: storetest.Epoch.Add(-time.Hour), Source: "api"}})
		id := r[0].ContactID
		var in []store.EventInput
		for i := range 9 {
			// Several events share a timestamp: the cursor must not skip or repeat them.
			in = append(in, store.EventInput{ContactID: id, Type: fmt.Sprintf("e%d", i), OccurredAt: storetest.Epoch.Add(time.Duration(i/3) * time.Minute), Source: "api"})
		}
		s.AppendEvents(ctx, in)
		var seen []string
		var cur *store.TimelineCursor
		for {
			evs, next, err := s.Timeline(ctx, id, cur, 4)
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, types(evs)...)
			if next == nil {
				break
			}
			cur = next
		}
		want := "[e8 e7 e6 e5 e4 e3 e2 e1 e0 lead_created a]"
		if fmt.Sprint(seen) != want {
			t.Errorf("timeline = %v; want %s", seen, want)
		}
	})
}

func TestConsentLedger(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		grant := contact.ConsentInput{Channel: "email", Purpose: "marketing", Status: "granted", Source: "form", WordingVersion: "v1", IP: "192.0.2.1"}
		r, err := s.WriteContact(ctx, store.WriteContactParams{Source: "api", Input: norm(t, contact.Input{Email: "c@example.com"}), Consents: []contact.ConsentInput{grant}})
		if err != nil {
			t.Fatal(err)
		}
		id := r.Contact.ID
		// The same statement again adds nothing; a withdrawal appends.
		if _, err := s.RecordConsents(ctx, id, []contact.ConsentInput{grant}, "api"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
		cur, err := s.RecordConsents(ctx, id, []contact.ConsentInput{{Channel: "email", Purpose: "marketing", Status: "withdrawn", Source: "api"},
			{Channel: "sms", Purpose: "marketing", Status: "pending_confirmation", Source: "api"}}, "api")
		if err != nil {
			t.Fatal(err)
		}
		if len(cur) != 2 || cur[0].Status != "withdrawn" || cur[1].Status != "pending_confirmation" {
			t.Errorf("current = %+v", cur)
		}
		_, ledger, _ := s.Consents(ctx, id)
		if len(ledger) != 3 || ledger[0].Status != "granted" || ledger[0].IP != "192.0.2.1" {
			t.Errorf("ledger = %+v; want granted row kept, then 2 more", ledger)
		}
		if _, err := s.RecordConsents(ctx, 999, []contact.ConsentInput{grant}, "api"); !errors.Is(err, contact.ErrNotFound) {
			t.Errorf("consent for unknown contact: %v", err)
		}
		evs, _, _ := s.Timeline(ctx, id, nil, 10)
		n := 0
		for _, e := range evs {
			if e.Type == event.ConsentChanged {
				n++
			}
		}
		if n != 3 {
			t.Errorf("consent_changed events = %d; want 3", n)
		}
	})
}

func TestErasure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		r, _ := s.WriteContact(ctx, store.WriteContactParams{Input: norm(t, contact.Input{Email: "gone@example.com", Phone: "+33612345678",
			FirstName: "Gone", Source: "ads", Tags: []string{"t"}}), Consents: []contact.ConsentInput{{Channel: "email", Purpose: "marketing", Status: "granted", Source: "api", IP: "192.0.2.9"}}})
		id := r.Contact.ID
		s.AppendEvents(ctx, []store.EventInput{{ContactID: id, Type: "page_viewed", OccurredAt: storetest.Epoch, Source: "api", Properties: json.RawMessage(`{"url":"/x?email=gone@example.com"}`)}})
		if err := s.EraseContact(ctx, id, "api"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetContact(ctx, id); !errors.Is(err, contact.ErrNotFound) {
			t.Errorf("GetContact after erasure: %v; want ErrNotFound", err)
		}
		if err := s.EraseContact(ctx, id, "api"); !errors.Is(err, contact.ErrNotFound) {
			t.Errorf("second erasure: %v; want ErrNotFound", err)
		}
		if ok, err := s.IsErased(ctx, "gone@example.com", ""); !ok || err != nil {
			t.Errorf("IsErased(email) = %v, %v; want true", ok, err)
		}
		if ok, _ := s.IsErased(ctx, "other@example.com", ""); ok {
			t.Error("IsErased(other) = true")
		}
		dump, err := storetest.Dump(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"gone@example.com", "Gone", "33612345678", "192.0.2.9"} {
			if storetest.Contains(dump, secret) {
				t.Errorf("%q still stored after erasure", secret)
			}
		}
		// The address can come back as a new contact.
		again, err := s.WriteContact(ctx, store.WriteContactParams{Input: norm(t, contact.Input{Email: "gone@example.com"})})
		if err != nil || !again.Created || again.Contact.ID == id {
			t.Errorf("re-upsert after erasure = %+v, %v; want a new contact", again, err)
		}
	})
}

func TestAPIKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		key, k, err := s.CreateAPIKey(ctx, "ci")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Authenticate(ctx, key); err != nil || got.ID != k.ID {
			t.Errorf("Authenticate(new key) = %+v, %v", got, err)
		}
		for _, bad := range []string{"", "nrt_", key + "x", key[:len(key)-1], "Bearer " + key} {
			if _, err := s.Authenticate(ctx, bad); !errors.Is(err, store.ErrUnauthorized) {
				t.Errorf("Authenticate(%q) err = %v; want ErrUnauthorized", bad, err)
			}
		}
		if _, err := s.RevokeAPIKey(ctx, k.Prefix); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, key); !errors.Is(err, store.ErrUnauthorized) {
			t.Errorf("revoked key err = %v; want ErrUnauthorized", err)
		}
		if _, err := s.RevokeAPIKey(ctx, "nope"); !errors.Is(err, store.ErrKeyNotFound) {
			t.Errorf("revoke unknown: %v", err)
		}
		keys, _ := s.ListAPIKeys(ctx)
		if len(keys) != 1 || keys[0].RevokedAt.IsZero() {
			t.Errorf("ListAPIKeys = %+v", keys)
		}
	})
}

// Upserts and event appends on the same few contacts from many goroutines:
// on PostgreSQL, with several writers, their row locks must not deadlock
// (upserts lock FOR NO KEY UPDATE, appends FOR KEY SHARE) and every write
// must succeed.
func TestMixedLoadOnFewContacts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		var ids []int64
		for i := range 4 {
			r, err := s.WriteContact(ctx, store.WriteContactParams{Input: norm(t, contact.Input{Email: fmt.Sprintf("c%d@example.com", i)})})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.Contact.ID)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failed []error
		for g := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range 20 {
					var err error
					if (g+n)%2 == 0 {
						_, err = s.WriteContact(ctx, store.WriteContactParams{Input: norm(t, contact.Input{
							Email: fmt.Sprintf("c%d@example.com", (g+n)%4), NextStep: fmt.Sprintf("step %d-%d", g, n)})})
					} else {
						var in []store.EventInput
						for k := range 4 {
							in = append(in, store.EventInput{ContactID: ids[(g+n+k)%4], Type: "page_viewed", OccurredAt: storetest.Epoch, Source: "api"})
						}
						for _, r := range s.AppendEvents(ctx, in) {
							err = errors.Join(err, r.Err)
						}
					}
					if err != nil {
						mu.Lock()
						failed = append(failed, err)
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		if len(failed) > 0 {
			t.Fatalf("%d of 640 writes failed; first: %v", len(failed), failed[0])
		}
	})
}

// An erasure racing with event appends on the same contact must leave no
// event with properties behind, whichever commits first.
func TestErasureRacingAppendsLeavesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		for iter := range 10 {
			r, err := s.WriteContact(ctx, store.WriteContactParams{Input: norm(t, contact.Input{Email: fmt.Sprintf("v%d@example.com", iter)})})
			if err != nil {
				t.Fatal(err)
			}
			id := r.Contact.ID
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := 0; ; n++ {
						select {
						case <-stop:
							return
						default:
						}
						s.AppendEvents(ctx, []store.EventInput{{ContactID: id, Type: "page_viewed", OccurredAt: storetest.Epoch,
							Source: "api", Properties: json.RawMessage(`{"secret":"LEAKED"}`), IdempotencyKey: fmt.Sprintf("%d-%d-%d", iter, g, n)}})
					}
				}()
			}
			if err := s.EraseContact(ctx, id, "api"); err != nil {
				t.Fatal(err)
			}
			close(stop)
			wg.Wait()
			dump, err := storetest.Dump(s)
			if err != nil {
				t.Fatal(err)
			}
			if storetest.Contains(dump, "LEAKED") {
				t.Fatalf("erasure %d left event properties behind", iter)
			}
		}
	})
}

// After an erasure, the SQLite files themselves (database and WAL) hold no
// trace of the person: freed space is zeroed and the WAL checkpointed.
func TestErasureLeavesNothingInSQLiteFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := s.WriteContact(ctx, store.WriteContactParams{Input: norm(t, contact.Input{
		Email: "zebediah.quux@example.com", FirstName: "Zebediah", LastName: "Quuxington", Phone: "+33612345678"})})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EraseContact(ctx, r.Contact.ID, "api"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"nurture.db", "nurture.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, secret := range []string{"zebediah.quux@example.com", "Quuxington", "+33612345678"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s still contains %q after erasure", f, secret)
			}
		}
	}
}

func TestStageAndOwnerChangesHaveTheirEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		r, err := s.WriteContact(ctx, store.WriteContactParams{Input: norm(t, contact.Input{Email: "o@example.com", Owner: "sam"})})
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		if _, err := s.PatchContact(ctx, r.Contact.ID, norm(t, contact.Input{Status: "contacted", Owner: "kim"}), "api"); err != nil {
			t.Fatal(err)
		}
		evs, _, _ := s.Timeline(ctx, r.Contact.ID, nil, 10)
		got := map[string]string{} // the newest event of each type
		for _, e := range evs {
			if _, seen := got[e.Type]; !seen {
				got[e.Type] = string(e.Properties)
			}
		}
		want := map[string]string{
			"lead_created":   "",
			"field_changed":  got["field_changed"],
			"stage_changed":  `{"from":"new","to":"contacted"}`,
			"owner_assigned": `{"owner":"kim","previous":"sam"}`, // the newest of the two
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || len(evs) != 5 {
			t.Errorf("timeline %v; want %v and 5 events (owner_assigned at creation too)", got, want)
		}
	})
}
