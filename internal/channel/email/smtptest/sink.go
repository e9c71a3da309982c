package smtptest

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Sink is a minimal SMTP server for benchmarks: it speaks enough of RFC
// 5321 for a client to deliver (EHLO/HELO, MAIL, RCPT, DATA, BDAT, RSET,
// NOOP, QUIT), with PIPELINING and CHUNKING as Postfix offers them, reads
// each message to its end and throws it away, counting. Its own cost per
// message is a small fraction of Server's, so a benchmark measures the
// sender rather than the test's server.
type Sink struct {
	opts  SinkOptions
	ln    net.Listener
	count atomic.Int64
	wg    sync.WaitGroup
	mu    sync.Mutex
	kept  [][]byte
}

// SinkOptions change what a Sink offers and does.
type SinkOptions struct {
	NoPipelining bool // do not offer PIPELINING (RFC 2920)
	NoChunking   bool // do not offer CHUNKING (BDAT, RFC 3030)
	// Keep keeps each message's content, as the client meant it (DATA's
	// dot-stuffing undone), for Messages.
	Keep bool
	// RefuseRcpt, when set, is the reply to every RCPT ("550 5.1.1 no such user").
	RefuseRcpt string
}

// StartSink listens on a free loopback port, offering PIPELINING and CHUNKING.
func StartSink() (*Sink, error) { return StartSinkWith(SinkOptions{}) }

// StartSinkWith is StartSink with options.
func StartSinkWith(o SinkOptions) (*Sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Sink{ln: ln, opts: o}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() { s.serve(c) })
		}
	})
	return s, nil
}

// URL is an smtp:// URL for the sink, without TLS.
func (s *Sink) URL() string { return "smtp://" + s.ln.Addr().String() + "?tls=none" }

// Count is how many messages were accepted.
func (s *Sink) Count() int64 { return s.count.Load() }

// Messages are the messages accepted, when the sink keeps them.
func (s *Sink) Messages() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.kept)
}

// Close stops accepting; open sessions end when their clients quit.
func (s *Sink) Close() { s.ln.Close() }

func (s *Sink) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriter(c)
	// Replies wait in w while the client's pipelined commands are still
	// in r, and go out together (RFC 2920 §3.2 lets a server do this).
	reply := func(line string) bool {
		w.WriteString(line + "\r\n")
		if r.Buffered() > 0 {
			return true
		}
		return w.Flush() == nil
	}
	accept := func(msg []byte) bool {
		if s.opts.Keep {
			s.mu.Lock()
			s.kept = append(s.kept, msg)
			s.mu.Unlock()
		}
		return reply("250 2.0.0 queued as S" + strconv.FormatInt(s.count.Add(1), 10))
	}
	if !reply("220 localhost ESMTP sink") {
		return
	}
	rcpt := false
	var chunks []byte
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(string(bytes.TrimSpace(line)))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			w.WriteString("250-localhost\r\n250-8BITMIME\r\n")
			if !s.opts.NoPipelining {
				w.WriteString("250-PIPELINING\r\n")
			}
			if !s.opts.NoChunking {
				w.WriteString("250-CHUNKING\r\n")
			}
			if !reply("250 SIZE 10485760") {
				return
			}
		case strings.HasPrefix(cmd, "RCPT") && s.opts.RefuseRcpt != "":
			if !reply(s.opts.RefuseRcpt) {
				return
			}
		case strings.HasPrefix(cmd, "RCPT"):
			rcpt = true
			if !reply("250 ok") {
				return
			}
		case strings.HasPrefix(cmd, "HELO"), strings.HasPrefix(cmd, "MAIL"),
			strings.HasPrefix(cmd, "RSET"), strings.HasPrefix(cmd, "NOOP"):
			rcpt, chunks = false, nil
			if !reply("250 ok") {
				return
			}
		case cmd == "DATA" && !rcpt:
			if !reply("503 5.5.1 no valid recipients") {
				return
			}
		case cmd == "DATA":
			if !reply("354 go ahead") {
				return
			}
			var msg []byte
			for midLine := false; ; {
				l, err := r.ReadSlice('\n')
				if err == bufio.ErrBufferFull {
					if s.opts.Keep {
						msg = append(msg, l...)
					}
					midLine = true // the rest of a long line comes next
					continue
				}
				if err != nil {
					return
				}
				if !midLine && (string(l) == ".\r\n" || string(l) == ".\n") {
					break
				}
				if s.opts.Keep {
					if !midLine && len(l) > 0 && l[0] == '.' {
						l = l[1:]
					}
					msg = append(msg, l...)
				}
				midLine = false
			}
			rcpt = false
			if !accept(msg) {
				return
			}
		case strings.HasPrefix(cmd, "BDAT") && !s.opts.NoChunking:
			f := strings.Fields(cmd)
			if len(f) < 2 {
				return // the chunk cannot be skipped: drop the session
			}
			size, err := strconv.ParseUint(f[1], 10, 31)
			if err != nil {
				return
			}
			last := len(f) == 3 && f[2] == "LAST"
			if s.opts.Keep {
				chunk := make([]byte, size)
				if _, err := io.ReadFull(r, chunk); err != nil {
					return
				}
				chunks = append(chunks, chunk...)
			} else if _, err := r.Discard(int(size)); err != nil {
				return
			}
			switch {
			case !rcpt:
				chunks = nil
				if !reply("503 5.5.1 no valid recipients") {
					return
				}
			case last:
				msg := chunks
				rcpt, chunks = false, nil
				if !accept(msg) {
					return
				}
			default:
				if !reply("250 2.0.0 chunk received") {
					return
				}
			}
		case cmd == "QUIT":
			w.WriteString("221 bye\r\n")
			w.Flush()
			return
		default:
			if !reply("502 not implemented") {
				return
			}
		}
	}
}
