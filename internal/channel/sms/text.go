package sms

import (
	"fmt"
	"strings"
	"unicode/utf16"
)

// Encodings of an SMS body.
const (
	GSM7 = "GSM-7" // the GSM 03.38 default alphabet, 7 bits a character
	UCS2 = "UCS-2" // UTF-16, for anything the default alphabet cannot spell
)

// Segment sizes. A message that does not fit one segment is sent as several,
// each losing room to the header that tells the phone how to join them.
const (
	gsmSingle  = 160 // septets
	gsmMulti   = 153
	ucs2Single = 70 // UTF-16 code units
	ucs2Multi  = 67
)

// MaxSegments is the most segments Check lets a body take. Providers bill each
// segment, and phones join long messages less reliably past a handful.
const MaxSegments = 10

// Cost is what a body takes on the wire.
type Cost struct {
	Encoding string // GSM7 or UCS2
	// Units are septets for GSM-7 (an extension character takes two) and
	// UTF-16 code units for UCS-2 (a character outside the BMP takes two).
	Units    int
	Segments int // 0 for an empty body
}

// Measure says how body would be encoded and how many segments it takes.
// A body is GSM-7 when every character is in the GSM 03.38 default alphabet
// or its extension table, and UCS-2 otherwise: a single emoji or curly quote
// turns the whole message into UCS-2 and shrinks a segment from 160
// characters to 70. Segments are counted the way phones join them: an escape
// pair (GSM-7) or a surrogate pair (UCS-2) is never split across two. National
// language shift tables are not used. Invalid UTF-8 counts as U+FFFD, so
// UCS-2; Check rejects it.
func Measure(body string) Cost {
	septets, gsm := 0, true
	for _, r := range body {
		n := gsmSeptets(r)
		if n == 0 {
			gsm = false
			break
		}
		septets += n
	}
	if gsm {
		return Cost{Encoding: GSM7, Units: septets, Segments: segments(body, septets, gsmSingle, gsmMulti, gsmSeptets)}
	}
	units := 0
	for _, r := range body {
		units += utf16Units(r)
	}
	return Cost{Encoding: UCS2, Units: units, Segments: segments(body, units, ucs2Single, ucs2Multi, utf16Units)}
}

// segments counts the segments of a body that takes total units, filling each
// segment of a multi-part message as far as the next character still fits.
func segments(body string, total, single, multi int, size func(rune) int) int {
	switch {
	case total == 0:
		return 0
	case total <= single:
		return 1
	}
	n, used := 1, 0
	for _, r := range body {
		s := size(r)
		if used+s > multi {
			n, used = n+1, 0
		}
		used += s
	}
	return n
}

// gsmBasic holds the characters of the GSM 03.38 default alphabet outside
// printable ASCII. 0x09 is the capital Ç; the small ç is not in the alphabet.
const gsmBasic = "£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà"

// gsmSeptets is how many septets r takes in GSM-7: 1 in the default alphabet,
// 2 in the extension table (an escape and the character), 0 when GSM-7
// cannot carry it.
func gsmSeptets(r rune) int {
	switch {
	case r == '\n', r == '\r':
		return 1
	case r == '\f', r == '€':
		return 2
	case r == '`':
		return 0
	case r >= ' ' && r <= '~':
		if strings.ContainsRune("^{}\\[~]|", r) {
			return 2
		}
		return 1
	case r > '~' && strings.ContainsRune(gsmBasic, r):
		return 1
	}
	return 0
}

func utf16Units(r rune) int {
	if n := utf16.RuneLen(r); n > 0 {
		return n
	}
	return 1 // invalid runes are sent as U+FFFD
}

// Check reports whether body can be sent as an SMS: not empty or blank, valid
// UTF-8, no control characters but line feed and carriage return, and no
// more than MaxSegments segments. The error is a *ValidationError on field
// "body".
func Check(body string) error {
	if err := checkText(body); err != nil {
		return err
	}
	if c := Measure(body); c.Segments > MaxSegments {
		return &ValidationError{Field: "body", Reason: fmt.Sprintf(
			"needs %d %s segments; the most allowed is %d", c.Segments, c.Encoding, MaxSegments)}
	}
	return nil
}

// checkText is Check without the segment limit, for WhatsApp, which does not
// cut messages into segments.
func checkText(body string) error {
	if strings.TrimSpace(body) == "" {
		return &ValidationError{Field: "body", Reason: "is empty"}
	}
	return checkPlain("body", body, "\n\r")
}
