package feedback

import (
	"encoding/json"
	"fmt"
	"strings"
)

// sesNotification is the part of an SES notification we read: identity
// notifications name their type in notificationType, event publishing in
// eventType; the rest is shared.
type sesNotification struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Mail             struct {
		Timestamp string `json:"timestamp"`
		Headers   []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
		CommonHeaders struct {
			MessageID string `json:"messageId"`
		} `json:"commonHeaders"`
	} `json:"mail"`
	Bounce *struct {
		BounceType        string         `json:"bounceType"`
		BounceSubType     string         `json:"bounceSubType"`
		BouncedRecipients []sesRecipient `json:"bouncedRecipients"`
		Timestamp         string         `json:"timestamp"`
	} `json:"bounce"`
	Complaint *struct {
		ComplainedRecipients  []sesRecipient `json:"complainedRecipients"`
		ComplaintFeedbackType string         `json:"complaintFeedbackType"`
		Timestamp             string         `json:"timestamp"`
	} `json:"complaint"`
	Delivery *struct {
		Recipients   []string `json:"recipients"`
		SMTPResponse string   `json:"smtpResponse"`
		Timestamp    string   `json:"timestamp"`
	} `json:"delivery"`
	DeliveryDelay *struct {
		DelayType         string         `json:"delayType"`
		DelayedRecipients []sesRecipient `json:"delayedRecipients"`
		Timestamp         string         `json:"timestamp"`
	} `json:"deliveryDelay"`
}

type sesRecipient struct {
	EmailAddress   string `json:"emailAddress"`
	Status         string `json:"status"`
	DiagnosticCode string `json:"diagnosticCode"`
}

// ParseSES reads the SES notification carried in an SNS Notification's
// Message: Bounce (Permanent is hard; Transient and Undetermined are soft),
// Complaint, Delivery, and DeliveryDelay (a soft bounce, as a DSN's
// "delayed" is). Other SES event types (Send, Open, Click, ...) and
// non-JSON messages, such as the text SES sends when a topic is set up, fail
// with ErrNotReport. MessageID comes from the X-Nurture-Message or
// Message-ID header SES echoes in mail.headers.
func ParseSES(message string) ([]Report, error) {
	var n sesNotification
	if err := json.Unmarshal([]byte(message), &n); err != nil {
		return nil, fmt.Errorf("%w: ses: %v", ErrNotReport, err)
	}
	var nurture, messageID string
	for _, h := range n.Mail.Headers {
		switch {
		case strings.EqualFold(h.Name, headerNurtureMessage):
			nurture = h.Value
		case strings.EqualFold(h.Name, "Message-ID"):
			messageID = h.Value
		}
	}
	if messageID == "" {
		messageID = n.Mail.CommonHeaders.MessageID
	}
	msgID := ourID(nurture, messageID)
	mailAt := parseTime(n.Mail.Timestamp)

	typ := n.NotificationType
	if typ == "" {
		typ = n.EventType
	}
	base := Report{MessageID: msgID, At: mailAt}
	var reports []Report
	add := func(r Report, email, timestamp string) {
		if t := parseTime(timestamp); !t.IsZero() {
			r.At = t
		}
		if r.Email = normalizeAddress(email); r.Email != "" {
			reports = append(reports, r)
		}
	}
	switch typ {
	case "Bounce":
		b := n.Bounce
		if b == nil {
			return nil, fmt.Errorf("ses: Bounce notification without bounce")
		}
		if len(b.BouncedRecipients) > MaxRecipients {
			return nil, fmt.Errorf("ses: more than %d bounced recipients", MaxRecipients)
		}
		base.Kind, base.Hard = Bounce, b.BounceType == "Permanent"
		for _, rcpt := range b.BouncedRecipients {
			r := sesRecipientReport(base, rcpt)
			if r.Diagnostic == "" {
				// SES's own refusals (its suppression list) carry no SMTP reply.
				r.Diagnostic = diagnostic(strings.Trim(b.BounceType+"/"+b.BounceSubType, "/"))
			}
			add(r, rcpt.EmailAddress, b.Timestamp)
		}
	case "Complaint":
		c := n.Complaint
		if c == nil {
			return nil, fmt.Errorf("ses: Complaint notification without complaint")
		}
		if len(c.ComplainedRecipients) > MaxRecipients {
			return nil, fmt.Errorf("ses: more than %d complained recipients", MaxRecipients)
		}
		base.Kind, base.Diagnostic = Complaint, diagnostic(c.ComplaintFeedbackType)
		for _, rcpt := range c.ComplainedRecipients {
			add(base, rcpt.EmailAddress, c.Timestamp)
		}
	case "Delivery":
		d := n.Delivery
		if d == nil {
			return nil, fmt.Errorf("ses: Delivery notification without delivery")
		}
		if len(d.Recipients) > MaxRecipients {
			return nil, fmt.Errorf("ses: more than %d delivered recipients", MaxRecipients)
		}
		base.Kind, base.Diagnostic, base.Status = Delivery, diagnostic(d.SMTPResponse), enhancedStatus(d.SMTPResponse)
		for _, rcpt := range d.Recipients {
			add(base, rcpt, d.Timestamp)
		}
	case "DeliveryDelay":
		d := n.DeliveryDelay
		if d == nil {
			return nil, fmt.Errorf("ses: DeliveryDelay notification without deliveryDelay")
		}
		if len(d.DelayedRecipients) > MaxRecipients {
			return nil, fmt.Errorf("ses: more than %d delayed recipients", MaxRecipients)
		}
		base.Kind = Bounce
		for _, rcpt := range d.DelayedRecipients {
			r := sesRecipientReport(base, rcpt)
			if r.Diagnostic == "" {
				r.Diagnostic = diagnostic(d.DelayType)
			}
			add(r, rcpt.EmailAddress, d.Timestamp)
		}
	case "":
		return nil, fmt.Errorf("%w: ses: no notificationType or eventType", ErrNotReport)
	default:
		return nil, fmt.Errorf("%w: ses: %s", ErrNotReport, typ)
	}
	return reports, nil
}

func sesRecipientReport(base Report, rcpt sesRecipient) Report {
	_, diag := splitType(rcpt.DiagnosticCode)
	base.Diagnostic = diagnostic(diag)
	if base.Status = enhancedStatus(rcpt.Status); base.Status == "" {
		base.Status = enhancedStatus(diag)
	}
	return base
}
