package sms_test

import (
	"strings"
	"testing"

	"github.com/nurturehq/nurture/internal/channel/sms"
)

func TestKeyword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want sms.Kind
	}{
		// Every keyword, as carriers write it.
		{"STOP", sms.Stop},
		{"STOPALL", sms.Stop},
		{"STOP ALL", sms.Stop},
		{"ARRÊT", sms.Stop},
		{"ARRET", sms.Stop},
		{"UNSUBSCRIBE", sms.Stop},
		{"QUIT", sms.Stop},
		{"CANCEL", sms.Stop},
		{"END", sms.Stop},
		{"REVOKE", sms.Stop},
		{"OPTOUT", sms.Stop},
		{"OPT OUT", sms.Stop},
		{"OPT-OUT", sms.Stop},
		{"START", sms.Start},
		{"UNSTOP", sms.Start},
		{"YES", sms.Start},
		{"SUBSCRIBE", sms.Start},
		{"HELP", sms.Help},
		{"INFO", sms.Help},
		{"AIDE", sms.Help},

		// As people type them.
		{"stop", sms.Stop},
		{"Stop", sms.Stop},
		{"sToP", sms.Stop},
		{"  stop  ", sms.Stop},
		{"\tSTOP\r\n", sms.Stop},
		{"\u00a0stop\u00a0", sms.Stop},
		{"Stop.", sms.Stop},
		{"STOP!!!", sms.Stop},
		{"stop !", sms.Stop},
		{"¡Stop!", sms.Stop},
		{`"STOP"`, sms.Stop},
		{"(stop)", sms.Stop},
		{"...stop...", sms.Stop},
		{"arrêt", sms.Stop},
		{"Arret.", sms.Stop},
		{"ARRE\u0302T", sms.Stop}, // decomposed circumflex
		{"ＳＴＯＰ", sms.Stop},        // full-width
		{"st\u200bop", sms.Stop},  // zero-width space pasted in
		{"stop all", sms.Stop},
		{"stop   all", sms.Stop},
		{"Stop-All", sms.Stop},
		{"opt out", sms.Stop},
		{"Opt-Out!", sms.Stop},
		{"opt_out", sms.Stop},
		{"optout", sms.Stop},
		{"unsubscribe.", sms.Stop},
		{"start", sms.Start},
		{"Yes!", sms.Start},
		{"yes", sms.Start},
		{"Unstop", sms.Start},
		{"help?", sms.Help},
		{"Help!", sms.Help},
		{"info", sms.Help},
		{"Aide", sms.Help},

		// Not keywords: the keyword must be the whole message.
		{"", sms.None},
		{"   ", sms.None},
		{"!!!", sms.None},
		{"stopped by yesterday", sms.None},
		{"Don't stop", sms.None},
		{"Stop please", sms.None},
		{"please stop", sms.None},
		{"STOP 🛑", sms.None},
		{"stops", sms.None},
		{"s top", sms.None},
		{"S.T.O.P", sms.None},
		{"STO", sms.None},
		{"nonstop", sms.None},
		{"yes please", sms.None},
		{"yesterday", sms.None},
		{"Information", sms.None},
		{"Can you help me?", sms.None},
		{"The end", sms.None},
		{"weekend", sms.None},
		{"opt in", sms.None},
		{"arrêtez", sms.None},
		{"stop" + strings.Repeat(" ", 100), sms.None}, // too long to be a keyword
	}
	for _, tt := range tests {
		if got := sms.Keyword(tt.body); got != tt.want {
			t.Errorf("Keyword(%q) = %v; want %v", tt.body, got, tt.want)
		}
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	for k, want := range map[sms.Kind]string{sms.None: "none", sms.Stop: "stop", sms.Start: "start", sms.Help: "help"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q; want %q", int(k), got, want)
		}
	}
}
