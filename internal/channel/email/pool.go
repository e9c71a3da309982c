package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/textproto"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
	"golang.org/x/time/rate"
)

// SendError is a failed delivery to the relay.
type SendError struct {
	// Temporary failures (4xx replies, timeouts, dropped connections) are
	// worth retrying; permanent ones (5xx) are not.
	Temporary bool
	Code      int    // the SMTP reply code, 0 when there was none
	Status    string // the enhanced status code ("5.1.1"), when given
	Reply     string // what went wrong, with the server's reply text
}

func (e *SendError) Error() string { return e.Reply }

// Pool sends through one relay: up to Connections SMTP sessions kept open
// and reused, messages held to the relay's rate limits. Memory does not grow
// with the rate: a caller waits for a free session.
type Pool struct {
	relay   Relay
	client  *gomail.Client
	idle    chan *smtp.Client // open sessions not in use
	slots   chan struct{}     // one token per session that may exist
	perSec  *rate.Limiter
	perHour *rate.Limiter
	mu      sync.Mutex
	closed  bool
}

// NewPool prepares a pool for r; it connects on first use.
func NewPool(r Relay, tlsConfig *tls.Config) (*Pool, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	opts := []gomail.Option{
		gomail.WithPort(r.Port), gomail.WithTimeout(r.Timeout),
		gomail.WithoutNoop(), // a dead session shows itself on MAIL FROM; NOOP would cost a round trip per message
		gomail.WithHELO("localhost"),
	}
	if tlsConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(tlsConfig))
	}
	switch r.TLS {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	}
	if r.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(r.Username), gomail.WithPassword(r.Password))
	}
	c, err := gomail.NewClient(r.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("relay %s: %w", r.Name, err)
	}
	p := &Pool{relay: r, client: c, idle: make(chan *smtp.Client, r.Connections), slots: make(chan struct{}, r.Connections)}
	for range r.Connections {
		p.slots <- struct{}{}
	}
	if r.PerSecond > 0 {
		burst := max(1, int(r.PerSecond))
		p.perSec = rate.NewLimiter(rate.Limit(r.PerSecond), burst)
	}
	if r.PerHour > 0 {
		// A minute's worth may go at once; over any hour at most PerHour
		// plus that minute's burst leave.
		p.perHour = rate.NewLimiter(rate.Limit(float64(r.PerHour)/3600), max(1, r.PerHour/60))
	}
	return p, nil
}

// Relay is the pool's relay.
func (p *Pool) Relay() Relay { return p.relay }

// Send hands one message to the relay and returns the server's reply to
// its data ("250 2.0.0 Ok: queued as …"). The message is data's parts one
// after the other (a signature, then the body). Errors are *SendError
// unless ctx ended first.
func (p *Pool) Send(ctx context.Context, from, to string, data ...[]byte) (string, error) {
	for _, l := range []*rate.Limiter{p.perSec, p.perHour} {
		if l != nil {
			if err := l.Wait(ctx); err != nil {
				return "", err
			}
		}
	}
	sess, err := p.acquire(ctx)
	if err != nil {
		return "", err
	}
	reply, err := p.send(sess, from, to, data)
	if err == nil {
		p.release(sess, true)
		return reply, nil
	}
	se := classify(err)
	healthy := se.Code != 0
	if healthy {
		// After a refusal the session is reset for the next message.
		healthy = sess.Reset() == nil
	}
	p.release(sess, healthy)
	return "", se
}

// send runs one SMTP transaction on an open session.
func (p *Pool) send(sess *smtp.Client, from, to string, data [][]byte) (string, error) {
	if err := sess.UpdateDeadline(p.relay.Timeout); err != nil {
		return "", err
	}
	if err := sess.Mail(from); err != nil {
		return "", err
	}
	if err := sess.Rcpt(to); err != nil {
		return "", err
	}
	w, err := sess.Data()
	if err != nil {
		return "", err
	}
	for _, d := range data {
		if _, err := w.Write(d); err != nil {
			return "", err
		}
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	if dc, ok := w.(*smtp.DataCloser); ok {
		return dc.ServerResponse(), nil
	}
	return "", nil
}

// acquire takes an idle session, or opens one if the pool is not full.
func (p *Pool) acquire(ctx context.Context) (*smtp.Client, error) {
	select {
	case s := <-p.idle:
		return s, nil
	default:
	}
	select {
	case s := <-p.idle:
		return s, nil
	case <-p.slots:
		dctx, cancel := context.WithTimeout(ctx, p.relay.Timeout)
		defer cancel()
		s, err := p.client.DialToSMTPClientWithContext(dctx)
		if err != nil {
			p.slots <- struct{}{}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, &SendError{Temporary: true, Reply: "connect to " + p.relay.Addr() + ": " + err.Error()}
		}
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *Pool) release(s *smtp.Client, healthy bool) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if healthy && !closed {
		p.idle <- s
		return
	}
	_ = s.Close()
	p.slots <- struct{}{}
}

// Close ends the idle sessions politely (QUIT). Sends after Close open new
// sessions and close them after use.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for {
		select {
		case s := <-p.idle:
			_ = s.Quit()
			_ = s.Close()
			p.slots <- struct{}{}
		default:
			return
		}
	}
}

// classify turns SMTP errors into SendError: a reply code says which kind
// it is; no reply means the connection failed, which is temporary.
func classify(err error) *SendError {
	var te *textproto.Error
	if errors.As(err, &te) {
		se := &SendError{Code: te.Code, Temporary: te.Code < 500, Reply: bounded(fmt.Sprintf("%d %s", te.Code, te.Msg))}
		if st, _, ok := strings.Cut(te.Msg, " "); ok && len(st) >= 5 && st[1] == '.' && (st[0] == '4' || st[0] == '5') {
			se.Status = st
		}
		return se
	}
	return &SendError{Temporary: true, Reply: bounded(err.Error())}
}

func bounded(s string) string {
	const max = 1000
	if len(s) > max {
		s = s[:max]
	}
	return strings.TrimSpace(s)
}

// Timeout is how long one relay exchange may take, for callers sizing leases.
func (p *Pool) Timeout() time.Duration { return p.relay.Timeout }
