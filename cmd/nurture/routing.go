package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"

	"github.com/nurturehq/nurture/internal/route"
	"github.com/nurturehq/nurture/internal/store"
)

// OwnersApplyCmd creates or replaces the owners a file lists.
type OwnersApplyCmd struct {
	File string `arg:"" type:"existingfile" help:"Owners, YAML or JSON: {owners: [{name, email, time_zone, hours, max_open, weight, territory}]}."`
}

// Run saves the owners, stopping at the first refused.
func (c *OwnersApplyCmd) Run(g *Globals) error {
	var doc struct {
		Owners []route.Owner `yaml:"owners"`
	}
	if err := decodeFile(c.File, &doc); err != nil {
		return err
	}
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		for i, o := range doc.Owners {
			saved, created, err := st.PutOwner(ctx, o)
			var re *route.Error
			if errors.As(err, &re) {
				return fmt.Errorf("%s: owners[%d].%s: %s", c.File, i, re.Field, re.Reason)
			} else if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "owner %s: %s\n", saved.Name, map[bool]string{true: "created", false: "saved"}[created])
		}
		return nil
	})
}

// OwnersListCmd lists the owners and whether they take leads now.
type OwnersListCmd struct{}

// Run prints the owners.
func (c *OwnersListCmd) Run(g *Globals) error {
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		list, err := st.Owners(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tEMAIL\tTIME ZONE\tAVAILABLE\tABSENCES")
		for _, o := range list {
			fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%d\n", o.Name, o.Email, o.TimeZone, o.Available, len(o.Absences))
		}
		return w.Flush()
	})
}

// TeamsApplyCmd creates or replaces the teams a file lists.
type TeamsApplyCmd struct {
	File string `arg:"" type:"existingfile" help:"Teams, YAML or JSON: {teams: [{name, strategy, time_zone, hours, holidays, lead, manager, members}]}."`
}

// Run saves the teams, stopping at the first refused.
func (c *TeamsApplyCmd) Run(g *Globals) error {
	var doc struct {
		Teams []route.Team `yaml:"teams"`
	}
	if err := decodeFile(c.File, &doc); err != nil {
		return err
	}
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		for i, tm := range doc.Teams {
			saved, created, err := st.PutTeam(ctx, tm)
			var re *route.Error
			if errors.As(err, &re) {
				return fmt.Errorf("%s: teams[%d].%s: %s", c.File, i, re.Field, re.Reason)
			} else if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "team %s: %s\n", saved.Name, map[bool]string{true: "created", false: "saved"}[created])
		}
		return nil
	})
}

// TeamsListCmd lists the teams.
type TeamsListCmd struct{}

// Run prints the teams.
func (c *TeamsListCmd) Run(g *Globals) error {
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		list, err := st.Teams(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tSTRATEGY\tTIME ZONE\tHOLIDAYS\tMEMBERS")
		for _, tm := range list {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", tm.Name, tm.Strategy, tm.TimeZone, tm.Holidays, strings.Join(tm.Members, ", "))
		}
		return w.Flush()
	})
}

// HolidaysLoadCmd loads public holidays files.
type HolidaysLoadCmd struct {
	Files []string `arg:"" type:"existingfile" help:"Holidays files, YAML or JSON: {country: FR, holidays: [{date, name}]} (examples/holidays)."`
}

// Run loads each file, replacing its country's holidays.
func (c *HolidaysLoadCmd) Run(g *Globals) error {
	var all []route.Holidays
	for _, f := range c.Files {
		src, err := readLimited(f, 256<<10)
		if err != nil {
			return err
		}
		h, err := route.ParseHolidays(src)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		all = append(all, h)
	}
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		for i, h := range all {
			if err := st.SetHolidays(ctx, h); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: %d holidays for %s\n", c.Files[i], len(h.Days), h.Country)
		}
		return nil
	})
}

// RoutingApplyCmd applies a routing rules document.
type RoutingApplyCmd struct {
	File    string `arg:"" type:"existingfile" help:"The routing rules, YAML or JSON (see docs/speed-to-lead.md)."`
	Comment string `help:"Why this version (kept in the history)."`
}

// Run validates and applies the document.
func (c *RoutingApplyCmd) Run(g *Globals) error {
	src, err := readLimited(c.File, route.MaxDocumentBytes)
	if err != nil {
		return err
	}
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		v, err := st.ApplyRouting(ctx, src, c.Comment, "cli")
		var de *route.DocumentError
		if errors.As(err, &de) {
			for _, p := range de.Problems {
				fmt.Fprintf(g.stderr, "%s: %s\n", c.File, p)
			}
			return fmt.Errorf("%s: %d problems; nothing was applied", c.File, len(de.Problems))
		} else if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "%s: routing rules version %d in force\n", c.File, v.Version)
		return nil
	})
}

// RoutingShowCmd prints the routing rules in force.
type RoutingShowCmd struct{}

// Run prints the latest version.
func (c *RoutingShowCmd) Run(g *Globals) error {
	return g.withStore(func(ctx context.Context, st *store.Store) error {
		hist, err := st.RoutingHistory(ctx)
		if err != nil {
			return err
		}
		if len(hist) == 0 {
			return errors.New("no routing rules yet: new leads are not routed (nurture routing apply FILE)")
		}
		fmt.Fprintf(g.stdout, "# version %d, %s\n%s", hist[0].Version, hist[0].CreatedAt.Format("2006-01-02 15:04 MST"), hist[0].Document)
		return nil
	})
}

// decodeFile reads a YAML or JSON file into v, refusing unknown keys.
func decodeFile(name string, v any) error {
	src, err := readLimited(name, 1<<20)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
