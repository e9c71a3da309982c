package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nurturehq/nurture/internal/store"
	"github.com/nurturehq/nurture/internal/store/storetest"
)

// binary is the nurture command built once for the process tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nurture-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "nurture")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build nurture: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// dbArgs returns the flags that point the command at a fresh database of kind db.
func dbArgs(t testing.TB, db storetest.DB) ([]string, store.Config) {
	cfg := storetest.Config(t, db)
	if cfg.DatabaseURL != "" {
		return []string{"--database", cfg.DatabaseURL}, cfg
	}
	return []string{"--data-dir", cfg.DataDir}, cfg
}

func nurture(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serve starts `nurture serve` and waits until /healthz answers.
func serve(t testing.TB, args []string) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(binary, append([]string{"serve", "--addr", addr}, args...)...)
	var stderr bytes.Buffer
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	banner := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var b strings.Builder
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "API reference") {
				banner <- b.String()
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not answer /healthz: %v\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case b := <-banner:
		if !strings.Contains(b, "http://"+addr) || !strings.Contains(b, "nurture apikey create") {
			t.Errorf("banner = %q; want the URL and how to create an API key", b)
		}
	case <-time.After(5 * time.Second):
		t.Error("no banner on stdout")
	}
	return cmd, addr, &stderr
}

func TestCommands(t *testing.T) {
	for _, db := range storetest.DBs() {
		t.Run(db.Name, func(t *testing.T) {
			args, _ := dbArgs(t, db)
			out, err := nurture(t, append([]string{"migrate", "status"}, args...)...)
			if err != nil || !strings.Contains(out, "pending") {
				t.Errorf("migrate status on an empty database = %q, %v; want pending migrations", out, err)
			}
			if out, err := nurture(t, append([]string{"migrate", "up"}, args...)...); err != nil {
				t.Fatalf("migrate up: %v\n%s", err, out)
			}
			out, _ = nurture(t, append([]string{"migrate", "status"}, args...)...)
			if strings.Contains(out, "pending") || !strings.Contains(out, "00001_init.sql") {
				t.Errorf("migrate status after up = %q", out)
			}
			out, err = nurture(t, append([]string{"apikey", "create", "--name", "ci"}, args...)...)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			key := lines[len(lines)-1]
			if err != nil || !strings.HasPrefix(key, "nrt_") || strings.ContainsAny(key, " \t") {
				t.Fatalf("apikey create printed %q, %v; want the key alone on the last line", out, err)
			}
			out, _ = nurture(t, append([]string{"apikey", "list"}, args...)...)
			if !strings.Contains(out, "ci") || strings.Contains(out, key) {
				t.Errorf("apikey list = %q; want the key's name and never its secret", out)
			}
			if out, err := nurture(t, append([]string{"apikey", "revoke", "1"}, args...)...); err != nil {
				t.Errorf("apikey revoke: %v\n%s", err, out)
			}
			if _, err := nurture(t, append([]string{"apikey", "revoke", "99"}, args...)...); err == nil {
				t.Error("revoking an unknown key succeeded")
			}
		})
	}
	if out, err := nurture(t, "version"); err != nil || !strings.HasPrefix(out, "nurture ") {
		t.Errorf("version = %q, %v", out, err)
	}
	if _, err := nurture(t, "serve", "--database", "mysql://x"); err == nil {
		t.Error("serve with a non-PostgreSQL URL succeeded")
	}
	if _, err := nurture(t, "serve", "--default-region", "Atlantis", "--data-dir", t.TempDir()); err == nil {
		t.Error("serve with a bad --default-region succeeded")
	}
	if _, err := nurture(t, "apikey", "create", "--name", "evil\x1b[2J", "--data-dir", t.TempDir()); err == nil {
		t.Error("apikey create with a control character in its name succeeded")
	}
	if _, err := nurture(t, "frobnicate"); err == nil {
		t.Error("an unknown command succeeded")
	}
	// --help on a command shows its page and runs nothing: no database made.
	dir := t.TempDir()
	if out, err := nurture(t, "apikey", "create", "--name", "x", "--data-dir", dir, "--help"); err != nil || !strings.Contains(out, "Usage: nurture apikey create") {
		t.Errorf("apikey create --help = %q, %v", out, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("apikey create --help ran the command: %v", entries)
	}
}

// TestSIGTERMLosesNoAcknowledgedEvent sends batches from several clients,
// stops the server with SIGTERM in the middle, and checks that every event
// the server acknowledged is in the database, and that it exited 0.
func TestSIGTERMLosesNoAcknowledgedEvent(t *testing.T) {
	for _, db := range storetest.DBs() {
		t.Run(db.Name, func(t *testing.T) {
			args, cfg := dbArgs(t, db)
			cmd, addr, stderr := serve(t, args)
			out, err := nurture(t, append([]string{"apikey", "create"}, args...)...)
			if err != nil {
				t.Fatalf("apikey create while serving: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			key := lines[len(lines)-1]

			var mu sync.Mutex
			acked := map[int64]bool{}
			var wg sync.WaitGroup
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			enough := make(chan struct{})
			var once sync.Once
			for sender := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for b := 0; ctx.Err() == nil; b++ {
						var items []map[string]any
						for i := range 200 {
							items = append(items, map[string]any{"email": fmt.Sprintf("s%d-%d@example.com", sender, i%20),
								"type": "page_viewed", "idempotency_key": fmt.Sprintf("%d-%d-%d", sender, b, i)})
						}
						body, _ := json.Marshal(map[string]any{"events": items})
						req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/api/v1/events/batch", bytes.NewReader(body))
						req.Header.Set("Authorization", "Bearer "+key)
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							return // the server is gone
						}
						var res struct {
							Results []struct {
								EventID int64 `json:"event_id"`
							}
						}
						err = json.NewDecoder(resp.Body).Decode(&res)
						resp.Body.Close()
						if resp.StatusCode != 200 || err != nil {
							continue // refused while shutting down: not acknowledged
						}
						mu.Lock()
						for _, r := range res.Results {
							acked[r.EventID] = true
						}
						if len(acked) >= 4000 {
							once.Do(func() { close(enough) })
						}
						mu.Unlock()
					}
				}()
			}
			select {
			case <-enough:
			case <-time.After(60 * time.Second):
				t.Fatal("ingest too slow to reach 4000 events")
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			waitErr := cmd.Wait()
			cancel()
			wg.Wait()
			if waitErr != nil {
				t.Fatalf("server exit after SIGTERM: %v; want status 0\n%s", waitErr, stderr.String())
			}
			st, err := store.Open(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			c, err := st.Counts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			// Every acknowledged event is stored; the 80 lead_created events are extra.
			var missing int
			ids, err := st.EventIDs(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for id := range acked {
				if !ids[id] {
					missing++
				}
			}
			if missing > 0 {
				t.Errorf("%d of %d acknowledged events are missing after SIGTERM", missing, len(acked))
			}
			t.Logf("%d events acknowledged before and during shutdown; %d stored", len(acked), c["events"])
		})
	}
}
