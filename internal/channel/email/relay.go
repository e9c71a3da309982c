// Package email sends email over SMTP: relays read from URLs, messages built
// as MIME with their compliance headers and a DKIM signature, and a pool of
// reused connections per relay held to the relay's rate limits.
package email

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TLS modes of a relay.
const (
	TLSNone     = "none"     // plain text: loopback and trusted networks only
	TLSStartTLS = "starttls" // STARTTLS required
	TLSImplicit = "tls"      // TLS from the first byte (smtps://, port 465)
)

// Relay is an SMTP server Nurture hands messages to.
type Relay struct {
	Name     string `json:"name"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	TLS      string `json:"tls"`
	Username string `json:"username,omitempty"`
	Password string `json:"-"`
	// PerSecond and PerHour cap the messages handed to the relay; 0 means no cap.
	PerSecond float64 `json:"per_second,omitempty"`
	PerHour   int     `json:"per_hour,omitempty"`
	// Connections is how many SMTP connections send at once (default 4).
	Connections int `json:"connections,omitempty"`
	// Timeout bounds each SMTP exchange (default 30 s).
	Timeout time.Duration `json:"-"`
}

// Limits on a relay's settings.
const (
	MaxConnections = 64
	DefaultConns   = 4
	DefaultTimeout = 30 * time.Second
)

// ParseRelayURL reads smtp://user:pass@host:port?tls=none|starttls or
// smtps://user:pass@host:port. smtp:// defaults to STARTTLS on port 587;
// smtps:// to port 465. Query parameters: tls, per_second, per_hour,
// connections.
func ParseRelayURL(raw string) (Relay, error) {
	var r Relay
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return r, fmt.Errorf("SMTP URL: %w", errors.Unwrap(err))
	}
	switch u.Scheme {
	case "smtp":
		r.TLS, r.Port = TLSStartTLS, 587
	case "smtps":
		r.TLS, r.Port = TLSImplicit, 465
	default:
		return r, errors.New("SMTP URL must start with smtp:// or smtps://")
	}
	if u.Opaque != "" || u.Host == "" {
		return r, errors.New("SMTP URL needs a host: smtp://host:port")
	}
	if u.Path != "" && u.Path != "/" {
		return r, errors.New("SMTP URL takes no path")
	}
	r.Host = u.Hostname()
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return r, fmt.Errorf("SMTP URL port %q is not a port number", p)
		}
		r.Port = n
	}
	if u.User != nil {
		r.Username = u.User.Username()
		r.Password, _ = u.User.Password()
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "tls", "per_second", "per_hour", "connections":
		default:
			return r, fmt.Errorf("SMTP URL parameter %q is unknown (tls, per_second, per_hour, connections)", k)
		}
	}
	if v := q.Get("tls"); v != "" {
		if u.Scheme == "smtps" && v != TLSImplicit {
			return r, errors.New("smtps:// is always TLS; use smtp:// with tls=" + v)
		}
		r.TLS = v
	}
	if v := q.Get("per_second"); v != "" {
		if r.PerSecond, err = strconv.ParseFloat(v, 64); err != nil {
			return r, fmt.Errorf("SMTP URL per_second %q is not a number", v)
		}
	}
	if v := q.Get("per_hour"); v != "" {
		if r.PerHour, err = strconv.Atoi(v); err != nil {
			return r, fmt.Errorf("SMTP URL per_hour %q is not a whole number", v)
		}
	}
	if v := q.Get("connections"); v != "" {
		if r.Connections, err = strconv.Atoi(v); err != nil {
			return r, fmt.Errorf("SMTP URL connections %q is not a whole number", v)
		}
	}
	return r, r.Check()
}

// Check validates a relay and fills its defaults.
func (r *Relay) Check() error {
	switch r.TLS {
	case TLSNone, TLSStartTLS, TLSImplicit:
	case "":
		r.TLS = TLSStartTLS
	default:
		return fmt.Errorf("tls must be none, starttls or tls, not %q", r.TLS)
	}
	if r.Host == "" || len(r.Host) > 253 || strings.ContainsAny(r.Host, " /\\@") {
		return errors.New("host is missing or not a host name")
	}
	if net.ParseIP(r.Host) == nil && strings.Trim(r.Host, ".-") == "" {
		return errors.New("host is not a host name")
	}
	if r.Port < 1 || r.Port > 65535 {
		return fmt.Errorf("port %d is not a port number", r.Port)
	}
	if r.PerSecond < 0 || r.PerSecond > 1e6 || r.PerSecond != r.PerSecond {
		return errors.New("per_second must be between 0 (no cap) and 1,000,000")
	}
	if r.PerHour < 0 {
		return errors.New("per_hour must be 0 (no cap) or more")
	}
	if r.Connections == 0 {
		r.Connections = DefaultConns
	}
	if r.Connections < 1 || r.Connections > MaxConnections {
		return fmt.Errorf("connections must be between 1 and %d", MaxConnections)
	}
	if r.Timeout <= 0 {
		r.Timeout = DefaultTimeout
	}
	if r.Password != "" && r.Username == "" {
		return errors.New("a password needs a user name")
	}
	if r.Name == "" {
		r.Name = "default"
	}
	return nil
}

// Addr is host:port.
func (r Relay) Addr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }
