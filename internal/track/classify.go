package track

import (
	"net/netip"
	"strings"
	"time"
)

// Hit is one request for an open pixel or a tracked link.
type Hit struct {
	Kind      Kind // KindOpen or KindClick
	UserAgent string
	IP        netip.Addr
	Method    string
	At        time.Time // when the request came
	SentAt    time.Time // when the message was sent; zero if unknown
	// PriorHits counts the opens and clicks already recorded for the
	// message; FirstHitAt is when the first of them came (zero if none).
	PriorHits  int
	FirstHitAt time.Time
}

// Verdict says whether a hit was made by a machine rather than a person,
// and by which rule.
type Verdict struct {
	Machine bool
	Reason  string // one of the Reason constants; empty for a person
}

// The reasons a hit is taken for a machine's.
const (
	ReasonHead        = "head-request"
	ReasonNoUserAgent = "no-user-agent"
	ReasonGoogleProxy = "google-image-proxy"
	ReasonYahooProxy  = "yahoo-proxy"
	ReasonAppleMPP    = "apple-mpp"
	ReasonLinkScanner = "link-scanner"
	ReasonBot         = "bot"
	ReasonTooFast     = "too-fast"
	ReasonBurst       = "burst"
)

// Time limits of the timing rules.
const (
	TooFastClick = 10 * time.Second // a click this soon after sending is a scanner's
	TooFastOpen  = 2 * time.Second  // an open this soon after sending is a proxy's
	BurstWindow  = 2 * time.Second  // clicks this close to a message's first hit
	BurstHits    = 2                // hits before this one for a burst
)

// Classify tells a machine's open or click from a person's. The rules are
// tried in this order and the first that matches gives the reason; a hit
// no rule matches is a person's. User-Agent matches ignore case.
//
//	rule                                                      applies to  reason
//	HTTP method is HEAD                                       both        head-request
//	User-Agent empty or blank                                 both        no-user-agent
//	User-Agent has "GoogleImageProxy" or "via ggpht.com"      both        google-image-proxy
//	User-Agent has "YahooMailProxy"                           both        yahoo-proxy
//	User-Agent is exactly "Mozilla/5.0", with no other token  opens       apple-mpp
//	IP in Apple's own ranges: 17.0.0.0/8, 2620:149::/32,      opens       apple-mpp
//	  2a01:b740::/32, 2403:300::/32
//	User-Agent names a mail security gateway: Barracuda,      both        link-scanner
//	  Mimecast, Proofpoint, Symantec, Trend Micro, IronPort,
//	  Forcepoint, or is Microsoft Office's "Existence
//	  Discovery" / "Protocol Discovery" link check
//	User-Agent of an HTTP library, headless browser, crawler  both        bot
//	  or link preview: python-requests, python-urllib,
//	  aiohttp, curl, Wget, Go-http-client, Java, okhttp,
//	  libwww-perl, node-fetch, axios, HeadlessChrome,
//	  PhantomJS, facebookexternalhit, WhatsApp, or a
//	  "bot" (not "Cubot", a phone maker), "crawler",
//	  "spider" or "preview"
//	a click less than 10 s after the message was sent         clicks      too-fast
//	an open less than 2 s after the message was sent          opens       too-fast
//	a click with at least 2 hits before it, less than 2 s     clicks      burst
//	  after the message's first hit
//
// What these rules leave out, on purpose:
//
//   - iCloud Private Relay's egress ranges. Apple publishes them, but they
//     are shared with people browsing in Safari, so a click from one is
//     usually a person's. Mail Privacy Protection's fetches of images are
//     caught by their bare User-Agent and Apple's own ranges instead.
//   - Outlook on Windows. Its opens carry "Microsoft Office/16.0 …
//     Microsoft Outlook" or an old MSIE string with "ms-office"; both are a
//     person reading the message and count as human.
//   - Microsoft Defender Safe Links. Its checks have no User-Agent of their
//     own; the timing rules catch most of them.
//   - The first two hits of a burst, which come before anything looks
//     wrong. A caller that wants them too can reclassify a message's hits
//     once a burst is seen.
func Classify(h Hit) Verdict {
	ua := strings.TrimSpace(h.UserAgent)
	lua := strings.ToLower(ua)
	open := h.Kind == KindOpen
	click := h.Kind == KindClick
	machine := func(reason string) Verdict { return Verdict{Machine: true, Reason: reason} }
	switch {
	case strings.EqualFold(h.Method, "HEAD"):
		return machine(ReasonHead)
	case ua == "":
		return machine(ReasonNoUserAgent)
	case strings.Contains(lua, "googleimageproxy") || strings.Contains(lua, "via ggpht.com"):
		return machine(ReasonGoogleProxy)
	case strings.Contains(lua, "yahoomailproxy"):
		return machine(ReasonYahooProxy)
	case open && (ua == "Mozilla/5.0" || appleNetwork(h.IP)):
		return machine(ReasonAppleMPP)
	case containsAny(lua, scanners):
		return machine(ReasonLinkScanner)
	case containsAny(lua, bots) || hasBot(lua):
		return machine(ReasonBot)
	}
	if !h.SentAt.IsZero() && !h.At.IsZero() {
		d := h.At.Sub(h.SentAt)
		if (click && d < TooFastClick) || (open && d < TooFastOpen) {
			return machine(ReasonTooFast)
		}
	}
	if click && h.PriorHits >= BurstHits && !h.FirstHitAt.IsZero() && h.At.Sub(h.FirstHitAt) < BurstWindow {
		return machine(ReasonBurst)
	}
	return Verdict{}
}

// scanners are the mail security gateways that fetch every link of a
// message before (or instead of) its reader, lower-cased.
var scanners = []string{
	"barracuda",
	"mimecast",
	"proofpoint",
	"symantec",
	"trend micro",
	"trendmicro",
	"ironport",
	"forcepoint",
	"microsoft office existence discovery",
	"microsoft office protocol discovery",
}

// bots are HTTP libraries, headless browsers, crawlers and link previews,
// lower-cased. "bot" is matched apart, by hasBot.
var bots = []string{
	"python-requests",
	"python-urllib",
	"aiohttp",
	"curl/",
	"wget/",
	"go-http-client",
	"java/",
	"okhttp",
	"libwww-perl",
	"node-fetch",
	"axios/",
	"headlesschrome",
	"phantomjs",
	"facebookexternalhit",
	"whatsapp/",
	"crawler",
	"spider",
	"preview",
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// hasBot reports whether a lower-cased User-Agent has "bot" in it other
// than in "cubot", a maker of Android phones whose name is in their
// browsers' User-Agent.
func hasBot(ua string) bool {
	for i := 0; ; {
		j := strings.Index(ua[i:], "bot")
		if j < 0 {
			return false
		}
		i += j
		if !strings.HasSuffix(ua[:i], "cu") {
			return true
		}
		i += len("bot")
	}
}

// appleNetwork reports whether ip is in a range Apple owns and Mail
// Privacy Protection fetches from: 17.0.0.0/8, which Apple has held since
// 1990, and Apple's IPv6 allocations from ARIN, RIPE and APNIC.
func appleNetwork(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range applePrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

var applePrefixes = []netip.Prefix{
	netip.MustParsePrefix("17.0.0.0/8"),
	netip.MustParsePrefix("2620:149::/32"),
	netip.MustParsePrefix("2a01:b740::/32"),
	netip.MustParsePrefix("2403:300::/32"),
}
