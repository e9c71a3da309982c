package feedback

import (
	"errors"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ParseDSN reads a bounce or complaint that arrived as mail: an RFC 3464
// delivery status notification (message/delivery-status, or RFC 6533
// message/global-delivery-status) or an RFC 5965 ARF complaint report
// (message/feedback-report), wherever it sits in the MIME tree. It returns one
// Report per recipient, MessageID taken from the original message or headers
// the report returns.
//
// DSN actions map to kinds: "failed" is a bounce, hard unless the status is
// 4.x.x; "delayed" is a soft bounce; "delivered" and "relayed" are
// deliveries; "expanded" and unknown actions yield nothing. ARF feedback
// types abuse, fraud, virus and other are complaints; not-spam and
// auth-failure are reports that yield nothing.
//
// Input that is not such a report fails with ErrNotReport, input over limit
// bytes (DefaultLimit when limit <= 0) with ErrTooLarge; a report with more
// than MaxRecipients recipients, more than 100 MIME parts or broken MIME
// structure fails too.
func ParseDSN(r io.Reader, limit int64) ([]Report, error) {
	b, err := readLimited(r, limit)
	if err != nil {
		return nil, err
	}
	h, body, err := readMessage(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotReport, err)
	}
	var (
		isReport  bool
		machine   *entity // the delivery-status or feedback-report part
		original  *entity
		complaint bool
	)
	w := walker{}
	err = w.walk(h, body, func(e *entity) bool {
		switch e.mediaType {
		case "multipart/report":
			isReport = true
		case "message/delivery-status", "message/global-delivery-status":
			if machine == nil {
				machine = e
			}
		case "message/feedback-report":
			if machine == nil {
				machine, complaint = e, true
			}
		case "message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers":
			// The original follows the machine-readable part; a message/rfc822
			// before it is a forwarded message, not what the report is about.
			if machine != nil {
				original = e
			}
		}
		return original != nil
	})
	if err != nil {
		if !isReport && machine == nil {
			return nil, fmt.Errorf("%w: %v", ErrNotReport, err)
		}
		return nil, fmt.Errorf("read report: %w", err)
	}
	if machine == nil {
		if isReport {
			return nil, fmt.Errorf("%w: multipart/report without a delivery-status or feedback-report part", ErrNotReport)
		}
		return nil, ErrNotReport
	}
	var orig block
	if original != nil {
		orig = parseHeaderBlock(original.body)
	}
	msgID := ourID(orig.get("x-nurture-message"), orig.get("message-id"))
	date := parseTime(h.Get("Date"))
	if complaint {
		return parseARF(machine.body, orig, msgID, date)
	}
	return parseDeliveryStatus(machine.body, msgID, date)
}

// parseDeliveryStatus reads the per-message block and per-recipient blocks of
// a message/delivery-status body.
func parseDeliveryStatus(body []byte, msgID string, date time.Time) ([]Report, error) {
	// One more block than recipients for the per-message fields.
	blocks, err := parseBlocks(body, MaxRecipients+1)
	if err != nil {
		return nil, fmt.Errorf("delivery-status: more than %d recipients", MaxRecipients)
	}
	var (
		perMessage block
		reports    []Report
		recipients int
	)
	for _, b := range blocks {
		final, orcpt := b.get("final-recipient"), b.get("original-recipient")
		if final == "" && orcpt == "" {
			if perMessage == nil && recipients == 0 {
				perMessage = b
			}
			continue
		}
		recipients++
		if recipients > MaxRecipients {
			return nil, fmt.Errorf("delivery-status: more than %d recipients", MaxRecipients)
		}
		email := dsnAddress(orcpt)
		if email == "" {
			email = dsnAddress(final)
		}
		if email == "" {
			continue
		}
		_, diag := splitType(b.get("diagnostic-code"))
		status := enhancedStatus(b.get("status"))
		if status == "" {
			status = enhancedStatus(diag)
		}
		at := parseTime(b.get("last-attempt-date"))
		if at.IsZero() {
			at = parseTime(perMessage.get("arrival-date"))
		}
		if at.IsZero() {
			at = date
		}
		rep := Report{Email: email, Status: status, Diagnostic: diagnostic(diag), MessageID: msgID, At: at}
		switch strings.ToLower(firstWord(b.get("action"))) {
		case "failed":
			rep.Kind, rep.Hard = Bounce, permanent(status, diag)
		case "delayed":
			rep.Kind = Bounce
		case "delivered", "relayed":
			rep.Kind = Delivery
		default:
			// "expanded" (a list took it) and unknown actions say nothing
			// about the address we sent to.
			continue
		}
		reports = append(reports, rep)
	}
	if recipients == 0 {
		return nil, errors.New("delivery-status names no recipient")
	}
	return reports, nil
}

// permanent reports whether a failure is final: a 5.x.x status, or a 5xx
// reply when the status is missing, or neither when nothing says otherwise
// (the action "failed" already means the server gave up).
func permanent(status, diag string) bool {
	if status != "" {
		return status[0] != '4'
	}
	d := strings.TrimSpace(diag)
	return !(len(d) >= 3 && d[0] == '4' && d[1] >= '0' && d[1] <= '9' && d[2] >= '0' && d[2] <= '9')
}

// parseARF reads an RFC 5965 message/feedback-report body.
func parseARF(body []byte, orig block, msgID string, date time.Time) ([]Report, error) {
	blocks, err := parseBlocks(body, MaxRecipients)
	if err != nil {
		return nil, fmt.Errorf("feedback-report: %w", err)
	}
	var fb block
	for _, b := range blocks {
		fb = append(fb, b...)
	}
	kind := strings.ToLower(firstWord(fb.get("feedback-type")))
	switch kind {
	case "abuse", "fraud", "virus", "other", "":
	default:
		// not-spam and auth-failure (RFC 6591) are not complaints.
		return nil, nil
	}
	if kind == "" {
		kind = "abuse"
	}
	at := parseTime(fb.get("arrival-date"))
	if at.IsZero() {
		at = parseTime(fb.get("received-date")) // the ARF drafts' name, still sent
	}
	if at.IsZero() {
		at = date
	}
	var emails []string
	rcpts := fb.all("original-rcpt-to")
	if len(rcpts) > MaxRecipients {
		return nil, fmt.Errorf("feedback-report: more than %d recipients", MaxRecipients)
	}
	for _, v := range rcpts {
		if e := normalizeAddress(v); e != "" {
			emails = append(emails, e)
		}
	}
	if len(emails) == 0 {
		// Reporters often omit Original-Rcpt-To but keep the original's To.
		if list, err := mail.ParseAddressList(orig.get("to")); err == nil && len(list) == 1 {
			emails = append(emails, strings.ToLower(list[0].Address))
		}
	}
	if len(emails) == 0 {
		if msgID == "" {
			return nil, errors.New("feedback-report names neither recipient nor message")
		}
		emails = []string{""}
	}
	reports := make([]Report, 0, len(emails))
	for _, e := range emails {
		reports = append(reports, Report{Kind: Complaint, Email: e, Diagnostic: kind, MessageID: msgID, At: at})
	}
	return reports, nil
}

// dsnAddress reads "rfc822; x@y" or "utf-8; ..." (RFC 6533, with \x{HEX}
// escapes), or a bare address, into a lower-cased address.
func dsnAddress(v string) string {
	typ, addr := splitType(v)
	if strings.EqualFold(typ, "utf-8") {
		addr = unescapeUTF8Addr(addr)
	}
	return normalizeAddress(addr)
}

// splitType splits "type; value" as in Final-Recipient and Diagnostic-Code.
// A value without a type token is returned whole.
func splitType(v string) (typ, rest string) {
	v = strings.TrimSpace(v)
	i := strings.IndexByte(v, ';')
	if i <= 0 {
		return "", v
	}
	t := strings.TrimSpace(v[:i])
	if strings.ContainsAny(t, " \t@<>\"") {
		return "", v
	}
	return t, strings.TrimSpace(v[i+1:])
}

var utf8EscapeRE = regexp.MustCompile(`\\x\{([0-9A-Fa-f]{1,6})\}`)

func unescapeUTF8Addr(s string) string {
	return utf8EscapeRE.ReplaceAllStringFunc(s, func(m string) string {
		n, err := strconv.ParseUint(m[3:len(m)-1], 16, 32)
		if err != nil || n > 0x10FFFF {
			return m
		}
		return string(rune(n))
	})
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return strings.TrimRight(f[0], ";")
}
