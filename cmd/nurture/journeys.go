package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nurturehq/nurture/examples"
	"github.com/nurturehq/nurture/internal/journey"
	"github.com/nurturehq/nurture/internal/store"
	"go.yaml.in/yaml/v3"
)

// JourneysValidateCmd checks a journey document against the database's
// templates, saving nothing.
type JourneysValidateCmd struct {
	File string `arg:"" type:"existingfile" help:"The journey document, YAML or JSON (see docs/journeys.md)."`
}

// Run validates the document.
func (c *JourneysValidateCmd) Run(g *Globals) error {
	src, err := readLimited(c.File, journey.MaxDocumentBytes)
	if err != nil {
		return err
	}
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		j, err := st.CheckJourney(ctx, src)
		if err != nil {
			return journeyErrors(g, c.File, err)
		}
		fmt.Fprintf(g.stdout, "%s: valid journey %q, %d steps\n", c.File, j.Doc.Name, len(j.Steps()))
		return nil
	})
}

// JourneysApplyCmd saves a journey document as its next live version.
type JourneysApplyCmd struct {
	Files   []string `arg:"" type:"existingfile" help:"Journey documents, YAML or JSON."`
	Preview bool     `help:"Say what publishing would do to the contacts in the journey (where each step's contacts would go, who may get a message again); save nothing."`
	Migrate bool     `help:"Move the contacts in the journey to the new version by step id (those whose step is gone leave it)."`
}

// Run saves the documents, each on its own.
func (c *JourneysApplyCmd) Run(g *Globals) error {
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		var failed int
		for _, f := range c.Files {
			src, err := readLimited(f, journey.MaxDocumentBytes)
			if err != nil {
				return err
			}
			if c.Preview {
				imp, err := st.PreviewJourney(ctx, src)
				if err != nil {
					if err := journeyErrors(g, f, err); err != nil {
						fmt.Fprintln(g.stderr, err)
					}
					failed++
					continue
				}
				printImpact(g.stdout, imp)
				continue
			}
			p, err := st.PublishJourney(ctx, src, c.Migrate)
			if err != nil {
				if err := journeyErrors(g, f, err); err != nil {
					fmt.Fprintln(g.stderr, err)
				}
				failed++
				continue
			}
			j := p.Journey
			if p.Changed {
				fmt.Fprintf(g.stdout, "%s: saved version %d, %s\n", j.Name, j.Version, j.Status)
			} else {
				fmt.Fprintf(g.stdout, "%s: unchanged (version %d)\n", j.Name, j.Version)
			}
			if c.Migrate {
				fmt.Fprintf(g.stdout, "%s: %d contact(s) moved to version %d, %d left the journey (step removed)\n", j.Name, p.Migrated, j.Version, p.Left)
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d document(s) not saved", failed, len(c.Files))
		}
		return nil
	})
}

// JourneysListCmd lists the journeys.
type JourneysListCmd struct{}

// Run prints one line per journey.
func (c *JourneysListCmd) Run(g *Globals) error {
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		js, err := st.Journeys(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tSTATUS\tVERSION\tTRIGGER\tSTEPS")
		for _, j := range js {
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%d\n", j.Name, j.Status, j.Version, j.Trigger, len(j.Steps))
		}
		return w.Flush()
	})
}

// JourneysShowCmd prints a journey's live document.
type JourneysShowCmd struct {
	Name string `arg:"" help:"The journey's name or id."`
}

// Run prints the document.
func (c *JourneysShowCmd) Run(g *Globals) error {
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		j, err := st.GetJourney(ctx, c.Name)
		if errors.Is(err, store.ErrJourneyNotFound) {
			return fmt.Errorf("no journey %q", c.Name)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "# %s, version %d, %s\n%s", j.Name, j.Version, j.Status, j.Document)
		return nil
	})
}

// JourneysSimulateCmd runs a journey document over the contacts in
// virtual time and prints what would happen.
type JourneysSimulateCmd struct {
	File   string `arg:"" type:"existingfile" help:"The journey document, YAML or JSON (it is not saved)."`
	Days   int    `default:"30" help:"How many days to simulate (1 to 366)."`
	Sample int    `help:"Simulate over this many contacts drawn at random (default: every contact)."`
	JSON   bool   `name:"json" help:"Print the report as JSON."`
}

// Run simulates and prints the report.
func (c *JourneysSimulateCmd) Run(g *Globals) error {
	if c.Days < 1 || c.Days > store.MaxSimulateDays {
		return fmt.Errorf("--days: want 1 to %d", store.MaxSimulateDays)
	}
	if c.Sample < 0 {
		return errors.New("--sample: want a positive number of contacts")
	}
	src, err := readLimited(c.File, journey.MaxDocumentBytes)
	if err != nil {
		return err
	}
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		began := time.Now()
		rep, err := st.SimulateJourney(ctx, store.SimulateParams{Document: src, Days: c.Days, Sample: c.Sample})
		if err != nil {
			return journeyErrors(g, c.File, err)
		}
		if c.JSON {
			enc := json.NewEncoder(g.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		}
		printReport(g.stdout, rep, time.Since(began))
		return nil
	})
}

// printImpact writes an impact preview for a person.
func printImpact(out io.Writer, imp store.JourneyImpact) {
	switch {
	case !imp.Exists:
		fmt.Fprintf(out, "%s: a new journey; nobody is in it yet\n", imp.Journey)
		return
	case !imp.Changed:
		fmt.Fprintf(out, "%s: unchanged (version %d); publishing does nothing\n", imp.Journey, imp.Live)
		return
	}
	fmt.Fprintf(out, "%s: version %d would replace version %d; %d contact(s) in the journey\n", imp.Journey, imp.Live+1, imp.Live, imp.InFlight)
	if len(imp.Removed) > 0 {
		fmt.Fprintf(out, "  steps removed: %s\n", strings.Join(imp.Removed, ", "))
	}
	if len(imp.Added) > 0 {
		fmt.Fprintf(out, "  steps added: %s\n", strings.Join(imp.Added, ", "))
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  VERSION\tSTEP\tSTATUS\tCONTACTS\tWITH --migrate")
	for _, g := range imp.Steps {
		fmt.Fprintf(w, "  %d\t%s\t%s\t%d\t%s\n", g.Version, g.Step, g.Status, g.Contacts, g.Goes)
	}
	w.Flush()
	fmt.Fprintf(out, "  with --migrate, %d contact(s) may get a message they already had; without it, everyone stays on their version\n", imp.SendAgain)
}

// printReport writes a simulation's report for a person.
func printReport(out io.Writer, r journey.Report, took time.Duration) {
	fmt.Fprintf(out, "Simulation of %q over %d days from %s (%s, nothing sent)\n", r.Journey, r.Days,
		r.Start.Format("2006-01-02 15:04 MST"), took.Round(time.Millisecond))
	fmt.Fprintf(out, "\nContacts: %d looked at, %d enter\n", r.Contacts, r.Entered)
	for _, k := range sortedKeys(r.Refused) {
		fmt.Fprintf(out, "  not entering, %s: %d\n", k, r.Refused[k])
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\nSTEP\tKIND\tREACHED\tSENT\tWAYS")
	for _, s := range r.Steps {
		var ways []string
		for _, k := range sortedKeys(s.Ways) {
			ways = append(ways, fmt.Sprintf("%s %d", k, s.Ways[k]))
		}
		sent := ""
		if s.Kind == journey.KindSend {
			sent = strconv.Itoa(s.Sent)
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\n", s.ID, s.Kind, s.Reached, sent, strings.Join(ways, ", "))
	}
	w.Flush()
	if len(r.Messages) > 0 {
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "\nDAY\tDATE\tMESSAGES\tBY CHANNEL")
		for _, d := range r.Messages {
			var chans []string
			for _, k := range sortedKeys(d.Channels) {
				chans = append(chans, fmt.Sprintf("%s %d", k, d.Channels[k]))
			}
			fmt.Fprintf(w, "%d\t%s\t%d\t%s\n", d.Day, d.Date, d.Total, strings.Join(chans, ", "))
		}
		w.Flush()
	}
	fmt.Fprintln(out, "\nDeferred:")
	if len(r.Deferred) == 0 {
		fmt.Fprintln(out, "  none")
	}
	for _, k := range sortedKeys(r.Deferred) {
		fmt.Fprintf(out, "  %s: %d\n", k, r.Deferred[k])
	}
	fmt.Fprintln(out, "\nAt the end:")
	for _, k := range sortedKeys(r.Outcomes) {
		fmt.Fprintf(out, "  %s: %d\n", k, r.Outcomes[k])
	}
	fmt.Fprintln(out, "\nTemplates failing to render:")
	if len(r.RenderFailures) == 0 {
		fmt.Fprintln(out, "  none")
	}
	for _, f := range r.RenderFailures {
		fmt.Fprintf(out, "  %s (step %s): %d contact(s), e.g. contact %d: %s\n", f.Template, f.Step, f.Contacts, f.Example, f.Reason)
	}
	fmt.Fprintln(out, "\nAssumed:")
	for _, a := range r.Assumptions {
		fmt.Fprintf(out, "  - %s\n", a)
	}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// journeyErrors prints every problem of a document, one per line.
func journeyErrors(g *Globals, file string, err error) error {
	var de *journey.DocumentError
	if !errors.As(err, &de) {
		return err
	}
	for _, p := range de.Problems {
		fmt.Fprintf(g.stderr, "%s: %s\n", file, p)
	}
	return fmt.Errorf("%s: %d problem(s); nothing saved", file, len(de.Problems))
}

// JourneysExamplesCmd installs the journeys and templates shipped with
// Nurture.
type JourneysExamplesCmd struct{}

// Run installs them and says what changed.
func (c *JourneysExamplesCmd) Run(g *Globals) error {
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		done, err := examples.Install(ctx, st)
		for _, in := range done {
			state := "unchanged"
			if in.Changed {
				state = fmt.Sprintf("saved version %d", in.Version)
			}
			fmt.Fprintf(g.stdout, "%s: %s\n", in.File, state)
		}
		if err != nil {
			return journeyErrors(g, "examples", err)
		}
		return nil
	})
}

// JourneysSettingsCmd prints or sets the settings all journeys share.
type JourneysSettingsCmd struct {
	File string `arg:"" optional:"" type:"existingfile" help:"Settings to apply, YAML or JSON (see docs/journeys.md, Frequency cap); without it, print the settings in force."`
}

// Run prints the settings, after setting them when a file is given.
func (c *JourneysSettingsCmd) Run(g *Globals) error {
	var set *store.JourneySettings
	if c.File != "" {
		src, err := readLimited(c.File, 64<<10)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(src))
		dec.KnownFields(true)
		set = &store.JourneySettings{}
		if err := dec.Decode(set); err != nil {
			return fmt.Errorf("%s: %w", c.File, err)
		}
	}
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		var cur store.JourneySettings
		var err error
		if set != nil {
			cur, err = st.SetJourneySettings(ctx, *set)
			var ce *journey.CapError
			if errors.As(err, &ce) {
				return fmt.Errorf("%s: frequency_cap.%s: %s; nothing was saved", c.File, ce.Field, ce.Reason)
			}
		} else {
			cur, err = st.JourneySettings(ctx)
		}
		if err != nil {
			return err
		}
		enc := yaml.NewEncoder(g.stdout)
		enc.SetIndent(2)
		if err := enc.Encode(cur); err != nil {
			return err
		}
		return enc.Close()
	})
}
