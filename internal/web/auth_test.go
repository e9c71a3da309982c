package web_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestAPINeedsALiveKey(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		revoked, k, err := a.st.CreateAPIKey(ctx, "old")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.st.RevokeAPIKey(ctx, k.Prefix); err != nil {
			t.Fatal(err)
		}
		// A live key in every scheme but the right one, a wrong key shaped like a real one.
		wrong := "nrt_" + strings.Repeat("A", len(a.key)-len("nrt_"))
		before := a.counts(t)
		for _, tc := range []struct{ name, authorization string }{
			{"no header", ""},
			{"empty bearer", "Bearer "},
			{"basic scheme", "Basic " + a.key},
			{"no scheme", a.key},
			{"token scheme", "Token " + a.key},
			{"wrong key", "Bearer " + wrong},
			{"key without prefix", "Bearer " + strings.TrimPrefix(a.key, "nrt_")},
			{"revoked key", "Bearer " + revoked},
		} {
			for _, req := range []struct {
				method, path string
				body         any
			}{
				{"GET", "/api/v1/contacts", nil},
				{"PUT", "/api/v1/contacts", `{"email": "ada@example.com"}`},
				{"POST", "/api/v1/events", `{"email": "ada@example.com", "type": "page_viewed"}`},
				{"POST", "/api/v1/events/batch", `[{"email": "ada@example.com", "type": "page_viewed"}]`},
				{"GET", "/api/v1/event-types", nil},
				{"DELETE", "/api/v1/contacts/1", nil},
				{"GET", "/api/v1/no-such-route", nil},
			} {
				t.Run(tc.name+"/"+req.method+" "+req.path, func(t *testing.T) {
					r := a.send(t, req.method, req.path, req.body, "Authorization", tc.authorization)
					wantProblem(t, r, http.StatusUnauthorized, "")
					if got, want := r.Header.Get("WWW-Authenticate"), `Bearer realm="nurture"`; got != want {
						t.Errorf("WWW-Authenticate = %q; want %q", got, want)
					}
					a.wantCounts(t, before)
				})
			}
		}
		t.Run("live key", func(t *testing.T) {
			wantStatus(t, a.do(t, "GET", "/api/v1/contacts", nil), http.StatusOK)
		})
		t.Run("live key, scheme in lower case", func(t *testing.T) {
			r := a.send(t, "GET", "/api/v1/contacts", nil, "Authorization", "bearer "+a.key)
			wantStatus(t, r, http.StatusOK)
		})
		t.Run("live key with surrounding spaces", func(t *testing.T) {
			r := a.send(t, "GET", "/api/v1/contacts", nil, "Authorization", "Bearer  "+a.key+" ")
			wantStatus(t, r, http.StatusOK)
		})
	})
}

func TestPublicEndpointsNeedNoKey(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		for _, tc := range []struct {
			path, contentType, contains string
		}{
			{"/healthz", "text/plain; charset=utf-8", "ok"},
			{"/readyz", "text/plain; charset=utf-8", "ok"},
			{"/metrics", "text/plain", "nurture_http_requests_total"},
			{"/api/v1/openapi.json", "application/openapi+json", `"/api/v1/contacts/{id}/timeline"`},
			{"/api/v1/openapi.yaml", "application/openapi+yaml", "/api/v1/events/batch:"},
		} {
			t.Run(tc.path, func(t *testing.T) {
				// A wrong key changes nothing: these paths do not look at it.
				for _, authorization := range []string{"", "Bearer wrong"} {
					r := a.send(t, "GET", tc.path, nil, "Authorization", authorization)
					wantStatus(t, r, http.StatusOK)
					if got := r.Header.Get("Content-Type"); !strings.HasPrefix(got, tc.contentType) {
						t.Errorf("Content-Type = %q; want %s", got, tc.contentType)
					}
					if !strings.Contains(string(r.Raw), tc.contains) {
						t.Errorf("body does not contain %q", tc.contains)
					}
				}
			})
		}
	})
}
