package dispatch

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nurturehq/nurture/internal/channel/sms"
	"github.com/nurturehq/nurture/internal/store"
)

// SMS is the SMS and WhatsApp channel's configuration.
type SMS struct {
	// Sender speaks the provider's API: *sms.Twilio.
	Sender interface {
		Send(ctx context.Context, m sms.Message) (sms.Result, error)
	}
	// From is the SMS sender (E.164 number, short code or sender id);
	// WhatsAppFrom the WhatsApp number. Empty: that channel is off.
	From, WhatsAppFrom string
	// StatusURL is where the provider posts delivery statuses; the
	// message's id is added as ?m=<id> (the provider signs the whole URL).
	StatusURL string
	// QuietStart and QuietEnd bound the hours, in the contact's time zone,
	// when marketing texts wait (default 21:00 to 08:00).
	QuietStart, QuietEnd int
	// TimeZone is used for contacts without one (default Europe/Paris).
	TimeZone *time.Location
}

// quietUntil is when the quiet hours around t (in loc) end, or zero when t
// is outside them.
func (c *SMS) quietUntil(t time.Time, loc *time.Location) time.Time {
	start, end := c.QuietStart, c.QuietEnd
	if start == 0 && end == 0 {
		start, end = 21, 8
	}
	lt := t.In(loc)
	h := lt.Hour()
	var in bool
	if start > end {
		in = h >= start || h < end
	} else {
		in = h >= start && h < end
	}
	if !in {
		return time.Time{}
	}
	day := lt
	if start > end && h >= start {
		day = lt.AddDate(0, 0, 1)
	}
	return time.Date(day.Year(), day.Month(), day.Day(), end, 0, 0, 0, loc)
}

func (d *Dispatcher) contactZone(tz string) *time.Location {
	if tz != "" {
		if loc, err := time.LoadLocation(tz); err == nil {
			return loc
		}
	}
	if d.cfg.SMS.TimeZone != nil {
		return d.cfg.SMS.TimeZone
	}
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		return time.UTC
	}
	return loc
}

// sendSMS sends a text or WhatsApp message; a marketing one due in the
// contact's quiet hours is deferred to their end instead.
func (d *Dispatcher) sendSMS(ctx context.Context, m *store.Outgoing) (reply string, deferUntil time.Time, props map[string]any, err error) {
	c := d.cfg.SMS
	from := c.From
	if m.Channel == store.ChannelWhatsApp {
		from = c.WhatsAppFrom
	}
	if from == "" {
		return "", time.Time{}, nil, &Failure{Reason: "no sender number configured for " + m.Channel}
	}
	if m.Kind == store.KindMarketing {
		if until := c.quietUntil(d.clock.Now(), d.contactZone(m.Contact.TimeZone)); !until.IsZero() {
			return "", until, nil, nil
		}
	}
	ct, err := d.compiled(m)
	if err != nil {
		return "", time.Time{}, nil, &Failure{Reason: "template: " + err.Error()}
	}
	r, err := ct.Render(&m.Contact, map[string]any{"unsubscribe_url": "", "preferences_url": "", "booking_url": "", "confirm_url": "",
		"segments": m.Segments})
	if err != nil {
		return "", time.Time{}, nil, &Failure{Reason: "render: " + err.Error()}
	}
	body := strings.TrimSpace(r.Text)
	if m.Channel == store.ChannelSMS {
		if err := sms.Check(body); err != nil {
			return "", time.Time{}, nil, &Failure{Reason: "text: " + err.Error()}
		}
	}
	cost := sms.Measure(body)
	props = map[string]any{"segments": cost.Segments, "encoding": cost.Encoding}
	msg := sms.Message{Channel: m.Channel, To: m.Contact.Phone, From: from, Body: body}
	if c.StatusURL != "" {
		msg.StatusCallback = c.StatusURL + "?m=" + strconv.FormatInt(m.ID, 10)
	}
	res, err := c.Sender.Send(ctx, msg)
	if err != nil {
		var se *sms.Error
		var ve *sms.ValidationError
		switch {
		case errors.As(err, &se) && se.HTTPStatus == 0 && se.Temporary && !dialFailed(se.Err):
			// The request may have reached the provider before the connection
			// broke: the text may be on its way. Sending again could send it
			// twice, so it is in doubt.
			return "", time.Time{}, props, &Failure{InDoubt: true, Reason: se.Error()}
		case errors.As(err, &se):
			return "", time.Time{}, props, &Failure{Temporary: se.Temporary, Code: se.Code, Reason: se.Error()}
		case errors.As(err, &ve):
			return "", time.Time{}, props, &Failure{Reason: ve.Error()}
		}
		return "", time.Time{}, props, err
	}
	props["provider_id"] = res.ProviderID
	return res.ProviderID + " " + res.Status, time.Time{}, props, nil
}

// dialFailed says whether err is a failure to connect: then nothing was
// sent, and trying again is safe.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
