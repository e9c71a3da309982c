package dispatch_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/nurturehq/nurture/internal/channel/email"
	"github.com/nurturehq/nurture/internal/channel/email/smtptest"
	"github.com/nurturehq/nurture/internal/clock"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/dispatch"
	"github.com/nurturehq/nurture/internal/segment"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
	"github.com/nurturehq/nurture/internal/track"
)

// rig is a store, a loopback SMTP server and a dispatcher between them.
type rig struct {
	st    *store.Store
	clk   *clock.Fake
	smtp  *smtptest.Server
	d     *dispatch.Dispatcher
	sign  *track.Signer
	pub   ed25519.PublicKey
	email *dispatch.Email
}

func (r *rig) emailConfig() *dispatch.Email { return r.email }

func newRig(t *testing.T, s *store.Store, clk *clock.Fake) *rig {
	t.Helper()
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	relay, err := email.ParseRelayURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	relay.Timeout = 5 * time.Second
	pool, err := email.NewPool(relay, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	b, err := email.NewBuilder("test", email.DKIM{Domain: "acme.test", Selector: "s1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := track.NewSigner(s.Key("tracking"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &dispatch.Email{
		Relay: pool, Builder: b, Signer: signer, Tracking: true,
		Marketing:         email.Address{Name: "Acme", Addr: "news@acme.test"},
		Transactional:     email.Address{Name: "Acme", Addr: "hello@acme.test"},
		ReturnPath:        "bounces@acme.test",
		PublicURL:         "https://nurture.acme.test",
		UnsubscribeMailto: "unsubscribe@acme.test",
	}
	d := dispatch.New(dispatch.Config{Store: s, Clock: clk, Email: cfg})
	return &rig{st: s, clk: clk, smtp: srv, d: d, sign: signer, pub: pub, email: cfg}
}

func (r *rig) contact(t *testing.T, in contact.Input, consents ...contact.ConsentInput) contact.Contact {
	t.Helper()
	res, err := r.st.WriteContact(context.Background(), store.WriteContactParams{Input: in, Consents: consents, Source: "api"})
	if err != nil {
		t.Fatal(err)
	}
	return res.Contact
}

func (r *rig) template(t *testing.T, name, subject, html string) {
	t.Helper()
	if _, _, err := r.st.SaveTemplate(context.Background(), store.TemplateInput{Name: name, Channel: "email", Subject: subject, HTML: html}); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) queue(t *testing.T, c contact.Contact, tpl, kind string) store.Message {
	t.Helper()
	m, err := r.st.QueueMessage(context.Background(), store.MessageInput{ContactID: c.ID, Template: tpl, Kind: kind, Source: "test", List: "Warm leads"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// drain runs the dispatcher until it finds nothing due.
func (r *rig) drain(t *testing.T) {
	t.Helper()
	for {
		n, err := r.d.Once(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func (r *rig) status(t *testing.T, id int64) store.Message {
	t.Helper()
	m, err := r.st.GetMessage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (r *rig) events(t *testing.T, contactID int64) []string {
	t.Helper()
	evs, _, err := r.st.Timeline(context.Background(), contactID, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		out = append(out, evs[i].Type)
	}
	return out
}

const page = `<html><body><p>Hello {{ contact.first_name | default: "there" }},</p>
<p><a href="https://acme.test/guide?x=1&amp;y=2">Read the guide</a> or <a href="https://acme.test/pricing">see pricing</a>
or <a href="mailto:sales@acme.test">write to us</a>.</p></body></html>`

func TestEmailDeliveredCompliant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		r := newRig(t, s, clk)
		r.template(t, "d0", "Welcome {{ contact.first_name }}", page)
		ada := r.contact(t, contact.Input{Email: "ada@example.com", FirstName: "<script>alert(1)</script>"})
		m := r.queue(t, ada, "d0", store.KindMarketing)
		r.drain(t)
		if got := r.status(t, m.ID); got.Status != store.MessageSent || got.SentAt == nil || !strings.Contains(got.Reply, "queued as") {
			t.Fatalf("message = %+v; want sent with the server's reply", got)
		}
		msgs := r.smtp.Messages()
		if len(msgs) != 1 {
			t.Fatalf("server got %d messages; want 1", len(msgs))
		}
		raw := msgs[0].Data
		if msgs[0].From != "bounces@acme.test" || !slices.Equal(msgs[0].To, []string{"ada@example.com"}) {
			t.Errorf("envelope = %s → %v", msgs[0].From, msgs[0].To)
		}
		verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: func(string) ([]string, error) {
			return []string{"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(r.pub)}, nil
		}})
		if err != nil || len(verifs) != 1 || verifs[0].Err != nil {
			t.Fatalf("DKIM: %v %v", err, verifs)
		}
		parsed, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		h := parsed.Header
		lu := h.Get("List-Unsubscribe")
		if !strings.HasPrefix(lu, "<https://nurture.acme.test/u/") || !strings.Contains(lu, ">, <mailto:unsubscribe@acme.test?subject=") {
			t.Errorf("List-Unsubscribe = %q; want https first, then mailto", lu)
		}
		if h.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
			t.Errorf("List-Unsubscribe-Post = %q", h.Get("List-Unsubscribe-Post"))
		}
		if h.Get("List-Id") != `"Warm leads" <warm-leads.acme.test>` {
			t.Errorf("List-Id = %q", h.Get("List-Id"))
		}
		if from := h.Get("From"); !strings.Contains(from, "news@acme.test") {
			t.Errorf("From = %q; want the marketing address", from)
		}
		text, htmlPart := parts(t, parsed)
		if strings.Contains(htmlPart, "<script>") || !strings.Contains(htmlPart, "&lt;script&gt;") {
			t.Errorf("contact data not escaped in the HTML part:\n%s", htmlPart)
		}
		if !strings.Contains(text, "<script>alert(1)</script>") {
			t.Errorf("text part should carry the name as text:\n%s", text)
		}
		// Links: tracked, each redirect token naming only its own URL.
		links := regexp.MustCompile(`href="([^"]+)"`).FindAllStringSubmatch(htmlPart, -1)
		var targets []string
		for _, l := range links {
			href := strings.ReplaceAll(l[1], "&amp;", "&")
			switch {
			case strings.HasPrefix(href, "https://nurture.acme.test/t/c/"):
				tok, err := r.sign.Parse(strings.TrimPrefix(href, "https://nurture.acme.test/t/c/"))
				if err != nil || tok.Message != m.ID {
					t.Errorf("click token %s: %+v %v", href, tok, err)
				}
				targets = append(targets, tok.URL)
			case strings.HasPrefix(href, "mailto:"), strings.HasPrefix(href, "https://nurture.acme.test/u/"),
				strings.HasPrefix(href, "https://nurture.acme.test/p/"):
			default:
				t.Errorf("untracked link %s", href)
			}
		}
		if want := []string{"https://acme.test/guide?x=1&y=2", "https://acme.test/pricing"}; !slices.Equal(targets, want) {
			t.Errorf("tracked targets = %q; want %q", targets, want)
		}
		if !strings.Contains(htmlPart, "https://nurture.acme.test/t/o/") {
			t.Error("no open pixel")
		}
		if !strings.Contains(htmlPart, ">Unsubscribe</a>") || !strings.Contains(text, "Unsubscribe: https://nurture.acme.test/u/") {
			t.Error("no visible unsubscribe link in the body")
		}
		if evs := r.events(t, ada.ID); !slices.Contains(evs, "email_sent") {
			t.Errorf("events = %v; want email_sent", evs)
		}
		// Nothing is sent twice.
		r.drain(t)
		if n := r.smtp.Count(); n != 1 {
			t.Errorf("server got %d messages after a second pass; want 1", n)
		}
	})
}

func parts(t *testing.T, m *mail.Message) (text, html string) {
	t.Helper()
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
			html = string(b)
		} else {
			text = string(b)
		}
	}
}

func TestSendTimeChecks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		r := newRig(t, s, clk)
		ctx := context.Background()
		r.template(t, "news", "News", "<p>News</p>")
		withdrawn := r.contact(t, contact.Input{Email: "w@example.com"},
			contact.ConsentInput{Channel: "email", Purpose: "marketing", Status: "withdrawn", Source: "api"})
		pending := r.contact(t, contact.Input{Email: "p@example.com"},
			contact.ConsentInput{Channel: "email", Purpose: "marketing", Status: "pending_confirmation", Source: "api"})
		bounced := r.contact(t, contact.Input{Email: "b@example.com"})
		unsub := r.contact(t, contact.Input{Email: "u@example.com"})
		paused := r.contact(t, contact.Input{Email: "z@example.com", Tags: []string{store.PrefPaused}})
		if _, err := s.Suppress(ctx, store.SuppressInput{Channel: "email", Address: "B@Example.com", Reason: store.SuppressHardBounce, Source: "test"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Suppress(ctx, store.SuppressInput{Channel: "email", Address: "u@example.com", Reason: store.SuppressUnsubscribed, Source: "test"}); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			c      contact.Contact
			kind   string
			status string
		}{
			{withdrawn, store.KindMarketing, store.MessageSuppressed},
			{withdrawn, store.KindTransactional, store.MessageSent},
			{pending, store.KindMarketing, store.MessageSuppressed},
			{bounced, store.KindMarketing, store.MessageSuppressed},
			{bounced, store.KindTransactional, store.MessageSuppressed},
			{unsub, store.KindMarketing, store.MessageSuppressed},
			{unsub, store.KindTransactional, store.MessageSent},
			{paused, store.KindMarketing, store.MessageSuppressed},
		}
		ids := make([]int64, len(cases))
		for i, tc := range cases {
			ids[i] = r.queue(t, tc.c, "news", tc.kind).ID
		}
		r.drain(t)
		for i, tc := range cases {
			m := r.status(t, ids[i])
			if m.Status != tc.status {
				t.Errorf("%s %s: status %s (%s); want %s", tc.c.Email, tc.kind, m.Status, m.Reply, tc.status)
			}
		}
		// The two transactional ones, and the double opt-in confirmation
		// of the pending contact.
		var confirmations int
		for _, m := range r.smtp.Messages() {
			if m.To[0] == "p@example.com" && bytes.Contains(m.Data, []byte("/c/")) {
				confirmations++
			}
		}
		if n := r.smtp.Count(); n != 3 || confirmations != 1 {
			t.Errorf("server got %d (%d confirmations); want 2 transactional and 1 confirmation", n, confirmations)
		}
		if evs := r.events(t, bounced.ID); !slices.Contains(evs, "email_suppressed") {
			t.Errorf("events = %v; want email_suppressed", evs)
		}
		// A suppressed address stays suppressed through an upsert.
		r.contact(t, contact.Input{Email: "b@example.com", FirstName: "Bob"},
			contact.ConsentInput{Channel: "email", Purpose: "marketing", Status: "granted", Source: "import"})
		m := r.queue(t, bounced, "news", store.KindMarketing)
		r.drain(t)
		if got := r.status(t, m.ID); got.Status != store.MessageSuppressed {
			t.Errorf("after an upsert granting consent: %s; want suppressed", got.Status)
		}
	})
}

func TestRetriesAndFailures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		r := newRig(t, s, clk)
		r.template(t, "news", "News", "<p>News</p>")
		full := r.contact(t, contact.Input{Email: "full@example.com"})
		gone := r.contact(t, contact.Input{Email: "gone@example.com"})
		r.smtp.Refuse("full@example.com", 452, "4.2.2 mailbox full")
		r.smtp.Refuse("gone@example.com", 550, "5.1.1 user unknown")
		mf := r.queue(t, full, "news", store.KindMarketing)
		mg := r.queue(t, gone, "news", store.KindMarketing)
		r.drain(t)
		if got := r.status(t, mg.ID); got.Status != store.MessageFailed || !strings.Contains(got.Reply, "user unknown") {
			t.Errorf("550: %+v; want failed with the reply", got)
		}
		got := r.status(t, mf.ID)
		if got.Status != store.MessageQueued || got.Attempts != 1 || !got.DueAt.After(clk.Now()) {
			t.Fatalf("452: %+v; want queued again for later", got)
		}
		// Not before its time.
		r.drain(t)
		if got := r.status(t, mf.ID); got.Attempts != 1 {
			t.Errorf("retried before its backoff: %+v", got)
		}
		clk.Advance(dispatch.Backoff(1))
		r.smtp.Accept("full@example.com")
		r.drain(t)
		if got := r.status(t, mf.ID); got.Status != store.MessageSent || got.Attempts != 2 {
			t.Errorf("after the backoff: %+v; want sent on attempt 2", got)
		}
		evs := r.events(t, full.ID)
		if !slices.Contains(evs, "email_deferred") || !slices.Contains(evs, "email_sent") {
			t.Errorf("events = %v; want email_deferred then email_sent", evs)
		}
		// A temporary failure retried past a day fails for good.
		r.smtp.Refuse("full@example.com", 421, "4.3.0 try later")
		m2 := r.queue(t, full, "news", store.KindMarketing)
		for range 40 {
			r.drain(t)
			clk.Advance(2 * time.Hour)
		}
		if got := r.status(t, m2.ID); got.Status != store.MessageFailed || !strings.Contains(got.Reply, "gave up") {
			t.Errorf("after a day of 421: %+v; want failed", got)
		}
	})
}

func TestLeaseExpiryIsInDoubtNotResent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		r := newRig(t, s, clk)
		ctx := context.Background()
		r.template(t, "news", "News", "<p>News</p>")
		c := r.contact(t, contact.Input{Email: "a@example.com"})
		m := r.queue(t, c, "news", store.KindMarketing)
		// A worker claims it and dies.
		claimed, err := s.ClaimMessages(ctx, store.ClaimParams{Channels: []string{"email"}, Limit: 10, Lease: time.Minute})
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %v %d", err, len(claimed))
		}
		// Another claim takes nothing while the lease runs.
		if again, _ := s.ClaimMessages(ctx, store.ClaimParams{Channels: []string{"email"}, Limit: 10, Lease: time.Minute}); len(again) != 0 {
			t.Fatalf("claimed twice: %d", len(again))
		}
		clk.Advance(2 * time.Minute)
		if n, err := s.RecoverLeases(ctx); err != nil || n != 1 {
			t.Fatalf("recover: %d %v", n, err)
		}
		r.drain(t)
		if got := r.status(t, m.ID); got.Status != store.MessageInDoubt || r.smtp.Count() != 0 {
			t.Errorf("after the lease ran out: %+v, %d sent; want in doubt and not resent", got, r.smtp.Count())
		}
		if evs := r.events(t, c.ID); !slices.Contains(evs, "email_in_doubt") {
			t.Errorf("events = %v; want email_in_doubt", evs)
		}
		// The dead worker's late report is still taken (it did send)…
		if err := s.CompleteMessages(ctx, []store.Outcome{{ID: m.ID, Attempt: 1, Status: store.MessageSent, Event: "email_sent"}}); err != nil {
			t.Fatal(err)
		}
		if got := r.status(t, m.ID); got.Status != store.MessageSent {
			t.Errorf("late report: %+v; want sent", got)
		}
		// …but a report from a superseded attempt is not.
		if _, err := s.RetryMessage(ctx, m.ID); err == nil {
			t.Error("retrying a sent message succeeded")
		}
		m2 := r.queue(t, c, "news", store.KindMarketing)
		claimed, _ = s.ClaimMessages(ctx, store.ClaimParams{Channels: []string{"email"}, Limit: 10, Lease: time.Minute})
		if len(claimed) != 1 {
			t.Fatal("no claim")
		}
		clk.Advance(2 * time.Minute)
		s.RecoverLeases(ctx)
		if _, err := s.RetryMessage(ctx, m2.ID); err != nil {
			t.Fatal(err)
		}
		r.drain(t) // attempt 2 sends it
		if err := s.CompleteMessages(ctx, []store.Outcome{{ID: m2.ID, Attempt: 1, Status: store.MessageFailed, Event: "email_failed"}}); err != nil {
			t.Fatal(err)
		}
		if got := r.status(t, m2.ID); got.Status != store.MessageSent || got.Attempts != 2 {
			t.Errorf("stale report overwrote: %+v", got)
		}
	})
}

func TestIdempotentQueue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		r := newRig(t, s, clk)
		ctx := context.Background()
		r.template(t, "news", "News", "<p>News</p>")
		c := r.contact(t, contact.Input{Email: "a@example.com"})
		in := store.MessageInput{ContactID: c.ID, Template: "news", Kind: store.KindMarketing, Source: "test", IdempotencyKey: "enrol-1/step-2/0"}
		a, err := s.QueueMessage(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.QueueMessage(ctx, in)
		if err != nil || b.ID != a.ID || !b.Duplicate {
			t.Fatalf("second queue = %+v, %v; want the first, marked duplicate", b, err)
		}
		r.drain(t)
		if n := r.smtp.Count(); n != 1 {
			t.Errorf("sent %d; want 1", n)
		}
		for name, bad := range map[string]store.MessageInput{
			"unknown template": {ContactID: c.ID, Template: "nope", Kind: "marketing", Source: "t"},
			"unknown contact":  {ContactID: c.ID + 99, Template: "news", Kind: "marketing", Source: "t"},
			"bad kind":         {ContactID: c.ID, Template: "news", Kind: "spam", Source: "t"},
		} {
			if _, err := s.QueueMessage(ctx, bad); err == nil {
				t.Errorf("%s: queued", name)
			}
		}
	})
}

// Several dispatchers sharing one database (several nodes) never send a
// message twice.
func TestConcurrentDispatchersSendEachOnce(t *testing.T) {
	for _, db := range storetest.DBs() {
		t.Run(db.Name, func(t *testing.T) {
			clk := clock.NewFake(storetest.Epoch)
			cfg := storetest.Config(t, db)
			cfg.Clock = clk
			open := func() *store.Store {
				s, err := store.Open(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				if err := s.Migrate(context.Background()); err != nil {
					t.Fatal(err)
				}
				return s
			}
			a := newRig(t, open(), clk)
			b := newRig(t, open(), clk)
			b.smtp = a.smtp // both nodes hand to the same server
			b.d = dispatch.New(dispatch.Config{Store: b.st, Clock: clk, Batch: 7, Concurrency: 3, Email: a.emailConfig()})
			a.d = dispatch.New(dispatch.Config{Store: a.st, Clock: clk, Batch: 5, Concurrency: 3, Email: a.emailConfig()})
			a.template(t, "news", "News", "<p>News</p>")
			const n = 300
			for i := range n {
				c := a.contact(t, contact.Input{Email: fmt.Sprintf("c%d@example.com", i)})
				a.queue(t, c, "news", store.KindMarketing)
			}
			var wg sync.WaitGroup
			for _, r := range []*rig{a, b, a, b} {
				wg.Go(func() {
					if _, err := r.d.Drain(context.Background()); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			seen := map[string]int{}
			for _, m := range a.smtp.Messages() {
				parsed, err := mail.ReadMessage(bytes.NewReader(m.Data))
				if err != nil {
					t.Fatal(err)
				}
				seen[parsed.Header.Get("X-Nurture-Message")]++
			}
			if len(seen) != n {
				t.Errorf("%d distinct messages arrived; want %d", len(seen), n)
			}
			for id, k := range seen {
				if k != 1 {
					t.Errorf("%s arrived %d times", id, k)
				}
			}
		})
	}
}

func TestLayoutWrapsTheBody(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		ctx := context.Background()
		r := newRig(t, s, clk)
		save := func(in store.TemplateInput) error {
			in.Channel = "email"
			_, _, err := s.SaveTemplate(ctx, in)
			return err
		}
		if err := save(store.TemplateInput{Name: "brand", Subject: "-", HTML: `<html><body><header>ACME</header>{{ content }}<footer>Acme SAS, Paris · <a href="{{ unsubscribe_url }}">Unsubscribe</a></footer></body></html>`}); err != nil {
			t.Fatal(err)
		}
		for name, in := range map[string]store.TemplateInput{
			"missing layout": {Name: "x", Subject: "s", HTML: "<p>x</p>", Layout: "nope"},
			"not a layout":   {Name: "x", Subject: "s", HTML: "<p>x</p>", Layout: store.ConfirmTemplate},
			"its own layout": {Name: "brand", Subject: "s", HTML: "{{ content }}", Layout: "brand"},
		} {
			if err := save(in); err == nil {
				t.Errorf("%s: saved", name)
			}
		}
		if err := save(store.TemplateInput{Name: "news", Subject: "News", HTML: "<p>Hi {{ contact.first_name }}</p>", Layout: "brand"}); err != nil {
			t.Fatal(err)
		}
		c := r.contact(t, contact.Input{Email: "ada@example.com", FirstName: "Ada"})
		p, err := s.PreviewTemplate(ctx, "news", c.ID)
		if err != nil || !strings.Contains(p.HTML, "<header>ACME</header><p>Hi Ada</p><footer>") {
			t.Errorf("preview = %q, %v; want the body inside the layout", p.HTML, err)
		}
		m := r.queue(t, c, "news", store.KindMarketing)
		r.drain(t)
		if got := r.status(t, m.ID); got.Status != store.MessageSent {
			t.Fatalf("message = %+v", got)
		}
		parsed, _ := mail.ReadMessage(bytes.NewReader(r.smtp.Messages()[0].Data))
		_, html := parts(t, parsed)
		if !strings.Contains(html, "<header>ACME</header><p>Hi Ada</p><footer>") || strings.Count(html, ">Unsubscribe</a>") != 1 {
			t.Errorf("html = %s; want the layout around the body, its unsubscribe link only", html)
		}
	})
}

// A message from a sending domain goes through that domain's relay, signed
// with its key.
func TestSendingDomainRoutes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		r := newRig(t, s, clk)
		other, err := smtptest.Start()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(other.Close)
		rel, _ := email.ParseRelayURL(other.URL())
		pool, _ := email.NewPool(rel, nil)
		t.Cleanup(pool.Close)
		pub, key, _ := ed25519.GenerateKey(rand.Reader)
		b, err := email.NewBuilder("test", email.DKIM{Domain: "mail.other.test", Selector: "k2", Key: key})
		if err != nil {
			t.Fatal(err)
		}
		r.d.SetRoutes(&dispatch.Routes{Builder: b, ByDomain: map[string]dispatch.Relay{"mail.other.test": pool}})
		r.template(t, "news", "News", "<p>News</p>")
		c := r.contact(t, contact.Input{Email: "ada@example.com"})
		m, err := s.QueueMessage(context.Background(), store.MessageInput{ContactID: c.ID, Template: "news", Kind: store.KindMarketing,
			Source: "test", Sender: "Sam <sam@mail.other.test>"})
		if err != nil {
			t.Fatal(err)
		}
		r.drain(t)
		if got := r.status(t, m.ID); got.Status != store.MessageSent || r.smtp.Count() != 0 || other.Count() != 1 {
			t.Fatalf("message %+v; default relay got %d, the domain's %d; want the domain's relay", got, r.smtp.Count(), other.Count())
		}
		raw := other.Messages()[0].Data
		verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
			if name != "k2._domainkey.mail.other.test" {
				return nil, fmt.Errorf("no record %s", name)
			}
			return []string{"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}, nil
		}})
		if err != nil || len(verifs) != 1 || verifs[0].Err != nil {
			t.Errorf("DKIM of the sending domain: %v %v", err, verifs)
		}
		if parsed, _ := mail.ReadMessage(bytes.NewReader(raw)); !strings.Contains(parsed.Header.Get("From"), "sam@mail.other.test") {
			t.Errorf("From = %q", parsed.Header.Get("From"))
		}
	})
}

// A block shown to one segment only.
func TestSegmentBlocks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store, clk *clock.Fake) {
		ctx := context.Background()
		r := newRig(t, s, clk)
		saveSegments(t, s, "segments:\n  - name: french\n    rule: country == \"FR\"\n")
		r.template(t, "news", "News", `<p>{% if contact.segments contains "french" %}Bonjour{% else %}Hello{% endif %}</p>`)
		fr := r.contact(t, contact.Input{Email: "fr@example.com", Country: "FR"})
		us := r.contact(t, contact.Input{Email: "us@example.com", Country: "US"})
		r.queue(t, fr, "news", store.KindTransactional)
		r.queue(t, us, "news", store.KindTransactional)
		r.drain(t)
		got := map[string]string{}
		for _, m := range r.smtp.Messages() {
			parsed, _ := mail.ReadMessage(bytes.NewReader(m.Data))
			_, html := parts(t, parsed)
			got[m.To[0]] = html
		}
		if !strings.Contains(got["fr@example.com"], "Bonjour") || !strings.Contains(got["us@example.com"], "Hello") {
			t.Errorf("bodies = %v; want Bonjour for the segment, Hello for the others", got)
		}
		if p, err := s.PreviewTemplate(ctx, "news", fr.ID); err != nil || !strings.Contains(p.HTML, "Bonjour") {
			t.Errorf("preview = %+v, %v", p, err)
		}
	})
}

// saveSegments saves a segments document and builds them.
func saveSegments(t *testing.T, s *store.Store, src string) {
	t.Helper()
	ctx := context.Background()
	doc, err := segment.ParseDocument([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveSegments(ctx, store.SaveSegmentsParams{Document: doc, By: "test"}); err != nil {
		t.Fatal(err)
	}
	for {
		ok, err := s.RunJob(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
	}
}
