package main

// BenchCmd measures ingest speed.
type BenchCmd struct{}

// Run is not written yet.
func (BenchCmd) Run(g *Globals) error { return nil }
