package web

import (
	"context"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/track"
)

// The public endpoints are what recipients reach from a message: the open
// pixel, tracked links, one-click unsubscribe and the preference centre.
// They need no login: a token signed by the server (see package track) is
// the credential. They never tell whether an address or a contact exists,
// and bad input changes nothing and gets no 5xx.

// maxPublicBody bounds what a public form may send.
const maxPublicBody = 8 << 10

// pixel is a transparent 1×1 GIF.
var pixel = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

func (s *Server) registerPublic() {
	if s.cfg.Signer == nil {
		return
	}
	s.mux.HandleFunc("GET /t/o/{token}", s.open)
	s.mux.HandleFunc("GET /t/c/{token}", s.click)
	s.mux.HandleFunc("HEAD /t/c/{token}", s.click)
	s.mux.HandleFunc("GET /u/{token}", s.unsubscribePage)
	s.mux.HandleFunc("POST /u/{token}", s.unsubscribe)
	s.mux.HandleFunc("GET /p/{token}", s.preferencesPage)
	s.mux.HandleFunc("POST /p/{token}", s.savePreferences)
	s.mux.HandleFunc("GET /c/{token}", s.confirm)
	s.mux.HandleFunc("POST /c/{token}", s.confirm)
}

// confirm is the one click of a double opt-in. A person's GET confirms at
// once; a link scanner's (by the machine-hit rules) gets a page with a
// button instead, so a security gateway cannot subscribe anyone.
func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxPublicBody)); err != nil {
			s.page(w, http.StatusRequestEntityTooLarge, "Not done", "The request was too large; nothing was changed.", nil)
			return
		}
	}
	tok, ok := s.token(r, track.KindConfirm)
	if !ok {
		s.page(w, http.StatusNotFound, "Link not valid", "This confirmation link is not valid. It may have been cut when it was copied.", nil)
		return
	}
	if r.Method == http.MethodGet {
		v := track.Classify(track.Hit{Kind: track.KindClick, UserAgent: r.UserAgent(), IP: clientIP(r), Method: r.Method, At: s.clock.Now()})
		if v.Machine {
			s.page(w, http.StatusOK, "Confirm your subscription", "One more click to confirm.", &form{Action: r.URL.Path, Button: "Confirm"})
			return
		}
	}
	if _, err := s.store.ConfirmSubscription(r.Context(), tok.Contact, clientIP(r).String()); err != nil {
		s.log.Error("confirm subscription", "contact", tok.Contact, "err", err)
		s.page(w, http.StatusServiceUnavailable, "Try again", "We could not record this now. Please try again in a minute.", nil)
		return
	}
	s.page(w, http.StatusOK, "Subscription confirmed", "Thank you: you will receive our emails.", nil)
}

// token parses the request's token, of one kind.
func (s *Server) token(r *http.Request, kind track.Kind) (track.Token, bool) {
	tok, err := s.cfg.Signer.Parse(r.PathValue("token"))
	return tok, err == nil && tok.Kind == kind
}

func clientIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// hit records an open or a click before the answer (a write through the
// group-committing writer: a millisecond or two).
func (s *Server) hit(r *http.Request, tok track.Token, kind track.Kind) {
	now := s.clock.Now()
	h := track.Hit{Kind: kind, UserAgent: r.UserAgent(), IP: clientIP(r), Method: r.Method, At: now}
	in := store.HitInput{Message: tok.Message, Click: kind == track.KindClick, URL: tok.URL,
		Classify: func(sent time.Time, prior int, first time.Time) (bool, string) {
			h.SentAt, h.PriorHits, h.FirstHitAt = sent, prior, first
			v := track.Classify(h)
			return v.Machine, v.Reason
		}}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if _, _, err := s.store.RecordHit(ctx, in); err != nil {
		s.log.Warn("record hit", "message", tok.Message, "err", err)
	}
}

func (s *Server) open(w http.ResponseWriter, r *http.Request) {
	if tok, ok := s.token(r, track.KindOpen); ok {
		s.hit(r, tok, track.KindOpen)
	}
	w.Header().Set("Content-Type", "image/gif")
	w.Header().Set("Cache-Control", "no-store, max-age=0")
	w.Write(pixel)
}

func (s *Server) click(w http.ResponseWriter, r *http.Request) {
	tok, ok := s.token(r, track.KindClick)
	if !ok {
		s.page(w, http.StatusNotFound, "Link not valid", "This link is not valid. It may have been cut when it was copied.", nil)
		return
	}
	s.hit(r, tok, track.KindClick)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, tok.URL, http.StatusFound)
}

func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.token(r, track.KindUnsubscribe); !ok {
		s.page(w, http.StatusNotFound, "Link not valid", "This unsubscribe link is not valid. It may have been cut when it was copied.", nil)
		return
	}
	// A GET never unsubscribes: mail scanners follow every link.
	s.page(w, http.StatusOK, "Unsubscribe", "Stop receiving our marketing emails?", &form{Action: r.URL.Path, Button: "Unsubscribe"})
}

// unsubscribe is RFC 8058's one-click POST (and the page's button): no
// login, no cookie, no confirmation; 200 whatever the token.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxPublicBody)); err != nil {
		s.page(w, http.StatusRequestEntityTooLarge, "Not done", "The request was too large; nothing was changed.", nil)
		return
	}
	if tok, ok := s.token(r, track.KindUnsubscribe); ok {
		if err := s.store.Unsubscribe(r.Context(), tok.Contact, tok.Message, clientIP(r).String()); err != nil {
			s.log.Error("unsubscribe", "contact", tok.Contact, "err", err)
			s.page(w, http.StatusServiceUnavailable, "Try again", "We could not record this now. Please try again in a minute.", nil)
			return
		}
	}
	s.page(w, http.StatusOK, "Unsubscribed", "You will not receive our marketing emails any more.", nil)
}

func (s *Server) preferencesPage(w http.ResponseWriter, r *http.Request) {
	tok, ok := s.token(r, track.KindPreferences)
	if !ok {
		s.page(w, http.StatusNotFound, "Link not valid", "This link is not valid. It may have been cut when it was copied.", nil)
		return
	}
	topics, err := s.store.Topics(r.Context())
	if err != nil {
		s.page(w, http.StatusServiceUnavailable, "Try again", "This page is not available now. Please try again in a minute.", nil)
		return
	}
	p, err := s.store.ContactPreferences(r.Context(), tok.Contact)
	if err != nil {
		// An erased or unknown contact sees the same page, all off.
		p = store.Preferences{Topics: map[string]bool{}, Channels: map[string]bool{}}
	}
	f := &form{Action: r.URL.Path, Button: "Save", Prefs: &p}
	for _, tp := range topics {
		f.Topics = append(f.Topics, tp)
	}
	s.page(w, http.StatusOK, "Your preferences", "Choose what you receive from us.", f)
}

func (s *Server) savePreferences(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxPublicBody)
	if err := r.ParseForm(); err != nil {
		s.page(w, http.StatusBadRequest, "Not saved", "The form could not be read. Please try again.", nil)
		return
	}
	tok, ok := s.token(r, track.KindPreferences)
	if !ok {
		s.page(w, http.StatusNotFound, "Link not valid", "This link is not valid. It may have been cut when it was copied.", nil)
		return
	}
	topics, err := s.store.Topics(r.Context())
	if err == nil {
		p := store.Preferences{Paused: r.PostForm.Get("paused") == "on", NoTracking: r.PostForm.Get("no_tracking") == "on",
			Topics: map[string]bool{}, Channels: map[string]bool{}}
		for _, tp := range topics {
			p.Topics[tp.Name] = r.PostForm.Get("topic."+tp.Name) == "on"
		}
		for _, ch := range []string{store.ChannelEmail, store.ChannelSMS, store.ChannelWhatsApp} {
			p.Channels[ch] = r.PostForm.Get("channel."+ch) == "on"
		}
		err = s.store.SavePreferences(r.Context(), tok.Contact, p, clientIP(r).String())
	}
	if err != nil {
		s.log.Error("save preferences", "contact", tok.Contact, "err", err)
		s.page(w, http.StatusServiceUnavailable, "Not saved", "We could not save this now. Please try again in a minute.", nil)
		return
	}
	s.page(w, http.StatusOK, "Saved", "Your preferences are saved.", nil)
}

type form struct {
	Action string
	Button string
	Prefs  *store.Preferences
	Topics []store.Topic
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}
button{font-size:1rem;padding:.5rem 1.25rem}label{display:block;margin:.4rem 0}</style></head>
<body><h1>{{.Title}}</h1><p>{{.Text}}</p>
{{with .Form}}<form method="post" action="{{.Action}}">
{{with .Prefs}}<fieldset><legend>Channels</legend>
<label><input type="checkbox" name="channel.email"{{if index .Channels "email"}} checked{{end}}> Email</label>
<label><input type="checkbox" name="channel.sms"{{if index .Channels "sms"}} checked{{end}}> SMS</label>
<label><input type="checkbox" name="channel.whatsapp"{{if index .Channels "whatsapp"}} checked{{end}}> WhatsApp</label>
</fieldset>{{end}}
{{$p := .Prefs}}{{if .Topics}}<fieldset><legend>Topics</legend>{{range .Topics}}
<label><input type="checkbox" name="topic.{{.Name}}"{{if index $p.Topics .Name}} checked{{end}}> {{.Label}}</label>{{end}}
</fieldset>{{end}}
{{with .Prefs}}<label><input type="checkbox" name="paused"{{if .Paused}} checked{{end}}> Pause all marketing messages</label>
<label><input type="checkbox" name="no_tracking"{{if .NoTracking}} checked{{end}}> Do not track my opens and clicks</label>{{end}}
<button type="submit">{{.Button}}</button></form>{{end}}
</body></html>`))

func (s *Server) page(w http.ResponseWriter, status int, title, text string, f *form) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	w.WriteHeader(status)
	pageTemplate.Execute(w, struct {
		Title, Text string
		Form        *form
	}{title, text, f})
}
