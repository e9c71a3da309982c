package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/nurturehq/nurture/internal/store"
)

// public lists the /api paths readable without a key: the API's own description.
var public = map[string]bool{"/api/v1/openapi.json": true, "/api/v1/openapi.yaml": true}

type keyNameKey struct{}

// caller names who made a request: the "by" a body gives, else the name of
// the API key it came with.
func caller(ctx context.Context, by string) string {
	if by != "" {
		return by
	}
	name, _ := ctx.Value(keyNameKey{}).(string)
	return "api key " + name
}

// authenticate requires a live API key on every /api route. Unknown, malformed
// and revoked keys get the same 401 after the same work (see store.Authenticate).
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") || public[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		// The API speaks JSON only. A body sent without a type, or with the form
		// type curl -d puts on by default, is read as JSON (and fails clearly if it is not).
		if ct := r.Header.Get("Content-Type"); ct == "" || strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			r.Header.Set("Content-Type", "application/json")
		}
		// The scheme name is case-insensitive (RFC 9110, section 11.1).
		auth := r.Header.Get("Authorization")
		key, ok := "", len(auth) > 7 && strings.EqualFold(auth[:7], "Bearer ")
		if ok {
			key = auth[7:]
			k, err := s.store.Authenticate(r.Context(), strings.TrimSpace(key))
			if err == nil {
				r2 := r.WithContext(context.WithValue(r.Context(), keyNameKey{}, k.Name))
				next.ServeHTTP(w, r2)
				r.Pattern = r2.Pattern // the metrics read the route the mux matched
				return
			}
			if !errors.Is(err, store.ErrUnauthorized) {
				s.log.Error("authenticate", "err", err)
				writeProblem(w, http.StatusServiceUnavailable, "Service Unavailable", "cannot check the API key now; retry")
				return
			}
		} else {
			s.store.Authenticate(r.Context(), "") // same work as a wrong key
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="nurture"`)
		writeProblem(w, http.StatusUnauthorized, "Unauthorized",
			"a valid API key is required: Authorization: Bearer <key> (create one with `nurture apikey create`)")
	})
}
