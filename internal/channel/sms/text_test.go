package sms_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nurturehq/nurture/internal/channel/sms"
)

// gsmBasic is the whole GSM 03.38 default alphabet (ESC aside) in table order.
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

const gsmExtension = "\f^{}\\[~]|€"

func gsm(units, segments int) sms.Cost {
	return sms.Cost{Encoding: sms.GSM7, Units: units, Segments: segments}
}

func ucs(units, segments int) sms.Cost {
	return sms.Cost{Encoding: sms.UCS2, Units: units, Segments: segments}
}

func TestMeasure(t *testing.T) {
	t.Parallel()
	a, c, grin := "a", "ç", "😀"
	rep := strings.Repeat
	tests := []struct {
		name string
		body string
		want sms.Cost
	}{
		{"empty", "", gsm(0, 0)},
		{"short", "Hello", gsm(5, 1)},
		{"whole basic alphabet", gsmBasic, gsm(127, 1)},
		{"extension table", gsmExtension, gsm(20, 1)},
		{"accents in the alphabet", "Café à Malmö, Señor Müller ¿Qué?", gsm(32, 1)},
		{"160 septets", rep(a, 160), gsm(160, 1)},
		{"161 septets", rep(a, 161), gsm(161, 2)},
		{"306 septets", rep(a, 306), gsm(306, 2)},
		{"307 septets", rep(a, 307), gsm(307, 3)},
		{"euro makes 160", rep(a, 158) + "€", gsm(160, 1)},
		{"euro makes 161", rep(a, 159) + "€", gsm(161, 2)},
		{"escape pair not split", rep(a, 152) + "€" + rep(a, 152), gsm(306, 3)},
		{"escape pair fits exactly", rep(a, 151) + "€" + rep(a, 153), gsm(306, 2)},
		{"1530 septets", rep(a, 1530), gsm(1530, 10)},
		{"line breaks", "a\r\nb", gsm(4, 1)},
		{"small c cedilla", "ç", ucs(1, 1)},
		{"backtick", "`", ucs(1, 1)},
		{"circumflex E", "ARRÊT", ucs(5, 1)},
		{"curly quote", "It’s", ucs(4, 1)},
		{"tab", "a\tb", ucs(3, 1)},
		{"70 units", rep(c, 70), ucs(70, 1)},
		{"71 units", rep(c, 71), ucs(71, 2)},
		{"134 units", rep(c, 134), ucs(134, 2)},
		{"135 units", rep(c, 135), ucs(135, 3)},
		{"emoji", "Hello " + grin, ucs(8, 1)},
		{"35 emoji", rep(grin, 35), ucs(70, 1)},
		{"36 emoji", rep(grin, 36), ucs(72, 2)},
		{"surrogate pair not split", rep(c, 66) + grin + rep(c, 66), ucs(134, 3)},
		{"surrogate pair fits exactly", rep(c, 65) + grin + rep(c, 67), ucs(134, 2)},
		{"one emoji spoils GSM", rep(a, 100) + grin, ucs(102, 2)},
		{"invalid UTF-8", "a\xffb", ucs(3, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := sms.Measure(tt.body); got != tt.want {
				t.Errorf("Measure(%.20q…) = %+v; want %+v", tt.body, got, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		reason string // a fragment of the error's reason; "" for no error
	}{
		{"plain", "Your demo is booked for Tuesday.", ""},
		{"line breaks", "Hi Ana,\r\nsee you soon\n", ""},
		{"emoji", "Thanks 🙏", ""},
		{"10 GSM segments", strings.Repeat("a", 1530), ""},
		{"10 UCS-2 segments", strings.Repeat("ç", 670), ""},
		{"empty", "", "is empty"},
		{"blank", " \n\t ", "is empty"},
		{"invalid UTF-8", "caf\xe9", "not valid UTF-8"},
		{"encoded surrogate", "a\xed\xa0\x80", "not valid UTF-8"},
		{"NUL", "a\x00b", "control character U+0000 at byte 1"},
		{"tab", "a\tb", "control character U+0009"},
		{"form feed", "page\fbreak", "control character U+000C"},
		{"escape", "\x1b[31mred", "control character U+001B"},
		{"C1 control", "a\u0085b", "control character U+0085"},
		{"11 GSM segments", strings.Repeat("a", 1531), "needs 11 GSM-7 segments"},
		{"11 UCS-2 segments", strings.Repeat("ç", 671), "needs 11 UCS-2 segments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := sms.Check(tt.body)
			if tt.reason == "" {
				if err != nil {
					t.Errorf("Check(%.20q) = %v; want nil", tt.body, err)
				}
				return
			}
			var ve *sms.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Check(%.20q) = %v; want a *ValidationError", tt.body, err)
			}
			if ve.Field != "body" || !strings.Contains(ve.Reason, tt.reason) {
				t.Errorf("Check(%.20q) = %q; want field body and a reason with %q", tt.body, err, tt.reason)
			}
		})
	}
}

func FuzzMeasure(f *testing.F) {
	for _, s := range []string{"", "a", gsmBasic, gsmExtension, "😀ç€", strings.Repeat("€", 81), "a\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		c := sms.Measure(body)
		single, multi := 160, 153
		if c.Encoding == sms.UCS2 {
			single, multi = 70, 67
		}
		switch {
		case body == "":
			if c.Segments != 0 || c.Units != 0 {
				t.Errorf("Measure(%q) = %+v; want no units or segments", body, c)
			}
		case c.Units <= single:
			if c.Segments != 1 {
				t.Errorf("Measure(%q) = %+v; want 1 segment", body, c)
			}
		default:
			// Keeping pairs whole wastes at most one unit a segment.
			if lo, hi := (c.Units+multi-1)/multi, (c.Units+multi-2)/(multi-1); c.Segments < lo || c.Segments > hi {
				t.Errorf("Measure(%q) = %+v; want %d to %d segments", body, c, lo, hi)
			}
		}
		if c.Units < utf8.RuneCountInString(body) {
			t.Errorf("Measure(%q) = %+v; want at least a unit per character", body, c)
		}
		if err := sms.Check(body); err == nil && (c.Segments < 1 || c.Segments > sms.MaxSegments) {
			t.Errorf("Check(%q) = nil with %d segments", body, c.Segments)
		}
	})
}
