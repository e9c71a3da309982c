package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nurturehq/nurture/internal/contact"
)

// ConfirmTemplate is the email sent when a contact's email marketing
// consent is recorded as pending_confirmation (double opt-in). It is saved
// on first start; edit it like any template, keeping {{ confirm_url }}.
const ConfirmTemplate = "confirm-subscription"

var defaultConfirm = TemplateInput{
	Name: ConfirmTemplate, Channel: ChannelEmail, By: "nurture",
	Subject: `Please confirm your subscription`,
	HTML: `<p>Hello {{ contact.first_name | default: "there" }},</p>
<p>Please confirm that you want to receive our emails: one click is enough.</p>
<p><a href="{{ confirm_url }}" data-nurture-notrack>Yes, subscribe me</a></p>
<p>If you did not ask for this, ignore this message: you will not hear from us.</p>`,
}

// seedTemplates saves the templates Nurture needs when they are missing.
func (s *Store) seedTemplates(ctx context.Context) error {
	if _, err := s.GetTemplate(ctx, ConfirmTemplate); err == nil {
		return nil
	} else if !errors.Is(err, ErrTemplateNotFound) {
		return err
	}
	if _, _, err := s.SaveTemplate(ctx, defaultConfirm); err != nil {
		return fmt.Errorf("save the %s template: %w", ConfirmTemplate, err)
	}
	return nil
}

// queueConfirmation sends the double opt-in email for a pending consent
// (ledger row id), once.
func (t *tx) queueConfirmation(contactID, consentID int64, now time.Time) error {
	_, err := t.queueMessage(MessageInput{ContactID: contactID, Template: ConfirmTemplate, Kind: KindTransactional,
		Source: "double_opt_in", IdempotencyKey: fmt.Sprintf("doi:%d", consentID)}, now)
	return err
}

// ConfirmSubscription confirms a contact's pending email marketing consent
// (the one click of a double opt-in): consent granted in the ledger with
// the IP, a subscription_confirmed event, and an unsubscription on the
// suppression list lifted. It returns false when nothing was pending
// (already confirmed, withdrawn since, or no such contact).
func (s *Store) ConfirmSubscription(ctx context.Context, contactID int64, ip string) (bool, error) {
	var done bool
	err := s.writer.doKeyed(idKey(contactID), func(t *tx) error {
		done = false
		c, err := t.lockContact(contactID)
		if errors.Is(err, contact.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		ledger, err := t.consentLedger(contactID)
		if err != nil {
			return err
		}
		pending := false
		for _, x := range contact.CurrentConsents(ledger) {
			if x.Channel == ChannelEmail && x.Purpose == KindMarketing && x.Status == contact.ConsentPending {
				pending = true
			}
		}
		if !pending {
			return nil
		}
		now := t.s.now()
		if err := t.recordConsents(contactID, []contact.ConsentInput{{Channel: ChannelEmail, Purpose: KindMarketing,
			Status: contact.ConsentGranted, Source: "double_opt_in", IP: ip}}, "double_opt_in", now); err != nil {
			return err
		}
		if c.Email != "" {
			if _, err := t.exec("DELETE FROM suppressions WHERE channel = ? AND address = ? AND reason = ?",
				ChannelEmail, c.Email, SuppressUnsubscribed); err != nil {
				return err
			}
		}
		done = true
		return t.appendSystemEvent(contactID, "subscription_confirmed", "double_opt_in", now, map[string]any{"channel": ChannelEmail})
	})
	return done, s.dbErr("confirm subscription", err)
}
