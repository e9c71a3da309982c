package webhook

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Delivery headers besides Header.
const (
	DeliveryHeader = "Nurture-Delivery" // the delivery's id: the same on every retry, for the receiver to drop repeats
	EventHeader    = "Nurture-Event"    // the event type, for routing without reading the body
)

// Limits.
const (
	MaxURL       = 2048     // longest subscriber URL
	MaxReplyBody = 1 << 10  // of a reply's body, kept in Result.Body
	maxDrain     = 64 << 10 // read past MaxReplyBody so the connection can be reused; beyond it, closed
)

// DefaultUserAgent is sent when Client.UserAgent is empty.
const DefaultUserAgent = "Nurture-Webhook/1"

// Client delivers webhooks. Its zero value is not usable: Clock is needed.
type Client struct {
	// HTTP sends the requests; nil means http.DefaultTransport. Its
	// CheckRedirect is overridden: redirects are never followed. Use
	// PublicTransport to refuse private and loopback addresses.
	HTTP *http.Client
	// Clock gives the time of signing and measures Result.Duration.
	Clock     func() time.Time
	UserAgent string
}

// Delivery is one webhook to send.
type Delivery struct {
	URL    string
	Secret []byte
	Body   []byte // JSON
	ID     string // sent as Nurture-Delivery when not empty
	Event  string // sent as Nurture-Event when not empty
}

// Result is what the subscriber answered. Status is 0 when there was no
// answer.
type Result struct {
	Status   int
	Body     string // the first MaxReplyBody bytes of the reply, made valid UTF-8
	Duration time.Duration
}

// Error is a failed delivery. Permanent means retrying the same delivery
// will not help: the subscription needs fixing (or, when Gone, removing).
// Otherwise the delivery should be tried again after Backoff.
type Error struct {
	Status    int  // the reply's status; 0 when there was no reply
	Permanent bool // do not retry
	Gone      bool // 410 Gone: the subscriber asks for no more deliveries
	Err       error
}

func (e *Error) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	return "webhook delivery failed (" + kind + "): " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNotPublic is the cause of a delivery PublicTransport refused to
// connect.
var ErrNotPublic = errors.New("address is not public")

// Deliver POSTs d.Body to d.URL, signed, and reports the reply. A 2xx
// reply is success. Otherwise the error is an *Error:
//
//	reply or failure                                   error
//	410 Gone                                           permanent, Gone
//	408, 425, 429                                      temporary
//	any other 4xx                                      permanent
//	5xx                                                temporary
//	3xx                                                permanent: redirects are not followed
//	no reply: network error, timeout, ctx cancelled     temporary
//	bad URL, address refused by PublicTransport        permanent
//
// Redirects are not followed because the subscriber registered one URL:
// following would send signed events to wherever a reply points,
// including addresses the URL was never checked against, and turn a
// POST into a GET on 301 and 302. The subscriber should register the
// final URL.
//
// The time allowed is ctx's. Errors do not include the URL, which for
// many services (Slack, Discord) holds a secret.
func (c *Client) Deliver(ctx context.Context, d Delivery) (Result, error) {
	if err := CheckURL(d.URL); err != nil {
		return Result{}, &Error{Permanent: true, Err: err}
	}
	if c.Clock == nil {
		return Result{}, &Error{Permanent: true, Err: errors.New("webhook client has no clock")}
	}
	start := c.Clock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return Result{}, &Error{Permanent: true, Err: errors.New("URL does not make a request")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", cmp.Or(c.UserAgent, DefaultUserAgent))
	req.Header.Set(Header, Sign(d.Secret, start, d.Body))
	if d.ID != "" {
		req.Header.Set(DeliveryHeader, d.ID)
	}
	if d.Event != "" {
		req.Header.Set(EventHeader, d.Event)
	}

	hc := http.Client{}
	if c.HTTP != nil {
		hc = *c.HTTP // shares the transport and so its connections
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return Result{Duration: c.Clock().Sub(start)}, &Error{Permanent: errors.Is(err, ErrNotPublic), Err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxReplyBody))
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	res := Result{
		Status:   resp.StatusCode,
		Body:     strings.ToValidUTF8(string(body), "\uFFFD"),
		Duration: c.Clock().Sub(start),
	}
	return res, statusError(resp)
}

// statusError classifies a reply; nil for 2xx.
func statusError(resp *http.Response) error {
	s := resp.StatusCode
	e := &Error{Status: s, Err: fmt.Errorf("subscriber answered %s", resp.Status)}
	switch {
	case s >= 200 && s < 300:
		return nil
	case s == http.StatusGone:
		e.Permanent, e.Gone = true, true
	case s == http.StatusRequestTimeout || s == http.StatusTooEarly || s == http.StatusTooManyRequests:
	case s >= 500 && s < 600:
	case s >= 300 && s < 400:
		e.Permanent = true
		e.Err = fmt.Errorf("subscriber answered %s; redirects are not followed: register the final URL", resp.Status)
	default: // other 4xx, and statuses HTTP does not define
		e.Permanent = true
	}
	return e
}

// CheckURL reports whether raw can be a subscriber URL: an absolute http
// or https URL with a host, no user name or password (secrets go in the
// signature, not the URL's user info, which logs and proxies show), and at
// most MaxURL bytes. It does not look at the address: see CheckPublicURL.
func CheckURL(raw string) error {
	if len(raw) > MaxURL {
		return fmt.Errorf("URL is %d bytes; at most %d are allowed", len(raw), MaxURL)
	}
	if raw != strings.TrimSpace(raw) || strings.ContainsAny(raw, " \t\r\n") {
		return errors.New("URL has white space in it")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("URL does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("URL must start with http:// or https://")
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return errors.New("URL has no host")
	}
	if u.User != nil {
		return errors.New("URL must not hold a user name or password")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("URL port is not between 1 and 65535")
		}
	}
	return nil
}

// CheckPublicURL is CheckURL, and also refuses a host that is an IP
// address PublicAddr refuses, or localhost. It cannot tell where a host
// name leads, which may change after the check: PublicTransport checks
// every connection.
func CheckPublicURL(raw string) error {
	if err := CheckURL(raw); err != nil {
		return err
	}
	u, _ := url.Parse(raw)
	h := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return errors.New("URL host is this machine")
	}
	if ip, err := netip.ParseAddr(h); err == nil && !PublicAddr(ip) {
		return fmt.Errorf("URL host: %w", ErrNotPublic)
	}
	return nil
}

// notPublic are the ranges beside those netip classifies (loopback,
// private, link-local, multicast, unspecified) that are not the public
// internet.
var notPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: reaches IPv4 addresses, private ones too
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2002::/16"),      // 6to4, which embeds IPv4 addresses
	netip.MustParsePrefix("100::/64"),       // discard
}

// PublicAddr reports whether ip is an address on the public internet:
// not loopback, private (RFC 1918, fc00::/7), link-local (which holds
// cloud metadata services), multicast, unspecified, carrier-grade NAT or
// reserved.
func PublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range notPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// PublicTransport returns a transport like http.DefaultTransport that
// connects only to public addresses (PublicAddr), checked on the address
// actually dialled, after DNS, so that a host name that resolves, or later
// re-resolves, to a private address is refused too. It uses no proxy, as
// the proxy's own address would be the one checked.
//
// Deliveries through it to such an address fail permanently with
// ErrNotPublic. A self-hosted install that posts to services on its own
// network uses the default transport instead.
func PublicTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: dialPublic}
	t.DialContext = d.DialContext
	return t
}

func dialPublic(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrNotPublic, address)
	}
	if !PublicAddr(ap.Addr()) {
		return fmt.Errorf("%w: %v", ErrNotPublic, ap.Addr())
	}
	return nil
}
