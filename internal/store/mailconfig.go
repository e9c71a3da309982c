package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"
)

// Errors of the mail configuration.
var (
	ErrRelayNotFound  = errors.New("relay not found")
	ErrRelayInUse     = errors.New("a sending domain sends through this relay")
	ErrDomainNotFound = errors.New("sending domain not found")
)

// RelayRow is an SMTP relay saved through the API. URL holds its password:
// the API never shows it.
type RelayRow struct {
	Name      string
	URL       string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SendingDomain is a domain Nurture sends from: its DKIM selector and
// private key (PEM), and the relay its mail goes through ("" = the default).
type SendingDomain struct {
	Domain     string    `json:"domain"`
	Selector   string    `json:"selector"`
	PrivateKey string    `json:"-"`
	Relay      string    `json:"relay,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

const mailConfigKey = "mail_config"

// bumpMailConfig marks the mail configuration changed, for every node.
func (t *tx) bumpMailConfig() error {
	_, err := t.exec(`INSERT INTO settings (key, value) VALUES ('` + mailConfigKey + `', '1')
		ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT)`)
	return err
}

// MailConfigVersion changes whenever relays or sending domains change.
func (s *Store) MailConfigVersion(ctx context.Context) (int64, error) {
	var v string
	err := s.r.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = '"+mailConfigKey+"'").Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, s.dbErr("read mail configuration version", err)
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n, nil
}

// SaveRelay creates or replaces a relay (the URL is checked by the caller).
func (s *Store) SaveRelay(ctx context.Context, name, url string) (created bool, err error) {
	err = s.writer.do1(func(t *tx) error {
		now := t.s.now()
		var old string
		e := t.queryRow("SELECT name FROM mail_relays WHERE name = ?", name).Scan(&old)
		created = errors.Is(e, sql.ErrNoRows)
		if e != nil && !created {
			return e
		}
		if _, err := t.exec(`INSERT INTO mail_relays (name, url, created_at, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET url = excluded.url, updated_at = excluded.updated_at`, name, url, ms(now), ms(now)); err != nil {
			return err
		}
		return t.bumpMailConfig()
	})
	return created, s.dbErr("save relay", err)
}

// Relays lists the saved relays by name.
func (s *Store) Relays(ctx context.Context) ([]RelayRow, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT name, url, created_at, updated_at FROM mail_relays ORDER BY name")
	if err != nil {
		return nil, s.dbErr("list relays", err)
	}
	defer rows.Close()
	var out []RelayRow
	for rows.Next() {
		var r RelayRow
		var c, u int64
		if err := rows.Scan(&r.Name, &r.URL, &c, &u); err != nil {
			return nil, s.dbErr("list relays", err)
		}
		r.CreatedAt, r.UpdatedAt = fromMS(c), fromMS(u)
		out = append(out, r)
	}
	return out, s.dbErr("list relays", rows.Err())
}

// DeleteRelay removes a relay no sending domain uses.
func (s *Store) DeleteRelay(ctx context.Context, name string) error {
	return s.writer.do1(func(t *tx) error {
		var n int
		if err := t.queryRow("SELECT COUNT(*) FROM sending_domains WHERE relay = ?", name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrRelayInUse
		}
		res, err := t.exec("DELETE FROM mail_relays WHERE name = ?", name)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return ErrRelayNotFound
		}
		return t.bumpMailConfig()
	})
}

// SaveSendingDomain creates or replaces a sending domain (key and selector
// checked by the caller).
func (s *Store) SaveSendingDomain(ctx context.Context, d SendingDomain) (created bool, err error) {
	err = s.writer.do1(func(t *tx) error {
		now := t.s.now()
		if d.Relay != "" {
			var x string
			if err := t.queryRow("SELECT name FROM mail_relays WHERE name = ?", d.Relay).Scan(&x); errors.Is(err, sql.ErrNoRows) {
				return ErrRelayNotFound
			} else if err != nil {
				return err
			}
		}
		var old string
		e := t.queryRow("SELECT domain FROM sending_domains WHERE domain = ?", d.Domain).Scan(&old)
		created = errors.Is(e, sql.ErrNoRows)
		if e != nil && !created {
			return e
		}
		if _, err := t.exec(`INSERT INTO sending_domains (domain, selector, private_key, relay, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (domain) DO UPDATE SET selector = excluded.selector, private_key = excluded.private_key,
				relay = excluded.relay, updated_at = excluded.updated_at`,
			d.Domain, d.Selector, d.PrivateKey, null(d.Relay), ms(now), ms(now)); err != nil {
			return err
		}
		return t.bumpMailConfig()
	})
	return created, err
}

// SendingDomains lists the sending domains, keys included (for the
// dispatcher; the API leaves them out).
func (s *Store) SendingDomains(ctx context.Context) ([]SendingDomain, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT domain, selector, private_key, relay, created_at, updated_at FROM sending_domains ORDER BY domain")
	if err != nil {
		return nil, s.dbErr("list sending domains", err)
	}
	defer rows.Close()
	out := []SendingDomain{}
	for rows.Next() {
		var d SendingDomain
		var relay sql.NullString
		var c, u int64
		if err := rows.Scan(&d.Domain, &d.Selector, &d.PrivateKey, &relay, &c, &u); err != nil {
			return nil, s.dbErr("list sending domains", err)
		}
		d.Relay, d.CreatedAt, d.UpdatedAt = relay.String, fromMS(c), fromMS(u)
		out = append(out, d)
	}
	return out, s.dbErr("list sending domains", rows.Err())
}

// DeleteSendingDomain removes a sending domain.
func (s *Store) DeleteSendingDomain(ctx context.Context, domain string) error {
	return s.writer.do1(func(t *tx) error {
		res, err := t.exec("DELETE FROM sending_domains WHERE domain = ?", domain)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return ErrDomainNotFound
		}
		return t.bumpMailConfig()
	})
}
