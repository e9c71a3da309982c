package email

import (
	"bufio"
	"bytes"
	"cmp"
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

// send runs one SMTP transaction on an open session. When the server
// offers PIPELINING (RFC 2920) the commands go together: with CHUNKING (RFC
// 3030) the whole message is one write and one round trip (MAIL, RCPT, BDAT
// with the data), otherwise two (MAIL, RCPT, DATA; then the data). Data is
// written as it is, dot-stuffed for DATA; lines must end in CRLF, as
// Builder's do (a bare LF is sent as CRLF).
func (p *Pool) send(sess *smtp.Client, from, to string, data [][]byte) (string, error) {
	if strings.ContainsAny(from, "\r\n<>") || strings.ContainsAny(to, "\r\n<>") {
		return "", &SendError{Reply: "an address contains a line break or angle bracket"}
	}
	if err := sess.UpdateDeadline(p.relay.Timeout); err != nil {
		return "", err
	}
	x := &txn{t: sess.Text}
	x.pipelining, _ = sess.Extension("PIPELINING")
	chunking, _ := sess.Extension("CHUNKING")
	params := ""
	if ok, _ := sess.Extension("SMTPUTF8"); ok && !isASCII(from+to) {
		params = " SMTPUTF8"
	}
	if err := x.command(250, "MAIL FROM:<%s>%s", from, params); err != nil || x.refused != nil {
		return "", cmp.Or(err, x.refused)
	}
	if err := x.command(25, "RCPT TO:<%s>", to); err != nil || x.refused != nil { // 250 or 251
		return "", cmp.Or(err, x.refused)
	}
	if chunking {
		data = crlf(data)
		size := 0
		for _, d := range data {
			size += len(d)
		}
		fmt.Fprintf(x.t.W, "BDAT %d LAST\r\n", size)
		for _, d := range data {
			x.t.W.Write(d)
		}
		x.pending = append(x.pending, 250)
	} else {
		x.pending = append(x.pending, 354)
		fmt.Fprintf(x.t.W, "DATA\r\n")
		if err := x.read(); err != nil || x.refused != nil {
			return "", cmp.Or(err, x.refused)
		}
		writeStuffed(x.t.W, data)
		x.pending = append(x.pending, 250)
	}
	if err := x.read(); err != nil || x.refused != nil {
		return "", cmp.Or(err, x.refused)
	}
	return x.reply, nil
}

// txn is one SMTP transaction's commands and the replies they wait for.
type txn struct {
	t          *textproto.Conn
	pipelining bool
	pending    []int  // the reply codes expected to what was written, in order
	refused    error  // the first refusal; replies after it are read and dropped
	reply      string // the text of the last good reply
}

// command writes a command; without pipelining it reads the reply at once.
func (x *txn) command(code int, format string, args ...any) error {
	fmt.Fprintf(x.t.W, format+"\r\n", args...)
	x.pending = append(x.pending, code)
	if x.pipelining {
		return nil
	}
	return x.read()
}

// read flushes what was written and reads the replies pending. The error
// it returns is a broken connection; a refusal is kept in x.refused. A 354
// after an earlier refusal is answered with an empty message's end, so the
// session stays in step for RSET.
func (x *txn) read() error {
	if err := x.t.W.Flush(); err != nil {
		return err
	}
	pending := x.pending
	x.pending = x.pending[:0]
	for _, code := range pending {
		_, msg, err := x.t.ReadResponse(code)
		var te *textproto.Error
		switch {
		case err == nil:
			x.reply = msg
			if code == 354 && x.refused != nil {
				x.t.W.WriteString(".\r\n")
				if err := x.t.W.Flush(); err != nil {
					return err
				}
				if _, _, err := x.t.ReadResponse(0); err != nil && !errors.As(err, &te) {
					return err
				}
			}
		case errors.As(err, &te):
			if x.refused == nil {
				x.refused = err
			}
		default:
			return err
		}
	}
	return nil
}

// writeStuffed writes data as DATA's content (RFC 5321 §4.5.2): lines end
// in CRLF, a line that starts with a dot gets another, and the end is a
// line holding one dot.
func writeStuffed(w *bufio.Writer, data [][]byte) {
	lineStart := true
	for _, d := range crlf(data) {
		for len(d) > 0 {
			if lineStart && d[0] == '.' {
				w.WriteByte('.')
			}
			// Up to the next line that starts with a dot, in one write.
			i := bytes.Index(d, []byte("\n."))
			if i < 0 {
				w.Write(d)
				lineStart = d[len(d)-1] == '\n'
				break
			}
			w.Write(d[:i+1])
			d, lineStart = d[i+1:], true
		}
	}
	w.WriteString(".\r\n")
}

// writeLines writes data with every line ending in CRLF.
func writeLines(w *bufio.Writer, data [][]byte) {
	lineStart := true
	last := byte('\n')
	for _, d := range data {
		for len(d) > 0 {
			i := bytes.IndexByte(d, '\n')
			if i < 0 {
				w.Write(d)
				last, lineStart = d[len(d)-1], false
				break
			}
			if i > 0 && d[i-1] == '\r' || i == 0 && last == '\r' {
				w.Write(d[:i+1])
			} else {
				w.Write(d[:i])
				w.WriteString("\r\n")
			}
			last, lineStart = '\n', true
			d = d[i+1:]
		}
	}
	if !lineStart {
		w.WriteString("\r\n")
	}
}

// crlf is data with every line ending in CRLF, the last one included: data
// itself when it is so already (Builder's messages are), a copy otherwise.
func crlf(data [][]byte) [][]byte {
	clean := true
	last := byte('\n')
	for _, d := range data {
		for i := 0; clean && i < len(d); {
			j := bytes.IndexByte(d[i:], '\n')
			if j < 0 {
				break
			}
			if i+j > 0 && d[i+j-1] != '\r' || i+j == 0 && last != '\r' {
				clean = false
			}
			i += j + 1
		}
		if len(d) > 0 {
			last = d[len(d)-1]
		}
	}
	if clean && last == '\n' {
		return data
	}
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	writeLines(w, data)
	w.Flush()
	return [][]byte{b.Bytes()}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
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
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
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
