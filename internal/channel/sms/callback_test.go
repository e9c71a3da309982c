package sms_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/nurturehq/nurture/internal/channel/sms"
)

// The worked example of Twilio's request validation docs, with the vectors
// Twilio's own libraries test against.
const (
	docToken = "12345"
	docURL   = "https://mycompany.com/myapp.php?foo=1&bar=2"
	docSig   = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
)

func docForm() url.Values {
	return url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+14158675309"},
		"Digits":  {"1234"},
		"From":    {"+14158675309"},
		"To":      {"+18005551212"},
	}
}

func TestSign(t *testing.T) {
	t.Parallel()
	if got := sms.Sign(docToken, docURL, docForm()); got != docSig {
		t.Errorf("Sign(documented example) = %q; want %q", got, docSig)
	}
	repeated := url.Values{"Sid": {"CA123"}, "SidAccount": {"AC123"}, "Digits": {"5678", "1234", "1234"}}
	if got, want := sms.Sign(docToken, docURL, repeated), "IK+Dwps556ElfBT0I3Rgjkr1wJU="; got != want {
		t.Errorf("Sign(repeated values) = %q; want %q", got, want)
	}
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	tampered := docForm()
	tampered.Set("Digits", "9999")
	extra := docForm()
	extra.Set("Extra", "")
	renamed := docForm()
	renamed.Del("Digits")
	renamed.Set("digits", "1234")
	tests := []struct {
		name  string
		token string
		url   string
		form  url.Values
		sig   string
		want  bool
	}{
		{"documented example", docToken, docURL, docForm(), docSig, true},
		{"signed with the default https port", docToken, docURL, docForm(), "kvajT1Ptam85bY51eRf/AJRuM3w=", true},
		{"signed with the default http port", docToken, "http://mycompany.com/myapp.php?foo=1&bar=2", docForm(), "0ZXoZLH/DfblKGATFgpif+LLRf4=", true},
		{"signed without the port", docToken, "https://mycompany.com:1234/myapp.php?foo=1&bar=2", docForm(), docSig, true},
		{"signed with a custom port", docToken, "https://mycompany.com:1234/myapp.php?foo=1&bar=2", docForm(), "CYn1h0gLBdNxDGkKJg6hYohgeD8=", true},
		{"http with a custom port", docToken, "http://mycompany.com:1234/myapp.php?foo=1&bar=2", docForm(), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=", true},
		{"credentials in the URL", docToken, "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2", docForm(), "CukzLTc1tT5dXEDIHm/tKBanW10=", true},
		{"credentials and default port", docToken, "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2", docForm(), "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI=", true},
		{"mixed-case host as signed", docToken, "https://MyCompany.com/myapp.php?foo=1&bar=2", docForm(), "g9IN/x4Cft2g517EjYvEvM/W7LU=", true},

		{"mixed-case host, other signature", docToken, "https://MyCompany.com/myapp.php?foo=1&bar=2", docForm(), docSig, false},
		{"tampered value", docToken, docURL, tampered, docSig, false},
		{"added field", docToken, docURL, extra, docSig, false},
		{"renamed field", docToken, docURL, renamed, docSig, false},
		{"no fields", docToken, docURL, url.Values{}, docSig, false},
		{"other query", docToken, docURL + "&baz=3", docForm(), docSig, false},
		{"other path", docToken, "https://mycompany.com/other.php?foo=1&bar=2", docForm(), docSig, false},
		{"other host", docToken, "https://evil.example/myapp.php?foo=1&bar=2", docForm(), docSig, false},
		{"other token", "54321", docURL, docForm(), docSig, false},
		{"empty token", "", docURL, docForm(), sms.Sign("", docURL, docForm()), false},
		{"empty signature", docToken, docURL, docForm(), "", false},
		{"not base64", docToken, docURL, docForm(), "invalid 王", false},
		{"truncated", docToken, docURL, docForm(), docSig[:20], false},
		{"prefixed", docToken, docURL, docForm(), "NOT" + docSig, false},
		{"changed character", docToken, docURL, docForm(), "RSOYDt4T1cUTdK1PDd94/VVr8B8=", false},
		{"non-canonical padding bits", docToken, docURL, docForm(), "RSOYDt4T1cUTdK1PDd93/VVr8B9=", false},
		{"longer digest", docToken, docURL, docForm(), docSig[:27] + "AAAAAAAAAAA=", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := sms.VerifySignature(tt.token, tt.url, tt.form, tt.sig); got != tt.want {
				t.Errorf("VerifySignature(%q, %q, …, %q) = %v; want %v", tt.token, tt.url, tt.sig, got, tt.want)
			}
		})
	}
}

func TestSignRoundTrip(t *testing.T) {
	t.Parallel()
	const token = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
	forms := []url.Values{
		{},
		{"Body": {"ARRÊT 🛑 & co=1"}, "From": {"whatsapp:+33612345678"}},
		{"Body": {""}, "NumMedia": {"0"}},
		{"a": {"b"}, "ab": {""}, "A": {"z"}},
	}
	for _, u := range []string{"https://example.com/hook", "http://[::1]:8080/hook?x=%2F&y", "https://example.com"} {
		for _, form := range forms {
			sig := sms.Sign(token, u, form)
			if !sms.VerifySignature(token, u, form, sig) {
				t.Errorf("VerifySignature(%q, %v) of its own signature = false", u, form)
			}
		}
	}
	// Moving a character between a name and its value changes nothing in
	// the concatenation; such forms cannot be told apart, and Twilio never
	// sends them. Moving it between fields must still show.
	a := url.Values{"Body": {"hi"}, "To": {"+1"}}
	b := url.Values{"Body": {"hi"}, "To": {"+2"}}
	if sms.VerifySignature(token, "https://example.com", b, sms.Sign(token, "https://example.com", a)) {
		t.Error("VerifySignature accepted a signature for another To")
	}
}

const sid = "SM0123456789abcdef0123456789abcdef"

func TestParseStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		form  url.Values
		want  sms.Status
		field string // the *ValidationError's field, "" when none
	}{
		{
			name: "delivered",
			form: url.Values{"MessageSid": {sid}, "MessageStatus": {"delivered"}, "To": {"+33612345678"}, "From": {"+14155550100"}, "AccountSid": {"AC1"}},
			want: sms.Status{ProviderID: sid, State: "delivered", To: "+33612345678", From: "+14155550100", Channel: sms.SMS},
		},
		{
			name: "failed with a code",
			form: url.Values{"MessageSid": {sid}, "MessageStatus": {"failed"}, "ErrorCode": {"30008"}, "To": {"+33612345678"}, "From": {"Nurture"}},
			want: sms.Status{ProviderID: sid, State: "failed", ErrorCode: 30008, To: "+33612345678", From: "Nurture", Channel: sms.SMS},
		},
		{
			name: "whatsapp read",
			form: url.Values{"MessageSid": {sid}, "MessageStatus": {"read"}, "To": {"whatsapp:+33612345678"}, "From": {"whatsapp:+14155550100"}},
			want: sms.Status{ProviderID: sid, State: "read", To: "+33612345678", From: "+14155550100", Channel: sms.WhatsApp},
		},
		{
			name: "old field names",
			form: url.Values{"SmsSid": {sid}, "SmsStatus": {"sent"}},
			want: sms.Status{ProviderID: sid, State: "sent", Channel: sms.SMS},
		},
		{"no sid", url.Values{"MessageStatus": {"sent"}}, sms.Status{}, "MessageSid"},
		{"short sid", url.Values{"MessageSid": {"SM123"}, "MessageStatus": {"sent"}}, sms.Status{}, "MessageSid"},
		{"sid with upper-case hex", url.Values{"MessageSid": {strings.ToUpper(sid)}, "MessageStatus": {"sent"}}, sms.Status{}, "MessageSid"},
		{"sid with a slash", url.Values{"MessageSid": {"SM0123456789abcdef0123456789abcde/"}, "MessageStatus": {"sent"}}, sms.Status{}, "MessageSid"},
		{"two sids", url.Values{"MessageSid": {sid, sid}, "MessageStatus": {"sent"}}, sms.Status{}, "MessageSid"},
		{"no state", url.Values{"MessageSid": {sid}}, sms.Status{}, "MessageStatus"},
		{"unknown state", url.Values{"MessageSid": {sid}, "MessageStatus": {"exploded"}}, sms.Status{}, "MessageStatus"},
		{"upper-case state", url.Values{"MessageSid": {sid}, "MessageStatus": {"DELIVERED"}}, sms.Status{}, "MessageStatus"},
		{"canceled", url.Values{"MessageSid": {sid}, "MessageStatus": {"canceled"}}, sms.Status{}, "MessageStatus"},
		{"bad error code", url.Values{"MessageSid": {sid}, "MessageStatus": {"failed"}, "ErrorCode": {"30008x"}}, sms.Status{}, "ErrorCode"},
		{"negative error code", url.Values{"MessageSid": {sid}, "MessageStatus": {"failed"}, "ErrorCode": {"-1"}}, sms.Status{}, "ErrorCode"},
		{"huge error code", url.Values{"MessageSid": {sid}, "MessageStatus": {"failed"}, "ErrorCode": {strings.Repeat("9", 40)}}, sms.Status{}, "ErrorCode"},
		{"oversized To", url.Values{"MessageSid": {sid}, "MessageStatus": {"sent"}, "To": {"+" + strings.Repeat("1", 100)}}, sms.Status{}, "To"},
		{"invalid UTF-8 From", url.Values{"MessageSid": {sid}, "MessageStatus": {"sent"}, "From": {"Nurt\xffre"}}, sms.Status{}, "From"},
		{"control in From", url.Values{"MessageSid": {sid}, "MessageStatus": {"sent"}, "From": {"+1415\n5550100"}}, sms.Status{}, "From"},
		{"mixed channels", url.Values{"MessageSid": {sid}, "MessageStatus": {"sent"}, "To": {"whatsapp:+33612345678"}, "From": {"+14155550100"}}, sms.Status{}, "From"},
		{"other channel", url.Values{"MessageSid": {sid}, "MessageStatus": {"sent"}, "To": {"messenger:12345"}}, sms.Status{}, "To"},
		{"bare prefix", url.Values{"MessageSid": {sid}, "MessageStatus": {"sent"}, "To": {"whatsapp:"}}, sms.Status{}, "To"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := sms.ParseStatus(tt.form)
			checkParse(t, "ParseStatus", got, tt.want, err, tt.field)
		})
	}
}

func TestParseInbound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		form  url.Values
		want  sms.Inbound
		field string
	}{
		{
			name: "sms",
			form: url.Values{"MessageSid": {sid}, "From": {"+33612345678"}, "To": {"+14155550100"}, "Body": {"STOP"}, "NumMedia": {"0"}},
			want: sms.Inbound{ProviderID: sid, From: "+33612345678", To: "+14155550100", Body: "STOP", Channel: sms.SMS},
		},
		{
			name: "whatsapp",
			form: url.Values{"MessageSid": {sid}, "From": {"whatsapp:+33612345678"}, "To": {"whatsapp:+14155550100"}, "Body": {"Bonjour 👋\n\tà demain"}, "WaId": {"33612345678"}},
			want: sms.Inbound{ProviderID: sid, From: "+33612345678", To: "+14155550100", Body: "Bonjour 👋\n\tà demain", Channel: sms.WhatsApp},
		},
		{
			name: "media only",
			form: url.Values{"MessageSid": {sid}, "From": {"+33612345678"}, "To": {"12345"}, "NumMedia": {"1"}},
			want: sms.Inbound{ProviderID: sid, From: "+33612345678", To: "12345", Channel: sms.SMS},
		},
		{
			name: "longest body",
			form: url.Values{"MessageSid": {sid}, "From": {"+33612345678"}, "To": {"+14155550100"}, "Body": {strings.Repeat("é", sms.MaxInboundBody)}},
			want: sms.Inbound{ProviderID: sid, From: "+33612345678", To: "+14155550100", Body: strings.Repeat("é", sms.MaxInboundBody), Channel: sms.SMS},
		},
		{"no sid", url.Values{"From": {"+33612345678"}, "To": {"+14155550100"}, "Body": {"hi"}}, sms.Inbound{}, "MessageSid"},
		{"no From", url.Values{"MessageSid": {sid}, "To": {"+14155550100"}, "Body": {"hi"}}, sms.Inbound{}, "From"},
		{"no To", url.Values{"MessageSid": {sid}, "From": {"+33612345678"}, "Body": {"hi"}}, sms.Inbound{}, "To"},
		{"body too long", url.Values{"MessageSid": {sid}, "From": {"+33612345678"}, "To": {"+14155550100"}, "Body": {strings.Repeat("a", sms.MaxInboundBody+1)}}, sms.Inbound{}, "Body"},
		{"huge body", url.Values{"MessageSid": {sid}, "From": {"+33612345678"}, "To": {"+14155550100"}, "Body": {strings.Repeat("😀", 1<<16)}}, sms.Inbound{}, "Body"},
		{"invalid UTF-8 body", url.Values{"MessageSid": {sid}, "From": {"+33612345678"}, "To": {"+14155550100"}, "Body": {"caf\xe9"}}, sms.Inbound{}, "Body"},
		{"NUL in body", url.Values{"MessageSid": {sid}, "From": {"+33612345678"}, "To": {"+14155550100"}, "Body": {"a\x00b"}}, sms.Inbound{}, "Body"},
		{"two bodies", url.Values{"MessageSid": {sid}, "From": {"+33612345678"}, "To": {"+14155550100"}, "Body": {"STOP", "hi"}}, sms.Inbound{}, "Body"},
		{"two Froms", url.Values{"MessageSid": {sid}, "From": {"+33612345678", "+33600000000"}, "To": {"+14155550100"}}, sms.Inbound{}, "From"},
		{"oversized From", url.Values{"MessageSid": {sid}, "From": {strings.Repeat("A", 65)}, "To": {"+14155550100"}}, sms.Inbound{}, "From"},
		{"mixed channels", url.Values{"MessageSid": {sid}, "From": {"+33612345678"}, "To": {"whatsapp:+14155550100"}}, sms.Inbound{}, "From"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := sms.ParseInbound(tt.form)
			checkParse(t, "ParseInbound", got, tt.want, err, tt.field)
		})
	}
}

func checkParse[T comparable](t *testing.T, fn string, got, want T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil || got != want {
			t.Errorf("%s = %+v, %v; want %+v, nil", fn, got, err, want)
		}
		return
	}
	var ve *sms.ValidationError
	if !errors.As(err, &ve) || ve.Field != field {
		t.Errorf("%s error = %v; want a *ValidationError on %s", fn, err, field)
	}
	if got != want {
		t.Errorf("%s = %+v with an error; want the zero value", fn, got)
	}
}
