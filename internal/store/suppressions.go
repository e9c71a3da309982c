package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Suppression reasons.
const (
	SuppressUnsubscribed = "unsubscribed"
	SuppressHardBounce   = "hard_bounce"
	SuppressSoftBounce   = "soft_bounce"
	SuppressComplaint    = "complaint"
	SuppressManual       = "manual"
	SuppressErased       = "erased"
)

// SuppressionReasons are every reason; SuppressionAPIReasons those an API
// caller may give (the others come from what happened).
var (
	SuppressionReasons    = []string{SuppressUnsubscribed, SuppressHardBounce, SuppressSoftBounce, SuppressComplaint, SuppressManual, SuppressErased}
	SuppressionAPIReasons = []string{SuppressManual, SuppressHardBounce, SuppressComplaint, SuppressUnsubscribed}
)

// Suppression scopes: an unsubscribed address still gets transactional
// messages; the others get nothing.
const (
	ScopeAll       = "all"
	ScopeMarketing = "marketing"
)

// Suppression is one entry of the suppression list.
type Suppression struct {
	Channel   string    `json:"channel"`
	Address   string    `json:"address"` // "hash:…" for an erased address
	Scope     string    `json:"scope"`
	Reason    string    `json:"reason"`
	Detail    string    `json:"detail,omitempty"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
}

// Blocks says whether the suppression stops a message of that kind.
func (s *Suppression) Blocks(kind string) bool {
	return s != nil && (s.Scope == ScopeAll || kind == KindMarketing)
}

// SoftBounceLimit is how many soft bounces in a row suppress an address.
const SoftBounceLimit = 3

func scopeOf(reason string) string {
	if reason == SuppressUnsubscribed {
		return ScopeMarketing
	}
	return ScopeAll
}

// hashedAddress is how an erased address is kept.
func (s *Store) hashedAddress(addr string) string {
	h, _ := s.identityHash(addr).(string)
	return "hash:" + h
}

const suppressionColumns = "channel, address, scope, reason, detail, source, created_at"

func scanSuppression(row scanner) (Suppression, error) {
	var x Suppression
	var detail sql.NullString
	var at int64
	err := row.Scan(&x.Channel, &x.Address, &x.Scope, &x.Reason, &detail, &x.Source, &at)
	x.Detail, x.CreatedAt = detail.String, fromMS(at)
	return x, err
}

// queryFunc runs a query on the reader pool or inside a write.
type queryFunc func(q string, args ...any) (*sql.Rows, error)

// suppressions finds the entries of addresses (in clear or hashed) on a
// channel, in one query; the strongest entry of each address wins.
func (s *Store) suppressions(query queryFunc, channel string, addrs []string) (map[string]*Suppression, error) {
	out := map[string]*Suppression{}
	if len(addrs) == 0 {
		return out, nil
	}
	owner := map[string]string{} // stored address → the address asked about
	args := []any{channel}
	for _, a := range addrs {
		h := s.hashedAddress(a)
		owner[a], owner[h] = a, a
		args = append(args, a, h)
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(args)-1), ", ")
	rows, err := query("SELECT "+suppressionColumns+" FROM suppressions WHERE channel = ? AND address IN ("+marks+")", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		x, err := scanSuppression(rows)
		if err != nil {
			return nil, err
		}
		a := owner[x.Address]
		if best := out[a]; best == nil || x.Scope == ScopeAll {
			out[a] = &x
		}
	}
	return out, rows.Err()
}

func (s *Store) readQuery(ctx context.Context) queryFunc {
	return func(q string, args ...any) (*sql.Rows, error) { return s.r.QueryContext(ctx, s.q(q), args...) }
}

// suppression finds the entry for one address, or nil.
func (s *Store) suppression(ctx context.Context, channel, addr string) (*Suppression, error) {
	found, err := s.suppressions(s.readQuery(ctx), channel, []string{addr})
	return found[addr], s.dbErr("read suppressions", err)
}

// SuppressionFor returns the entry for an address, or nil.
func (s *Store) SuppressionFor(ctx context.Context, channel, addr string) (*Suppression, error) {
	return s.suppression(ctx, channel, normalizeAddress(channel, addr))
}

func normalizeAddress(channel, addr string) string {
	addr = strings.TrimSpace(addr)
	if channel == ChannelEmail {
		return strings.ToLower(addr)
	}
	return addr
}

// SuppressInput is an address to suppress.
type SuppressInput struct {
	Channel string
	Address string
	Reason  string
	Detail  string
	Source  string
}

// Suppress adds an address to the suppression list. An entry that blocks
// everything is not weakened by a later one that blocks only marketing.
func (s *Store) Suppress(ctx context.Context, in SuppressInput) (Suppression, error) {
	var out Suppression
	err := s.writer.do1(func(t *tx) error {
		var err error
		out, err = t.suppress(in, t.s.now())
		return err
	})
	return out, err
}

func (t *tx) suppress(in SuppressInput, now time.Time) (Suppression, error) {
	if !slices.Contains([]string{ChannelEmail, ChannelSMS, ChannelWhatsApp}, in.Channel) {
		return Suppression{}, fmt.Errorf("suppression channel %q: want email, sms or whatsapp", in.Channel)
	}
	if !slices.Contains(SuppressionReasons, in.Reason) {
		return Suppression{}, fmt.Errorf("suppression reason %q is not one", in.Reason)
	}
	addr := normalizeAddress(in.Channel, in.Address)
	if in.Reason == SuppressErased {
		addr = t.s.hashedAddress(addr)
	}
	scope := scopeOf(in.Reason)
	// An "all" entry replaces a "marketing" one; the reverse keeps the stronger.
	_, err := t.exec(`INSERT INTO suppressions (channel, address, scope, reason, detail, source, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (channel, address) DO UPDATE SET scope = excluded.scope, reason = excluded.reason,
			detail = excluded.detail, source = excluded.source, created_at = excluded.created_at
		WHERE suppressions.scope = ? OR excluded.scope = ?`,
		in.Channel, addr, scope, in.Reason, null(bound(in.Detail, 1000)), in.Source, ms(now), ScopeMarketing, ScopeAll)
	if err != nil {
		return Suppression{}, err
	}
	return scanSuppression(t.queryRow("SELECT "+suppressionColumns+" FROM suppressions WHERE channel = ? AND address = ?", in.Channel, addr))
}

// ErrSuppressionNotFound means the address is not on the list.
var ErrSuppressionNotFound = errors.New("address not suppressed")

// Unsuppress removes an address from the list (an operator's decision, or a
// contact subscribing again through a confirmed opt-in). Erased addresses
// stay: they are hashes nobody can name.
func (s *Store) Unsuppress(ctx context.Context, channel, addr string) error {
	return s.writer.do1(func(t *tx) error {
		res, err := t.exec("DELETE FROM suppressions WHERE channel = ? AND address = ?", channel, normalizeAddress(channel, addr))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrSuppressionNotFound
		}
		return nil
	})
}

// SuppressionsParams pages through the list.
type SuppressionsParams struct {
	Channel      string // "": all
	Reason       string // "": all
	After        string // cursor: the last address of the previous page…
	AfterChannel string // …and its channel (one number can be listed for sms and whatsapp)
	Limit        int
}

// Suppressions lists the suppression list in address order.
func (s *Store) Suppressions(ctx context.Context, p SuppressionsParams) ([]Suppression, error) {
	q := "SELECT " + suppressionColumns + " FROM suppressions WHERE address > ?"
	args := []any{p.After}
	if p.AfterChannel != "" {
		q = "SELECT " + suppressionColumns + " FROM suppressions WHERE (address > ? OR address = ? AND channel > ?)"
		args = []any{p.After, p.After, p.AfterChannel}
	}
	if p.Channel != "" {
		q += " AND channel = ?"
		args = append(args, p.Channel)
	}
	if p.Reason != "" {
		q += " AND reason = ?"
		args = append(args, p.Reason)
	}
	q += " ORDER BY address, channel LIMIT ?"
	args = append(args, p.Limit)
	rows, err := s.r.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, s.dbErr("list suppressions", err)
	}
	defer rows.Close()
	out := []Suppression{}
	for rows.Next() {
		x, err := scanSuppression(rows)
		if err != nil {
			return nil, s.dbErr("list suppressions", err)
		}
		out = append(out, x)
	}
	return out, s.dbErr("list suppressions", rows.Err())
}

// contactByAddress finds the live contact with an email or phone.
func (t *tx) contactByAddress(channel, addr string) (int64, error) {
	col := "email"
	if channel != ChannelEmail {
		col = "phone"
	}
	return t.findContactID(col, addr)
}
