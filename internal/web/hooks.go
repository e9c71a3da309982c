package web

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nurturehq/nurture/internal/channel/sms"
	"github.com/nurturehq/nurture/internal/channel/webhook"
	"github.com/nurturehq/nurture/internal/feedback"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/track"
)

// Inbound hooks are what providers and mail servers post back: bounces,
// complaints, deliveries, replies and texts. Each is authenticated by the
// scheme its sender uses (Amazon SNS signatures, Twilio signatures, or
// Nurture-Signature for our own formats), answers 2xx for anything it
// accepted or ignores, and changes nothing when the authentication fails.

// Hook body limits.
const (
	maxHookJSON  = 1 << 20
	maxHookEmail = 10 << 20
	maxHookForm  = 64 << 10
)

func (s *Server) registerHooks() {
	if s.cfg.HookSecret != nil {
		s.mux.HandleFunc("POST /hooks/email/feedback", s.genericFeedback)
		s.mux.HandleFunc("POST /hooks/email/dsn", s.dsn)
		s.mux.HandleFunc("POST /hooks/email/inbound", s.inboundEmail)
	}
	s.mux.HandleFunc("POST /hooks/email/ses", s.ses)
	if s.cfg.TwilioToken != "" {
		s.mux.HandleFunc("POST /hooks/twilio/status", s.twilioStatus)
		s.mux.HandleFunc("POST /hooks/twilio/inbound", s.twilioInbound)
	}
}

// readHook reads a bounded body; false means it answered already.
func readHook(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			writeProblem(w, http.StatusRequestEntityTooLarge, "Content Too Large", fmt.Sprintf("the body is over %d bytes", limit))
		} else {
			writeProblem(w, http.StatusBadRequest, "Bad Request", "the body could not be read")
		}
		return nil, false
	}
	return b, true
}

// signed checks Nurture-Signature over body with the hook secret.
func (s *Server) signed(w http.ResponseWriter, r *http.Request, body []byte) bool {
	if err := webhook.Verify(s.cfg.HookSecret, r.Header.Get(webhook.Header), body, s.clock.Now(), 0); err != nil {
		writeProblem(w, http.StatusUnauthorized, "Unauthorized", "missing, expired or wrong "+webhook.Header+" signature")
		return false
	}
	return true
}

// applyReports stores parsed feedback reports; answers 204 on success.
func (s *Server) applyReports(w http.ResponseWriter, r *http.Request, reps []feedback.Report, source string) {
	out := make([]store.Report, 0, len(reps))
	for _, x := range reps {
		out = append(out, store.Report{Kind: string(x.Kind), Channel: store.ChannelEmail, Address: x.Email, Hard: x.Hard,
			Status: x.Status, Diagnostic: x.Diagnostic, Message: ourMessage(x.MessageID), Source: source, At: x.At})
	}
	if err := s.store.ApplyReports(r.Context(), out); err != nil {
		s.log.Error("apply delivery reports", "source", source, "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "Service Unavailable", "could not record the reports now; retry")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ourMessage reads our message id ("m-42") from a report; 0 if it is not ours.
func ourMessage(id string) int64 {
	n, err := strconv.ParseInt(strings.TrimPrefix(id, "m-"), 10, 64)
	if !strings.HasPrefix(id, "m-") || err != nil || n <= 0 {
		return 0
	}
	return n
}

// genericFeedback takes Nurture's own JSON format (see docs/channels.md),
// for providers with a webhook we do not speak natively.
func (s *Server) genericFeedback(w http.ResponseWriter, r *http.Request) {
	body, ok := readHook(w, r, maxHookJSON)
	if !ok || !s.signed(w, r, body) {
		return
	}
	reps, err := feedback.ParseGeneric(body)
	if err != nil {
		writeProblem(w, http.StatusUnprocessableEntity, "Unprocessable Entity", err.Error())
		return
	}
	s.applyReports(w, r, reps, "generic")
}

// dsn takes a bounce email (RFC 3464) or a complaint (RFC 5965 ARF), as a
// mail server's pipe or an inbound-mail provider posts it.
func (s *Server) dsn(w http.ResponseWriter, r *http.Request) {
	body, ok := readHook(w, r, maxHookEmail)
	if !ok || !s.signed(w, r, body) {
		return
	}
	reps, err := feedback.ParseDSN(bytes.NewReader(body), maxHookEmail)
	if errors.Is(err, feedback.ErrNotReport) {
		w.WriteHeader(http.StatusNoContent) // not a bounce: nothing to do
		return
	}
	if err != nil {
		writeProblem(w, http.StatusUnprocessableEntity, "Unprocessable Entity", "not a readable delivery report: "+err.Error())
		return
	}
	s.applyReports(w, r, reps, "dsn")
}

// inboundEmail takes an email sent to us: a reply to one of our messages
// (email_replied), or a List-Unsubscribe mailto ("unsubscribe <token>").
// Auto-replies and bounces are not replies.
func (s *Server) inboundEmail(w http.ResponseWriter, r *http.Request) {
	body, ok := readHook(w, r, maxHookEmail)
	if !ok || !s.signed(w, r, body) {
		return
	}
	if reps, err := feedback.ParseDSN(bytes.NewReader(body), maxHookEmail); err == nil {
		s.applyReports(w, r, reps, "dsn")
		return
	}
	reply, err := feedback.ParseReply(bytes.NewReader(body), maxHookEmail)
	if err != nil {
		writeProblem(w, http.StatusUnprocessableEntity, "Unprocessable Entity", "not a readable email: "+err.Error())
		return
	}
	if tok, ok := strings.CutPrefix(strings.TrimSpace(reply.Subject), "unsubscribe "); ok && s.cfg.Signer != nil {
		if t, err := s.cfg.Signer.Parse(strings.TrimSpace(tok)); err == nil && t.Kind == track.KindUnsubscribe {
			if err := s.store.Unsubscribe(r.Context(), t.Contact, t.Message, ""); err != nil {
				s.log.Error("unsubscribe by mail", "contact", t.Contact, "err", err)
				writeProblem(w, http.StatusServiceUnavailable, "Service Unavailable", "could not record it now; retry")
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if reply.Auto {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if _, err := s.store.ApplyReply(r.Context(), store.Reply{Channel: store.ChannelEmail, From: reply.From,
		Message: ourMessage(reply.MessageID), Subject: reply.Subject, Source: "inbound"}); err != nil {
		s.log.Error("apply reply", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "Service Unavailable", "could not record the reply now; retry")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// snsCerts caches the certificates SNS signs with (one per region and
// rotation): fetched once, over HTTPS, from AWS hosts only.
type snsCerts struct {
	mu    sync.Mutex
	certs map[string]*x509.Certificate
}

func (c *snsCerts) get(ctx context.Context, url string) (*x509.Certificate, error) {
	c.mu.Lock()
	cert := c.certs[url]
	c.mu.Unlock()
	if cert != nil {
		return cert, nil
	}
	if !feedback.CertURLAllowed(url) {
		return nil, errors.New("certificate URL is not an Amazon SNS one")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM certificate")
	}
	if cert, err = x509.ParseCertificate(block.Bytes); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.certs == nil {
		c.certs = map[string]*x509.Certificate{}
	}
	c.certs[url] = cert
	c.mu.Unlock()
	return cert, nil
}

// ses takes Amazon SES notifications delivered by Amazon SNS over HTTPS.
// The SNS signature is the authentication; a subscription is confirmed by
// visiting its SubscribeURL (an AWS host, checked).
func (s *Server) ses(w http.ResponseWriter, r *http.Request) {
	body, ok := readHook(w, r, maxHookJSON)
	if !ok {
		return
	}
	env, err := feedback.ParseSNS(body)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "Bad Request", "not an Amazon SNS message")
		return
	}
	fetch := s.cfg.SNSCert
	if fetch == nil {
		fetch = s.snsCerts.get
	}
	cert, err := fetch(r.Context(), env.SigningCertURL)
	if err == nil {
		err = feedback.VerifySNS(env, cert)
	}
	if err == nil {
		err = env.CheckAge(s.clock.Now(), time.Hour)
	}
	if err != nil {
		writeProblem(w, http.StatusUnauthorized, "Unauthorized", "the SNS signature does not verify")
		return
	}
	switch env.Type {
	case feedback.SNSSubscriptionConfirmation:
		if !feedback.CertURLAllowed(env.SigningCertURL) || !snsHost(env.SubscribeURL) {
			writeProblem(w, http.StatusBadRequest, "Bad Request", "the subscribe URL is not an Amazon SNS one")
			return
		}
		s.log.Info("confirming an Amazon SNS subscription", "topic", env.TopicARN)
		go s.confirmSNS(env.SubscribeURL)
		w.WriteHeader(http.StatusNoContent)
		return
	case feedback.SNSNotification:
	default:
		w.WriteHeader(http.StatusNoContent)
		return
	}
	reps, err := feedback.ParseSES(env.Message)
	if errors.Is(err, feedback.ErrNotReport) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		writeProblem(w, http.StatusUnprocessableEntity, "Unprocessable Entity", "not an SES notification: "+err.Error())
		return
	}
	s.applyReports(w, r, reps, "ses")
}

func snsHost(u string) bool {
	return strings.HasPrefix(u, "https://sns.") && (strings.Contains(u, ".amazonaws.com/") || strings.Contains(u, ".amazonaws.com.cn/"))
}

func (s *Server) confirmSNS(u string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	if err != nil {
		s.log.Warn("confirm Amazon SNS subscription", "err", err)
	}
}

// twilioForm reads and authenticates a Twilio callback.
func (s *Server) twilioForm(w http.ResponseWriter, r *http.Request) (bool, map[string][]string) {
	r.Body = http.MaxBytesReader(w, r.Body, maxHookForm)
	if err := r.ParseForm(); err != nil {
		writeProblem(w, http.StatusBadRequest, "Bad Request", "the form could not be read")
		return false, nil
	}
	u := strings.TrimSuffix(s.cfg.PublicURL, "/") + r.URL.RequestURI()
	if !sms.VerifySignature(s.cfg.TwilioToken, u, r.PostForm, r.Header.Get(sms.SignatureHeader)) {
		writeProblem(w, http.StatusUnauthorized, "Unauthorized", "missing or wrong "+sms.SignatureHeader)
		return false, nil
	}
	return true, r.PostForm
}

// twilioStatus takes delivery statuses of texts: delivered, or failed.
func (s *Server) twilioStatus(w http.ResponseWriter, r *http.Request) {
	ok, form := s.twilioForm(w, r)
	if !ok {
		return
	}
	st, err := sms.ParseStatus(form)
	if err != nil {
		writeProblem(w, http.StatusUnprocessableEntity, "Unprocessable Entity", err.Error())
		return
	}
	msg, _ := strconv.ParseInt(r.URL.Query().Get("m"), 10, 64)
	rep := store.Report{Channel: st.Channel, Address: st.To, Message: max(msg, 0), Source: "twilio"}
	switch st.State {
	case "delivered", "read":
		rep.Kind = store.ReportDelivery
	case "undelivered", "failed":
		// Twilio's 21xxx/30005-30006 say the number cannot receive: hard.
		rep.Kind, rep.Hard = store.ReportBounce, st.ErrorCode == 30005 || st.ErrorCode == 30006 || st.ErrorCode/1000 == 21
		rep.Status = strconv.Itoa(st.ErrorCode)
	default:
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := s.store.ApplyReports(r.Context(), []store.Report{rep}); err != nil {
		s.log.Error("apply text status", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "Service Unavailable", "could not record it now; retry")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// twilioInbound takes texts from contacts: STOP and its variants withdraw
// consent for that channel, START gives it back, HELP is answered with
// the configured text (TwiML), anything else is a reply.
func (s *Server) twilioInbound(w http.ResponseWriter, r *http.Request) {
	ok, form := s.twilioForm(w, r)
	if !ok {
		return
	}
	in, err := sms.ParseInbound(form)
	if err != nil {
		writeProblem(w, http.StatusUnprocessableEntity, "Unprocessable Entity", err.Error())
		return
	}
	kw := ""
	switch sms.Keyword(in.Body) {
	case sms.Stop:
		kw = store.KeywordStop
	case sms.Start:
		kw = store.KeywordStart
	case sms.Help:
		kw = store.KeywordHelp
	}
	if _, err := s.store.ApplyInboundText(r.Context(), store.InboundText{Channel: in.Channel, From: in.From, Keyword: kw, Source: "twilio"}); err != nil {
		s.log.Error("apply inbound text", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "Service Unavailable", "could not record it now; retry")
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	if kw == store.KeywordHelp && s.cfg.SMSHelp != "" {
		fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Message>%s</Message></Response>", html.EscapeString(s.cfg.SMSHelp))
		return
	}
	io.WriteString(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response></Response>")
}
