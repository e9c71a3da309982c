package dispatch_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/channel/sms"
	"github.com/nurturehq/nurture/internal/channel/sms/twiliotest"
	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/dispatch"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

const (
	sid   = "AC0123456789abcdef0123456789abcdef"
	token = "test-auth-token"
)

func smsRig(t *testing.T, s *store.Store, clk *clock.Fake) (*dispatch.Dispatcher, *twiliotest.Server) {
	t.Helper()
	tw := twiliotest.NewServer(sid, token)
	t.Cleanup(tw.Close)
	d := dispatch.New(dispatch.Config{Store: s, Clock: clk, SMS: &dispatch.SMS{
		Sender:       &sms.Twilio{BaseURL: tw.URL(), AccountSID: sid, AuthToken: token, Client: http.DefaultClient},
		From:         "+33700000000",
		WhatsAppFrom: "+33700000001",
		StatusURL:    "https://nurture.acme.test/hooks/twilio/status",
	}})
	return d, tw
}

func TestSMSNeedsConsentAndRespectsQuietHours(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		ctx := context.Background()
		d, tw := smsRig(t, s, clk)
		if _, _, err := s.SaveTemplate(ctx, store.TemplateInput{Name: "txt", Channel: "sms", Text: "Hi {{ contact.first_name }}, your guide is ready."}); err != nil {
			t.Fatal(err)
		}
		write := func(in contact.Input, cs ...contact.ConsentInput) contact.Contact {
			res, err := s.WriteContact(ctx, store.WriteContactParams{Input: in, Consents: cs, Source: "api"})
			if err != nil {
				t.Fatal(err)
			}
			return res.Contact
		}
		yes := write(contact.Input{Email: "y@example.com", Phone: "+33612345678", FirstName: "Yan", TimeZone: "Europe/Paris"},
			contact.ConsentInput{Channel: "sms", Purpose: "marketing", Status: "granted", Source: "form"})
		no := write(contact.Input{Email: "n@example.com", Phone: "+33612345679", TimeZone: "Europe/Paris"},
			contact.ConsentInput{Channel: "email", Purpose: "marketing", Status: "granted", Source: "form"})
		queue := func(c contact.Contact) int64 {
			m, err := s.QueueMessage(ctx, store.MessageInput{ContactID: c.ID, Template: "txt", Kind: store.KindMarketing, Source: "test"})
			if err != nil {
				t.Fatal(err)
			}
			return m.ID
		}
		drain := func() {
			for {
				n, err := d.Once(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					return
				}
			}
		}
		// 23:00 in Paris: quiet hours.
		clk.Set(time.Date(2026, 3, 2, 22, 0, 0, 0, time.UTC))
		a, b := queue(yes), queue(no)
		drain()
		ma, _ := s.GetMessage(ctx, a)
		if ma.Status != store.MessageQueued || !ma.DueAt.Equal(time.Date(2026, 3, 3, 7, 0, 0, 0, time.UTC)) {
			t.Errorf("at 23:00 Paris: %+v; want queued until 08:00 Paris", ma)
		}
		mb, _ := s.GetMessage(ctx, b)
		if mb.Status != store.MessageSuppressed || mb.Reply != dispatch.ReasonNoConsent {
			t.Errorf("without SMS consent: %+v; want suppressed", mb)
		}
		if len(tw.Messages()) != 0 {
			t.Fatalf("sent during quiet hours: %+v", tw.Messages())
		}
		clk.Set(time.Date(2026, 3, 3, 7, 0, 0, 0, time.UTC))
		drain()
		sent := tw.Messages()
		if len(sent) != 1 || sent[0].To != "+33612345678" || !strings.Contains(sent[0].Body, "Hi Yan") ||
			!strings.HasSuffix(sent[0].StatusCallback, "?m="+strconv.FormatInt(a, 10)) {
			t.Fatalf("sent = %+v; want one text to Yan with its status URL", sent)
		}
		if ma, _ = s.GetMessage(ctx, a); ma.Status != store.MessageSent {
			t.Errorf("after 08:00: %+v; want sent", ma)
		}
		evs, _, _ := s.Timeline(ctx, yes.ID, nil, 50)
		var types []string
		for _, e := range evs {
			types = append(types, e.Type)
			if e.Type == "sms_sent" && !strings.Contains(string(e.Properties), `"segments":1`) {
				t.Errorf("sms_sent = %s; want the segment count", e.Properties)
			}
		}
		if !slices.Contains(types, "sms_deferred") || !slices.Contains(types, "sms_sent") {
			t.Errorf("events = %v", types)
		}
		// The provider refuses: permanent for a bad number, temporary for 503.
		tw.FailNext(1, 400, 21211, "The 'To' number is not a valid phone number.")
		c := queue(yes)
		drain()
		if m, _ := s.GetMessage(ctx, c); m.Status != store.MessageFailed {
			t.Errorf("400/21211: %+v; want failed", m)
		}
		tw.FailNext(1, 503, 20500, "Service unavailable")
		c = queue(yes)
		drain()
		if m, _ := s.GetMessage(ctx, c); m.Status != store.MessageQueued || m.Attempts != 1 {
			t.Errorf("503: %+v; want queued for a retry", m)
		}
		// The connection breaks after the request was sent: the text may be
		// on its way, so it is in doubt and not sent again.
		clk.Advance(time.Hour)
		drain() // sends the 503's retry
		before := len(tw.Messages())
		tw.DropNext(1)
		c = queue(yes)
		drain()
		clk.Advance(time.Hour)
		drain()
		if m, _ := s.GetMessage(ctx, c); m.Status != store.MessageInDoubt || m.Attempts != 1 {
			t.Errorf("dropped connection: %+v; want in doubt, tried once", m)
		}
		if len(tw.Messages()) != before {
			t.Errorf("the provider got %d more texts; want none after the drop", len(tw.Messages())-before)
		}
	})
}
