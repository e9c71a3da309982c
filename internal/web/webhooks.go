package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nurturehq/nurture/internal/channel/webhook"
	"github.com/nurturehq/nurture/internal/event"
	"github.com/nurturehq/nurture/internal/store"
)

type webhookWrite struct {
	RawBody []byte `contentType:"application/json" doc:"{\"url\", \"events\": [event types] or [\"*\"], \"description\"?}"`
}

type webhookID struct {
	ID int64 `path:"id" minimum:"1"`
}

type webhookDeliveries struct {
	ID    int64 `path:"id" minimum:"1"`
	After int64 `query:"after" minimum:"0" doc:"id cursor: the next page starts below it"`
	Limit int   `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}

// maxWebhookEvents bounds a subscription's list of event types.
const maxWebhookEvents = 100

func (s *Server) registerWebhooks(api huma.API) {
	tags := []string{"Webhooks"}
	huma.Register(api, huma.Operation{
		OperationID: "create-webhook", Method: http.MethodPost, Path: "/api/v1/webhooks", Tags: tags,
		Summary: "Subscribe a URL to event types",
		Description: "Each event of those types is POSTed as JSON `{\"delivery\", \"event\": {id, type, contact_id, occurred_at, " +
			"source, properties}}` with `Nurture-Signature: t=…,v1=…` (HMAC-SHA256 of `t.body` with the secret), " +
			"`Nurture-Delivery` (the same on every retry) and `Nurture-Event`. Failures are retried with backoff for 24 " +
			"hours; 410 Gone and other 4xx stop at once. The secret is in this response only.",
		MaxBodyBytes: 16 << 10, DefaultStatus: http.StatusCreated, SkipValidateBody: true,
	}, func(ctx context.Context, in *webhookWrite) (*struct{ Body store.Webhook }, error) {
		var b struct {
			URL         string   `json:"url"`
			Events      []string `json:"events"`
			Description string   `json:"description"`
		}
		if err := decodeStrict(in.RawBody, &b, "a webhook"); err != nil {
			return nil, err
		}
		check := webhook.CheckPublicURL
		if s.cfg.AllowPrivateWebhooks {
			check = webhook.CheckURL
		}
		if err := check(b.URL); err != nil {
			return nil, fieldError("url", err.Error(), nil)
		}
		if len(b.Events) == 0 || len(b.Events) > maxWebhookEvents {
			return nil, fieldError("events", fmt.Sprintf("is required: 1 to %d event types, or [\"*\"]", maxWebhookEvents), nil)
		}
		seen := map[string]bool{}
		for i, e := range b.Events {
			if e == "*" && len(b.Events) == 1 {
				break
			}
			if !event.ValidName(e) || seen[e] {
				return nil, fieldError(fmt.Sprintf("events[%d]", i), "is not an event type, or is repeated (\"*\" stands alone)", e)
			}
			seen[e] = true
		}
		if !printable(b.Description, 200) {
			return nil, fieldError("description", "is at most 200 printable characters", nil)
		}
		w, err := s.store.CreateWebhook(ctx, b.URL, b.Events, b.Description)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body store.Webhook }{w}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-webhooks", Method: http.MethodGet, Path: "/api/v1/webhooks", Tags: tags,
		Summary: "List webhook subscriptions (without their secrets)",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body []store.Webhook }, error) {
		list, err := s.store.Webhooks(ctx)
		if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body []store.Webhook }{list}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "disable-webhook", Method: http.MethodDelete, Path: "/api/v1/webhooks/{id}", Tags: tags,
		Summary: "Stop a webhook subscription (its delivery log stays)", DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *webhookID) (*struct{}, error) {
		if err := s.store.DisableWebhook(ctx, in.ID); errors.Is(err, store.ErrWebhookNotFound) {
			return nil, huma.Error404NotFound("webhook not found")
		} else if err != nil {
			return nil, s.problem(err, "")
		}
		return nil, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "webhook-deliveries", Method: http.MethodGet, Path: "/api/v1/webhooks/{id}/deliveries", Tags: tags,
		Summary: "A webhook's delivery log, newest first: status, attempts, the last HTTP status and reply",
	}, func(ctx context.Context, in *webhookDeliveries) (*struct{ Body []store.WebhookDelivery }, error) {
		list, err := s.store.WebhookDeliveries(ctx, in.ID, in.After, in.Limit)
		if errors.Is(err, store.ErrWebhookNotFound) {
			return nil, huma.Error404NotFound("webhook not found")
		} else if err != nil {
			return nil, s.problem(err, "")
		}
		return &struct{ Body []store.WebhookDelivery }{list}, nil
	})
}
