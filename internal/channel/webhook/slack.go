package webhook

import (
	"encoding/json"
	"strings"
)

// Slack returns a body for a Slack incoming webhook (or one of the many
// chat tools that take the same shape) posting text: {"text": "…"}. Slack
// reads text as mrkdwn, where <…> makes links and mentions; put text that
// comes from leads through SlackEscape first.
func Slack(text string) []byte {
	b, err := json.Marshal(struct {
		Text string `json:"text"`
	}{text})
	if err != nil {
		panic(err) // a struct of one string always marshals
	}
	return b
}

// slackEscaper escapes the three characters Slack asks to be escaped.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// SlackEscape escapes &, < and > so that text shows as written: a lead who
// names themselves "<!channel>" does not notify a whole channel.
func SlackEscape(s string) string { return slackEscaper.Replace(s) }
