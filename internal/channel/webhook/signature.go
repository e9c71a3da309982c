// Package webhook delivers signed JSON events to subscriber URLs and
// verifies signatures on the ones Nurture receives.
//
// A delivery is a POST of a JSON body with a Nurture-Signature header:
//
//	Nurture-Signature: t=1767225600,v1=902351381a29b287ea4887458142ac33e3beafb36f2b83fb7e5b6219fc12eecf
//
// where t is the time of signing in Unix seconds and v1 the hex
// HMAC-SHA256, keyed with the subscription's secret, of t, a full stop and
// the body. While a secret is being replaced a header may carry one v1 per
// secret; a receiver accepts the body if any of them matches its secret.
// Receivers should refuse a signature whose t is too far from their clock,
// so that a captured delivery cannot be replayed later; Verify does both.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header is the name of the signature header.
const Header = "Nurture-Signature"

// DefaultWindow is how far a signature's time may be from the receiver's
// clock, either way, when Verify is given no window.
const DefaultWindow = 5 * time.Minute

// Errors of Verify. Both are wrapped with detail; test with errors.Is.
var (
	// ErrSignature: the header is missing or malformed, or no v1 in it
	// matches the body and the secret.
	ErrSignature = errors.New("webhook signature does not match")
	// ErrExpired: the signature matches but its time is outside the
	// window, as a replayed delivery's would be.
	ErrExpired = errors.New("webhook signature is too old or too far in the future")
)

// Limits on what Verify reads, so that a hostile header costs little.
const (
	maxHeader     = 4096
	maxSignatures = 8
)

// Sign returns the value of the signature header for body, signed with
// secret at ts.
func Sign(secret []byte, ts time.Time, body []byte) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	return "t=" + t + ",v1=" + hex.EncodeToString(mac(secret, t, body))
}

func mac(secret []byte, t string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a signature header against body and secret, and that its
// time is within window of now (DefaultWindow when window is 0 or less).
// The header holds one t and one or more v1, separated by commas; other
// keys are ignored, so that later schemes can be added beside v1. The MAC
// is checked first: ErrExpired is only returned for a body that was
// genuinely signed with secret.
func Verify(secret []byte, header string, body []byte, now time.Time, window time.Duration) error {
	if window <= 0 {
		window = DefaultWindow
	}
	if len(header) > maxHeader {
		return fmt.Errorf("%w: header is longer than %d bytes", ErrSignature, maxHeader)
	}
	var t string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: %q is not key=value", ErrSignature, part)
		}
		switch k {
		case "t":
			if t != "" {
				return fmt.Errorf("%w: more than one t", ErrSignature)
			}
			if v == "" || len(v) > 18 || strings.Trim(v, "0123456789") != "" {
				return fmt.Errorf("%w: t is not a number of seconds", ErrSignature)
			}
			t = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return fmt.Errorf("%w: v1 is not a hex HMAC-SHA256", ErrSignature)
			}
			if len(sigs) == maxSignatures {
				return fmt.Errorf("%w: more than %d v1", ErrSignature, maxSignatures)
			}
			sigs = append(sigs, sig)
		}
	}
	if t == "" || len(sigs) == 0 {
		return fmt.Errorf("%w: t or v1 missing", ErrSignature)
	}
	want := mac(secret, t, body)
	ok := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			ok = true
		}
	}
	if !ok {
		return ErrSignature
	}
	sec, _ := strconv.ParseInt(t, 10, 64) // at most 18 digits: no overflow
	if d := now.Sub(time.Unix(sec, 0)); d > window || d < -window {
		return fmt.Errorf("%w: signed %v from now, more than %v", ErrExpired, d.Round(time.Second), window)
	}
	return nil
}
