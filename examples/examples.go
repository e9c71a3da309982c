// Package examples holds the journeys and templates shipped with Nurture
// (sequences A, B and C, the first-contact and meeting templates), holidays files
// and a speed-to-lead setup (owners, teams, routing rules), and installs
// them: `nurture journeys examples`.
package examples

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"

	"go.yaml.in/yaml/v3"

	"github.com/nurturehq/nurture/internal/store"
)

//go:embed journeys/*.yaml templates/*.yaml holidays/*.yaml speed-to-lead/*.yaml
var files embed.FS

// File is one shipped file, by its path ("journeys/warm-lead.yaml").
func File(name string) ([]byte, error) { return files.ReadFile(name) }

// Installed is what Install did with one file.
type Installed struct {
	File    string
	Name    string
	Version int
	Changed bool
}

// Install saves the shipped templates, then the journeys that use them.
// Files already installed and unchanged are left as they are; a template
// or journey the user changed since gets the shipped text as a new version.
func Install(ctx context.Context, st *store.Store) ([]Installed, error) {
	var out []Installed
	tpls, _ := fs.Glob(files, "templates/*.yaml")
	for _, f := range tpls {
		src, err := files.ReadFile(f)
		if err != nil {
			return out, err
		}
		var in store.TemplateInput
		if err := yaml.Unmarshal(src, &in); err != nil {
			return out, fmt.Errorf("%s: %w", f, err)
		}
		in.By = "examples"
		tp, changed, err := st.SaveTemplate(ctx, in)
		if err != nil {
			return out, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, Installed{File: f, Name: tp.Name, Version: tp.Version, Changed: changed})
	}
	js, _ := fs.Glob(files, "journeys/*.yaml")
	for _, f := range js {
		src, err := files.ReadFile(f)
		if err != nil {
			return out, err
		}
		j, changed, err := st.SaveJourney(ctx, src)
		if err != nil {
			return out, fmt.Errorf("%s: %w", path.Base(f), err)
		}
		out = append(out, Installed{File: f, Name: j.Name, Version: j.Version, Changed: changed})
	}
	return out, nil
}
