package report

import (
	"encoding/csv"
	"encoding/json"
	"os"
)

// CSV is a CSV file written row by row, each row flushed at once, so that
// an interrupted sweep keeps the rows it finished.
type CSV struct {
	f *os.File
	w *csv.Writer
}

// CreateCSV creates (or truncates) path and writes the header row.
func CreateCSV(path string, header []string) (*CSV, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	c := &CSV{f: f, w: csv.NewWriter(f)}
	if err := c.Add(header); err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

// Add writes one row and flushes it.
func (c *CSV) Add(rec []string) error {
	if err := c.w.Write(rec); err != nil {
		return err
	}
	c.w.Flush()
	return c.w.Error()
}

// Close closes the file.
func (c *CSV) Close() error { return c.f.Close() }

// WriteJSON writes v as indented JSON to path.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
