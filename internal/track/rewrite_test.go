package track

import (
	"strings"
	"testing"
)

// tracker rewrites every link it is asked about to a tracked one and
// records what it saw.
type tracker struct{ seen []string }

func (tr *tracker) link(href string) (string, bool) {
	tr.seen = append(tr.seen, href)
	return "https://t.example/c/" + href, true
}

func TestRewrite(t *testing.T) {
	t.Parallel()
	const T = "https://t.example/c/"
	tests := []struct {
		name string
		in   string
		want string
		seen []string
	}{
		{
			name: "plain",
			in:   `<p>Hi <a href="https://example.com/a">there</a>.</p>`,
			want: `<p>Hi <a href="` + T + `https://example.com/a">there</a>.</p>`,
			seen: []string{"https://example.com/a"},
		},
		{
			name: "other attributes kept byte for byte",
			in:   `<a  class=btn   HREF='https://example.com/b'  style="color: red" target=_blank>x</a>`,
			want: `<a  class=btn   HREF="` + T + `https://example.com/b"  style="color: red" target=_blank>x</a>`,
			seen: []string{"https://example.com/b"},
		},
		{
			name: "uppercase tag, unquoted value",
			in:   `<A HREF=https://example.com/c?x=1>C</A>`,
			want: `<A HREF="` + T + `https://example.com/c?x=1">C</A>`,
			seen: []string{"https://example.com/c?x=1"},
		},
		{
			name: "entities decoded for the callback, escaped on the way back",
			in:   `<a href="https://example.com/d?a=1&amp;b=2&#38;c=3">d</a>`,
			want: `<a href="` + T + `https://example.com/d?a=1&amp;b=2&amp;c=3">d</a>`,
			seen: []string{"https://example.com/d?a=1&b=2&c=3"},
		},
		{
			name: "space around the URL trimmed",
			in:   "<a href=\" https://example.com/e\n\">e</a>",
			want: `<a href="` + T + `https://example.com/e">e</a>`,
			seen: []string{"https://example.com/e"},
		},
		{
			name: "spaces around the equals sign",
			in:   `<a href = "https://example.com/f">f</a>`,
			want: `<a href = "` + T + `https://example.com/f">f</a>`,
			seen: []string{"https://example.com/f"},
		},
		{
			name: "self-closing",
			in:   `<a href="https://example.com/g"/>`,
			want: `<a href="` + T + `https://example.com/g"/>`,
			seen: []string{"https://example.com/g"},
		},
		{
			name: "skipped schemes and relative links",
			in: `<a href="mailto:a@example.com">m</a><a href="tel:+1555">t</a><a href="sms:+1555">s</a>` +
				`<a href="#top">f</a><a href="javascript:void(0)">j</a><a href="">e</a><a href>n</a><a>no href</a>` +
				`<a href="/path">r</a><a href="//example.com/x">p</a><a href="page.html">r</a><a href="ftp://example.com/">f</a>` +
				`<a href="JavaScript:alert(1)">J</a><a name="x">n</a>`,
			want: `<a href="mailto:a@example.com">m</a><a href="tel:+1555">t</a><a href="sms:+1555">s</a>` +
				`<a href="#top">f</a><a href="javascript:void(0)">j</a><a href="">e</a><a href>n</a><a>no href</a>` +
				`<a href="/path">r</a><a href="//example.com/x">p</a><a href="page.html">r</a><a href="ftp://example.com/">f</a>` +
				`<a href="JavaScript:alert(1)">J</a><a name="x">n</a>`,
		},
		{
			name: "notrack attribute removed, link kept",
			in:   `<a data-nurture-notrack href="https://example.com/h">h</a> <a href="https://example.com/i" DATA-NURTURE-NOTRACK="1" class=x>i</a>`,
			want: `<a href="https://example.com/h">h</a> <a href="https://example.com/i" class=x>i</a>`,
		},
		{
			name: "notrack attribute removed from a link without href",
			in:   `<a data-nurture-notrack>x</a>`,
			want: `<a>x</a>`,
		},
		{
			name: "comments, script, style, textarea and title are not links",
			in: `<!-- <a href="https://example.com/1">c</a> --><script>var s='<a href="https://example.com/2">';</script>` +
				`<style>a[href="https://example.com/3"]{}</style><textarea><a href="https://example.com/4"></textarea>` +
				`<title><a href="https://example.com/5"></title><!--[if mso]><a href="https://example.com/6">o</a><![endif]-->`,
			want: `<!-- <a href="https://example.com/1">c</a> --><script>var s='<a href="https://example.com/2">';</script>` +
				`<style>a[href="https://example.com/3"]{}</style><textarea><a href="https://example.com/4"></textarea>` +
				`<title><a href="https://example.com/5"></title><!--[if mso]><a href="https://example.com/6">o</a><![endif]-->`,
		},
		{
			name: "other tags with href are not links",
			in:   `<link href="https://example.com/s.css"><base href="https://example.com/"><img src="https://example.com/i.png"><area href="https://example.com/a">`,
			want: `<link href="https://example.com/s.css"><base href="https://example.com/"><img src="https://example.com/i.png"><area href="https://example.com/a">`,
		},
		{
			name: "doctype, conditional comments and odd text kept",
			in:   "<!DOCTYPE html>\r\n<html><body>a < b &amp; c &copy <a href='https://example.com/j'>j</a>\x00</body></html>",
			want: "<!DOCTYPE html>\r\n<html><body>a < b &amp; c &copy <a href=\"" + T + "https://example.com/j\">j</a>\x00</body></html>",
			seen: []string{"https://example.com/j"},
		},
		{
			name: "duplicate href: the first counts, the tag is written again",
			in:   `<a href="https://example.com/k" href="https://evil.example/">k</a>`,
			want: `<a href="` + T + `https://example.com/k">k</a>`,
			seen: []string{"https://example.com/k"},
		},
		{
			name: "carriage return in a value: the tag is written again",
			in:   "<a title=\"a\r\nb\" href=\"https://example.com/l\">l</a>",
			want: "<a title=\"a\nb\" href=\"" + T + "https://example.com/l\">l</a>",
			seen: []string{"https://example.com/l"},
		},
		{
			name: "href with a quote and angle brackets in the new value",
			in:   `<a href="https://example.com/m?q=&quot;x&quot;">m</a>`,
			want: `<a href="` + T + `https://example.com/m?q=&#34;x&#34;">m</a>`,
			seen: []string{`https://example.com/m?q="x"`},
		},
		{
			name: "slash between attributes",
			in:   `<a/href="https://example.com/n"/class=x>n</a>`,
			want: `<a/href="` + T + `https://example.com/n"/class=x>n</a>`,
			seen: []string{"https://example.com/n"},
		},
		{
			name: "unterminated tag at the end is left",
			in:   `<p>x</p><a href="https://example.com/o`,
			want: `<p>x</p><a href="https://example.com/o`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var tr tracker
			got, err := Rewrite(tt.in, tr.link)
			if err != nil {
				t.Fatalf("Rewrite: %v", err)
			}
			if got != tt.want {
				t.Errorf("Rewrite(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if strings.Join(tr.seen, "\n") != strings.Join(tt.seen, "\n") {
				t.Errorf("link saw %q; want %q", tr.seen, tt.seen)
			}
		})
	}
}

func TestRewriteDeclined(t *testing.T) {
	t.Parallel()
	in := `<a href="https://example.com/keep">k</a><a href="https://example.com/track">t</a>`
	got, err := Rewrite(in, func(href string) (string, bool) {
		if strings.HasSuffix(href, "/keep") {
			return "", false
		}
		return "https://t.example/x", true
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `<a href="https://example.com/keep">k</a><a href="https://t.example/x">t</a>`
	if got != want {
		t.Errorf("Rewrite = %q; want %q", got, want)
	}
}

func TestRewriteWithSigner(t *testing.T) {
	t.Parallel()
	s := testSigner(t, 1)
	long := "https://example.com/" + strings.Repeat("y", MaxURL)
	in := `<a href="https://example.com/?a=1&amp;b=2">a</a><a href="` + long + `">long</a>`
	got, err := Rewrite(in, func(href string) (string, bool) {
		tok, err := s.Click(99, href)
		if err != nil {
			return "", false // too long: left untracked
		}
		return "https://nurture.example/c/" + tok, true
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, long) {
		t.Errorf("the over-long link was changed")
	}
	_, rest, _ := strings.Cut(got, `href="https://nurture.example/c/`)
	tok, _, _ := strings.Cut(rest, `"`)
	parsed, err := s.Parse(tok)
	if err != nil {
		t.Fatalf("Parse(%q): %v", tok, err)
	}
	if want := (Token{Kind: KindClick, Message: 99, URL: "https://example.com/?a=1&b=2"}); parsed != want {
		t.Errorf("Parse = %+v; want %+v", parsed, want)
	}
}

func TestAddPixel(t *testing.T) {
	t.Parallel()
	const px = `<img src="https://t.example/o/abc?x=1&amp;y=&#34;2&#34;" width="1" height="1" alt="" style="display:none">`
	const url = `https://t.example/o/abc?x=1&y="2"`
	tests := []struct{ name, in, want string }{
		{"body", `<html><body><p>x</p></body></html>`, `<html><body><p>x</p>` + px + `</body></html>`},
		{"uppercase body", `<HTML><BODY>x</BODY ></HTML>`, `<HTML><BODY>x` + px + `</BODY ></HTML>`},
		{"last body wins", `<body>a</body>b</body>`, `<body>a</body>b` + px + `</body>`},
		{"body in a comment or script ignored", `<body>x<!-- </body> --><script>"</body>"</script>`, `<body>x<!-- </body> --><script>"</body>"</script>` + px},
		{"html without body", `<html><p>x</p></html>`, `<html><p>x</p>` + px + `</html>`},
		{"fragment", `<p>x</p>`, `<p>x</p>` + px},
		{"empty", ``, px},
	}
	for _, tt := range tests {
		if got := AddPixel(tt.in, url); got != tt.want {
			t.Errorf("%s: AddPixel(%q)\n got %q\nwant %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func FuzzRewrite(f *testing.F) {
	for _, s := range []string{
		`<a href="https://example.com/a">x</a>`,
		`<A HREF=https://example.com/c?x=1&amp;y>C</A>`,
		`<a data-nurture-notrack href='https://example.com'>`,
		"<a title=\"a\r\nb\" href=\"https://example.com/l\">l</a>",
		`<a/href="https://example.com/n"/class=x =y>n</a>`,
		`<script><a href="https://example.com"></script><!-- <a href=x> -->`,
		`<a href="https://example.com/k" href="https://evil.example/">k</a>`,
		`<a href=https://example.com/a`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		// Declining every link changes nothing, unless there is a notrack
		// attribute to remove.
		got, err := Rewrite(in, func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.ToLower(in), NoTrack) {
			return
		}
		if got != in {
			t.Fatalf("Rewrite declining every link changed %q to %q", in, got)
		}
		// Tracking every link gives HTML whose links, read again, are all
		// tracked ones: a rewrite does not shift how the rest is read.
		var tr tracker
		got, err = Rewrite(in, tr.link)
		if err != nil {
			t.Fatal(err)
		}
		var again tracker
		if _, err := Rewrite(got, again.link); err != nil {
			t.Fatal(err)
		}
		for _, h := range again.seen {
			if !strings.HasPrefix(h, "https://t.example/c/") {
				t.Fatalf("after rewriting %q to %q, link %q is not tracked", in, got, h)
			}
		}
		_ = AddPixel(in, "https://t.example/o")
	})
}

// RewriteWithPixel does in one pass what Rewrite then AddPixel do in two.
func TestRewriteWithPixelIsBoth(t *testing.T) {
	link := func(href string) (string, bool) { return "https://t.test/c?u=" + href, true }
	for _, doc := range []string{
		`<html><body><p><a href="https://a.test/x?a=1&amp;b=2">x</a></p></body></html>`,
		`<HTML><BODY><A HREF='https://a.test/'>x</A></BODY></HTML>`,
		`<p>no body <a href="https://a.test/">x</a></p>`,
		`<html><p>no body tag</p></html>`,
		`<body><script>var s = "</body>";</script><!-- </body> --><a href="https://a.test">y</a></body>`,
		`<body>one</body><body>two</body>`,
		`plain text`,
		``,
	} {
		two, err := Rewrite(doc, link)
		if err != nil {
			t.Fatal(err)
		}
		want := AddPixel(two, "https://t.test/o?a=1&b=2")
		got, err := RewriteWithPixel(doc, link, "https://t.test/o?a=1&b=2")
		if err != nil || got != want {
			t.Errorf("RewriteWithPixel(%q) =\n%q, %v; want\n%q", doc, got, err, want)
		}
	}
}
