package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/channel/email/smtptest"
	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

// post sends an authenticated JSON request and decodes the answer into out.
func post(t *testing.T, method, url, key string, body, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// TestKillDuringSendingLosesNothingSendsNothingTwice queues 2,000 messages,
// kills the server with SIGKILL while it sends them, and starts it again:
// every message arrives once, except those the kill left in doubt, which
// are reported and not sent again.
func TestKillDuringSendingLosesNothingSendsNothingTwice(t *testing.T) {
	const n = 2000
	for _, db := range storetest.DBs() {
		t.Run(db.Name, func(t *testing.T) {
			args, cfg := dbArgs(t, db)
			srv, err := smtptest.Start()
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			mailArgs := append(args, "--smtp-url", srv.URL(), "--mail-from", "Acme <news@acme.test>", "--outbox-lease", "2s")

			// 1. Queue the messages on a server that has no relay yet.
			cmd, addr, _ := serve(t, args)
			out, err := nurture(t, append([]string{"apikey", "create"}, args...)...)
			if err != nil {
				t.Fatalf("apikey: %v\n%s", err, out)
			}
			key := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
			base := "http://" + addr
			if code := post(t, "POST", base+"/api/v1/templates", key, map[string]any{"name": "news", "channel": "email",
				"subject": "News for {{ contact.first_name }}", "html": "<p>Hello {{ contact.first_name }}</p>"}, nil); code != 201 {
				t.Fatalf("template: %d", code)
			}
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for w := range 8 {
				wg.Go(func() {
					for i := w; i < n; i += 8 {
						var c struct{ ID int64 }
						if code := post(t, "PUT", base+"/api/v1/contacts", key, map[string]any{"email": fmt.Sprintf("lead%d@example.com", i),
							"first_name": fmt.Sprintf("Lead%d", i)}, &c); code >= 300 {
							errs <- fmt.Errorf("contact %d: %d", i, code)
							return
						}
						if code := post(t, "POST", base+"/api/v1/messages", key, map[string]any{"contact_id": c.ID, "template": "news",
							"kind": "marketing"}, nil); code != 202 {
							errs <- fmt.Errorf("message %d: %d", i, code)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()

			// 2. Send, and kill the server in the middle.
			cmd, _, _ = serve(t, mailArgs)
			deadline := time.Now().Add(60 * time.Second)
			for srv.Count() < n/5 {
				if time.Now().After(deadline) {
					t.Fatalf("only %d messages sent in a minute", srv.Count())
				}
				time.Sleep(time.Millisecond)
			}
			cmd.Process.Kill()
			cmd.Wait()
			atKill := srv.Count()

			// 3. Start again; wait until nothing is queued or sending.
			cmd, _, _ = serve(t, mailArgs)
			st, err := store.Open(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			status := map[string]int{}
			var msgs []store.Message
			for deadline := time.Now().Add(90 * time.Second); ; {
				msgs, err = st.ListMessages(context.Background(), store.MessagesParams{Limit: n + 10})
				if err != nil {
					t.Fatal(err)
				}
				clear(status)
				for _, m := range msgs {
					status[m.Status]++
				}
				if status[store.MessageQueued] == 0 && status[store.MessageSending] == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not settled: %v", status)
				}
				time.Sleep(50 * time.Millisecond)
			}
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()

			received := map[int64]int{}
			for _, m := range srv.Messages() {
				parsed, err := mail.ReadMessage(bytes.NewReader(m.Data))
				if err != nil {
					t.Fatal(err)
				}
				id, _ := strconv.ParseInt(strings.TrimPrefix(parsed.Header.Get("X-Nurture-Message"), "m-"), 10, 64)
				received[id]++
			}
			var twice, lost, doubtReceived int
			for _, m := range msgs {
				switch {
				case received[m.ID] > 1:
					twice++
				case m.Status == store.MessageSent && received[m.ID] != 1:
					lost++
				case m.Status == store.MessageInDoubt && received[m.ID] == 1:
					doubtReceived++
				case m.Status != store.MessageSent && m.Status != store.MessageInDoubt:
					t.Errorf("message %d ended %s", m.ID, m.Status)
				}
			}
			t.Logf("%s: %d sent before the kill; after restart %v; %d in doubt had in fact arrived", db.Name, atKill, status, doubtReceived)
			if len(msgs) != n || twice != 0 || lost != 0 {
				t.Errorf("%d messages, %d received twice, %d marked sent but not received; want %d, 0, 0", len(msgs), twice, lost, n)
			}
			if status[store.MessageSent]+status[store.MessageInDoubt] != n {
				t.Errorf("statuses %v; want every message sent or in doubt", status)
			}
			// At most a claimed batch not yet begun (32), the messages in flight
			// (16) and outcomes not yet recorded (64).
			if status[store.MessageInDoubt] > 112 {
				t.Errorf("%d in doubt; want at most 112", status[store.MessageInDoubt])
			}
		})
	}
}
