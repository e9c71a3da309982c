package dispatch_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/channel/email"
	"github.com/nurturehq/nurture/internal/channel/email/smtptest"
	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/dispatch"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
	"github.com/nurturehq/nurture/internal/track"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// boundaryRE matches go-mail's random MIME boundaries, which the golden
// files hold as BOUNDARY. Tokens are signed with a fixed key, so they are
// the same every run.
// TestGoldenMIME compares the whole message a contact receives, headers
// and parts, with testdata/*.eml. Run with -update after a deliberate change.
func TestGoldenMIME(t *testing.T) {
	db := storetest.DBs()[0]
	for _, tc := range []struct {
		name, kind, html, text string
	}{
		{"marketing", store.KindMarketing, `<html><body><h1>Hello {{ contact.first_name | default: "there" }}</h1>
<p>Your guide for {{ contact.company }}: <a href="https://acme.test/guide?a=1&amp;b=2">read it</a>.</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>`, ""},
		{"transactional", store.KindTransactional, `<p>Your meeting is booked, {{ contact.first_name }}.</p>`,
			"Your meeting is booked, {{ contact.first_name }}.\nSee you soon."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC))
			s := storetest.Open(t, db, clk)
			srv := newServerFor(t)
			relay, _ := email.ParseRelayURL(srv.URL())
			pool, _ := email.NewPool(relay, nil)
			t.Cleanup(pool.Close)
			b, _ := email.NewBuilder("golden")
			signer, _ := track.NewSigner([]byte("a fixed key, so that tokens are the same every run"))
			d := dispatch.New(dispatch.Config{Store: s, Clock: clk, Email: &dispatch.Email{
				Relay: pool, Builder: b, Signer: signer, Tracking: true, PublicURL: "https://nurture.acme.test",
				Marketing: email.Address{Name: "Acme News", Addr: "news@acme.test"}, Transactional: email.Address{Name: "Acme", Addr: "hello@acme.test"},
				UnsubscribeMailto: "unsubscribe@acme.test",
			}})
			ctx := context.Background()
			if _, _, err := s.SaveTemplate(ctx, store.TemplateInput{Name: "t", Channel: "email", Subject: "For {{ contact.first_name }} & co",
				HTML: tc.html, Text: tc.text}); err != nil {
				t.Fatal(err)
			}
			res, err := s.WriteContact(ctx, store.WriteContactParams{Source: "api", Input: contact.Input{Email: "ada@example.com",
				FirstName: "Ada <b>", LastName: "Lovelace", Company: "Analytical Engines"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.QueueMessage(ctx, store.MessageInput{ContactID: res.Contact.ID, Template: "t", Kind: tc.kind, Source: "test", List: "Guides"}); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			msgs := srv.Messages()
			if len(msgs) != 1 {
				t.Fatalf("got %d messages", len(msgs))
			}
			got := sortHeaders(msgs[0].Data)
			path := filepath.Join("testdata", tc.name+".eml")
			if *update {
				os.MkdirAll("testdata", 0o755)
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("message differs from %s (run with -update after a deliberate change):\n%s", path, got)
			}
		})
	}
}

func newServerFor(t *testing.T) *smtptest.Server {
	t.Helper()
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// sortHeaders puts the top-level header fields in name order: go-mail
// writes its generic headers in map order, which varies between runs.
func sortHeaders(msg []byte) []byte {
	head, body, ok := bytes.Cut(msg, []byte("\r\n\r\n"))
	if !ok {
		return msg
	}
	var fields [][]byte
	for _, line := range bytes.SplitAfter(append(head, "\r\n"...), []byte("\r\n")) {
		if len(line) == 0 {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			fields[len(fields)-1] = append(fields[len(fields)-1], line...)
			continue
		}
		fields = append(fields, append([]byte(nil), line...))
	}
	slices.SortStableFunc(fields, func(a, b []byte) int {
		return bytes.Compare(bytes.ToLower(a[:bytes.IndexByte(a, ':')+1]), bytes.ToLower(b[:bytes.IndexByte(b, ':')+1]))
	})
	return append(append(bytes.Join(fields, nil), "\r\n"...), body...)
}
