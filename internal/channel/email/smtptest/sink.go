package smtptest

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Sink is a minimal SMTP server for benchmarks: it speaks enough of RFC
// 5321 for a client to deliver (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
// QUIT), reads each message to its final "." and throws it away, counting.
// Its own cost per message is a small fraction of Server's, so a benchmark
// measures the sender rather than the test's server.
type Sink struct {
	ln    net.Listener
	count atomic.Int64
	wg    sync.WaitGroup
}

// StartSink listens on a free loopback port.
func StartSink() (*Sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Sink{ln: ln}
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

// Close stops accepting; open sessions end when their clients quit.
func (s *Sink) Close() { s.ln.Close() }

func (s *Sink) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriter(c)
	reply := func(line string) bool {
		w.WriteString(line + "\r\n")
		return w.Flush() == nil
	}
	if !reply("220 localhost ESMTP sink") {
		return
	}
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(string(bytes.TrimSpace(line)))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			w.WriteString("250-localhost\r\n250-8BITMIME\r\n250-PIPELINING\r\n")
			if !reply("250 SIZE 10485760") {
				return
			}
		case strings.HasPrefix(cmd, "HELO"), strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RCPT"),
			strings.HasPrefix(cmd, "RSET"), strings.HasPrefix(cmd, "NOOP"):
			if !reply("250 ok") {
				return
			}
		case cmd == "DATA":
			if !reply("354 go ahead") {
				return
			}
			for midLine := false; ; {
				l, err := r.ReadSlice('\n')
				if err == bufio.ErrBufferFull {
					midLine = true // the rest of a long line comes next
					continue
				}
				if err != nil {
					return
				}
				if !midLine && (string(l) == ".\r\n" || string(l) == ".\n") {
					break
				}
				midLine = false
			}
			if !reply("250 queued as S" + strconv.FormatInt(s.count.Add(1), 10)) {
				return
			}
		case cmd == "QUIT":
			reply("221 bye")
			return
		default:
			if !reply("502 not implemented") {
				return
			}
		}
	}
}
