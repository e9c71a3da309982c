package web

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nurturehq/nurture/internal/channel/email"
	"github.com/nurturehq/nurture/internal/segment"
	"github.com/nurturehq/nurture/internal/store"
)

// relayView is a relay as the API shows it: never its password.
type relayView struct {
	Name        string    `json:"name"`
	Host        string    `json:"host"`
	Port        int       `json:"port"`
	TLS         string    `json:"tls"`
	Username    string    `json:"username,omitempty"`
	PerSecond   float64   `json:"per_second,omitempty"`
	PerHour     int       `json:"per_hour,omitempty"`
	Connections int       `json:"connections"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func viewRelay(r store.RelayRow) relayView {
	rel, _ := email.ParseRelayURL(r.URL)
	return relayView{Name: r.Name, Host: rel.Host, Port: rel.Port, TLS: rel.TLS, Username: rel.Username,
		PerSecond: rel.PerSecond, PerHour: rel.PerHour, Connections: rel.Connections, UpdatedAt: r.UpdatedAt}
}

// domainView is a sending domain with the DNS record to publish.
type domainView struct {
	store.SendingDomain
	DNSName  string `json:"dns_name"`
	DNSValue string `json:"dns_value"`
}

func viewDomain(d store.SendingDomain) domainView {
	v := domainView{SendingDomain: d}
	if k, err := email.ParseKey([]byte(d.PrivateKey)); err == nil {
		v.DNSName, v.DNSValue, _ = email.TXTRecord(d.Domain, d.Selector, k)
	}
	return v
}

var (
	domainRE   = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	selectorRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

func (s *Server) registerMailConfig(api huma.API) {
	tags := []string{"Sending"}
	type relayName struct {
		Name string `path:"name" maxLength:"64"`
	}
	huma.Register(api, huma.Operation{
		OperationID: "save-relay", Method: http.MethodPut, Path: "/api/v1/relays/{name}", Tags: tags,
		Summary: "Create or replace an SMTP relay",
		Description: "`{\"url\": \"smtp://user:pass@host:587?per_second=10&per_hour=20000&connections=4\"}` (see NURTURE_SMTP_URL). " +
			"Sending domains choose a relay; the rest goes through the default relay. The password is never shown again.",
		MaxBodyBytes: 4 << 10, SkipValidateBody: true,
	}, func(ctx context.Context, in *struct {
		Name    string `path:"name" maxLength:"64"`
		RawBody []byte `contentType:"application/json"`
	}) (*struct {
		Status int
		Body   relayView
	}, error) {
		var b struct {
			URL string `json:"url"`
		}
		if err := decodeStrict(in.RawBody, &b, "a relay"); err != nil {
			return nil, err
		}
		if segment.CheckName(in.Name) != nil {
			return nil, huma.Error422UnprocessableEntity("validation failed",
				&huma.ErrorDetail{Location: "path.name", Message: "a relay name is 1 to 64 lowercase letters, digits, - and _"})
		}
		if _, err := email.ParseRelayURL(b.URL); err != nil {
			return nil, fieldError("url", err.Error(), nil)
		}
		created, err := s.store.SaveRelay(ctx, in.Name, b.URL)
		if err != nil {
			return nil, s.problem(err, "")
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return &struct {
			Status int
			Body   relayView
		}{status, viewRelay(store.RelayRow{Name: in.Name, URL: b.URL, UpdatedAt: s.clock.Now()})}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-relays", Method: http.MethodGet, Path: "/api/v1/relays", Tags: tags, Summary: "List the SMTP relays (without passwords)",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body []relayView }, error) {
		rows, err := s.store.Relays(ctx)
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := []relayView{}
		for _, r := range rows {
			out = append(out, viewRelay(r))
		}
		return &struct{ Body []relayView }{out}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "delete-relay", Method: http.MethodDelete, Path: "/api/v1/relays/{name}", Tags: tags,
		Summary: "Remove a relay no sending domain uses", DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *relayName) (*struct{}, error) {
		switch err := s.store.DeleteRelay(ctx, in.Name); {
		case errors.Is(err, store.ErrRelayNotFound):
			return nil, huma.Error404NotFound("relay not found")
		case errors.Is(err, store.ErrRelayInUse):
			return nil, huma.Error409Conflict(err.Error())
		case err != nil:
			return nil, s.problem(err, "")
		}
		return nil, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "save-sending-domain", Method: http.MethodPut, Path: "/api/v1/sending-domains/{domain}", Tags: tags,
		Summary: "Create or replace a sending domain: its DKIM key and, optionally, its relay",
		Description: "`{\"selector\": \"nurture\", \"private_key\": \"-----BEGIN PRIVATE KEY-----…\", \"relay\"?: \"name\"}`. Mail " +
			"from this domain is signed with the key (covering the List-Unsubscribe headers) and goes through the relay. " +
			"The answer gives the DNS TXT record to publish (`dns_name`, `dns_value`); the key is never shown again.",
		MaxBodyBytes: 32 << 10, SkipValidateBody: true,
	}, func(ctx context.Context, in *struct {
		Domain  string `path:"domain" maxLength:"253"`
		RawBody []byte `contentType:"application/json"`
	}) (*struct {
		Status int
		Body   domainView
	}, error) {
		var b struct {
			Selector   string `json:"selector"`
			PrivateKey string `json:"private_key"`
			Relay      string `json:"relay"`
		}
		if err := decodeStrict(in.RawBody, &b, "a sending domain"); err != nil {
			return nil, err
		}
		domain := strings.ToLower(in.Domain)
		if !domainRE.MatchString(domain) {
			return nil, huma.Error422UnprocessableEntity("validation failed",
				&huma.ErrorDetail{Location: "path.domain", Message: "is not a domain name", Value: in.Domain})
		}
		if !selectorRE.MatchString(b.Selector) {
			return nil, fieldError("selector", "is required: lowercase letters, digits and -", b.Selector)
		}
		if _, err := email.ParseKey([]byte(b.PrivateKey)); err != nil {
			return nil, fieldError("private_key", err.Error(), nil)
		}
		if b.Relay != "" && segment.CheckName(b.Relay) != nil {
			return nil, fieldError("relay", "is a relay name", b.Relay)
		}
		d := store.SendingDomain{Domain: domain, Selector: b.Selector, PrivateKey: b.PrivateKey, Relay: b.Relay}
		created, err := s.store.SaveSendingDomain(ctx, d)
		if errors.Is(err, store.ErrRelayNotFound) {
			return nil, fieldError("relay", "no relay has this name", b.Relay)
		} else if err != nil {
			return nil, s.problem(err, "")
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		d.UpdatedAt = s.clock.Now()
		return &struct {
			Status int
			Body   domainView
		}{status, viewDomain(d)}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-sending-domains", Method: http.MethodGet, Path: "/api/v1/sending-domains", Tags: tags,
		Summary: "List the sending domains with the DNS record each needs (never the keys)",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body []domainView }, error) {
		list, err := s.store.SendingDomains(ctx)
		if err != nil {
			return nil, s.problem(err, "")
		}
		out := []domainView{}
		for _, d := range list {
			out = append(out, viewDomain(d))
		}
		return &struct{ Body []domainView }{out}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "delete-sending-domain", Method: http.MethodDelete, Path: "/api/v1/sending-domains/{domain}", Tags: tags,
		Summary: "Remove a sending domain", DefaultStatus: http.StatusNoContent,
	}, func(ctx context.Context, in *struct {
		Domain string `path:"domain" maxLength:"253"`
	}) (*struct{}, error) {
		if err := s.store.DeleteSendingDomain(ctx, strings.ToLower(in.Domain)); errors.Is(err, store.ErrDomainNotFound) {
			return nil, huma.Error404NotFound("sending domain not found")
		} else if err != nil {
			return nil, s.problem(err, "")
		}
		return nil, nil
	})
}
