package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	secret = []byte("whsec_test_secret")
	body   = []byte(`{"event":"lead.created","id":42}`)
	signed = time.Unix(1767225600, 0)
)

func TestSignKnownValue(t *testing.T) {
	t.Parallel()
	// printf '1767225600.{"event":"lead.created","id":42}' | openssl dgst -sha256 -hmac whsec_test_secret
	want := "t=1767225600,v1=902351381a29b287ea4887458142ac33e3beafb36f2b83fb7e5b6219fc12eecf"
	if got := Sign(secret, signed, body); got != want {
		t.Errorf("Sign = %q; want %q", got, want)
	}
	// Sub-second parts are dropped, not rounded.
	if got := Sign(secret, signed.Add(999*time.Millisecond), body); got != want {
		t.Errorf("Sign 0.999 s later = %q; want %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	oldSecret := []byte("whsec_old")
	good := Sign(secret, signed, body)
	v1 := func(s []byte) string { _, v, _ := strings.Cut(Sign(s, signed, body), ",v1="); return v }
	tests := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		window time.Duration
		want   error
	}{
		{"valid", secret, good, body, signed, 0, nil},
		{"4 min late, default window", secret, good, body, signed.Add(4 * time.Minute), 0, nil},
		{"exactly 5 min late", secret, good, body, signed.Add(5 * time.Minute), 0, nil},
		{"5 min 1 s late", secret, good, body, signed.Add(5*time.Minute + time.Second), 0, ErrExpired},
		{"a day old", secret, good, body, signed.Add(24 * time.Hour), 0, ErrExpired},
		{"6 min in the future", secret, good, body, signed.Add(-6 * time.Minute), 0, ErrExpired},
		{"negative window is the default", secret, good, body, signed.Add(4 * time.Minute), -time.Second, nil},
		{"narrow window", secret, good, body, signed.Add(31 * time.Second), 30 * time.Second, ErrExpired},
		{"wide window", secret, good, body, signed.Add(time.Hour), 2 * time.Hour, nil},
		{"spaces after commas", secret, "t=1767225600, v1=" + v1(secret), body, signed, 0, nil},
		{"v1 first", secret, "v1=" + v1(secret) + ",t=1767225600", body, signed, 0, nil},
		{"two v1, new secret second", secret, "t=1767225600,v1=" + v1(oldSecret) + ",v1=" + v1(secret), body, signed, 0, nil},
		{"two v1, old secret", oldSecret, "t=1767225600,v1=" + v1(oldSecret) + ",v1=" + v1(secret), body, signed, 0, nil},
		{"two v1, neither", []byte("other"), "t=1767225600,v1=" + v1(oldSecret) + ",v1=" + v1(secret), body, signed, 0, ErrSignature},
		{"unknown scheme ignored", secret, "t=1767225600,v0=abc,v1=" + v1(secret), body, signed, 0, nil},
		{"wrong secret", []byte("wrong"), good, body, signed, 0, ErrSignature},
		{"body changed", secret, good, []byte(`{"event":"lead.created","id":43}`), signed, 0, ErrSignature},
		{"timestamp changed", secret, "t=1767225601,v1=" + v1(secret), body, signed, 0, ErrSignature},
		{"old and wrong is a signature error", []byte("wrong"), good, body, signed.Add(time.Hour), 0, ErrSignature},
		{"empty", secret, "", body, signed, 0, ErrSignature},
		{"garbage", secret, "garbage", body, signed, 0, ErrSignature},
		{"no t", secret, "v1=" + v1(secret), body, signed, 0, ErrSignature},
		{"no v1", secret, "t=1767225600", body, signed, 0, ErrSignature},
		{"empty t", secret, "t=,v1=" + v1(secret), body, signed, 0, ErrSignature},
		{"t not a number", secret, "t=abc,v1=" + v1(secret), body, signed, 0, ErrSignature},
		{"t negative", secret, "t=-1767225600,v1=" + v1(secret), body, signed, 0, ErrSignature},
		{"t with plus", secret, "t=+1767225600,v1=" + v1(secret), body, signed, 0, ErrSignature},
		{"t huge", secret, "t=99999999999999999999999,v1=" + v1(secret), body, signed, 0, ErrSignature},
		{"two t", secret, "t=1767225600,t=1767225600,v1=" + v1(secret), body, signed, 0, ErrSignature},
		{"v1 not hex", secret, "t=1767225600,v1=zz" + v1(secret)[2:], body, signed, 0, ErrSignature},
		{"v1 short", secret, "t=1767225600,v1=" + v1(secret)[:62], body, signed, 0, ErrSignature},
		{"v1 upper-case hex", secret, "t=1767225600,v1=" + strings.ToUpper(v1(secret)), body, signed, 0, nil},
		{"trailing comma", secret, good + ",", body, signed, 0, ErrSignature},
		{"too many v1", secret, "t=1767225600" + strings.Repeat(",v1="+v1(oldSecret), 9) + ",v1=" + v1(secret), body, signed, 0, ErrSignature},
		{"huge header", secret, good + "," + strings.Repeat("x=y,", 2000) + "z=w", body, signed, 0, ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.header, tt.body, tt.now, tt.window)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Verify(%.60q…) = %v; want %v", tt.header, err, tt.want)
			}
			if errors.Is(err, ErrSignature) && errors.Is(err, ErrExpired) {
				t.Errorf("Verify error %v is both", err)
			}
		})
	}
}

func TestSlack(t *testing.T) {
	t.Parallel()
	got := string(Slack("New lead: \"Ann\" <ann@example.com>\n\tscore 80 & rising \u2028é"))
	want := `{"text":"New lead: \"Ann\" \u003cann@example.com\u003e\n\tscore 80 \u0026 rising \u2028é"}`
	if got != want {
		t.Errorf("Slack = %s; want %s", got, want)
	}
	if got, want := SlackEscape("<!channel> & <@U123>"), "&lt;!channel&gt; &amp; &lt;@U123&gt;"; got != want {
		t.Errorf("SlackEscape = %q; want %q", got, want)
	}
}
