package dataset

import (
	"fmt"
	"strings"
)

// CheckSpec checks a dataset spec as Open reads it (SpecUsage's grammar:
// a known name, a directory where the dataset needs one, known options
// with valid values) without opening or loading anything, so that a
// program can reject a bad -data flag before it starts working. A spec
// CheckSpec accepts may still fail to open (a missing directory or file);
// Open's errors then name the file.
func CheckSpec(spec string) error {
	head, opts, err := parseOptions(spec)
	if err != nil {
		return err
	}
	name, dir, hasDir := strings.Cut(head, ":")
	if _, known := allowedOptions[name]; !known {
		return fmt.Errorf("dataset: %s: unknown dataset %q\n%s", spec, name, SpecUsage)
	}
	if err := opts.allow(allowedOptions[name]...); err != nil {
		return err
	}
	if _, err := opts.flag("rgb"); err != nil {
		return err
	}
	if _, err := opts.int("limit", 0); err != nil {
		return err
	}
	switch name {
	case "synthetic":
		if hasDir {
			return fmt.Errorf("dataset: %s: synthetic takes no directory", spec)
		}
		for _, k := range []string{"train", "test", "size", "seed"} {
			if _, err := opts.int(k, 0); err != nil {
				return err
			}
		}
	case "cifar10", "cifar100", "mnist", "folder":
		if !hasDir || dir == "" {
			return fmt.Errorf("dataset: %s: %s needs a directory: %s:DIR", spec, name, name)
		}
	}
	if _, err := opts.flag("coarse"); err != nil {
		return err
	}
	if _, err := opts.int("size", 0); err != nil {
		return err
	}
	return nil
}

// Validate checks the configuration on its own, before a dataset is at
// hand: a positive BatchSize, non-negative Workers and Prefetch, and
// valid Views. NewLoader calls it.
func (c LoaderConfig) Validate() error {
	switch {
	case c.BatchSize <= 0:
		return fmt.Errorf("dataset: loader: batch size %d, want > 0", c.BatchSize)
	case c.Workers < 0:
		return fmt.Errorf("dataset: loader: %d workers, want ≥ 0 (0: GOMAXPROCS)", c.Workers)
	case c.Prefetch < 0:
		return fmt.Errorf("dataset: loader: prefetch %d, want ≥ 0 (0: workers + 1)", c.Prefetch)
	}
	if len(c.Views) > 0 {
		if err := c.Views.Validate(); err != nil {
			return fmt.Errorf("dataset: loader: %w", err)
		}
	}
	return nil
}
