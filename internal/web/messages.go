package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nurturehq/nurture/internal/channel/email"
	"github.com/nurturehq/nurture/internal/contact"
	"github.com/nurturehq/nurture/internal/segment"
	"github.com/nurturehq/nurture/internal/store"
)

type messageWrite struct {
	RawBody []byte `contentType:"application/json" doc:"{\"contact_id\", \"template\", \"kind\": marketing or transactional, \"list\"?, \"topic\"?, \"sender\"?, \"idempotency_key\"?}"`
}

type messageBody struct {
	ContactID      int64  `json:"contact_id"`
	Template       string `json:"template"`
	Kind           string `json:"kind"`
	List           string `json:"list"`
	Topic          string `json:"topic"`
	Sender         string `json:"sender"`
	IdempotencyKey string `json:"idempotency_key"`
}

type messageID struct {
	ID int64 `path:"id" minimum:"1"`
}

type messageList struct {
	ContactID int64  `query:"contact_id" minimum:"0"`
	Status    string `query:"status" enum:"queued,sending,sent,failed,suppressed,in_doubt,"`
	After     int64  `query:"after" minimum:"0" doc:"id cursor: the next page starts below it"`
	Limit     int    `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}

type messageOutput struct {
	Status int
	Body   store.Message
}

type suppressionWrite struct {
	RawBody []byte `contentType:"application/json" doc:"{\"channel\": email, sms or whatsapp, \"address\", \"reason\"?: manual (default), hard_bounce, complaint or unsubscribed, \"detail\"?}"`
}

type suppressionList struct {
	Channel      string `query:"channel" enum:"email,sms,whatsapp,"`
	Reason       string `query:"reason" enum:"unsubscribed,hard_bounce,soft_bounce,complaint,manual,erased,"`
	After        string `query:"after" maxLength:"320" doc:"cursor: the last address of the previous page"`
	AfterChannel string `query:"after_channel" enum:"email,sms,whatsapp," doc:"cursor: the channel of that last entry"`
	Limit        int    `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}

type suppressionKey struct {
	Channel string `path:"channel" enum:"email,sms,whatsapp"`
	Address string `path:"address" maxLength:"320"`
}

// Limits of a message request's text fields.
const (
	maxListLabel = 100
	maxIdemKey   = 200
)

func (s *Server) registerMessages(api huma.API) {
	tags := []string{"Messages"}
	huma.Register(api, huma.Operation{
		OperationID: "send-message", Method: http.MethodPost, Path: "/api/v1/messages", Tags: tags,
		Summary: "Send a template to a contact now",
		Description: "The message goes through the outbox like a journey's: consent and the suppression list are " +
			"checked when it is sent, links are tracked, marketing messages carry one-click unsubscribe. 202: queued; " +
			"follow it with GET /api/v1/messages/{id}. The same idempotency_key returns the first message (200).",
		MaxBodyBytes: 4 << 10, DefaultStatus: http.StatusAccepted, SkipValidateBody: true,
	}, func(ctx context.Context, in *messageWrite) (*messageOutput, error) {
		var b messageBody
		if err := decodeStrict(in.RawBody, &b, "a message"); err != nil {
			return nil, err
		}
		switch {
		case b.ContactID <= 0:
			return nil, fieldError("contact_id", "is required: a contact id", b.ContactID)
		case segment.CheckName(b.Template) != nil:
			return nil, fieldError("template", "is required: a template name", b.Template)
		case b.Kind != store.KindMarketing && b.Kind != store.KindTransactional:
			return nil, fieldError("kind", "must be marketing or transactional", b.Kind)
		case !printable(b.List, maxListLabel):
			return nil, fieldError("list", "is at most 100 printable characters", nil)
		case b.Topic != "" && segment.CheckName(b.Topic) != nil:
			return nil, fieldError("topic", "a topic is 1 to 64 lowercase letters, digits, - and _", b.Topic)
		case !printable(b.IdempotencyKey, maxIdemKey):
			return nil, fieldError("idempotency_key", "is at most 200 printable characters", nil)
		}
		if b.Sender != "" {
			if err := s.checkSender(ctx, b.Sender); err != nil {
				return nil, err
			}
		}
		key := ""
		if b.IdempotencyKey != "" {
			key = "api:" + b.IdempotencyKey
		}
		m, err := s.store.QueueMessage(ctx, store.MessageInput{ContactID: b.ContactID, Template: b.Template, Kind: b.Kind,
			Source: "api", List: b.List, Topic: b.Topic, Sender: b.Sender, IdempotencyKey: key})
		if errors.Is(err, store.ErrSenderNotEmail) {
			return nil, fieldError("sender", err.Error(), nil)
		} else if err != nil {
			return nil, s.problem(err, "")
		}
		status := http.StatusAccepted
		if m.Duplicate {
			status = http.StatusOK
		}
		return &messageOutput{Status: status, Body: m}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-message", Method: http.MethodGet, Path: "/api/v1/messages/{id}", Tags: tags,
		Summary: "Get a message: its status, attempts and the provider's last reply",
	}, func(ctx context.Context, in *messageID) (*struct{ Body store.Message }, error) {
		m, err := s.store.GetMessage(ctx, in.ID)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body store.Message }{m}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-messages", Method: http.MethodGet, Path: "/api/v1/messages", Tags: tags,
		Summary: "List messages, newest first",
	}, func(ctx context.Context, in *messageList) (*struct{ Body []store.Message }, error) {
		list, err := s.store.ListMessages(ctx, store.MessagesParams{ContactID: in.ContactID, Status: in.Status, After: in.After, Limit: in.Limit})
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body []store.Message }{list}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "retry-message", Method: http.MethodPost, Path: "/api/v1/messages/{id}/retry", Tags: tags,
		Summary:     "Queue a failed or in-doubt message again",
		Description: "An in-doubt message's worker stopped while sending it: it may have arrived. Retrying may send it twice.",
	}, func(ctx context.Context, in *messageID) (*struct{ Body store.Message }, error) {
		m, err := s.store.RetryMessage(ctx, in.ID)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body store.Message }{m}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-topics", Method: http.MethodGet, Path: "/api/v1/topics", Tags: tags,
		Summary: "List the subscription topics of the preference centre",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body []store.Topic }, error) {
		list, err := s.store.Topics(ctx)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body []store.Topic }{list}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "set-topics", Method: http.MethodPut, Path: "/api/v1/topics", Tags: tags,
		Summary: "Replace the subscription topics",
		Description: "Topics are subscription groups a contact can leave in the preference centre; a marketing " +
			"message names its topic. `[{\"name\": \"product-news\", \"label\": \"Product news\"}]`, at most 50.",
		MaxBodyBytes: 16 << 10, SkipValidateBody: true,
	}, func(ctx context.Context, in *struct {
		RawBody []byte `contentType:"application/json"`
	}) (*struct{ Body []store.Topic }, error) {
		var list []store.Topic
		if err := decodeStrict(in.RawBody, &list, "a list of topics"); err != nil {
			return nil, err
		}
		if len(list) > store.MaxTopics {
			return nil, huma.Error422UnprocessableEntity("at most 50 topics")
		}
		seen := map[string]bool{}
		for i, tp := range list {
			field := fmt.Sprintf("[%d]", i)
			if segment.CheckName(tp.Name) != nil || seen[tp.Name] {
				return nil, fieldError(field+".name", "a topic name is 1 to 64 lowercase letters, digits, - and _, once", tp.Name)
			}
			if tp.Label == "" || !printable(tp.Label, 100) {
				return nil, fieldError(field+".label", "is required: at most 100 printable characters", nil)
			}
			seen[tp.Name] = true
		}
		if list == nil {
			list = []store.Topic{}
		}
		if err := s.store.SetTopics(ctx, list); err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body []store.Topic }{list}, nil
	})

	stags := []string{"Suppression list"}
	huma.Register(api, huma.Operation{
		OperationID: "suppress", Method: http.MethodPost, Path: "/api/v1/suppressions", Tags: stags,
		Summary: "Put an address on the suppression list",
		Description: "A suppressed address gets no message of the kinds its reason covers (unsubscribed: marketing; " +
			"the others: everything), whatever API upserts, imports and journeys say later.",
		MaxBodyBytes: 4 << 10, DefaultStatus: http.StatusCreated, SkipValidateBody: true,
	}, func(ctx context.Context, in *suppressionWrite) (*struct{ Body store.Suppression }, error) {
		var b struct {
			Channel string `json:"channel"`
			Address string `json:"address"`
			Reason  string `json:"reason"`
			Detail  string `json:"detail"`
		}
		if err := decodeStrict(in.RawBody, &b, "a suppression"); err != nil {
			return nil, err
		}
		if b.Reason == "" {
			b.Reason = store.SuppressManual
		}
		if !slices.Contains(store.SuppressionAPIReasons, b.Reason) {
			return nil, fieldError("reason", "must be one of "+strings.Join(store.SuppressionAPIReasons, ", "), b.Reason)
		}
		if !printable(b.Detail, 1000) {
			return nil, fieldError("detail", "is at most 1,000 printable characters", nil)
		}
		addr, err := normalizeAddressFor("body.", b.Channel, b.Address, s.cfg.DefaultRegion)
		if err != nil {
			return nil, err
		}
		x, err := s.store.Suppress(ctx, store.SuppressInput{Channel: b.Channel, Address: addr, Reason: b.Reason, Detail: b.Detail, Source: "api"})
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body store.Suppression }{x}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-suppressions", Method: http.MethodGet, Path: "/api/v1/suppressions", Tags: stags,
		Summary: "List the suppression list, by address",
	}, func(ctx context.Context, in *suppressionList) (*struct{ Body []store.Suppression }, error) {
		list, err := s.store.Suppressions(ctx, store.SuppressionsParams{Channel: in.Channel, Reason: in.Reason,
			After: in.After, AfterChannel: in.AfterChannel, Limit: in.Limit})
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body []store.Suppression }{list}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "unsuppress", Method: http.MethodDelete, Path: "/api/v1/suppressions/{channel}/{address}", Tags: stags,
		Summary:       "Take an address off the suppression list",
		DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *suppressionKey) (*struct{}, error) {
		addr, err := normalizeAddressFor("path.", in.Channel, in.Address, s.cfg.DefaultRegion)
		if err != nil {
			return nil, err
		}
		if err := s.store.Unsuppress(ctx, in.Channel, addr); errors.Is(err, store.ErrSuppressionNotFound) {
			return nil, huma.Error404NotFound("the address is not on the suppression list")
		} else if err != nil {
			return nil, s.problem(err, "")
		}
		return nil, nil
	})
}

// normalizeAddressFor reads an email or a phone number the way contacts are
// stored, so the list and the contacts agree; errors are located under where
// ("body." or "path.").
func normalizeAddressFor(where, channel, addr, region string) (string, error) {
	bad := func(field, reason string, v any) error {
		return huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: where + field, Message: reason, Value: v})
	}
	switch channel {
	case store.ChannelEmail:
		e, err := contact.NormalizeEmail(addr)
		if err != nil || e == "" {
			return "", bad("address", "is not an email address", nil)
		}
		return e, nil
	case store.ChannelSMS, store.ChannelWhatsApp:
		p, err := contact.NormalizePhone(addr, region)
		if err != nil || p == "" {
			return "", bad("address", "is not a phone number", nil)
		}
		return p, nil
	}
	return "", bad("channel", "must be email, sms or whatsapp", channel)
}

// printable reports whether s is at most n bytes of text without control characters.
func printable(s string, n int) bool {
	return len(s) <= n && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0xfffd })
}

// checkSender accepts a From whose domain is a sending domain, or the
// domain of a default From.
func (s *Server) checkSender(ctx context.Context, sender string) error {
	if !printable(sender, 320) {
		return fieldError("sender", "is at most 320 printable characters", nil)
	}
	a, err := email.ParseAddress(sender)
	if err != nil {
		return fieldError("sender", "is not an address: 'Name <name@domain>'", nil)
	}
	if slices.Contains(s.cfg.SenderDomains, a.Domain()) {
		return nil
	}
	domains, err := s.store.SendingDomains(ctx)
	if err != nil {
		return s.problem(err, "")
	}
	for _, d := range domains {
		if d.Domain == a.Domain() {
			return nil
		}
	}
	return fieldError("sender", "its domain is not a sending domain (PUT /api/v1/sending-domains/{domain})", a.Domain())
}
