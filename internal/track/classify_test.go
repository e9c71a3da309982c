package track

import (
	"net/netip"
	"testing"
	"time"
)

// Real User-Agents of people reading mail.
const (
	uaIPhoneMail = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
	uaMacMail    = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
	uaChrome     = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	uaOutlook    = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)"
	uaOutlookIE  = "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; WOW64; Trident/7.0; .NET4.0C; .NET4.0E; Microsoft Outlook 16.0.5422; ms-office; MSOffice 16)"
	uaFirefox    = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
	uaCubot      = "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"
	uaAndroidGm  = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	sent := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	later := sent.Add(3 * time.Hour)
	home := netip.MustParseAddr("203.0.113.7")
	// hit is a person's hit, long after sending, with changes.
	hit := func(kind Kind, change func(*Hit)) Hit {
		h := Hit{Kind: kind, UserAgent: uaChrome, IP: home, Method: "GET", At: later, SentAt: sent}
		if change != nil {
			change(&h)
		}
		return h
	}
	ua := func(s string) func(*Hit) { return func(h *Hit) { h.UserAgent = s } }
	ip := func(s string) func(*Hit) { return func(h *Hit) { h.IP = netip.MustParseAddr(s) } }
	tests := []struct {
		name string
		hit  Hit
		want string // reason; "" for a person
	}{
		// People.
		{"iPhone Mail open", hit(KindOpen, ua(uaIPhoneMail)), ""},
		{"Mac Mail open", hit(KindOpen, ua(uaMacMail)), ""},
		{"Gmail web in Chrome click", hit(KindClick, ua(uaChrome)), ""},
		{"Outlook desktop open", hit(KindOpen, ua(uaOutlook)), ""},
		{"Outlook desktop open, MSIE engine", hit(KindOpen, ua(uaOutlookIE)), ""},
		{"Firefox click", hit(KindClick, ua(uaFirefox)), ""},
		{"Cubot phone is not a bot", hit(KindClick, ua(uaCubot)), ""},
		{"Android click", hit(KindClick, ua(uaAndroidGm)), ""},
		{"click from Apple's range is a person's", hit(KindClick, ip("17.58.0.1")), ""},
		{"bare Mozilla/5.0 click is not MPP", hit(KindClick, ua("Mozilla/5.0")), ""},
		{"lowercase get", hit(KindClick, func(h *Hit) { h.Method = "get" }), ""},
		{"click 10 s after sending", hit(KindClick, func(h *Hit) { h.At = sent.Add(10 * time.Second) }), ""},
		{"open 2 s after sending", hit(KindOpen, func(h *Hit) { h.At = sent.Add(2 * time.Second) }), ""},
		{"sent time unknown", hit(KindClick, func(h *Hit) { h.SentAt = time.Time{}; h.At = sent }), ""},
		{"second hit soon after the first", hit(KindClick, func(h *Hit) { h.PriorHits, h.FirstHitAt = 1, later.Add(-time.Second) }), ""},
		{"third hit 2 s after the first", hit(KindClick, func(h *Hit) { h.PriorHits, h.FirstHitAt = 5, later.Add(-2*time.Second) }), ""},
		{"opens do not burst", hit(KindOpen, func(h *Hit) { h.PriorHits, h.FirstHitAt = 5, later }), ""},

		// Machines.
		{"HEAD", hit(KindClick, func(h *Hit) { h.Method = "HEAD" }), ReasonHead},
		{"head lower case", hit(KindOpen, func(h *Hit) { h.Method = "head" }), ReasonHead},
		{"no User-Agent", hit(KindClick, ua("")), ReasonNoUserAgent},
		{"blank User-Agent", hit(KindOpen, ua("  ")), ReasonNoUserAgent},
		{"Gmail image proxy", hit(KindOpen, ua("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)")), ReasonGoogleProxy},
		{"Gmail image proxy, only ggpht", hit(KindOpen, ua("Mozilla/5.0 (via ggpht.com)")), ReasonGoogleProxy},
		{"Yahoo proxy", hit(KindOpen, ua("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html")), ReasonYahooProxy},
		{"Apple MPP User-Agent", hit(KindOpen, ua("Mozilla/5.0")), ReasonAppleMPP},
		{"Apple MPP User-Agent with spaces", hit(KindOpen, ua(" Mozilla/5.0 ")), ReasonAppleMPP},
		{"Apple range, IPv4", hit(KindOpen, func(h *Hit) { h.UserAgent, h.IP = uaIPhoneMail, netip.MustParseAddr("17.58.63.1") }), ReasonAppleMPP},
		{"Apple range, IPv4-mapped", hit(KindOpen, ip("::ffff:17.1.2.3")), ReasonAppleMPP},
		{"Apple range, IPv6", hit(KindOpen, ip("2620:149:a:1::5")), ReasonAppleMPP},
		{"Barracuda", hit(KindClick, ua("Mozilla/5.0 (compatible; Barracuda Sentinel)")), ReasonLinkScanner},
		{"Mimecast", hit(KindClick, ua("Mimecast URL Protect")), ReasonLinkScanner},
		{"Proofpoint", hit(KindClick, ua("Proofpoint URL Defense")), ReasonLinkScanner},
		{"Symantec", hit(KindClick, ua("Symantec Email Security.cloud")), ReasonLinkScanner},
		{"Trend Micro", hit(KindClick, ua("Mozilla/5.0 Trend Micro Email Security")), ReasonLinkScanner},
		{"IronPort", hit(KindClick, ua("Cisco IronPort Web Reputation")), ReasonLinkScanner},
		{"Office existence discovery", hit(KindClick, ua("Microsoft Office Existence Discovery")), ReasonLinkScanner},
		{"python-requests", hit(KindClick, ua("python-requests/2.31.0")), ReasonBot},
		{"curl", hit(KindClick, ua("curl/8.5.0")), ReasonBot},
		{"Go", hit(KindOpen, ua("Go-http-client/1.1")), ReasonBot},
		{"Wget", hit(KindClick, ua("Wget/1.21.4")), ReasonBot},
		{"HeadlessChrome", hit(KindClick, ua("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36")), ReasonBot},
		{"Googlebot", hit(KindClick, ua("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")), ReasonBot},
		{"bingbot", hit(KindClick, ua("Mozilla/5.0 (compatible; bingbot/2.0)")), ReasonBot},
		{"Slack preview", hit(KindClick, ua("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)")), ReasonBot},
		{"crawler", hit(KindClick, ua("SomeCrawler/1.0")), ReasonBot},
		{"spider", hit(KindClick, ua("Baiduspider")), ReasonBot},
		{"preview", hit(KindClick, ua("Mozilla/5.0 Google Web Preview")), ReasonBot},
		{"facebook", hit(KindClick, ua("facebookexternalhit/1.1")), ReasonBot},
		{"click 9 s after sending", hit(KindClick, func(h *Hit) { h.At = sent.Add(9 * time.Second) }), ReasonTooFast},
		{"click before the send time", hit(KindClick, func(h *Hit) { h.At = sent.Add(-time.Minute) }), ReasonTooFast},
		{"open 1 s after sending", hit(KindOpen, func(h *Hit) { h.At = sent.Add(time.Second) }), ReasonTooFast},
		{"burst", hit(KindClick, func(h *Hit) { h.PriorHits, h.FirstHitAt = 2, later.Add(-1500*time.Millisecond) }), ReasonBurst},
		{"burst, hits out of order", hit(KindClick, func(h *Hit) { h.PriorHits, h.FirstHitAt = 3, later.Add(time.Millisecond) }), ReasonBurst},
		{"HEAD comes first", hit(KindOpen, func(h *Hit) { h.Method, h.UserAgent = "HEAD", "" }), ReasonHead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Classify(tt.hit)
			want := Verdict{Machine: tt.want != "", Reason: tt.want}
			if got != want {
				t.Errorf("Classify(%+v) = %+v; want %+v", tt.hit, got, want)
			}
		})
	}
}
