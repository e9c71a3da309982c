package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// APIKey describes a key; the secret itself is never stored.
type APIKey struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Prefix    string    `json:"prefix"` // the first characters, to recognise a key
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

var (
	// ErrUnauthorized means the key is unknown, malformed or revoked.
	ErrUnauthorized = errors.New("invalid or revoked API key")
	// ErrKeyNotFound means no key has that id or prefix.
	ErrKeyNotFound = errors.New("API key not found")
)

const keyPrefix = "nrt_"

func hashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// CreateAPIKey makes a new random key and returns it in clear, once.
func (s *Store) CreateAPIKey(ctx context.Context, name string) (string, APIKey, error) {
	b := make([]byte, 32)
	rand.Read(b)
	key := keyPrefix + base64.RawURLEncoding.EncodeToString(b)
	k := APIKey{Name: name, Prefix: key[:len(keyPrefix)+6], CreatedAt: s.now()}
	err := s.writer.do1(func(t *tx) error {
		return t.queryRow("INSERT INTO api_keys (name, prefix, hash, created_at) VALUES (?, ?, ?, ?) RETURNING id",
			k.Name, k.Prefix, hashKey(key), ms(k.CreatedAt)).Scan(&k.ID)
	})
	if err != nil {
		return "", APIKey{}, s.dbErr("create API key", err)
	}
	return key, k, nil
}

// ListAPIKeys lists every key, revoked ones included.
func (s *Store) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT id, name, prefix, created_at, revoked_at FROM api_keys ORDER BY id")
	if err != nil {
		return nil, s.dbErr("list API keys", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		var k APIKey
		var created int64
		var revoked sql.NullInt64
		if err := rows.Scan(&k.ID, &k.Name, &k.Prefix, &created, &revoked); err != nil {
			return nil, s.dbErr("list API keys", err)
		}
		k.CreatedAt, k.RevokedAt = fromMS(created), nullMS(revoked)
		out = append(out, k)
	}
	return out, s.dbErr("list API keys", rows.Err())
}

// RevokeAPIKey revokes the key with that id or prefix. Revoking twice is fine.
func (s *Store) RevokeAPIKey(ctx context.Context, idOrPrefix string) (APIKey, error) {
	keys, err := s.ListAPIKeys(ctx)
	if err != nil {
		return APIKey{}, err
	}
	for _, k := range keys {
		if strconv.FormatInt(k.ID, 10) != idOrPrefix && k.Prefix != idOrPrefix {
			continue
		}
		if !k.RevokedAt.IsZero() {
			return k, nil
		}
		k.RevokedAt = s.now()
		err := s.writer.do1(func(t *tx) error {
			_, err := t.exec("UPDATE api_keys SET revoked_at = ? WHERE id = ?", ms(k.RevokedAt), k.ID)
			return err
		})
		return k, s.dbErr("revoke API key", err)
	}
	return APIKey{}, ErrKeyNotFound
}

// Authenticate returns the live key matching a presented secret. Unknown,
// malformed and revoked keys all give ErrUnauthorized, after the same work.
func (s *Store) Authenticate(ctx context.Context, presented string) (APIKey, error) {
	h := hashKey(presented) // hashed first, whatever the input, so timing does not depend on it
	var k APIKey
	var stored string
	var created int64
	var revoked sql.NullInt64
	err := s.r.QueryRowContext(ctx, s.q("SELECT id, name, prefix, hash, created_at, revoked_at FROM api_keys WHERE hash = ?"), h).
		Scan(&k.ID, &k.Name, &k.Prefix, &stored, &created, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, ErrUnauthorized
	}
	if err != nil {
		return APIKey{}, s.dbErr("authenticate", err)
	}
	ok := subtle.ConstantTimeCompare([]byte(stored), []byte(h)) == 1
	if !ok || revoked.Valid || !strings.HasPrefix(presented, keyPrefix) {
		return APIKey{}, ErrUnauthorized
	}
	k.CreatedAt = fromMS(created)
	return k, nil
}
