package feedback

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// SNS message types.
const (
	SNSNotification             = "Notification"
	SNSSubscriptionConfirmation = "SubscriptionConfirmation"
	SNSUnsubscribeConfirmation  = "UnsubscribeConfirmation"
)

// Envelope is an Amazon SNS HTTP(S) message, as POSTed to a subscribed
// endpoint. Field values are kept exactly as sent: the signature covers
// them byte for byte.
type Envelope struct {
	Type             string `json:"Type"`
	MessageID        string `json:"MessageId"`
	Token            string `json:"Token,omitempty"`
	TopicARN         string `json:"TopicArn"`
	Subject          string `json:"Subject,omitempty"`
	Message          string `json:"Message"`
	Timestamp        string `json:"Timestamp"` // RFC 3339, as signed
	SignatureVersion string `json:"SignatureVersion"`
	Signature        string `json:"Signature"`
	SigningCertURL   string `json:"SigningCertURL"`
	SubscribeURL     string `json:"SubscribeURL,omitempty"`
	UnsubscribeURL   string `json:"UnsubscribeURL,omitempty"`
}

// ParseSNS decodes an SNS message and checks that the fields its Type needs
// are present. It does not verify the signature: fetch the certificate at
// SigningCertURL (after CertURLAllowed) and call VerifySNS. Unknown JSON
// fields are ignored, since AWS adds fields over time.
func ParseSNS(body []byte) (Envelope, error) {
	var e Envelope
	if err := decodeOne(body, &e); err != nil {
		return Envelope{}, fmt.Errorf("sns: decode: %w", err)
	}
	type field struct{ name, value string }
	need := []field{
		{"MessageId", e.MessageID},
		{"TopicArn", e.TopicARN},
		{"Timestamp", e.Timestamp},
		{"SignatureVersion", e.SignatureVersion},
		{"Signature", e.Signature},
		{"SigningCertURL", e.SigningCertURL},
	}
	switch e.Type {
	case SNSNotification:
		need = append(need, field{"Message", e.Message})
	case SNSSubscriptionConfirmation, SNSUnsubscribeConfirmation:
		need = append(need, field{"SubscribeURL", e.SubscribeURL}, field{"Token", e.Token})
	case "":
		return Envelope{}, errors.New("sns: missing Type")
	default:
		return Envelope{}, fmt.Errorf("sns: unknown Type %q", e.Type)
	}
	for _, f := range need {
		if f.value == "" {
			return Envelope{}, fmt.Errorf("sns: %s message missing %s", e.Type, f.name)
		}
	}
	return e, nil
}

// canonical returns the string SNS signs for e, as AWS documents it: the
// listed keys in byte order, each as "Key\nvalue\n".
func (e Envelope) canonical() (string, error) {
	type kv struct{ k, v string }
	var fields []kv
	switch e.Type {
	case SNSNotification:
		fields = []kv{{"Message", e.Message}, {"MessageId", e.MessageID}}
		if e.Subject != "" {
			fields = append(fields, kv{"Subject", e.Subject})
		}
		fields = append(fields, kv{"Timestamp", e.Timestamp}, kv{"TopicArn", e.TopicARN}, kv{"Type", e.Type})
	case SNSSubscriptionConfirmation, SNSUnsubscribeConfirmation:
		fields = []kv{
			{"Message", e.Message}, {"MessageId", e.MessageID}, {"SubscribeURL", e.SubscribeURL},
			{"Timestamp", e.Timestamp}, {"Token", e.Token}, {"TopicArn", e.TopicARN}, {"Type", e.Type},
		}
	default:
		return "", fmt.Errorf("sns: unknown Type %q", e.Type)
	}
	var sb strings.Builder
	for _, f := range fields {
		sb.WriteString(f.k)
		sb.WriteByte('\n')
		sb.WriteString(f.v)
		sb.WriteByte('\n')
	}
	return sb.String(), nil
}

// VerifySNS checks e's signature against cert, the certificate the caller
// fetched from e.SigningCertURL. SignatureVersion "1" is RSA PKCS #1 v1.5
// over SHA-1, "2" over SHA-256. It also refuses a SigningCertURL that
// CertURLAllowed refuses, so that a caller who forgot to check cannot be
// handed an attacker's certificate. The certificate's chain and dates are
// not checked: its authenticity comes from fetching it over HTTPS from AWS.
// Which topics to accept (TopicARN) is the caller's decision.
func VerifySNS(e Envelope, cert *x509.Certificate) error {
	if cert == nil {
		return errors.New("sns: no certificate")
	}
	if !CertURLAllowed(e.SigningCertURL) {
		return fmt.Errorf("sns: signing certificate URL %q is not an SNS URL", e.SigningCertURL)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("sns: certificate key is %T, not RSA", cert.PublicKey)
	}
	var (
		h    crypto.Hash
		hash []byte
	)
	s, err := e.canonical()
	if err != nil {
		return err
	}
	switch e.SignatureVersion {
	case "1":
		sum := sha1.Sum([]byte(s))
		h, hash = crypto.SHA1, sum[:]
	case "2":
		sum := sha256.Sum256([]byte(s))
		h, hash = crypto.SHA256, sum[:]
	default:
		return fmt.Errorf("sns: unknown SignatureVersion %q", e.SignatureVersion)
	}
	sig, err := base64.StdEncoding.DecodeString(e.Signature)
	if err != nil {
		return fmt.Errorf("sns: signature: %w", err)
	}
	if err := rsa.VerifyPKCS1v15(pub, h, hash, sig); err != nil {
		return fmt.Errorf("sns: signature does not match: %w", err)
	}
	return nil
}

var snsHostRE = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// CertURLAllowed reports whether u may be fetched as an SNS signing
// certificate: https on the default port, host sns.<region>.amazonaws.com
// (or .amazonaws.com.cn), a path ending in .pem, no credentials, query or
// fragment.
func CertURLAllowed(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	return p.Scheme == "https" &&
		p.User == nil &&
		p.Opaque == "" &&
		p.RawQuery == "" && !p.ForceQuery &&
		p.Fragment == "" &&
		(p.Port() == "" || p.Port() == "443") &&
		snsHostRE.MatchString(strings.ToLower(p.Hostname())) &&
		strings.HasSuffix(p.Path, ".pem") &&
		!strings.Contains(p.Path, "..")
}

// CheckAge fails when e's Timestamp is unreadable, more than maxAge before
// now, or more than maxAge after it. A signed message can be replayed; a
// bound on its age limits how long. SNS retries a delivery with the same
// Timestamp, so maxAge should exceed the topic's retry window.
func (e Envelope) CheckAge(now time.Time, maxAge time.Duration) error {
	t, err := time.Parse(time.RFC3339Nano, e.Timestamp)
	if err != nil {
		return fmt.Errorf("sns: Timestamp: %w", err)
	}
	if d := now.Sub(t); d > maxAge || d < -maxAge {
		return fmt.Errorf("sns: message timestamped %s, %s from now", e.Timestamp, d.Round(time.Second))
	}
	return nil
}
