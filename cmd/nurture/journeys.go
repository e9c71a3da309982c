package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/nurturehq/nurture/examples"
	"github.com/nurturehq/nurture/internal/journey"
	"github.com/nurturehq/nurture/internal/store"
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
	Files []string `arg:"" type:"existingfile" help:"Journey documents, YAML or JSON."`
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
			j, changed, err := st.SaveJourney(ctx, src)
			if err != nil {
				if err := journeyErrors(g, f, err); err != nil {
					fmt.Fprintln(g.stderr, err)
				}
				failed++
				continue
			}
			if changed {
				fmt.Fprintf(g.stdout, "%s: saved version %d, %s\n", j.Name, j.Version, j.Status)
			} else {
				fmt.Fprintf(g.stdout, "%s: unchanged (version %d)\n", j.Name, j.Version)
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
