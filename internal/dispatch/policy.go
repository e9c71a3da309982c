package dispatch

import (
	"slices"

	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/store"
)

// Reasons a message is not sent (the reply of a suppressed message).
const (
	ReasonNoAddress      = "the contact has no address for this channel (erased, or never given)"
	ReasonSuppressed     = "the address is on the suppression list: "
	ReasonWithdrawn      = "the contact withdrew consent for this channel"
	ReasonPending        = "the contact has not confirmed the subscription yet (double opt-in)"
	ReasonNoConsent      = "the contact never gave consent for this channel"
	ReasonTopicOptOut    = "the contact opted out of this topic"
	ReasonPaused         = "the contact paused messages"
	ReasonUnknownChannel = "no sender for this channel"
)

// Allowed decides at send time whether a message may go, and if not, why.
// It is checked at send time, not only when the message was queued:
// consent and the suppression list may have changed since.
//
//   - Every message needs an address, and an address not suppressed for
//     its kind (unsubscribed addresses still get transactional messages).
//   - Email marketing needs no consent withdrawn and none awaiting
//     confirmation. Without any consent record it goes: B2B leads are
//     written to under legitimate interest; a contact who objects
//     unsubscribes in one click.
//   - SMS and WhatsApp need consent granted for that channel (any purpose
//     for transactional messages, marketing for marketing).
//   - Internal messages (to the contact's owner, about the contact) go to
//     their recipient, email only, while the contact is not erased.
//   - Marketing respects the preference centre: a paused contact, or one
//     who left the message's topic, gets none.
func Allowed(m *store.Outgoing) (ok bool, reason string) {
	c := &m.Contact
	if m.Kind == store.KindInternal {
		// To someone of the team about the contact: the contact's
		// consent is not asked, but an erased contact gets no more mail.
		if m.Recipient == "" || m.Channel != store.ChannelEmail || c.Email == "" && c.Phone == "" {
			return false, ReasonNoAddress
		}
		return true, ""
	}
	if c.Address(m.Channel) == "" {
		return false, ReasonNoAddress
	}
	if m.Suppressed.Blocks(m.Kind) {
		return false, ReasonSuppressed + m.Suppressed.Reason
	}
	status := func(purpose string) string {
		for _, x := range m.Consents {
			if x.Channel == m.Channel && x.Purpose == purpose {
				return x.Status
			}
		}
		return ""
	}
	switch m.Channel {
	case store.ChannelEmail:
		if m.Kind == store.KindMarketing {
			switch status(store.KindMarketing) {
			case contact.ConsentWithdrawn:
				return false, ReasonWithdrawn
			case contact.ConsentPending:
				return false, ReasonPending
			}
		}
	case store.ChannelSMS, store.ChannelWhatsApp:
		granted := status(store.KindMarketing) == contact.ConsentGranted
		if m.Kind == store.KindTransactional {
			granted = granted || status(store.KindTransactional) == contact.ConsentGranted
		}
		if !granted {
			if status(store.KindMarketing) == contact.ConsentWithdrawn {
				return false, ReasonWithdrawn
			}
			return false, ReasonNoConsent
		}
	default:
		return false, ReasonUnknownChannel
	}
	if m.Kind == store.KindMarketing {
		if slices.Contains(c.Tags, store.PrefPaused) {
			return false, ReasonPaused
		}
		if m.Topic != "" && slices.Contains(c.Tags, store.TopicOptOutTag(m.Topic)) {
			return false, ReasonTopicOptOut
		}
	}
	return true, ""
}
