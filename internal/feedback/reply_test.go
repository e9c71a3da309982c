package feedback

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want Reply
	}{
		{"outlook_out_of_office.eml", Reply{
			From:       "claire.martin@contoso.example",
			Subject:    "Automatic reply: Your free SEO audit is ready",
			InReplyTo:  []string{"m-12346.a1b2c3@mail.nurture.test"},
			References: []string{"m-12346.a1b2c3@mail.nurture.test"},
			MessageID:  "m-12346",
			Text: "Thank you for your email. I am out of the office until Monday 10 June with limited access to email. " +
				"For urgent matters please contact support@contoso.example.\n\nKind regards,\nClaire",
			Auto: true,
		}},
		{"french_reply_latin1_qp.eml", Reply{
			From:       "elodie.bernard@exemple.fr",
			Subject:    "Re: Votre audit SEO gratuit est prêt",
			InReplyTo:  []string{"m-12347.e4d5f6@mail.nurture.test"},
			References: []string{"m-12347.e4d5f6@mail.nurture.test"},
			MessageID:  "m-12347",
			Text: "Bonjour,\n\n" +
				"Merci pour votre message. Je serais intéressée par une démo la semaine prochaine, de préférence mardi après-midi.\n\n" +
				"Pouvez-vous aussi m'envoyer vos tarifs ? Et les conditions d'engagement ?\n\n" +
				"Bien cordialement,\nÉlodie",
		}},
		{"base64_utf8_reply.eml", Reply{
			From:       "maria.lopez@gmail.example",
			Subject:    "Re: Your free SEO audit is ready",
			InReplyTo:  []string{"CAF9xQ=previous@mail.gmail.example"},
			References: []string{"m-12348.ffee01@mail.nurture.test", "CAF9xQ=previous@mail.gmail.example"},
			// Not in In-Reply-To (she answered her own message), found in References.
			MessageID: "m-12348",
			Text:      "Hi team,\n\nYes — we'd love a call on Thursday. Our CTO Jürgen will join too. 👍\n\nBest,\nMaría",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			got, err := ParseReply(bytes.NewReader(readTestdata(t, tt.file)), 1<<20)
			if err != nil {
				t.Fatalf("ParseReply(%s): %v", tt.file, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseReply(%s)\n got %#v\nwant %#v", tt.file, got, tt.want)
			}
		})
	}
}

// TestParseReplyReportsAreAuto: bounces and complaints reaching the reply
// address must never count as a human answering.
func TestParseReplyReportsAreAuto(t *testing.T) {
	t.Parallel()
	for _, file := range []string{
		"postfix_550_user_unknown.eml", "exim_delayed_422.eml", "gmail_dsn_rfc822.eml",
		"multi_recipient_dsn.eml", "global_dsn_base64.eml", "yahoo_arf_complaint.eml",
	} {
		got, err := ParseReply(bytes.NewReader(readTestdata(t, file)), 1<<20)
		if err == nil && !got.Auto {
			t.Errorf("ParseReply(%s).Auto = false; want true", file)
		}
	}
	// With every header hint removed, the report structure alone is enough.
	bare := "From: someone@mx.test\r\nSubject: Re: hello\r\n" +
		"Content-Type: multipart/report; boundary=b\r\n\r\n" +
		"--b\r\n\r\nhi\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n--b--\r\n"
	if got, err := ParseReply(strings.NewReader(bare), 0); err != nil || !got.Auto {
		t.Errorf("ParseReply(bare DSN) = %+v, %v; want Auto", got, err)
	}
}

func TestParseReplyAuto(t *testing.T) {
	t.Parallel()
	ooo := string(readTestdata(t, "outlook_out_of_office.eml"))
	without := func(s string, headers ...string) string {
		lines := strings.Split(s, "\r\n")
		out := lines[:0]
	next:
		for _, l := range lines {
			for _, h := range headers {
				if strings.HasPrefix(l, h+":") {
					continue next
				}
			}
			out = append(out, l)
		}
		return strings.Join(out, "\r\n")
	}
	human := strings.Replace(without(ooo, "Auto-Submitted", "X-MS-Exchange-Inbox-Rules-Loop"),
		"Subject: Automatic reply:", "Subject: Re:", 1)
	msg := func(headers string) string {
		return "From: Kim <kim@b.test>\r\n" + headers + "\r\n\r\nSure, let's talk.\r\n"
	}
	tests := []struct {
		name  string
		input string
		want  bool
	}{
		{"outlook, subject only", without(ooo, "Auto-Submitted", "X-MS-Exchange-Inbox-Rules-Loop"), true},
		{"outlook, headers only", strings.Replace(ooo, "Subject: Automatic reply:", "Subject: Re:", 1), true},
		{"outlook made human", human, false},
		{"plain human", msg("Subject: Re: Your audit"), false},
		{"Auto-Submitted: no", msg("Subject: Re: Your audit\r\nAuto-Submitted: no"), false},
		{"Auto-Submitted: auto-replied", msg("Auto-Submitted: auto-replied; owner-email=kim@b.test"), true},
		{"X-Autoreply", msg("X-Autoreply: yes"), true},
		{"X-Autorespond", msg("X-Autorespond: Out of office"), true},
		{"Precedence: bulk", msg("Precedence: bulk"), true},
		{"Precedence: auto_reply", msg("Precedence: auto_reply"), true},
		{"Precedence: junk", msg("Precedence: junk"), true},
		{"Precedence: first-class", msg("Precedence: first-class"), false},
		{"null return path", msg("Return-Path: <>"), true},
		{"Out of Office subject", msg("Subject: Out of Office: Your audit"), true},
		{"French subject", msg("Subject: =?utf-8?q?R=C3=A9ponse_automatique=C2=A0:_Votre_audit?="), true},
		{"German subject", msg("Subject: Abwesenheitsnotiz: Ihr Audit"), true},
		{"our subject quoted back", msg("Subject: Re: Out of office? Try our scheduler"), false},
		{"mailer-daemon sender", strings.Replace(msg("Subject: failure"), "kim@b.test", "MAILER-DAEMON@b.test", 1), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseReply(strings.NewReader(tt.input), 0)
			if err != nil {
				t.Fatalf("ParseReply: %v", err)
			}
			if got.Auto != tt.want {
				t.Errorf("ParseReply(%s).Auto = %v; want %v", tt.name, got.Auto, tt.want)
			}
		})
	}
}

func TestStripQuoted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"gmail one line", "Yes please.\n\nOn Mon, Jun 3, 2024 at 10:02 AM Nurture <hello@nurture.test> wrote:\n> Hi\n", "Yes please."},
		{"gmail wrapped", "Yes please.\n\nOn Mon, Jun 3, 2024 at 10:02 AM Nurture Demo <\nhello@nurture.test> wrote:\n\n> Hi\n", "Yes please."},
		{"apple", "Sounds good\n\n> On 3 Jun 2024, at 10:02, Nurture <hello@nurture.test> wrote:\n> \n> Hi\n", "Sounds good"},
		{"thunderbird french", "Oui.\n\nLe 03/06/2024 à 10:02, Nurture a écrit :\n> Bonjour\n", "Oui."},
		{"gmail french wrapped", "Oui.\n\nLe lun. 3 juin 2024 à 10:02, Nurture Demo <hello@nurture.test> a\nécrit :\n\n> Bonjour\n", "Oui."},
		{"german", "Ja, gerne.\n\nAm 03.06.2024 um 10:02 schrieb Nurture <hello@nurture.test>:\n> Hallo\n", "Ja, gerne."},
		{"spanish", "Sí.\n\nEl lun, 3 jun 2024 a las 10:02, Nurture (<hello@nurture.test>) escribió:\n> Hola\n", "Sí."},
		{"bare name wrote, quote follows", "Agreed.\n\nNurture Demo wrote:\n> Hi\n", "Agreed."},
		{"outlook original message", "Call me.\n\n-----Original Message-----\nFrom: Nurture\nSent: Monday\n\nHi", "Call me."},
		{"outlook underscores", "Call me.\n\n________________________________\nFrom: Nurture Demo <hello@nurture.test>\nSent: 03 June 2024 10:02\n", "Call me."},
		{"outlook french header block", "Appelez-moi.\r\n\r\nDe : Nurture Demo <hello@nurture.test>\r\nEnvoyé : lundi 3 juin 2024 10:02\r\nÀ : Élodie\r\n", "Appelez-moi."},
		{"interleaved quotes", "> Do you want a demo?\nYes.\n> When?\nTuesday.\n", "Yes.\nTuesday."},
		{"no history", "Just text.\n\n\n\nWith gaps.  \n", "Just text.\n\nWith gaps."},
		{"human line starting On", "On Monday we could meet.\nOr Tuesday.", "On Monday we could meet.\nOr Tuesday."},
		{"wrote without a quote after it", "My colleague wrote:\nthe proposal is fine.", "My colleague wrote:\nthe proposal is fine."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := stripQuoted(tt.in); got != tt.want {
				t.Errorf("stripQuoted(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseReplyBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, input, want string
	}{
		{
			"html only",
			"From: a@b.test\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
				"<html><head><style>p{}</style></head><body><p>Yes&nbsp;please &amp; thanks</p><div>Kim</div>" +
				"<div class=\"gmail_quote\">On Mon, Jun 3, 2024 Nurture wrote:<br><blockquote>Hi</blockquote></div></body></html>",
			"Yes please & thanks\nKim",
		},
		{
			"windows-1252",
			"From: a@b.test\r\nContent-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=93Yes=94 =96 100=80 is fine",
			"“Yes” – 100€ is fine",
		},
		{
			"attachment skipped",
			"From: a@b.test\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n" +
				"--m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=notes.txt\r\n\r\nnotes\r\n" +
				"--m\r\nContent-Type: text/plain\r\n\r\nThe reply\r\n--m--\r\n",
			"The reply",
		},
		{
			"invalid utf-8 replaced",
			"From: a@b.test\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nok \xff\xfe done",
			"ok \uFFFD done",
		},
		{
			"bounded",
			"From: a@b.test\r\n\r\n" + strings.Repeat("é", 3000),
			strings.Repeat("é", MaxText/2),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseReply(strings.NewReader(tt.input), 0)
			if err != nil {
				t.Fatalf("ParseReply: %v", err)
			}
			if got.Text != tt.want {
				t.Errorf("ParseReply(%s).Text = %q; want %q", tt.name, got.Text, tt.want)
			}
		})
	}
}

func TestParseReplyHostile(t *testing.T) {
	t.Parallel()
	french := string(readTestdata(t, "french_reply_latin1_qp.eml"))
	b64 := string(readTestdata(t, "base64_utf8_reply.eml"))
	tests := []struct {
		name  string
		input string
		limit int64
		is    error
	}{
		{"empty", "", 0, nil},
		{"no From", "Subject: hi\r\n\r\nHello", 0, nil},
		{"From without address", "From: Kim\r\n\r\nHello", 0, nil},
		{"binary garbage", "\x00\x01\x02\xff\xfe:\x00\r\n\r\n\x00", 0, nil},
		{"over limit", french, 100, ErrTooLarge},
		{"truncated multipart", b64[:len(b64)-200], 0, nil},
		{"multipart without boundary", "From: a@b.test\r\nContent-Type: multipart/alternative\r\n\r\nhi", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseReply(strings.NewReader(tt.input), tt.limit)
			if err == nil {
				t.Fatalf("ParseReply = %+v, nil; want an error", got)
			}
			t.Logf("ParseReply: %v", err)
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("ParseReply error = %v; want %v", err, tt.is)
			}
		})
	}
}

func TestParseReplyIDs(t *testing.T) {
	t.Parallel()
	refs := strings.Repeat("<x.1@a.test> ", 300) + "<m-77.zz@mail.test>"
	got, err := ParseReply(strings.NewReader("From: a@b.test\r\nIn-Reply-To: m-5.q@mail.test (unbracketed)\r\nReferences: "+refs+"\r\n\r\nhi"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.References) != maxIDs || got.References[maxIDs-1] != "m-77.zz@mail.test" {
		t.Errorf("References kept %d, last %q; want %d ending in m-77.zz@mail.test", len(got.References), got.References[len(got.References)-1], maxIDs)
	}
	if want := []string{"m-5.q@mail.test"}; !reflect.DeepEqual(got.InReplyTo, want) {
		t.Errorf("InReplyTo = %q; want %q", got.InReplyTo, want)
	}
	if got.MessageID != "m-5" {
		t.Errorf("MessageID = %q; want m-5 (In-Reply-To before References)", got.MessageID)
	}
	if !utf8.ValidString(got.Text) {
		t.Errorf("Text %q is not UTF-8", got.Text)
	}
}

// TestParseReplyLargeBodies covers bodies built to make line-by-line
// matching expensive: one enormous line, and very many short ones.
func TestParseReplyLargeBodies(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"one long line":    strings.Repeat("On it she wrote wrote a écrit ", 300<<10) + ":",
		"many short lines": strings.Repeat("On x wrote\n", 500<<10),
	} {
		got, err := ParseReply(strings.NewReader("From: a@b.test\r\n\r\n"+body), 16<<20)
		if err != nil {
			t.Fatalf("ParseReply(%s): %v", name, err)
		}
		if len(got.Text) > MaxText || !utf8.ValidString(got.Text) {
			t.Errorf("ParseReply(%s).Text has %d bytes", name, len(got.Text))
		}
	}
}
