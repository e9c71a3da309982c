package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/nurturehq/nurture/internal/segment"
	"github.com/nurturehq/nurture/internal/store"
)

// SegmentsApplyCmd validates and saves a document of segments.
type SegmentsApplyCmd struct {
	File   string `arg:"" type:"existingfile" help:"The segments document, YAML or JSON (see nurture segments show --default)."`
	By     string `name:"by" help:"Who saves it (default: your login name)."`
	NoWait bool   `name:"no-wait" help:"Save, and leave the builds to a running server instead of doing them here."`
}

// Run saves the document.
func (c *SegmentsApplyCmd) Run(g *Globals) error {
	src, err := readLimited(c.File, segment.MaxDocumentBytes)
	if err != nil {
		return err
	}
	doc, err := segment.ParseDocument(src)
	if err != nil {
		return segmentErrors(g, c.File, err)
	}
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		by := c.By
		if by == "" {
			by = os.Getenv("USER")
		}
		saved, err := st.SaveSegments(ctx, store.SaveSegmentsParams{Document: doc, By: by})
		if err != nil {
			return segmentErrors(g, c.File, err)
		}
		for _, s := range saved {
			switch {
			case !s.Changed:
				fmt.Fprintf(g.stdout, "%s: unchanged (version %d)\n", s.Segment.Name, s.Segment.Version)
			case s.Job != nil:
				fmt.Fprintf(g.stdout, "%s: saved version %d; build job %d\n", s.Segment.Name, s.Segment.Version, s.Job.ID)
			default:
				fmt.Fprintf(g.stdout, "%s: saved version %d\n", s.Segment.Name, s.Segment.Version)
			}
		}
		if c.NoWait {
			return nil
		}
		for {
			ok, err := st.RunJob(ctx, func(j store.Job) {
				fmt.Fprintf(g.stdout, "build job %d: %s, contacts up to id %d of %d\n", j.ID, j.Status, j.Done, max(j.Total, j.Done))
			})
			if err != nil || !ok {
				return err
			}
		}
	})
}

// segmentErrors prints every problem of a document, one per line.
func segmentErrors(g *Globals, file string, err error) error {
	var se *segment.Error
	if !errors.As(err, &se) {
		return err
	}
	for _, p := range se.Problems {
		fmt.Fprintf(g.stderr, "%s: %s\n", file, p)
	}
	return fmt.Errorf("%s: %d problem(s); nothing saved", file, len(se.Problems))
}

// SegmentsPreviewCmd counts what a draft rule selects.
type SegmentsPreviewCmd struct {
	Rule   string `arg:"" help:"The rule's text form, or @FILE to read it from a file."`
	Sample int    `name:"sample" default:"10" help:"How many matching contact ids to print."`
}

// Run previews.
func (c *SegmentsPreviewCmd) Run(g *Globals) error {
	text := c.Rule
	if len(text) > 1 && text[0] == '@' {
		b, err := readLimited(text[1:], segment.MaxTextLen)
		if err != nil {
			return err
		}
		text = string(b)
	}
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		p, err := st.PreviewSegment(ctx, segment.Input{Text: text}, c.Sample)
		if err != nil {
			return segmentErrors(g, "rule", err)
		}
		fmt.Fprintf(g.stdout, "%d of %d contacts match.\n", p.Count, p.Contacts)
		for _, id := range p.Sample {
			fmt.Fprintf(g.stdout, "  contact %d\n", id)
		}
		return nil
	})
}

// SegmentsListCmd lists the segments.
type SegmentsListCmd struct{}

// Run lists.
func (c *SegmentsListCmd) Run(g *Globals) error {
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		list, err := st.Segments(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tKIND\tVERSION\tSTATUS\tMEMBERS\tRULE")
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\n", s.Name, s.Kind, s.Version, s.Status, s.Members, oneLine(s.Text, 80))
		}
		return tw.Flush()
	})
}

// SegmentsShowCmd prints the shipped defaults, or one segment.
type SegmentsShowCmd struct {
	Name    string `arg:"" optional:"" help:"The segment to print."`
	Default bool   `name:"default" help:"Print the segments shipped with Nurture (a starting point for your own)."`
}

// Run prints.
func (c *SegmentsShowCmd) Run(g *Globals) error {
	if c.Default || c.Name == "" {
		_, err := g.stdout.Write(segment.DefaultSource())
		return err
	}
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		s, err := st.GetSegment(ctx, c.Name)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "# %s: %s segment, version %d, %s, %d members\n", s.Name, s.Kind, s.Version, s.Status, s.Members)
		_, err = io.WriteString(g.stdout, "segments:\n  - name: "+s.Name+"\n")
		if s.Description != "" {
			fmt.Fprintf(g.stdout, "    description: %q\n", s.Description)
		}
		if s.Kind == segment.KindStatic {
			fmt.Fprintln(g.stdout, "    kind: static")
		} else {
			fmt.Fprintf(g.stdout, "    rule: %q\n", s.Text)
		}
		return err
	})
}

func oneLine(s string, n int) string {
	out := []rune{}
	for _, r := range s {
		if r == '\n' || r == '\t' {
			r = ' '
		}
		out = append(out, r)
	}
	if len(out) > n {
		return string(out[:n-1]) + "…"
	}
	return string(out)
}
