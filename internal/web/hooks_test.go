package web_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/channel/sms"
	"github.com/nurturehq/nurture/internal/channel/sms/twiliotest"
	"github.com/nurturehq/nurture/internal/channel/webhook"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/store"
)

const (
	twilioSID   = "AC0123456789abcdef0123456789abcdef"
	twilioToken = "test-twilio-token"
	snsCertURL  = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem"
)

// snsKey signs the test SNS messages; snsCert hands its certificate to the
// server in place of a fetch from AWS.
var snsKey, snsCertificate = func() (*rsa.PrivateKey, *x509.Certificate) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return key, cert
}()

func snsCert(_ context.Context, url string) (*x509.Certificate, error) {
	if url != snsCertURL {
		return nil, errors.New("unknown certificate")
	}
	return snsCertificate, nil
}

// signedPost posts body to a hook with a Nurture-Signature made at now.
func (a *api) signedPost(t *testing.T, path string, body []byte, at time.Time) response {
	t.Helper()
	return a.do(t, "POST", path, body, "Authorization", "", webhook.Header, webhook.Sign([]byte(hex.EncodeToString(a.st.Key("hooks"))), at, body))
}

func (a *api) suppressed(t *testing.T, channel, addr string) *store.Suppression {
	t.Helper()
	x, err := a.st.SuppressionFor(context.Background(), channel, addr)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func (a *api) eventTypes(t *testing.T, id int64) []string {
	t.Helper()
	evs, _, err := a.st.Timeline(context.Background(), id, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func TestHardBounceHookSuppressesThroughUpserts(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		c := a.createContact(t, map[string]any{"email": "ada@example.com"})
		body := []byte(`[{"type": "bounce", "email": "Ada@Example.com", "bounce_type": "hard", "status": "5.1.1", "reason": "user unknown"}]`)
		now := a.clk.Now()
		// Refused: no signature, a wrong one, an old one, a body not signed.
		for name, r := range map[string]response{
			"unsigned": a.do(t, "POST", "/hooks/email/feedback", body, "Authorization", ""),
			"forged":   a.do(t, "POST", "/hooks/email/feedback", body, "Authorization", "", webhook.Header, "t=1,v1=00"),
			"replayed": a.signedPost(t, "/hooks/email/feedback", body, now.Add(-time.Hour)),
			"other key": a.do(t, "POST", "/hooks/email/feedback", body, "Authorization", "",
				webhook.Header, webhook.Sign([]byte("not the key"), now, body)),
		} {
			if r.Status != http.StatusUnauthorized {
				t.Errorf("%s: %d; want 401", name, r.Status)
			}
		}
		if x := a.suppressed(t, "email", "ada@example.com"); x != nil {
			t.Fatalf("suppressed by an unauthenticated hook: %+v", x)
		}
		if r := a.signedPost(t, "/hooks/email/feedback", []byte(`{"type": "bounce", "email": 42}`), now); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("malformed: %d %s; want 422", r.Status, r.Raw)
		}
		big := append([]byte(`[`), bytes.Repeat([]byte(` `), 2<<20)...)
		if r := a.signedPost(t, "/hooks/email/feedback", big, now); r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("oversized: %d; want 413", r.Status)
		}
		if r := a.signedPost(t, "/hooks/email/feedback", body, now); r.Status != http.StatusNoContent {
			t.Fatalf("signed: %d %s; want 204", r.Status, r.Raw)
		}
		x := a.suppressed(t, "email", "ada@example.com")
		if x == nil || x.Reason != store.SuppressHardBounce || !x.Blocks(store.KindTransactional) {
			t.Fatalf("suppression = %+v; want hard_bounce blocking everything", x)
		}
		if evs := a.eventTypes(t, c.ID); !slices.Contains(evs, "email_bounced") {
			t.Errorf("events = %v; want email_bounced", evs)
		}
		// An import of the same address, granting consent, stays suppressed.
		r := a.do(t, "PUT", "/api/v1/contacts", map[string]any{"email": "ada@example.com", "first_name": "Ada",
			"consents": []map[string]any{{"channel": "email", "purpose": "marketing", "status": "granted", "source": "import"}}})
		if r.Status >= 300 {
			t.Fatalf("upsert: %d %s", r.Status, r.Raw)
		}
		if x := a.suppressed(t, "email", "ada@example.com"); x == nil || x.Reason != store.SuppressHardBounce {
			t.Errorf("after the import: %+v; want still suppressed", x)
		}
	})
}

func TestSoftBouncesSuppressAfterThree(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		a.createContact(t, map[string]any{"email": "full@example.com"})
		soft := []byte(`{"type": "bounce", "email": "full@example.com", "bounce_type": "soft", "status": "4.2.2"}`)
		for i := range store.SoftBounceLimit {
			if x := a.suppressed(t, "email", "full@example.com"); x != nil {
				t.Fatalf("suppressed after %d soft bounces", i)
			}
			if r := a.signedPost(t, "/hooks/email/feedback", soft, a.clk.Now()); r.Status != http.StatusNoContent {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
		}
		if x := a.suppressed(t, "email", "full@example.com"); x == nil || x.Reason != store.SuppressSoftBounce {
			t.Errorf("after %d soft bounces: %+v; want soft_bounce", store.SoftBounceLimit, x)
		}
	})
}

func TestDSNHook(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../feedback/testdata/postfix_550_user_unknown.eml")
	if err != nil {
		t.Fatal(err)
	}
	each(t, func(t *testing.T, a *api) {
		if r := a.signedPost(t, "/hooks/email/dsn", raw, a.clk.Now()); r.Status != http.StatusNoContent {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		list := decode[[]store.Suppression](t, a.do(t, "GET", "/api/v1/suppressions", nil))
		if len(list) != 1 || list[0].Reason != store.SuppressHardBounce {
			t.Errorf("suppressions = %+v; want the DSN's recipient, hard", list)
		}
		if r := a.signedPost(t, "/hooks/email/dsn", []byte("Subject: hello\r\n\r\nnot a report"), a.clk.Now()); r.Status != http.StatusNoContent {
			t.Errorf("not a report: %d; want 204 and nothing done", r.Status)
		}
		if r := a.signedPost(t, "/hooks/email/dsn", []byte("Content-Type: multipart/report; report-type=delivery-status\r\n\r\ngarbage"), a.clk.Now()); r.Status >= 500 {
			t.Errorf("broken report: %d; want a 4xx", r.Status)
		}
	})
}

// snsMessage is an SNS notification carrying message, signed (version 1).
func snsMessage(t *testing.T, typ, message string, at time.Time) []byte {
	t.Helper()
	env := map[string]string{"Type": typ, "MessageId": "b3d2c0a6-1111-2222-3333-444455556666",
		"TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-feedback", "Message": message,
		"Timestamp": at.UTC().Format("2006-01-02T15:04:05.000Z"), "SignatureVersion": "1", "SigningCertURL": snsCertURL}
	canon := "Message\n" + env["Message"] + "\nMessageId\n" + env["MessageId"] + "\nTimestamp\n" + env["Timestamp"] +
		"\nTopicArn\n" + env["TopicArn"] + "\nType\n" + env["Type"] + "\n"
	sum := sha1.Sum([]byte(canon))
	sig, err := rsa.SignPKCS1v15(rand.Reader, snsKey, crypto.SHA1, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	env["Signature"] = base64.StdEncoding.EncodeToString(sig)
	b, _ := json.Marshal(env)
	return b
}

func TestSESHook(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		c := a.createContact(t, map[string]any{"email": "bob@example.com"})
		ses := `{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"bob@example.com"}],
			"timestamp":"2026-03-02T09:00:00.000Z","feedbackId":"x"},"mail":{"timestamp":"2026-03-02T08:00:00.000Z",
			"messageId":"y","source":"news@acme.test","destination":["bob@example.com"]}}`
		body := snsMessage(t, "Notification", ses, a.clk.Now())
		tampered := bytes.Replace(body, []byte("bob@example.com"), []byte("eve@example.com"), 1)
		if r := a.do(t, "POST", "/hooks/email/ses", tampered, "Authorization", ""); r.Status != http.StatusUnauthorized {
			t.Errorf("tampered: %d; want 401", r.Status)
		}
		if r := a.do(t, "POST", "/hooks/email/ses", []byte(`{"Type": 1}`), "Authorization", ""); r.Status != http.StatusBadRequest {
			t.Errorf("not SNS: %d; want 400", r.Status)
		}
		if x := a.suppressed(t, "email", "bob@example.com"); x != nil {
			t.Fatalf("suppressed by a bad message: %+v", x)
		}
		if r := a.do(t, "POST", "/hooks/email/ses", body, "Authorization", ""); r.Status != http.StatusNoContent {
			t.Fatalf("signed: %d %s", r.Status, r.Raw)
		}
		if x := a.suppressed(t, "email", "bob@example.com"); x == nil || x.Reason != store.SuppressComplaint {
			t.Errorf("after a complaint: %+v", x)
		}
		if evs := a.eventTypes(t, c.ID); !slices.Contains(evs, "email_complained") {
			t.Errorf("events = %v; want email_complained", evs)
		}
	})
}

func TestTwilioKeywords(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		ctx := context.Background()
		tw := twiliotest.NewServer(twilioSID, twilioToken)
		t.Cleanup(tw.Close)
		r := a.do(t, "PUT", "/api/v1/contacts", map[string]any{"email": "sam@example.com", "phone": "+33612345678",
			"consents": []map[string]any{
				{"channel": "sms", "purpose": "marketing", "status": "granted", "source": "form"},
				{"channel": "email", "purpose": "marketing", "status": "granted", "source": "form"}}})
		if r.Status >= 300 {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		id := int64(r.JSON.(map[string]any)["id"].(float64))
		hook := a.srv.URL + "/hooks/twilio/inbound"
		// A forged text changes nothing.
		forged := a.do(t, "POST", "/hooks/twilio/inbound", "From=%2B33612345678&To=%2B33700000000&Body=STOP&MessageSid=SM0123456789abcdef0123456789abcdef",
			"Authorization", "", "Content-Type", "application/x-www-form-urlencoded", "X-Twilio-Signature", "AAAA")
		if forged.Status != http.StatusUnauthorized {
			t.Errorf("forged: %d; want 401", forged.Status)
		}
		if err := tw.Inbound(ctx, hook, "+33612345678", "+33700000000", "  Arrêt "); err != nil {
			t.Fatal(err)
		}
		current, _, err := a.st.Consents(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		status := map[string]string{}
		for _, x := range current {
			status[x.Channel+"/"+x.Purpose] = x.Status
		}
		if status["sms/marketing"] != contact.ConsentWithdrawn || status["email/marketing"] != contact.ConsentGranted {
			t.Errorf("after ARRÊT: %v; want SMS withdrawn, email untouched", status)
		}
		if x := a.suppressed(t, "sms", "+33612345678"); x == nil {
			t.Error("the number is not suppressed for SMS")
		}
		if x := a.suppressed(t, "email", "sam@example.com"); x != nil {
			t.Errorf("email suppressed by an SMS STOP: %+v", x)
		}
		if err := tw.Inbound(ctx, hook, "+33612345678", "+33700000000", "Is it still available?"); err != nil {
			t.Fatal(err)
		}
		if evs := a.eventTypes(t, id); !slices.Contains(evs, "sms_replied") || !slices.Contains(evs, "unsubscribed") {
			t.Errorf("events = %v; want unsubscribed and sms_replied", evs)
		}
	})
}

func TestTwilioHelpAnswers(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		form := "From=%2B33612345678&To=%2B33700000000&Body=help&MessageSid=SM0123456789abcdef0123456789abcdef&AccountSid=" + twilioSID
		u := a.srv.URL + "/hooks/twilio/inbound"
		vals, _ := url.ParseQuery(form)
		sig := sms.Sign(twilioToken, u, vals)
		r := a.do(t, "POST", "/hooks/twilio/inbound", form, "Authorization", "", "Content-Type", "application/x-www-form-urlencoded", "X-Twilio-Signature", sig)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Raw), "<Message>Acme: reply STOP to opt out.</Message>") {
			t.Errorf("HELP: %d %s; want the help text as TwiML", r.Status, r.Raw)
		}
	})
}

// Erasing a contact leaves its address nowhere in clear: not on the
// suppression list, not in the soft bounce counts, not in the outbox. The
// address stays suppressed, as a keyed hash.
func TestErasureClearsChannelData(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		c := a.createContact(t, map[string]any{"email": "erase.me@example.com", "phone": "+33612345670"})
		soft := []byte(`{"type": "bounce", "email": "erase.me@example.com", "bounce_type": "soft", "status": "4.2.2", "reason": "full: erase.me@example.com"}`)
		if r := a.signedPost(t, "/hooks/email/feedback", soft, a.clk.Now()); r.Status != http.StatusNoContent {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		if r := a.do(t, "POST", "/api/v1/suppressions", map[string]any{"channel": "sms", "address": "+33612345670", "detail": "asked"}); r.Status != http.StatusCreated {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		if r := a.do(t, "DELETE", "/api/v1/contacts/"+itoa(c.ID), nil); r.Status >= 300 {
			t.Fatalf("erase: %d %s", r.Status, r.Raw)
		}
		dump, err := a.st.DumpForTest(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"erase.me@example.com", "+33612345670"} {
			if strings.Contains(dump, v) {
				t.Errorf("%s is still stored after the erasure", v)
			}
		}
		for ch, addr := range map[string]string{"email": "erase.me@example.com", "sms": "+33612345670", "whatsapp": "+33612345670"} {
			if x := a.suppressed(t, ch, addr); x == nil || !x.Blocks(store.KindTransactional) {
				t.Errorf("%s %s after the erasure: %+v; want suppressed (as a hash)", ch, addr, x)
			}
		}
	})
}
