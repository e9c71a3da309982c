package email_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/nurturehq/nurture/internal/channel/email"
	"github.com/nurturehq/nurture/internal/channel/email/smtptest"
)

func TestParseRelayURL(t *testing.T) {
	good := []struct {
		in   string
		want email.Relay
	}{
		{"smtp://mail.example.com", email.Relay{Name: "default", Host: "mail.example.com", Port: 587, TLS: "starttls", Connections: 4, Timeout: email.DefaultTimeout}},
		{"smtps://u:p%40ss@mail.example.com", email.Relay{Name: "default", Host: "mail.example.com", Port: 465, TLS: "tls", Username: "u", Password: "p@ss", Connections: 4, Timeout: email.DefaultTimeout}},
		{"smtp://127.0.0.1:2525?tls=none&per_second=10&per_hour=1000&connections=8", email.Relay{Name: "default", Host: "127.0.0.1", Port: 2525, TLS: "none", PerSecond: 10, PerHour: 1000, Connections: 8, Timeout: email.DefaultTimeout}},
		{"smtp://[::1]:25?tls=starttls", email.Relay{Name: "default", Host: "::1", Port: 25, TLS: "starttls", Connections: 4, Timeout: email.DefaultTimeout}},
	}
	for _, tc := range good {
		got, err := email.ParseRelayURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseRelayURL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	bad := []string{
		"", "http://mail.example.com", "smtp://", "smtp://host:0", "smtp://host:99999", "smtp://host:port",
		"smtp://host?tls=maybe", "smtps://host?tls=none", "smtp://host/path", "smtp://host?per_second=-1",
		"smtp://host?per_second=abc", "smtp://host?connections=-1", "smtp://host?connections=1000",
		"smtp://host?bogus=1", "smtp://:pass@host", "mailto:x@y", "smtp://ho st",
	}
	for _, in := range bad {
		if r, err := email.ParseRelayURL(in); err == nil {
			t.Errorf("ParseRelayURL(%q) = %+v; want an error", in, r)
		}
	}
}

// newServer starts a loopback SMTP server for one test.
func newServer(t *testing.T) *smtptest.Server {
	t.Helper()
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func newPool(t *testing.T, srv *smtptest.Server, extra string) *email.Pool {
	t.Helper()
	r, err := email.ParseRelayURL(srv.URL() + extra)
	if err != nil {
		t.Fatal(err)
	}
	r.Timeout = 5 * time.Second
	p, err := email.NewPool(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// txtRecord is the DNS TXT record publishing key's public half.
func txtRecord(t *testing.T, key crypto.Signer) string {
	switch k := key.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k)
	}
	t.Fatalf("key type %T", key)
	return ""
}

func sample() *email.Message {
	return &email.Message{
		ID:                "m-42",
		From:              email.Address{Name: "Acme Marketing", Addr: "news@acme.test"},
		To:                email.Address{Name: "Ada Lovelace", Addr: "ada@example.com"},
		Subject:           "Hello Ada, here is the guide — 100 % free",
		HTML:              "<html><body><p>Bonjour Ada &lt;script&gt;</p><a href=\"https://acme.test/t/c/x\">guide</a></body></html>",
		Text:              "Bonjour Ada <script>\nguide: https://acme.test/t/c/x",
		Date:              time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		ListID:            "Warm leads <warm-leads.acme.test>",
		UnsubscribeURL:    "https://acme.test/u/tok123",
		UnsubscribeMailto: "mailto:unsubscribe@acme.test?subject=tok123",
	}
}

func TestSendSignedMessage(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []crypto.Signer{rsaKey, edKey} {
		t.Run(fmt.Sprintf("%T", key), func(t *testing.T) {
			srv := newServer(t)
			pool := newPool(t, srv, "")
			b, err := email.NewBuilder("inst1", email.DKIM{Domain: "acme.test", Selector: "s1", Key: key})
			if err != nil {
				t.Fatal(err)
			}
			msg, err := b.Build(sample())
			if err != nil {
				t.Fatal(err)
			}
			reply, err := pool.Send(context.Background(), "bounce@acme.test", "ada@example.com", msg)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(reply, "queued as") {
				t.Errorf("reply = %q; want the server's queue id", reply)
			}
			got := srv.Messages()
			if len(got) != 1 {
				t.Fatalf("server got %d messages; want 1", len(got))
			}
			raw := got[0].Data
			verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
				LookupTXT: func(domain string) ([]string, error) {
					if domain != "s1._domainkey.acme.test" {
						return nil, fmt.Errorf("no TXT for %s", domain)
					}
					return []string{txtRecord(t, key)}, nil
				},
			})
			if err != nil || len(verifs) != 1 || verifs[0].Err != nil {
				t.Fatalf("DKIM verification: %v %v\n%s", err, verifs[0].Err, raw)
			}
			for _, h := range []string{"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", "From", "Subject"} {
				if !containsFold(verifs[0].HeaderKeys, h) {
					t.Errorf("signature covers %v; want %s among them", verifs[0].HeaderKeys, h)
				}
			}
			m, err := mail.ReadMessage(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			checks := map[string]string{
				"List-Unsubscribe":      "<https://acme.test/u/tok123>, <mailto:unsubscribe@acme.test?subject=tok123>",
				"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
				"List-Id":               "Warm leads <warm-leads.acme.test>",
				"X-Nurture-Message":     "m-42",
				"Message-Id":            "<m-42.inst1@acme.test>",
			}
			for k, want := range checks {
				if got := m.Header.Get(k); got != want {
					t.Errorf("%s = %q; want %q", k, got, want)
				}
			}
			subj, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
			if err != nil || subj != sample().Subject {
				t.Errorf("Subject = %q (%v); want %q", subj, err, sample().Subject)
			}
			parts := readParts(t, m)
			if !strings.HasPrefix(parts[0][0], "text/plain") || !strings.HasPrefix(parts[1][0], "text/html") {
				t.Fatalf("parts = %q; want text then HTML", parts)
			}
			if parts[1][1] != sample().HTML || parts[0][1] != sample().Text {
				t.Errorf("bodies changed on the way:\n%q\n%q", parts[0][1], parts[1][1])
			}
		})
	}
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// readParts returns each part of a multipart/alternative message as
// (content type, decoded body).
func readParts(t *testing.T, m *mail.Message) [][2]string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	var out [][2]string
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, [2]string{p.Header.Get("Content-Type"), strings.ReplaceAll(string(b), "\r\n", "\n")})
	}
}

func TestSendErrors(t *testing.T) {
	srv := newServer(t)
	pool := newPool(t, srv, "&connections=2")
	b, err := email.NewBuilder("inst1")
	if err != nil {
		t.Fatal(err)
	}
	send := func(to string) error {
		m := sample()
		m.To = email.Address{Addr: to}
		msg, err := b.Build(m)
		if err != nil {
			t.Fatal(err)
		}
		_, err = pool.Send(context.Background(), "bounce@acme.test", to, msg)
		return err
	}
	srv.Refuse("gone@example.com", 550, "5.1.1 user unknown")
	srv.Refuse("full@example.com", 452, "4.2.2 mailbox full")
	var se *email.SendError
	if err := send("gone@example.com"); !errors.As(err, &se) || se.Temporary || se.Code != 550 || !strings.Contains(se.Reply, "user unknown") {
		t.Errorf("550: err = %#v; want a permanent SendError with the reply", err)
	}
	if err := send("full@example.com"); !errors.As(err, &se) || !se.Temporary || se.Code != 452 {
		t.Errorf("452: err = %#v; want a temporary SendError", err)
	}
	// The session survives refusals: the next message goes through it.
	if err := send("ok@example.com"); err != nil {
		t.Fatal(err)
	}
	srv.DropNext(1)
	if err := send("ok@example.com"); !errors.As(err, &se) || !se.Temporary {
		t.Errorf("dropped connection: err = %#v; want a temporary SendError", err)
	}
	if err := send("ok@example.com"); err != nil {
		t.Fatalf("after a drop the pool should reconnect: %v", err)
	}
	if n := srv.Count(); n != 2 {
		t.Errorf("server accepted %d messages; want 2", n)
	}
	srv.Close()
	if err := send("ok@example.com"); !errors.As(err, &se) || !se.Temporary {
		t.Errorf("server down: err = %#v; want a temporary SendError", err)
	}
}

func TestPoolReusesBoundedSessions(t *testing.T) {
	srv := newServer(t)
	pool := newPool(t, srv, "&connections=3")
	b, _ := email.NewBuilder("inst1")
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := range 60 {
		wg.Go(func() {
			m := sample()
			m.ID = fmt.Sprintf("m-%d", i+1)
			msg, err := b.Build(m)
			if err == nil {
				_, err = pool.Send(context.Background(), "bounce@acme.test", "ada@example.com", msg)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Sessions(); n > 3 {
		t.Errorf("60 messages opened %d sessions; want at most 3", n)
	}
	if n := srv.Count(); n != 60 {
		t.Errorf("server accepted %d; want 60", n)
	}
}

func TestPoolRateLimitWaitsForContext(t *testing.T) {
	srv := newServer(t)
	pool := newPool(t, srv, "&per_second=1")
	b, _ := email.NewBuilder("inst1")
	msg, _ := b.Build(sample())
	if _, err := pool.Send(context.Background(), "b@acme.test", "ada@example.com", msg); err != nil {
		t.Fatal(err)
	}
	// The burst is spent: a second send must wait, and gives up with its context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	msg, _ = b.Build(sample())
	if _, err := pool.Send(ctx, "b@acme.test", "ada@example.com", msg); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v; want context.Canceled", err)
	}
}

func TestBuildRefusesBadMessages(t *testing.T) {
	b, _ := email.NewBuilder("inst1")
	for name, edit := range map[string]func(*email.Message){
		"no id":        func(m *email.Message) { m.ID = "" },
		"id with <":    func(m *email.Message) { m.ID = "m-1<x>" },
		"no body":      func(m *email.Message) { m.HTML, m.Text = "", "" },
		"bad from":     func(m *email.Message) { m.From.Addr = "not an address" },
		"bad to":       func(m *email.Message) { m.To.Addr = "a@@b" },
		"bad reply-to": func(m *email.Message) { m.ReplyTo = "<<" },
	} {
		m := sample()
		edit(m)
		if _, err := b.Build(m); err == nil {
			t.Errorf("%s: Build succeeded; want an error", name)
		}
	}
	if _, err := email.NewBuilder(""); err == nil {
		t.Error("NewBuilder with no tag succeeded")
	}
	if _, err := email.NewBuilder("x", email.DKIM{Domain: "acme.test"}); err == nil {
		t.Error("NewBuilder with a DKIM entry lacking a key succeeded")
	}
}

func TestHeaderInjection(t *testing.T) {
	b, _ := email.NewBuilder("inst1")
	m := sample()
	m.Subject = "Hi\r\nBcc: victim@example.com"
	m.To.Name = "Eve\r\nBcc: victim@example.com"
	var buf bytes.Buffer
	if err := b.Write(&buf, m); err != nil {
		return // refusing is fine too
	}
	parsed, err := mail.ReadMessage(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if v := parsed.Header.Get("Bcc"); v != "" {
		t.Errorf("a Bcc header was injected: %q", v)
	}
}

// selfSigned is a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, roots
}

func TestTLSModes(t *testing.T) {
	srvCfg, roots := selfSigned(t)
	b, _ := email.NewBuilder("inst1")
	msg, _ := b.Build(sample())
	for _, tc := range []struct {
		name     string
		implicit bool
		url      string
	}{
		{"starttls", false, "smtp://%s?tls=starttls"},
		{"implicit", true, "smtps://%s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := smtptest.StartTLS(srvCfg, tc.implicit)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			r, err := email.ParseRelayURL(fmt.Sprintf(tc.url, srv.Addr()))
			if err != nil {
				t.Fatal(err)
			}
			r.Timeout = 5 * time.Second
			pool, err := email.NewPool(r, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			if _, err := pool.Send(context.Background(), "b@acme.test", "ada@example.com", msg); err != nil {
				t.Fatalf("send over %s: %v", tc.name, err)
			}
			// A certificate the client does not trust fails, and sends nothing.
			untrusted, _ := email.NewPool(r, &tls.Config{ServerName: "127.0.0.1"})
			t.Cleanup(untrusted.Close)
			if _, err := untrusted.Send(context.Background(), "b@acme.test", "ada@example.com", msg); err == nil {
				t.Error("sent to a server with an untrusted certificate")
			}
			if srv.Count() != 1 {
				t.Errorf("server got %d; want 1", srv.Count())
			}
		})
	}
	// STARTTLS required, not offered: nothing goes in clear.
	plain := newServer(t)
	r, _ := email.ParseRelayURL("smtp://" + plain.Addr() + "?tls=starttls")
	r.Timeout = 5 * time.Second
	pool, _ := email.NewPool(r, nil)
	t.Cleanup(pool.Close)
	if _, err := pool.Send(context.Background(), "b@acme.test", "ada@example.com", msg); err == nil || plain.Count() != 0 {
		t.Errorf("starttls required against a plain server: err %v, %d received; want an error and nothing sent", err, plain.Count())
	}
}

// TestTransactionShapes sends through servers that offer PIPELINING and
// CHUNKING, PIPELINING alone, and neither: the message arrives as written
// (dot-stuffing undone, a bare LF made CRLF, a final CRLF added), a refused
// recipient is a permanent error with the server's reply, and the session
// stays in step for the next message.
func TestTransactionShapes(t *testing.T) {
	parts := [][]byte{
		[]byte("DKIM-Signature: v=1\r\n"),
		[]byte("Subject: dots\r\n\r\n.starts with a dot\r\n..two\r\nbare\nLF\r\n.\r\nno final line end"),
	}
	want := "DKIM-Signature: v=1\r\nSubject: dots\r\n\r\n.starts with a dot\r\n..two\r\nbare\r\nLF\r\n.\r\nno final line end\r\n"
	for _, tc := range []struct {
		name string
		opts smtptest.SinkOptions
	}{
		{"pipelining and chunking", smtptest.SinkOptions{}},
		{"pipelining", smtptest.SinkOptions{NoChunking: true}},
		{"neither", smtptest.SinkOptions{NoChunking: true, NoPipelining: true}},
		{"chunking without pipelining", smtptest.SinkOptions{NoPipelining: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Keep = true
			sink, err := smtptest.StartSinkWith(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			refusing := tc.opts
			refusing.RefuseRcpt = "550 5.1.1 no such user here"
			bad, err := smtptest.StartSinkWith(refusing)
			if err != nil {
				t.Fatal(err)
			}
			defer bad.Close()
			for _, srv := range []*smtptest.Sink{sink, bad} {
				r, err := email.ParseRelayURL(srv.URL() + "&connections=1")
				if err != nil {
					t.Fatal(err)
				}
				r.Timeout = 5 * time.Second
				pool, err := email.NewPool(r, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer pool.Close()
				for i := range 3 {
					reply, err := pool.Send(context.Background(), "bounce@acme.test", "ada@example.com", parts...)
					if srv == bad {
						var se *email.SendError
						if !errors.As(err, &se) || se.Temporary || se.Code != 550 || se.Status != "5.1.1" || !strings.Contains(se.Reply, "no such user") {
							t.Fatalf("send %d to a refusing server: %v (%#v); want a permanent 550 5.1.1", i, err, se)
						}
						continue
					}
					if err != nil || !strings.Contains(reply, "queued as S") {
						t.Fatalf("send %d: %q, %v", i, reply, err)
					}
				}
			}
			got := sink.Messages()
			if len(got) != 3 {
				t.Fatalf("server got %d messages; want 3", len(got))
			}
			for _, m := range got {
				if string(m) != want {
					t.Errorf("server got\n%q\nwant\n%q", m, want)
				}
			}
		})
	}
}

func TestSendRefusesLineBreaksInAddresses(t *testing.T) {
	srv := newServer(t)
	pool := newPool(t, srv, "")
	for _, addr := range []string{"a@b.test\r\nRCPT TO:<x@y.test>", "a@b.test>", "<a@b.test"} {
		_, err := pool.Send(context.Background(), addr, "ada@example.com", []byte("Subject: x\r\n\r\nx\r\n"))
		var se *email.SendError
		if !errors.As(err, &se) || se.Temporary {
			t.Errorf("from %q: %v; want a permanent error", addr, err)
		}
		_, err = pool.Send(context.Background(), "bounce@acme.test", addr, []byte("Subject: x\r\n\r\nx\r\n"))
		if !errors.As(err, &se) || se.Temporary {
			t.Errorf("to %q: %v; want a permanent error", addr, err)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("server got %d messages; want none", n)
	}
}
