package sms_test

import (
	"context"
	"fmt"

	"github.com/nurturehq/nurture/internal/channel/sms"
	"github.com/nurturehq/nurture/internal/channel/sms/twiliotest"
)

func ExampleMeasure() {
	for _, body := range []string{
		"Your demo is booked for Tuesday at 10:00.",
		"Your demo is booked for Tuesday at 10:00 🎉",
	} {
		c := sms.Measure(body)
		fmt.Println(c.Encoding, c.Units, c.Segments)
	}
	// Output:
	// GSM-7 41 1
	// UCS-2 43 1
}

func ExampleKeyword() {
	for _, body := range []string{"Stop.", "arrêt", "Don't stop", "help?"} {
		fmt.Printf("%q: %v\n", body, sms.Keyword(body))
	}
	// Output:
	// "Stop.": stop
	// "arrêt": stop
	// "Don't stop": none
	// "help?": help
}

func ExampleTwilio_Send() {
	fake := twiliotest.NewServer("AC0123456789abcdef0123456789abcdef", "token")
	defer fake.Close()

	tw := &sms.Twilio{BaseURL: fake.URL(), AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: "token"}
	res, err := tw.Send(context.Background(), sms.Message{
		Channel: sms.WhatsApp,
		To:      "+33612345678",
		From:    "+14155550100",
		Body:    "Bonjour Ana, your trial ends on Friday.",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Status, fake.Messages()[0].To)

	fake.FailNext(1, 429, 20429, "Too Many Requests")
	_, err = tw.Send(context.Background(), sms.Message{To: "+33612345678", From: "+14155550100", Body: "Hi"})
	fmt.Println(err, err.(*sms.Error).Temporary)
	// Output:
	// queued whatsapp:+33612345678
	// twilio: HTTP 429 error 20429: Too Many Requests true
}
