package feedback

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// seedMessages adds every testdata message to the corpus.
func seedMessages(f *testing.F) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		f.Add(readTestdata(f, filepath.Base(name)))
	}
	f.Add([]byte("Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@b.test\r\nAction: failed\r\n--b--\r\n"))
	f.Add([]byte(""))
}

// FuzzParseDSN: ParseDSN must not panic, and what it returns must respect
// the documented bounds. Without -fuzz it runs the seeds.
func FuzzParseDSN(f *testing.F) {
	seedMessages(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		reports, err := ParseDSN(bytes.NewReader(b), 1<<20)
		if err != nil {
			return
		}
		if len(reports) > MaxRecipients {
			t.Fatalf("%d reports; at most %d", len(reports), MaxRecipients)
		}
		for _, r := range reports {
			switch r.Kind {
			case Bounce, Complaint, Delivery:
			default:
				t.Errorf("Kind %q", r.Kind)
			}
			if r.Email != strings.ToLower(r.Email) || (r.Email == "" && r.Kind != Complaint) {
				t.Errorf("Email %q", r.Email)
			}
			if len(r.Diagnostic) > MaxDiagnostic || !utf8.ValidString(r.Diagnostic) {
				t.Errorf("Diagnostic %q", r.Diagnostic)
			}
			if r.Hard && r.Kind != Bounce {
				t.Errorf("Hard %s", r.Kind)
			}
		}
	})
}

// FuzzParseReply: ParseReply must not panic, and what it returns must
// respect the documented bounds. Without -fuzz it runs the seeds.
func FuzzParseReply(f *testing.F) {
	seedMessages(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReply(bytes.NewReader(b), 1<<20)
		if err != nil {
			return
		}
		if r.From == "" || r.From != strings.ToLower(r.From) {
			t.Errorf("From %q", r.From)
		}
		if len(r.Text) > MaxText || !utf8.ValidString(r.Text) {
			t.Errorf("Text %q", r.Text)
		}
		if !utf8.ValidString(r.Subject) {
			t.Errorf("Subject %q", r.Subject)
		}
		if len(r.InReplyTo) > maxIDs || len(r.References) > maxIDs {
			t.Errorf("%d In-Reply-To, %d References", len(r.InReplyTo), len(r.References))
		}
	})
}
