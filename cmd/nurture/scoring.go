package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/nurturehq/nurture/internal/score"
	"github.com/nurturehq/nurture/internal/store"
)

// ScoringApplyCmd validates and applies (or dry-runs) a rules document.
type ScoringApplyCmd struct {
	File    string `arg:"" type:"existingfile" help:"The rules document, YAML or JSON."`
	DryRun  bool   `name:"dry-run" help:"Replay the stored events under these rules and compare with the scores in force; change nothing."`
	Comment string `name:"comment" help:"Why this version (kept in the history)."`
	By      string `name:"by" help:"Who applies it (default: your login name)."`
	NoWait  bool   `name:"no-wait" help:"Apply, and leave the rescore to a running server instead of doing it here."`
}

// Run applies the document.
func (c *ScoringApplyCmd) Run(g *Globals) error {
	src, err := readLimited(c.File, score.MaxDocumentBytes)
	if err != nil {
		return err
	}
	r, err := score.Parse(src)
	var doc *score.DocumentError
	if errors.As(err, &doc) {
		for _, p := range doc.Problems {
			fmt.Fprintf(g.stderr, "%s:%d: %s: %s\n", c.File, p.Line, p.Path, p.Reason)
		}
		return fmt.Errorf("%s: %d problem(s); nothing applied", c.File, len(doc.Problems))
	}
	if err != nil {
		return err
	}
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		if c.DryRun {
			bt, err := st.BacktestRules(ctx, r)
			if err != nil {
				return err
			}
			printBacktest(g.stdout, bt)
			return nil
		}
		by := c.By
		if by == "" {
			by = os.Getenv("USER")
		}
		v, job, err := st.ApplyRules(ctx, store.ApplyRulesParams{Rules: r, Comment: c.Comment, By: by})
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "Applied scoring rules version %d. Rescore job %d: %d contacts.\n", v, job.ID, job.Total)
		if c.NoWait {
			fmt.Fprintf(g.stdout, "A running server rescores in the background; follow GET /api/v1/scoring/jobs/%d.\n", job.ID)
			return nil
		}
		_, err = st.RunJob(ctx, func(j store.Job) {
			fmt.Fprintf(g.stdout, "rescored %d/%d contacts\n", j.Done, max(j.Total, j.Done))
		})
		if err != nil {
			return err
		}
		j, err := st.GetJob(ctx, job.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "Rescore %s.\n", j.Status)
		return nil
	})
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

func printBacktest(w io.Writer, bt store.Backtest) {
	fmt.Fprintf(w, "Dry run against rules version %d: %d contacts, %d events replayed in %.2fs; %d contacts' score would change.\n\n",
		bt.CurrentVersion, bt.Contacts, bt.Events, bt.Seconds, bt.Changed)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCORE\tBEFORE\tAFTER")
	for i, b := range bt.Before.Histogram {
		label := ""
		switch {
		case b.From == nil:
			label = fmt.Sprintf("< %d", *b.To+1)
		case b.To == nil:
			label = fmt.Sprintf("≥ %d", *b.From)
		default:
			label = fmt.Sprintf("%d–%d", *b.From, *b.To)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\n", label, b.Contacts, bt.After.Histogram[i].Contacts)
	}
	fmt.Fprintf(tw, "mean\t%.1f\t%.1f\n", bt.Before.Mean, bt.After.Mean)
	fmt.Fprintf(tw, "median\t%d\t%d\n", bt.Before.Median, bt.After.Median)
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BAND\tCONTACTS BEFORE\tCONVERSION BEFORE\tCONTACTS AFTER\tCONVERSION AFTER\tENTERING\tLEAVING")
	before := map[string]store.BandStat{}
	for _, b := range bt.Before.Bands {
		before[b.Band] = b
	}
	cross := map[string]store.BandCrossing{}
	for _, c := range bt.Crossings {
		cross[c.Band] = c
	}
	rate := func(b store.BandStat) string {
		if b.ConversionRate == nil {
			return "–"
		}
		return fmt.Sprintf("%.0f%% (%d/%d)", *b.ConversionRate*100, b.Converted, b.Outcomes)
	}
	seen := map[string]bool{}
	for _, a := range bt.After.Bands {
		b := before[a.Band]
		seen[a.Band] = true
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%d\t%d\n", a.Band, b.Contacts, rate(b), a.Contacts, rate(a),
			cross[a.Band].Entering, cross[a.Band].Leaving)
	}
	for _, b := range bt.Before.Bands {
		if !seen[b.Band] {
			fmt.Fprintf(tw, "%s\t%d\t%s\t–\t–\t%d\t%d\n", b.Band, b.Contacts, rate(b), cross[b.Band].Entering, cross[b.Band].Leaving)
		}
	}
	tw.Flush()
}

// ScoringShowCmd prints rules.
type ScoringShowCmd struct {
	Version int  `name:"version" help:"Print this version rather than the one in force."`
	Default bool `name:"default" help:"Print the defaults shipped with Nurture (a starting point for your own)."`
	History bool `name:"history" help:"List every version."`
}

// Run prints.
func (c *ScoringShowCmd) Run(g *Globals) error {
	if c.Default {
		_, err := g.stdout.Write(score.DefaultSource())
		return err
	}
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		hist, err := st.RulesHistory(ctx)
		if err != nil {
			return err
		}
		if c.History {
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tAPPLIED\tBY\tCOMMENT")
			for _, v := range hist {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", v.Version, v.CreatedAt.Format("2006-01-02 15:04"), v.CreatedBy, v.Comment)
			}
			return tw.Flush()
		}
		want := c.Version
		if want == 0 {
			r, err := st.Rules(ctx)
			if err != nil {
				return err
			}
			want = r.Version
		}
		for _, v := range hist {
			if v.Version == want {
				fmt.Fprintf(g.stdout, "# scoring rules version %d, applied %s", v.Version, v.CreatedAt.Format("2006-01-02 15:04 MST"))
				if v.CreatedBy != "" {
					fmt.Fprintf(g.stdout, " by %s", v.CreatedBy)
				}
				fmt.Fprintln(g.stdout)
				doc := v.Document
				if !strings.HasSuffix(doc, "\n") {
					doc += "\n"
				}
				_, err := io.WriteString(g.stdout, doc)
				return err
			}
		}
		return fmt.Errorf("no scoring rules version %d (see nurture scoring show --history)", want)
	})
}
