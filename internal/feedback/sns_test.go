package feedback

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"
)

// signer is a key and self-signed certificate standing in for AWS's.
type signer struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

var testSigners = sync.OnceValues(func() ([2]signer, error) {
	var s [2]signer
	for i := range s {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return s, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 1)),
			Subject:      pkix.Name{CommonName: "sns.eu-west-1.amazonaws.com"},
			NotBefore:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			NotAfter:     time.Date(2034, 1, 1, 0, 0, 0, 0, time.UTC),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return s, err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return s, err
		}
		s[i] = signer{key, cert}
	}
	return s, nil
})

func signers(t *testing.T) (aws, other signer) {
	t.Helper()
	s, err := testSigners()
	if err != nil {
		t.Fatal(err)
	}
	return s[0], s[1]
}

// sign sets e.Signature as SNS would for e.SignatureVersion.
func (s signer) sign(t *testing.T, e Envelope) Envelope {
	t.Helper()
	c, err := e.canonical()
	if err != nil {
		t.Fatal(err)
	}
	var (
		h   crypto.Hash
		sum []byte
	)
	if e.SignatureVersion == "2" {
		d := sha256.Sum256([]byte(c))
		h, sum = crypto.SHA256, d[:]
	} else {
		d := sha1.Sum([]byte(c))
		h, sum = crypto.SHA1, d[:]
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, h, sum)
	if err != nil {
		t.Fatal(err)
	}
	e.Signature = base64.StdEncoding.EncodeToString(sig)
	return e
}

func TestCanonical(t *testing.T) {
	t.Parallel()
	e := Envelope{
		Type: "Notification", MessageID: "id-1", TopicARN: "arn:aws:sns:eu-west-1:1:t",
		Message: "hello\nworld", Timestamp: "2024-06-03T08:00:02.655Z", Subject: "S",
		UnsubscribeURL: "https://example.test/not-signed",
	}
	got, _ := e.canonical()
	want := "Message\nhello\nworld\nMessageId\nid-1\nSubject\nS\nTimestamp\n2024-06-03T08:00:02.655Z\nTopicArn\narn:aws:sns:eu-west-1:1:t\nType\nNotification\n"
	if got != want {
		t.Errorf("canonical(Notification) = %q; want %q", got, want)
	}
	e.Subject = ""
	got, _ = e.canonical()
	if strings.Contains(got, "Subject") {
		t.Errorf("canonical(Notification without Subject) = %q; want no Subject key", got)
	}
	c := Envelope{
		Type: "SubscriptionConfirmation", MessageID: "id-2", TopicARN: "arn", Message: "m",
		Timestamp: "ts", Token: "tok", SubscribeURL: "https://sns.test/s", Subject: "ignored",
	}
	got, _ = c.canonical()
	want = "Message\nm\nMessageId\nid-2\nSubscribeURL\nhttps://sns.test/s\nTimestamp\nts\nToken\ntok\nTopicArn\narn\nType\nSubscriptionConfirmation\n"
	if got != want {
		t.Errorf("canonical(SubscriptionConfirmation) = %q; want %q", got, want)
	}
}

func TestVerifySNS(t *testing.T) {
	t.Parallel()
	aws, other := signers(t)
	notification, err := ParseSNS(readTestdata(t, "sns_notification.json"))
	if err != nil {
		t.Fatal(err)
	}
	confirmation, err := ParseSNS(readTestdata(t, "sns_subscription_confirmation.json"))
	if err != nil {
		t.Fatal(err)
	}
	withSubject := notification
	withSubject.Subject = "Amazon SES Email Event Notification"

	tests := []struct {
		name    string
		env     Envelope
		tamper  func(Envelope) Envelope // after signing
		cert    *x509.Certificate
		wantErr bool
	}{
		{"notification v1", notification, nil, aws.cert, false},
		{"notification v2", version(notification, "2"), nil, aws.cert, false},
		{"notification with subject", withSubject, nil, aws.cert, false},
		{"subscription confirmation v2", confirmation, nil, aws.cert, false},
		{"unsubscribe confirmation", retype(confirmation, SNSUnsubscribeConfirmation), nil, aws.cert, false},
		{"tampered message", notification, func(e Envelope) Envelope {
			e.Message = strings.Replace(e.Message, "Permanent", "Transient", 1)
			return e
		}, aws.cert, true},
		{"subject dropped", withSubject, func(e Envelope) Envelope { e.Subject = ""; return e }, aws.cert, true},
		{"tampered subscribe url", confirmation, func(e Envelope) Envelope { e.SubscribeURL = "https://evil.test/"; return e }, aws.cert, true},
		{"version switched", notification, func(e Envelope) Envelope { e.SignatureVersion = "2"; return e }, aws.cert, true},
		{"wrong cert", notification, nil, other.cert, true},
		{"no cert", notification, nil, nil, true},
		{"unknown version", version(notification, "3"), nil, aws.cert, true},
		{"signature not base64", notification, func(e Envelope) Envelope { e.Signature = "!!"; return e }, aws.cert, true},
		{"cert url off AWS", notification, func(e Envelope) Envelope {
			e.SigningCertURL = "https://sns.eu-west-1.amazonaws.com.evil.test/x.pem"
			return e
		}, aws.cert, true},
		{"unknown type", retype(notification, "Other"), nil, aws.cert, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := tt.env
			if _, err := e.canonical(); err == nil {
				e = aws.sign(t, e)
			}
			if tt.tamper != nil {
				e = tt.tamper(e)
			}
			err := VerifySNS(e, tt.cert)
			if (err != nil) != tt.wantErr {
				t.Errorf("VerifySNS = %v; want error %v", err, tt.wantErr)
			}
		})
	}

	// A certificate with a non-RSA key is refused, not a panic.
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifySNS(aws.sign(t, notification), &x509.Certificate{PublicKey: &ecKey.PublicKey}); err == nil {
		t.Error("VerifySNS(ECDSA cert) = nil; want an error")
	}
}

func version(e Envelope, v string) Envelope { e.SignatureVersion = v; return e }
func retype(e Envelope, t string) Envelope  { e.Type = t; return e }

func TestParseSNS(t *testing.T) {
	t.Parallel()
	e, err := ParseSNS(readTestdata(t, "sns_notification.json"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Type != SNSNotification || e.MessageID != "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324" ||
		e.TopicARN != "arn:aws:sns:eu-west-1:123456789012:nurture-ses-feedback" || e.SignatureVersion != "1" ||
		!strings.HasPrefix(e.Message, `{"notificationType":"Bounce"`) || e.UnsubscribeURL == "" {
		t.Errorf("ParseSNS(sns_notification.json) = %+v", e)
	}
	c, err := ParseSNS(readTestdata(t, "sns_subscription_confirmation.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Type != SNSSubscriptionConfirmation || c.Token == "" || !strings.HasPrefix(c.SubscribeURL, "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription") {
		t.Errorf("ParseSNS(sns_subscription_confirmation.json) = %+v", c)
	}

	bad := []struct{ name, body string }{
		{"empty", ""},
		{"not json", "Type=Notification"},
		{"array", "[]"},
		{"null", "null"},
		{"trailing data", `{"Type":"Notification"} {}`},
		{"no type", `{"MessageId":"1"}`},
		{"unknown type", `{"Type":"Surprise","MessageId":"1","TopicArn":"a","Timestamp":"t","SignatureVersion":"1","Signature":"s","SigningCertURL":"u"}`},
		{"notification without message", `{"Type":"Notification","MessageId":"1","TopicArn":"a","Timestamp":"t","SignatureVersion":"1","Signature":"s","SigningCertURL":"u"}`},
		{"confirmation without token", `{"Type":"SubscriptionConfirmation","Message":"m","SubscribeURL":"s","MessageId":"1","TopicArn":"a","Timestamp":"t","SignatureVersion":"1","Signature":"s","SigningCertURL":"u"}`},
		{"no signature", `{"Type":"Notification","Message":"m","MessageId":"1","TopicArn":"a","Timestamp":"t","SignatureVersion":"1","SigningCertURL":"u"}`},
	}
	for _, tt := range bad {
		if e, err := ParseSNS([]byte(tt.body)); err == nil {
			t.Errorf("ParseSNS(%s) = %+v, nil; want an error", tt.name, e)
		}
	}
}

func TestCertURLAllowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		want bool
	}{
		{"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem", true},
		{"https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem", true},
		{"https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem", true},
		{"https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem", true},
		{"https://SNS.US-EAST-1.AMAZONAWS.COM/SimpleNotificationService-abc.pem", true},
		{"https://sns.us-east-1.amazonaws.com:443/SimpleNotificationService-abc.pem", true},
		{"http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", false},
		{"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.crt", false},
		{"https://sns.us-east-1.amazonaws.com/", false},
		{"https://sns.us-east-1.amazonaws.com.evil.test/x.pem", false},
		{"https://evil.test/sns.us-east-1.amazonaws.com/x.pem", false},
		{"https://sns.amazonaws.com/x.pem", false},
		{"https://s3.us-east-1.amazonaws.com/x.pem", false},
		{"https://sns.us-east-1.amazonaws.com@evil.test/x.pem", false},
		{"https://user@sns.us-east-1.amazonaws.com/x.pem", false},
		{"https://sns.us-east-1.amazonaws.com:8443/x.pem", false},
		{"https://sns.us-east-1.amazonaws.com/x.pem?redirect=https://evil.test", false},
		{"https://sns.us-east-1.amazonaws.com/x.pem#frag", false},
		{"https://sns.us_east.amazonaws.com/x.pem", false},
		{"//sns.us-east-1.amazonaws.com/x.pem", false},
		{"", false},
		{"https://sns.us-east-1.amazonaws.com/%zz.pem", false},
	}
	for _, tt := range tests {
		if got := CertURLAllowed(tt.url); got != tt.want {
			t.Errorf("CertURLAllowed(%q) = %v; want %v", tt.url, got, tt.want)
		}
	}
}

func TestCheckAge(t *testing.T) {
	t.Parallel()
	e := Envelope{Timestamp: "2024-06-03T08:00:02.655Z"}
	now := mustTime("2024-06-03T08:30:00Z")
	if err := e.CheckAge(now, time.Hour); err != nil {
		t.Errorf("CheckAge(30 min old, 1h) = %v; want nil", err)
	}
	if err := e.CheckAge(now, 10*time.Minute); err == nil {
		t.Error("CheckAge(30 min old, 10 min) = nil; want an error")
	}
	if err := e.CheckAge(mustTime("2024-06-03T07:00:00Z"), 10*time.Minute); err == nil {
		t.Error("CheckAge(an hour in the future, 10 min) = nil; want an error")
	}
	if err := (Envelope{Timestamp: "yesterday"}).CheckAge(now, time.Hour); err == nil {
		t.Error("CheckAge(unreadable) = nil; want an error")
	}
}

func TestParseSES(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []Report
	}{
		{"ses_bounce_permanent.json", []Report{
			{Kind: Bounce, Email: "jane@example.com", Hard: true, Status: "5.1.1", Diagnostic: "550 5.1.1 <jane@example.com>... User unknown", MessageID: "m-70007", At: mustTime("2024-06-03T08:00:02.237Z")},
			{Kind: Bounce, Email: "mary@example.com", Hard: true, Status: "5.1.1", Diagnostic: "550 5.1.1 user unknown", MessageID: "m-70007", At: mustTime("2024-06-03T08:00:02.237Z")},
		}},
		{"ses_bounce_suppressed.json", []Report{
			{Kind: Bounce, Email: "gone@example.com", Hard: true, Status: "5.1.1", Diagnostic: "Amazon SES did not send the message to this address because it is on the suppression list for your account.", MessageID: "m-70008", At: mustTime("2024-06-03T08:00:00.500Z")},
		}},
		{"ses_bounce_transient_event.json", []Report{
			{Kind: Bounce, Email: "bob@full-mailbox.example", Status: "4.2.2", Diagnostic: "452 4.2.2 Mailbox full", MessageID: "m-70009", At: mustTime("2024-06-03T08:05:10Z")},
		}},
		{"ses_complaint.json", []Report{
			{Kind: Complaint, Email: "richard@example.com", Diagnostic: "abuse", MessageID: "m-70010", At: mustTime("2024-06-03T09:12:01.451Z")},
		}},
		{"ses_delivery.json", []Report{
			{Kind: Delivery, Email: "jane@example.com", Status: "2.6.0", Diagnostic: "250 2.6.0 Message received", MessageID: "m-70011", At: mustTime("2024-06-03T08:00:00.666Z")},
		}},
		{"ses_delivery_delay_event.json", []Report{
			{Kind: Bounce, Email: "slow@example.com", Status: "4.4.1", Diagnostic: "421 4.4.1 Unable to connect to remote host", MessageID: "m-70012", At: mustTime("2024-06-03T08:15:40.641Z")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSES(string(readTestdata(t, tt.file)))
			if err != nil {
				t.Fatalf("ParseSES(%s): %v", tt.file, err)
			}
			if err := sameReports(got, tt.want); err != nil {
				t.Errorf("ParseSES(%s): %v", tt.file, err)
			}
		})
	}
}

func TestParseSESThroughSNS(t *testing.T) {
	t.Parallel()
	aws, _ := signers(t)
	e, err := ParseSNS(readTestdata(t, "sns_notification.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifySNS(aws.sign(t, e), aws.cert); err != nil {
		t.Fatal(err)
	}
	got, err := ParseSES(e.Message)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Email != "jane@example.com" || !got[0].Hard || got[0].MessageID != "m-70007" {
		t.Errorf("ParseSES(notification message) = %v", got)
	}
}

func TestParseSESOther(t *testing.T) {
	t.Parallel()
	notReport := []string{
		"Successfully validated SNS topic for Amazon SES event destination.",
		`{"notificationType":"AmazonSnsSubscriptionSucceeded","message":"You have successfully subscribed your Amazon SNS topic"}`,
		`{"eventType":"Open","mail":{},"open":{"timestamp":"2024-06-03T08:00:00Z"}}`,
		`{"eventType":"Send","mail":{},"send":{}}`,
		`{}`,
		`null`,
		`[1,2]`,
	}
	for _, m := range notReport {
		if got, err := ParseSES(m); !errors.Is(err, ErrNotReport) {
			t.Errorf("ParseSES(%q) = %v, %v; want ErrNotReport", m, got, err)
		}
	}
	var many strings.Builder
	many.WriteString(`{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[`)
	for i := range MaxRecipients + 1 {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`{"emailAddress":"a@b.test"}`)
	}
	many.WriteString(`]}}`)
	broken := []string{
		`{"notificationType":"Bounce"}`,
		`{"notificationType":"Complaint","mail":{}}`,
		`{"notificationType":"Delivery"}`,
		`{"eventType":"DeliveryDelay"}`,
		many.String(),
	}
	for _, m := range broken {
		if got, err := ParseSES(m); err == nil || errors.Is(err, ErrNotReport) {
			t.Errorf("ParseSES(%.60q) = %v, %v; want an error other than ErrNotReport", m, got, err)
		}
	}
	// Undetermined bounces are soft; unreadable addresses are skipped.
	got, err := ParseSES(`{"notificationType":"Bounce","bounce":{"bounceType":"Undetermined","bouncedRecipients":[{"emailAddress":"X@Y.test"},{"emailAddress":"nonsense"}]}}`)
	want := []Report{{Kind: Bounce, Email: "x@y.test", Diagnostic: "Undetermined"}}
	if err != nil {
		t.Fatal(err)
	}
	if err := sameReports(got, want); err != nil {
		t.Error(err)
	}
}
