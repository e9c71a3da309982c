package dispatch

import (
	"bytes"
	"context"
	"errors"
	"html"
	"mime"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nurturehq/nurture/internal/channel/email"
	"github.com/nurturehq/nurture/internal/message"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/track"
)

// Email is the email channel's configuration.
type Email struct {
	// Relay hands messages to an SMTP server.
	Relay Relay
	// Builder makes the MIME (and signs it with the sending domain's DKIM key).
	Builder *email.Builder
	// Marketing and Transactional are the From addresses of each kind of
	// message: keeping them apart keeps a marketing complaint rate off
	// receipts and confirmations.
	Marketing, Transactional email.Address
	// ReturnPath is the envelope sender, where bounces go; default the From.
	ReturnPath string
	// PublicURL is where recipients reach Nurture (https://nurture.example.com):
	// tracked links, the open pixel, unsubscribe and preference pages.
	PublicURL string
	// Signer signs the tokens of those links.
	Signer *track.Signer
	// UnsubscribeMailto is the address of the List-Unsubscribe mailto
	// ("unsubscribe@example.com"); empty leaves only the https one.
	UnsubscribeMailto string
	// ListDomain ends List-Id values (<label.list-domain>); default the
	// marketing From domain.
	ListDomain string
	// Tracking turns on the open pixel and click redirects.
	Tracking bool
}

// Relay is what sends a built message: *email.Pool. The message is data's
// parts one after the other.
type Relay interface {
	Send(ctx context.Context, from, to string, data ...[]byte) (string, error)
}

// bodies are reused message buffers: a 6 KB newsletter takes 10–20 KB of
// MIME, which would otherwise be garbage after every send.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Public paths (see web): what the links in a message point to.
const (
	PathOpen        = "/t/o/"
	PathClick       = "/t/c/"
	PathUnsubscribe = "/u/"
	PathPreferences = "/p/"
	PathConfirm     = "/c/"
	PathMeeting     = "/m/"
)

// Routes send the mail of sending domains saved through the API: their DKIM
// keys (in Builder, with the default ones) and their relays.
type Routes struct {
	Builder  *email.Builder
	ByDomain map[string]Relay // From domain → its relay; absent: the default relay
}

// SetRoutes replaces the sending domains' routes (nil: none); messages
// being sent finish with the ones they started with.
func (d *Dispatcher) SetRoutes(r *Routes) { d.routes.Store(r) }

func (d *Dispatcher) sendEmail(ctx context.Context, m *store.Outgoing) (string, error) {
	e := d.cfg.Email
	msg, err := d.composeEmail(m)
	if err != nil {
		return "", err
	}
	builder, relay := e.Builder, e.Relay
	if r := d.routes.Load(); r != nil {
		if r.Builder != nil {
			builder = r.Builder
		}
		if rr := r.ByDomain[msg.From.Domain()]; rr != nil {
			relay = rr
		}
	}
	body := bodies.Get().(*bytes.Buffer)
	defer func() {
		if body.Cap() <= 1<<20 { // a huge message's buffer is not kept
			bodies.Put(body)
		}
	}()
	sig, err := builder.BuildInto(body, msg)
	if err != nil {
		return "", &Failure{Reason: "build message: " + err.Error()}
	}
	from := e.ReturnPath
	if from == "" {
		from = msg.From.Addr
	}
	reply, err := relay.Send(ctx, from, msg.To.Addr, []byte(sig), body.Bytes())
	if err != nil {
		var se *email.SendError
		if errors.As(err, &se) {
			return "", &Failure{Temporary: se.Temporary, Code: se.Code, Reason: se.Reply}
		}
		return "", err
	}
	return reply, nil
}

// composeEmail renders a message for its contact, with its links.
func (d *Dispatcher) composeEmail(m *store.Outgoing) (*email.Message, error) {
	e := d.cfg.Email
	c := &m.Contact
	base := strings.TrimSuffix(e.PublicURL, "/")
	unsubURL := base + PathUnsubscribe + e.Signer.Unsubscribe(c.ID, m.ID)
	prefsURL := base + PathPreferences + e.Signer.Preferences(c.ID)
	ct, err := d.compiled(m)
	if err != nil {
		return nil, &Failure{Reason: "template: " + err.Error()}
	}
	extra := map[string]any{"unsubscribe_url": unsubURL, "preferences_url": prefsURL, "booking_url": "",
		"confirm_url": base + PathConfirm + e.Signer.Confirm(c.ID), "segments": m.Segments}
	for k, v := range m.Data {
		if _, ours := extra[k]; !ours || k == "booking_url" {
			extra[k] = message.Text(v) // a visitor's notes, an owner's name: text
		}
	}
	// A meeting's emails link to the page that cancels or reschedules it;
	// a booking page named by its path is linked on this server.
	if id, err := strconv.ParseInt(m.Data["meeting_id"], 10, 64); err == nil && id > 0 {
		extra["meeting_url"] = base + PathMeeting + e.Signer.Meeting(id)
	}
	if p := m.Data["booking_path"]; m.Data["booking_url"] == "" && strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") {
		extra["booking_url"] = base + p
	}
	// Tracking: links rewritten once per template version when they can be,
	// per message otherwise (a layout, links made by Liquid).
	tracking := e.Tracking && m.Kind == store.KindMarketing && !slices.Contains(c.Tags, store.PrefNoTracking)
	perMessage := tracking
	if tracking && m.Layout == nil {
		if tt := d.tracked(m, ct); tt.ct != nil && d.trackingVars(tt, m.ID, extra) {
			ct, perMessage = tt.ct, false
		}
	}
	r, err := ct.Render(c, extra)
	if err != nil {
		return nil, &Failure{Reason: "render: " + err.Error()}
	}
	if m.Layout != nil && r.HTML != "" {
		lt, err := d.compiledLayout(m.Layout)
		if err != nil {
			return nil, &Failure{Reason: "layout " + m.Layout.Name + ": " + err.Error()}
		}
		extra["content"] = r.HTML
		wrapped, err := lt.Render(c, extra)
		if err != nil {
			return nil, &Failure{Reason: "layout " + m.Layout.Name + ": " + err.Error()}
		}
		r.HTML = wrapped.HTML
	}
	msg := &email.Message{
		ID:      "m-" + strconv.FormatInt(m.ID, 10),
		From:    e.Marketing,
		To:      email.Address{Name: strings.TrimSpace(c.FirstName + " " + c.LastName), Addr: c.Email},
		Subject: r.Subject,
		HTML:    r.HTML,
		Text:    r.Text,
		Date:    d.clock.Now(),
	}
	if len(m.Calendar) > 0 {
		msg.Calendar, msg.CalendarMethod = m.Calendar, calendarMethod(m.Calendar)
	}
	if c.EmailDisplay != "" && strings.EqualFold(c.EmailDisplay, c.Email) {
		msg.To.Addr = c.EmailDisplay
	}
	if m.Kind == store.KindTransactional || m.Kind == store.KindInternal {
		msg.From = e.Transactional
	}
	if m.Kind == store.KindInternal {
		to, err := email.ParseAddress(m.Recipient)
		if err != nil {
			return nil, &Failure{Reason: "recipient: " + err.Error()}
		}
		msg.To = to
		return msg, nil
	}
	if m.Sender != "" {
		from, err := email.ParseAddress(m.Sender)
		if err != nil {
			return nil, &Failure{Reason: "sender: " + err.Error()}
		}
		msg.From = from
	}
	if m.Kind == store.KindTransactional {
		return msg, nil
	}
	// Marketing: one-click unsubscribe in the headers and a visible link
	// in the body, added when the template has none.
	msg.UnsubscribeURL = unsubURL
	if e.UnsubscribeMailto != "" {
		msg.UnsubscribeMailto = "mailto:" + e.UnsubscribeMailto + "?subject=" + url.QueryEscape("unsubscribe "+e.Signer.Unsubscribe(c.ID, m.ID))
	}
	if m.List != "" {
		domain := e.ListDomain
		if domain == "" {
			domain = e.Marketing.Domain()
		}
		msg.ListID = listID(m.List, domain)
	}
	if perMessage && msg.HTML != "" {
		own := base + "/"
		tracked, err := track.RewriteWithPixel(msg.HTML, func(href string) (string, bool) {
			if strings.HasPrefix(href, own) {
				return "", false // our own unsubscribe and preference links
			}
			tok, err := e.Signer.Click(m.ID, href)
			if err != nil {
				return "", false
			}
			return base + PathClick + tok, true
		}, base+PathOpen+e.Signer.Open(m.ID))
		if err == nil {
			msg.HTML = tracked
		}
	}
	if msg.HTML != "" && !strings.Contains(msg.HTML, html.EscapeString(unsubURL)) && !strings.Contains(msg.HTML, unsubURL) {
		msg.HTML = addFooter(msg.HTML, `<p style="font-size:12px;color:#666">`+
			`<a href="`+html.EscapeString(unsubURL)+`">Unsubscribe</a> · <a href="`+html.EscapeString(prefsURL)+`">Preferences</a></p>`)
	}
	if !strings.Contains(msg.Text, unsubURL) {
		msg.Text += "\n\n--\nUnsubscribe: " + unsubURL + "\nPreferences: " + prefsURL + "\n"
	}
	return msg, nil
}

// listID makes a List-Id (RFC 2919): "Label <label.domain>", the label
// reduced to what a list id may hold.
func listID(label, domain string) string {
	var id strings.Builder
	for _, r := range strings.ToLower(label) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			id.WriteRune(r)
		case r == ' ' || r == '_' || r == '.' || r == ':':
			id.WriteByte('-')
		}
	}
	name := strings.Map(func(r rune) rune {
		if r < 0x20 || r == '<' || r == '>' || r == '"' || r == 0x7f {
			return -1
		}
		return r
	}, label)
	s := strings.Trim(id.String(), "-")
	if s == "" {
		s = "list"
	}
	phrase := `"` + strings.ReplaceAll(name, `\`, "") + `"`
	for _, r := range name {
		if r > 0x7e {
			phrase = mime.QEncoding.Encode("utf-8", name)
			break
		}
	}
	return phrase + " <" + s + "." + domain + ">"
}

// addFooter puts a block before </body>, or at the end.
func addFooter(doc, block string) string {
	if i := strings.LastIndex(strings.ToLower(doc), "</body>"); i >= 0 {
		return doc[:i] + block + doc[i:]
	}
	return doc + block
}

// calendarMethod is the METHOD of an invitation (REQUEST when it has
// none), for the text/calendar part's method parameter.
func calendarMethod(ics []byte) string {
	for line := range strings.SplitSeq(string(ics), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "METHOD:"); ok {
			return v
		}
	}
	return "REQUEST"
}
