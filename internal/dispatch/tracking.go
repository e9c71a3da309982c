package dispatch

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/nurturehq/nurture/internal/message"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/track"
)

// trackedTemplate is a template version whose static links and open pixel
// were made Liquid variables once: each message then only signs its
// tokens, instead of walking its HTML again.
type trackedTemplate struct {
	ct   *message.Compiled // nil: the links must be rewritten per message
	urls []string          // link i is {{ nurture_link_i }}
}

// Variables of a tracked template.
const (
	linkVar  = "nurture_link_"
	pixelVar = "nurture_open"
)

// hrefRE finds the value of every href, quoted or not.
var hrefRE = regexp.MustCompile(`(?i)\bhref\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)

// ownVars are hrefs that are Nurture's own pages: never tracked.
var ownVars = regexp.MustCompile(`^\{\{-?\s*(unsubscribe_url|preferences_url|confirm_url|booking_url)\s*-?\}\}$`)

// tracked returns the tracked form of a message's template, made once per
// version. A template with a link made by Liquid (href="{{ … }}", other
// than Nurture's own pages) has none: its links are only known per message.
func (d *Dispatcher) tracked(m *store.Outgoing, plain *message.Compiled) *trackedTemplate {
	key := fmt.Sprintf("tracked\x00%s\x00%d", m.Template, m.TemplateVersion)
	if v, ok := d.templates.Load(key); ok {
		return v.(*trackedTemplate)
	}
	tt := &trackedTemplate{}
	src := m.Content.HTML
	dynamic := false
	for _, h := range hrefRE.FindAllStringSubmatch(src, -1) {
		v := strings.Trim(strings.TrimSpace(h[1]), `"'`)
		if (strings.Contains(v, "{{") || strings.Contains(v, "{%")) && !ownVars.MatchString(strings.TrimSpace(v)) {
			dynamic = true
			break
		}
	}
	if !dynamic {
		own := strings.TrimSuffix(d.cfg.Email.PublicURL, "/") + "/"
		out, err := track.RewriteWithPixel(src, func(href string) (string, bool) {
			if strings.HasPrefix(href, own) || len(href) > track.MaxURL {
				return "", false
			}
			tt.urls = append(tt.urls, href)
			return "{{ " + linkVar + strconv.Itoa(len(tt.urls)-1) + " }}", true
		}, "{{ "+pixelVar+" }}")
		if err == nil {
			tt.ct, _ = plain.WithHTML(out)
		}
	}
	if tt.ct == nil {
		tt.urls = nil
	}
	d.templates.Store(key, tt)
	return tt
}

// trackingVars are a message's values of a tracked template's variables;
// false when a link cannot be signed (the message is then rewritten the
// slow way).
func (d *Dispatcher) trackingVars(tt *trackedTemplate, id int64, extra map[string]any) bool {
	e := d.cfg.Email
	base := strings.TrimSuffix(e.PublicURL, "/")
	for i, u := range tt.urls {
		tok, err := e.Signer.Click(id, u)
		if err != nil {
			return false
		}
		extra[linkVar+strconv.Itoa(i)] = base + PathClick + tok
	}
	extra[pixelVar] = base + PathOpen + e.Signer.Open(id)
	return true
}
