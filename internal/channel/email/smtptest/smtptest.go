// Package smtptest runs a real SMTP server on loopback for tests: it
// records what it receives and can refuse recipients or drop sessions on
// demand.
package smtptest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emersion/go-smtp"
)

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	Data []byte
}

// Server is an SMTP server on 127.0.0.1.
type Server struct {
	srv      *smtp.Server
	ln       net.Listener
	mu       sync.Mutex
	msgs     []Message
	refuse   map[string]*smtp.SMTPError // recipient → the reply RCPT gets
	drops    int                        // sessions to drop at DATA
	keep     bool                       // keep message bodies (off: count only)
	count    atomic.Int64
	sessions atomic.Int64
	notify   chan struct{}
}

// Start listens on a free loopback port and serves until Close.
func Start() (*Server, error) { return StartTLS(nil, false) }

// StartTLS is Start with TLS: STARTTLS offered with cfg, or, when implicit,
// TLS from the first byte (smtps).
func StartTLS(cfg *tls.Config, implicit bool) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if cfg != nil && implicit {
		ln = tls.NewListener(ln, cfg)
	}
	s := &Server{ln: ln, refuse: map[string]*smtp.SMTPError{}, keep: true, notify: make(chan struct{}, 1)}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.sessions.Add(1)
		return &session{s: s, conn: c}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.MaxRecipients = 100
	if cfg != nil && !implicit {
		s.srv.TLSConfig = cfg
	}
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Addr is host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port is the port number.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// URL is an smtp:// URL for the server, without TLS.
func (s *Server) URL() string { return "smtp://" + s.Addr() + "?tls=none" }

// Discard makes the server count messages without keeping them (for benchmarks).
func (s *Server) Discard() { s.mu.Lock(); s.keep = false; s.mu.Unlock() }

// Refuse makes RCPT TO:<addr> answer code (4xx or 5xx) with text.
func (s *Server) Refuse(addr string, code int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	enh := smtp.EnhancedCode{code / 100, 0, 0}
	s.refuse[strings.ToLower(addr)] = &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: text}
}

// Accept undoes Refuse.
func (s *Server) Accept(addr string) {
	s.mu.Lock()
	delete(s.refuse, strings.ToLower(addr))
	s.mu.Unlock()
}

// DropNext makes the server close the connection of the next n messages
// after reading their data, before accepting them.
func (s *Server) DropNext(n int) { s.mu.Lock(); s.drops += n; s.mu.Unlock() }

// Messages returns what was received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Count is how many messages were accepted.
func (s *Server) Count() int64 { return s.count.Load() }

// Sessions is how many SMTP sessions were opened.
func (s *Server) Sessions() int64 { return s.sessions.Load() }

// Received is signalled (without blocking) after each accepted message.
func (s *Server) Received() <-chan struct{} { return s.notify }

type session struct {
	s    *Server
	conn *smtp.Conn
	from string
	to   []string
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	e := x.s.refuse[strings.ToLower(to)]
	x.s.mu.Unlock()
	if e != nil {
		return e
	}
	x.to = append(x.to, to)
	return nil
}

// errDropped makes go-smtp close the connection.
var errDropped = errors.New("connection dropped by test")

func (x *session) Data(r io.Reader) error {
	x.s.mu.Lock()
	drop := x.s.drops > 0
	if drop {
		x.s.drops--
	}
	keep := x.s.keep
	x.s.mu.Unlock()
	var buf bytes.Buffer
	if keep {
		if _, err := io.Copy(&buf, r); err != nil {
			return err
		}
	} else if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	if drop {
		x.conn.Close()
		return errDropped
	}
	n := x.s.count.Add(1)
	if keep {
		x.s.mu.Lock()
		x.s.msgs = append(x.s.msgs, Message{From: x.from, To: x.to, Data: buf.Bytes()})
		x.s.mu.Unlock()
	}
	select {
	case x.s.notify <- struct{}{}:
	default:
	}
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "queued as T" + strconv.FormatInt(n, 10)}
}
