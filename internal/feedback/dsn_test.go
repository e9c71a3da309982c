package feedback

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// sameReports compares reports field by field, times by instant.
func sameReports(got, want []Report) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d reports; want %d:\n%s", len(got), len(want), formatReports(got))
	}
	for i := range got {
		g, w := got[i], want[i]
		gAt, wAt := g.At, w.At
		g.At, w.At = time.Time{}, time.Time{}
		if g != w || !gAt.Equal(wAt) {
			return fmt.Errorf("report %d:\n got %+v at %s\nwant %+v at %s", i, g, gAt.UTC(), w, wAt.UTC())
		}
	}
	return nil
}

func formatReports(rs []Report) string {
	var sb strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&sb, "  %+v\n", r)
	}
	return sb.String()
}

func TestParseDSN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []Report
	}{
		{"postfix_550_user_unknown.eml", []Report{{
			Kind: Bounce, Email: "jane.doe@example.com", Hard: true, Status: "5.1.1",
			Diagnostic: "550 5.1.1 <Jane.Doe@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
			MessageID:  "m-12345", At: mustTime("2024-06-03T10:02:09+02:00"),
		}}},
		{"exim_delayed_422.eml", []Report{{
			Kind: Bounce, Email: "bob@full-mailbox.example", Hard: false, Status: "4.2.2",
			Diagnostic: "452 4.2.2 The email account that you tried to reach is over quota.",
			// No X-Nurture-Message in the returned headers: the Message-ID gives it.
			MessageID: "m-20001", At: mustTime("2024-06-04T14:20:01Z"),
		}}},
		{"gmail_dsn_rfc822.eml", []Report{{
			Kind: Bounce, Email: "no.such.user@gmail.com", Hard: true, Status: "5.1.1",
			Diagnostic: "550-5.1.1 The email account that you tried to reach does not exist. Please try " +
				"550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 unnecessary spaces. " +
				"For more information, go to 550 5.1.1 https://support.google.com/mail/?p=NoSuchUser " +
				"ffacd0b85a97d-35dd0c6f3a1si1234567f8f.321 - gsmtp",
			MessageID: "m-30003", At: mustTime("2024-06-05T02:03:04-07:00"),
		}}},
		{"multi_recipient_dsn.eml", []Report{
			{
				Kind: Bounce, Email: "ann@corp.example", Hard: true, Status: "5.1.10",
				Diagnostic: "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient ann@corp.example not found by SMTP address lookup",
				MessageID:  "m-50005", At: mustTime("2024-06-06T09:00:05Z"),
			},
			{
				// Failed after retrying a temporary error: the address may be fine.
				Kind: Bounce, Email: "bill@corp.example", Hard: false, Status: "4.4.7",
				Diagnostic: "delivery temporarily suspended: connect to mx.forward.example[198.51.100.20]:25: Connection timed out",
				MessageID:  "m-50005", At: mustTime("2024-06-06T09:25:00Z"),
			},
			{
				Kind: Bounce, Email: "carol@corp.example", Hard: false, Status: "4.7.1",
				Diagnostic: "451 4.7.1 Greylisted, please try again later",
				MessageID:  "m-50005", At: mustTime("2024-06-06T09:00:00Z"),
			},
			{
				Kind: Delivery, Email: "dave@ok.example", Status: "2.0.0",
				Diagnostic: "250 2.0.0 OK 1717666200 q5si1234567qtx.81 - gsmtp",
				MessageID:  "m-50005", At: mustTime("2024-06-06T09:00:00Z"),
			},
		}},
		{"global_dsn_base64.eml", []Report{{
			Kind: Bounce, Email: "josé.garcía@exemple.fr", Hard: true, Status: "5.2.1",
			Diagnostic: "550 5.2.1 Boîte aux lettres désactivée",
			MessageID:  "m-60006", At: mustTime("2024-06-07T16:40:00+02:00"),
		}}},
		{"yahoo_arf_complaint.eml", []Report{{
			Kind: Complaint, Email: "sam.smith@yahoo.com", Diagnostic: "abuse",
			MessageID: "m-40004", At: mustTime("2024-06-05T17:42:10Z"),
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDSN(bytes.NewReader(readTestdata(t, tt.file)), 1<<20)
			if err != nil {
				t.Fatalf("ParseDSN(%s): %v", tt.file, err)
			}
			if err := sameReports(got, tt.want); err != nil {
				t.Errorf("ParseDSN(%s): %v", tt.file, err)
			}
		})
	}
}

// dsn builds a minimal delivery status notification around the given
// delivery-status body and original headers.
func dsn(status, original string) string {
	return "From: MAILER-DAEMON@mx.test\r\n" +
		"Date: Mon, 03 Jun 2024 10:00:00 +0000\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=BB\r\n\r\n" +
		"--BB\r\nContent-Type: text/plain\r\n\r\nIt failed.\r\n" +
		"--BB\r\nContent-Type: message/delivery-status\r\n\r\n" + status + "\r\n" +
		"--BB\r\nContent-Type: text/rfc822-headers\r\n\r\n" + original + "\r\n" +
		"--BB--\r\n"
}

func TestParseDSNFields(t *testing.T) {
	t.Parallel()
	at := mustTime("2024-06-03T10:00:00Z")
	tests := []struct {
		name     string
		status   string
		original string
		want     []Report
	}{
		{
			"no status: the reply code decides, and 4xx is soft",
			"Reporting-MTA: dns; mx.test\r\n\r\nFinal-Recipient: rfc822; <A@B.test>\r\nAction: failed\r\nDiagnostic-Code: smtp; 452 mailbox full\r\n",
			"X-Nurture-Message: m-1",
			[]Report{{Kind: Bounce, Email: "a@b.test", Diagnostic: "452 mailbox full", MessageID: "m-1", At: at}},
		},
		{
			"no status and no code: failed is final",
			"Final-Recipient: rfc822; a@b.test\r\nAction: FAILED\r\n",
			"Message-ID: <m-2.x@mail.test>",
			[]Report{{Kind: Bounce, Email: "a@b.test", Hard: true, MessageID: "m-2", At: at}},
		},
		{
			"status from the diagnostic, comment after status ignored",
			"Final-Recipient: rfc822; a@b.test\r\nAction: failed\r\nStatus: 5.0.0 (permanent failure)\r\nDiagnostic-Code: smtp; 550 5.7.1 blocked\r\n",
			"Message-ID: <CAFoo@mail.gmail.test>",
			[]Report{{Kind: Bounce, Email: "a@b.test", Hard: true, Status: "5.0.0", Diagnostic: "550 5.7.1 blocked", At: at}},
		},
		{
			"relayed is a delivery; expanded says nothing",
			"Final-Recipient: rfc822; a@b.test\r\nAction: relayed\r\nStatus: 2.0.0\r\n\r\nFinal-Recipient: rfc822; list@b.test\r\nAction: expanded\r\n",
			"",
			[]Report{{Kind: Delivery, Email: "a@b.test", Status: "2.0.0", At: at}},
		},
		{
			"utf-8 address type with escapes",
			`Final-Recipient: utf-8; J\x{00F6}rg@b.test` + "\r\nAction: failed\r\nStatus: 5.1.1\r\n",
			"",
			[]Report{{Kind: Bounce, Email: "jörg@b.test", Hard: true, Status: "5.1.1", At: at}},
		},
		{
			"diagnostic bounded",
			"Final-Recipient: rfc822; a@b.test\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 " + strings.Repeat("é", 600) + "\r\n",
			"",
			[]Report{{Kind: Bounce, Email: "a@b.test", Hard: true, Status: "5.1.1", Diagnostic: "550 " + strings.Repeat("é", 498), At: at}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDSN(strings.NewReader(dsn(tt.status, tt.original)), 0)
			if err != nil {
				t.Fatalf("ParseDSN: %v", err)
			}
			if err := sameReports(got, tt.want); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestParseARF(t *testing.T) {
	t.Parallel()
	arf := func(report, original string) string {
		return "From: fbl@isp.test\r\nDate: Mon, 03 Jun 2024 10:00:00 +0000\r\n" +
			"Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n" +
			"--b\r\nContent-Type: message/feedback-report\r\n\r\n" + report + "\r\n" +
			"--b\r\nContent-Type: message/rfc822\r\n\r\n" + original + "\r\n\r\nbody\r\n" +
			"--b--\r\n"
	}
	at := mustTime("2024-06-03T10:00:00Z")

	// Recipient redacted from the report but kept in the original.
	got, err := ParseDSN(strings.NewReader(arf("Feedback-Type: abuse\r\nVersion: 1", "To: Kim <Kim@ISP.test>\r\nX-Nurture-Message: m-9")), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Report{{Kind: Complaint, Email: "kim@isp.test", Diagnostic: "abuse", MessageID: "m-9", At: at}}
	if err := sameReports(got, want); err != nil {
		t.Error(err)
	}

	// No recipient at all: the message id still correlates.
	got, err = ParseDSN(strings.NewReader(arf("Feedback-Type: fraud\r\nArrival-Date: Sun, 02 Jun 2024 09:00:00 +0000", "To: undisclosed-recipients:;\r\nX-Nurture-Message: m-10")), 0)
	if err != nil {
		t.Fatal(err)
	}
	want = []Report{{Kind: Complaint, Diagnostic: "fraud", MessageID: "m-10", At: mustTime("2024-06-02T09:00:00Z")}}
	if err := sameReports(got, want); err != nil {
		t.Error(err)
	}

	// Nothing to correlate with.
	if _, err := ParseDSN(strings.NewReader(arf("Feedback-Type: abuse", "Subject: hi")), 0); err == nil {
		t.Error("ParseDSN(complaint naming nothing) = nil error; want an error")
	}

	// Reports that are not complaints yield nothing.
	for _, typ := range []string{"not-spam", "auth-failure"} {
		got, err := ParseDSN(strings.NewReader(arf("Feedback-Type: "+typ+"\r\nOriginal-Rcpt-To: a@b.test", "X-Nurture-Message: m-1")), 0)
		if err != nil || len(got) != 0 {
			t.Errorf("ParseDSN(Feedback-Type %s) = %v, %v; want nothing", typ, got, err)
		}
	}
}

// TestParseDSNHostile feeds broken and hostile input: each must fail, none
// may panic.
func TestParseDSNHostile(t *testing.T) {
	t.Parallel()
	postfix := string(readTestdata(t, "postfix_550_user_unknown.eml"))
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(rng.UintN(256))
	}
	var manyRcpts strings.Builder
	manyRcpts.WriteString("Reporting-MTA: dns; mx.test\r\n")
	for i := range 10000 {
		fmt.Fprintf(&manyRcpts, "\r\nFinal-Recipient: rfc822; u%d@b.test\r\nAction: failed\r\nStatus: 5.1.1\r\n", i)
	}
	var manyParts strings.Builder
	manyParts.WriteString("Content-Type: multipart/report; report-type=delivery-status; boundary=p\r\n\r\n")
	for range 500 {
		manyParts.WriteString("--p\r\nContent-Type: text/plain\r\n\r\nx\r\n")
	}
	manyParts.WriteString("--p--\r\n")
	deep := "Content-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@b.test\r\nAction: failed\r\n"
	for i := range 40 {
		deep = fmt.Sprintf("Content-Type: multipart/mixed; boundary=d%d\r\n\r\n--d%d\r\n%s\r\n--d%d--\r\n", i, i, deep, i)
	}
	cut := strings.Index(postfix, "Action: failed")

	tests := []struct {
		name  string
		input string
		limit int64
		is    error // when set, the error must wrap it
	}{
		{"empty", "", 0, ErrNotReport},
		{"binary garbage", string(garbage), 0, ErrNotReport},
		{"ordinary message", "From: a@b.test\r\nSubject: hi\r\n\r\nHello", 0, ErrNotReport},
		{"ordinary multipart", "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nhi\r\n--x--\r\n", 0, ErrNotReport},
		{"report without status part", "Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\n\r\nhi\r\n--x--\r\n", 0, ErrNotReport},
		{"report without boundary", "Content-Type: multipart/report; report-type=delivery-status\r\n\r\n--x\r\n\r\nhi\r\n--x--\r\n", 0, nil},
		{"truncated multipart", postfix[:cut], 0, nil},
		{"truncated in the original", postfix[:len(postfix)-60], 0, nil},
		{"over limit", postfix, 1000, ErrTooLarge},
		{"huge header over limit", "Subject: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", 1 << 20, ErrTooLarge},
		{"huge header under limit", "X-Junk: " + strings.Repeat("a ", 400<<10) + "\r\n\r\n", 1 << 20, ErrNotReport},
		{"10,000 recipients", dsn(manyRcpts.String(), ""), 4 << 20, nil},
		{"500 parts", manyParts.String(), 0, nil},
		{"nested 40 deep", deep, 0, nil},
		{"status without recipients", dsn("Reporting-MTA: dns; mx.test\r\n", ""), 0, nil},
		{"header without colon", "this is not a header\r\n\r\n", 0, ErrNotReport},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDSN(strings.NewReader(tt.input), tt.limit)
			if err == nil {
				t.Fatalf("ParseDSN = %v, nil; want an error", got)
			}
			t.Logf("ParseDSN: %v", err)
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("ParseDSN error = %v; want %v", err, tt.is)
			}
		})
	}
}

// TestParseDSNLongFolds: a field folded over a million lines is read in
// linear time and comes back bounded.
func TestParseDSNLongFolds(t *testing.T) {
	t.Parallel()
	status := "Final-Recipient: rfc822; a@b.test\r\nAction: failed\r\nDiagnostic-Code: smtp; 550 5.1.1 no" +
		strings.Repeat("\r\n x", 1<<20) + "\r\n"
	got, err := ParseDSN(strings.NewReader(dsn(status, "")), 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Diagnostic) > MaxDiagnostic || got[0].Status != "5.1.1" {
		t.Errorf("ParseDSN = %v", got)
	}
}
