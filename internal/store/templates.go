package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/nurturehq/nurture/internal/message"
)

// Template channels.
const (
	ChannelEmail    = "email"
	ChannelSMS      = "sms"
	ChannelWhatsApp = "whatsapp"
)

// TemplateVariables are the variables senders add to every message, which
// templates may use beside contact.*.
var TemplateVariables = []string{"unsubscribe_url", "preferences_url", "booking_url", "confirm_url", "content",
	// Speed to lead: the lead's team and owner, when the team will call
	// (first touch), and the escalation (an SLA reminder to the team).
	"team", "owner_name", "owner_email", "call_at", "sla_due", "sla_level", "sla_at", "recipient_role",
	// Meetings (meetings.go): when, how long, in which zone, the link to
	// cancel or reschedule, the notes written when booking (the visitor's
	// text, escaped in HTML like every value a message is queued with),
	// and, when it moved, meeting_rescheduled ("true") and the previous
	// start.
	"meeting_url", "meeting_start", "meeting_end", "meeting_time_zone", "meeting_length", "meeting_notes",
	"meeting_rescheduled", "meeting_previous_start"}

// ErrTemplateNotFound means no template has that name.
var ErrTemplateNotFound = errors.New("template not found")

// Template is a message template as stored: the version in force.
type Template struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Channel   string    `json:"channel"`
	Version   int       `json:"version"`
	Subject   string    `json:"subject,omitempty"`
	HTML      string    `json:"html,omitempty"`
	Text      string    `json:"text,omitempty"`
	Layout    string    `json:"layout,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// TemplateVersion is one version of a template.
type TemplateVersion struct {
	Version   int       `json:"version"`
	Subject   string    `json:"subject,omitempty"`
	HTML      string    `json:"html,omitempty"`
	Text      string    `json:"text,omitempty"`
	Layout    string    `json:"layout,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// TemplateInput is a template to save.
type TemplateInput struct {
	Name, Channel, Subject, HTML, Text string
	// Layout names an email template whose HTML wraps this one's where it
	// says {{ content }} (a shared header, footer and styles).
	Layout string
	By     string
}

// CheckTemplate validates a template's content for its channel; a
// *message.Error lists the problems.
func CheckTemplate(in TemplateInput) error {
	var problems []message.Problem
	switch in.Channel {
	case ChannelEmail:
		if in.Subject == "" {
			problems = append(problems, message.Problem{Part: "subject", Reason: "an email needs a subject"})
		}
	case ChannelSMS, ChannelWhatsApp:
		if in.Subject != "" || in.HTML != "" {
			problems = append(problems, message.Problem{Part: "html", Reason: in.Channel + " messages are text only: no subject, no html"})
		}
		if in.Layout != "" {
			problems = append(problems, message.Problem{Part: "layout", Reason: "only email templates have a layout"})
		}
	default:
		problems = append(problems, message.Problem{Part: "channel", Reason: "one of email, sms, whatsapp"})
	}
	if len(problems) > 0 {
		return &message.Error{Problems: problems}
	}
	return message.Check(message.Template{Subject: in.Subject, HTML: in.HTML, Text: in.Text}, TemplateVariables...)
}

// SaveTemplate stores a template, as a new version when its content
// changed. It reports whether a version was written.
func (s *Store) SaveTemplate(ctx context.Context, in TemplateInput) (Template, bool, error) {
	if err := CheckTemplate(in); err != nil {
		return Template{}, false, err
	}
	var out Template
	var changed bool
	err := s.writer.do1(func(t *tx) error {
		now := t.s.now()
		if in.Layout != "" {
			if err := t.checkLayout(in.Name, in.Layout); err != nil {
				return err
			}
		}
		cur, err := getTemplate(t.queryRow, in.Name)
		switch {
		case errors.Is(err, ErrTemplateNotFound):
			cur = Template{Name: in.Name, Channel: in.Channel, CreatedAt: now}
			t.templates = nil
			if err := t.queryRow(`INSERT INTO templates (name, channel, version, subject, html, text, layout, created_at, updated_at)
				VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?) RETURNING id`, in.Name, in.Channel, null(in.Subject), null(in.HTML), null(in.Text),
				null(in.Layout), ms(now), ms(now)).Scan(&cur.ID); err != nil {
				return err
			}
		case err != nil:
			return err
		case cur.Channel != in.Channel:
			return &message.Error{Problems: []message.Problem{{Part: "channel", Reason: "the template is for " + cur.Channel + "; a channel cannot change"}}}
		case cur.Subject == in.Subject && cur.HTML == in.HTML && cur.Text == in.Text && cur.Layout == in.Layout:
			out, changed = cur, false
			return nil
		default:
			t.templates = nil
			if _, err := t.exec("UPDATE templates SET version = version + 1, subject = ?, html = ?, text = ?, layout = ?, updated_at = ? WHERE id = ?",
				null(in.Subject), null(in.HTML), null(in.Text), null(in.Layout), ms(now), cur.ID); err != nil {
				return err
			}
		}
		cur.Version++
		cur.Subject, cur.HTML, cur.Text, cur.Layout, cur.UpdatedAt = in.Subject, in.HTML, in.Text, in.Layout, now
		if _, err := t.exec(`INSERT INTO template_versions (template_id, version, subject, html, text, layout, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, cur.ID, cur.Version, null(in.Subject), null(in.HTML), null(in.Text), null(in.Layout),
			null(in.By), ms(now)); err != nil {
			return err
		}
		out, changed = cur, true
		return nil
	})
	return out, changed, err
}

const templateColumns = "id, name, channel, version, subject, html, text, layout, created_at, updated_at"

// layoutContent finds {{ content }} in a layout.
var layoutContent = regexp.MustCompile(`{{-?\s*content\s*-?}}`)

// checkLayout says whether layout can wrap template name: an email
// template holding {{ content }}, other than name itself.
func (t *tx) checkLayout(name, layout string) error {
	bad := func(reason string) error {
		return &message.Error{Problems: []message.Problem{{Part: "layout", Reason: reason}}}
	}
	if layout == name {
		return bad("a template cannot be its own layout")
	}
	l, err := getTemplate(t.queryRow, layout)
	if errors.Is(err, ErrTemplateNotFound) {
		return bad("no template is named " + layout)
	} else if err != nil {
		return err
	}
	if l.Channel != ChannelEmail || !layoutContent.MatchString(l.HTML) {
		return bad(layout + " is not a layout: an email template whose HTML holds {{ content }}")
	}
	return nil
}

func getTemplate(queryRow func(string, ...any) *sql.Row, name string) (Template, error) {
	return scanTemplate(queryRow("SELECT "+templateColumns+" FROM templates WHERE name = ?", name))
}

func scanTemplate(row scanner) (Template, error) {
	var tp Template
	var subject, html, text, layout sql.NullString
	var created, updated int64
	err := row.Scan(&tp.ID, &tp.Name, &tp.Channel, &tp.Version, &subject, &html, &text, &layout, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return tp, ErrTemplateNotFound
	}
	tp.Subject, tp.HTML, tp.Text, tp.Layout = subject.String, html.String, text.String, layout.String
	tp.CreatedAt, tp.UpdatedAt = fromMS(created), fromMS(updated)
	return tp, err
}

// GetTemplate returns a template's version in force.
func (s *Store) GetTemplate(ctx context.Context, name string) (Template, error) {
	tp, err := getTemplate(func(q string, args ...any) *sql.Row { return s.r.QueryRowContext(ctx, s.q(q), args...) }, name)
	if err != nil && !errors.Is(err, ErrTemplateNotFound) {
		return tp, s.dbErr("read template", err)
	}
	return tp, err
}

// Templates lists every template by name.
func (s *Store) Templates(ctx context.Context) ([]Template, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+templateColumns+" FROM templates ORDER BY name")
	if err != nil {
		return nil, s.dbErr("list templates", err)
	}
	defer rows.Close()
	out := []Template{}
	for rows.Next() {
		tp, err := scanTemplate(rows)
		if err != nil {
			return nil, s.dbErr("list templates", err)
		}
		out = append(out, tp)
	}
	return out, s.dbErr("list templates", rows.Err())
}

// TemplateVersions lists a template's versions, newest first.
func (s *Store) TemplateVersions(ctx context.Context, name string) ([]TemplateVersion, error) {
	tp, err := s.GetTemplate(ctx, name)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT version, subject, html, text, layout, created_by, created_at FROM template_versions
		WHERE template_id = ? ORDER BY version DESC`), tp.ID)
	if err != nil {
		return nil, s.dbErr("list template versions", err)
	}
	defer rows.Close()
	out := []TemplateVersion{}
	for rows.Next() {
		var v TemplateVersion
		var subject, html, text, layout, by sql.NullString
		var at int64
		if err := rows.Scan(&v.Version, &subject, &html, &text, &layout, &by, &at); err != nil {
			return nil, s.dbErr("list template versions", err)
		}
		v.Subject, v.HTML, v.Text, v.Layout = subject.String, html.String, text.String, layout.String
		v.CreatedBy, v.CreatedAt = by.String, fromMS(at)
		out = append(out, v)
	}
	return out, s.dbErr("list template versions", rows.Err())
}

// PreviewTemplate renders a template's version in force for a contact,
// with placeholder links for the sender's variables.
func (s *Store) PreviewTemplate(ctx context.Context, name string, contactID int64) (message.Rendered, error) {
	tp, err := s.GetTemplate(ctx, name)
	if err != nil {
		return message.Rendered{}, err
	}
	c, err := s.GetContact(ctx, contactID)
	if err != nil {
		return message.Rendered{}, err
	}
	extra := map[string]any{}
	for _, v := range TemplateVariables {
		extra[v] = "https://example.invalid/" + v
	}
	in, err := s.ContactSegments(ctx, contactID)
	if err != nil {
		return message.Rendered{}, err
	}
	names := make([]string, len(in))
	for i, sg := range in {
		names[i] = sg.Name
	}
	extra["segments"] = names
	r, err := message.Render(message.Template{Subject: tp.Subject, HTML: tp.HTML, Text: tp.Text}, &c, extra)
	if err != nil || tp.Layout == "" || r.HTML == "" {
		return r, err
	}
	l, err := s.GetTemplate(ctx, tp.Layout)
	if err != nil {
		return r, fmt.Errorf("layout %s: %w", tp.Layout, err)
	}
	extra["content"] = r.HTML
	wrapped, err := message.Render(message.Template{HTML: l.HTML}, &c, extra)
	r.HTML = wrapped.HTML
	return r, err
}
