package web_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestWebhooksAPI(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *api) {
		const path = "/api/v1/webhooks"
		for name, c := range map[string]struct {
			body any
			want int
		}{
			"not JSON":         {`{"url": `, http.StatusBadRequest},
			"unknown field":    {map[string]any{"url": "https://hooks.example.com/x", "events": []string{"*"}, "secret": "x"}, http.StatusUnprocessableEntity},
			"no url":           {map[string]any{"events": []string{"*"}}, http.StatusUnprocessableEntity},
			"not http":         {map[string]any{"url": "ftp://hooks.example.com/x", "events": []string{"*"}}, http.StatusUnprocessableEntity},
			"user info":        {map[string]any{"url": "https://u:p@hooks.example.com/x", "events": []string{"*"}}, http.StatusUnprocessableEntity},
			"loopback":         {map[string]any{"url": "http://127.0.0.1:8080/x", "events": []string{"*"}}, http.StatusUnprocessableEntity},
			"localhost":        {map[string]any{"url": "http://localhost/x", "events": []string{"*"}}, http.StatusUnprocessableEntity},
			"no events":        {map[string]any{"url": "https://hooks.example.com/x", "events": []string{}}, http.StatusUnprocessableEntity},
			"bad event":        {map[string]any{"url": "https://hooks.example.com/x", "events": []string{"Page Viewed!"}}, http.StatusUnprocessableEntity},
			"repeated event":   {map[string]any{"url": "https://hooks.example.com/x", "events": []string{"a", "a"}}, http.StatusUnprocessableEntity},
			"star with others": {map[string]any{"url": "https://hooks.example.com/x", "events": []string{"*", "a"}}, http.StatusUnprocessableEntity},
			"long url":         {map[string]any{"url": "https://hooks.example.com/" + strings.Repeat("x", 3000), "events": []string{"*"}}, http.StatusUnprocessableEntity},
			"control chars":    {map[string]any{"url": "https://hooks.example.com/x", "events": []string{"*"}, "description": "a\x00b"}, http.StatusUnprocessableEntity},
			"oversized":        {`{"url": "` + strings.Repeat("x", 20<<10) + `"}`, http.StatusRequestEntityTooLarge},
		} {
			if r := a.do(t, "POST", path, c.body); r.Status != c.want {
				t.Errorf("%s: %d %s; want %d", name, r.Status, r.Raw, c.want)
			}
		}
		if list := decode[[]map[string]any](t, a.do(t, "GET", path, nil)); len(list) != 0 {
			t.Fatalf("webhooks after refused creates = %v; want none", list)
		}
		r := a.do(t, "POST", path, map[string]any{"url": "https://hooks.example.com/x", "events": []string{"lead_created", "email_sent"}, "description": "CRM"})
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Raw)
		}
		w := decode[map[string]any](t, r)
		if s, _ := w["secret"].(string); !strings.HasPrefix(s, "whsec_") {
			t.Errorf("created = %v; want the secret, once", w)
		}
		list := a.do(t, "GET", path, nil)
		if strings.Contains(string(list.Raw), "whsec_") || !strings.Contains(string(list.Raw), "hooks.example.com") {
			t.Errorf("list = %s; want the webhook without its secret", list.Raw)
		}
		id := itoa(int64(w["id"].(float64)))
		if r := a.do(t, "GET", path+"/"+id+"/deliveries", nil); r.Status != http.StatusOK {
			t.Errorf("deliveries: %d", r.Status)
		}
		for _, p := range []string{path + "/999/deliveries", path + "/0/deliveries", path + "/x/deliveries"} {
			if r := a.do(t, "GET", p, nil); r.Status != http.StatusNotFound && r.Status != http.StatusUnprocessableEntity {
				t.Errorf("GET %s: %d; want 404 or 422", p, r.Status)
			}
		}
		if r := a.do(t, "DELETE", path+"/"+id, nil); r.Status != http.StatusNoContent {
			t.Errorf("disable: %d", r.Status)
		}
		if r := a.do(t, "DELETE", path+"/"+id, nil); r.Status != http.StatusNotFound {
			t.Errorf("disable twice: %d; want 404", r.Status)
		}
		if r := a.do(t, "POST", path, map[string]any{"url": "https://hooks.example.com/x", "events": []string{"*"}}, "Authorization", ""); r.Status != http.StatusUnauthorized {
			t.Errorf("without a key: %d; want 401", r.Status)
		}
	})
}
