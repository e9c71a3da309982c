package sms

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Kind is what an inbound message asks of the sender.
type Kind int

// Kinds of inbound message.
const (
	None  Kind = iota // an ordinary message
	Stop              // opt out of every message from this sender
	Start             // opt back in after a Stop
	Help              // ask who is writing and how to stop
)

func (k Kind) String() string {
	switch k {
	case Stop:
		return "stop"
	case Start:
		return "start"
	case Help:
		return "help"
	}
	return "none"
}

// maxKeywordLen bounds the bodies Keyword looks at: a keyword with generous
// padding is far shorter, and anything longer is a conversation.
const maxKeywordLen = 64

// Keyword reads an inbound message for an opt-out, opt-in or help keyword.
//
// The keyword must be the whole message, as carriers and Twilio match it, so
// that Nurture's idea of who opted out agrees with what the carrier blocks:
// "Stop" and " stop! " are Stop, "Don't stop", "Stop please" and "stopped by
// yesterday" are None. Case, accents ("ARRÊT"), full-width letters, and
// whitespace and punctuation around the keyword are ignored; inside it, runs
// of spaces, hyphens and underscores count as one space ("opt-out"). A body
// over 64 bytes is never a keyword.
//
//	Stop:  STOP, STOPALL, STOP ALL, ARRET, UNSUBSCRIBE, QUIT, CANCEL, END, REVOKE, OPTOUT, OPT OUT
//	Start: START, UNSTOP, YES, SUBSCRIBE
//	Help:  HELP, INFO, AIDE
func Keyword(body string) Kind {
	if len(body) > maxKeywordLen {
		return None
	}
	switch fold(body) {
	case "STOP", "STOPALL", "STOP ALL", "ARRET", "UNSUBSCRIBE", "QUIT", "CANCEL", "END", "REVOKE", "OPTOUT", "OPT OUT":
		return Stop
	case "START", "UNSTOP", "YES", "SUBSCRIBE":
		return Start
	case "HELP", "INFO", "AIDE":
		return Help
	}
	return None
}

// fold brings a message to the form keywords are written in: upper case,
// without accents or invisible format characters, single spaces between
// words, no punctuation or space at either end.
func fold(s string) string {
	var b strings.Builder
	gap := false
	// NFKD splits "Ê" into "E" and a combining circumflex, and maps
	// full-width and other compatibility forms to their plain letters.
	for _, r := range norm.NFKD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r), unicode.Is(unicode.Cf, r):
		case unicode.IsSpace(r), r == '-', r == '_':
			gap = true
		default:
			if gap && b.Len() > 0 {
				b.WriteByte(' ')
			}
			gap = false
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return strings.TrimFunc(b.String(), func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSpace(r) })
}
