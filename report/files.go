package report

import (
	"encoding/csv"
	"encoding/json"
	"os"
)

// CSV is a CSV file (RFC 4180, encoding/csv's quoting) written record by
// record, each flushed to the file at once, so that an interrupted sweep
// keeps the runs it finished.
type CSV struct {
	f *os.File
	w *csv.Writer
}

// CreateCSV creates (or truncates) the file at path and writes header as
// its first record.
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

// Add writes one record and flushes it to the file.
func (c *CSV) Add(rec []string) error {
	if err := c.w.Write(rec); err != nil {
		return err
	}
	c.w.Flush()
	return c.w.Error()
}

// Close closes the file.
func (c *CSV) Close() error { return c.f.Close() }

// WriteJSON writes v to the file at path as JSON (encoding/json),
// indented by two spaces, with a final newline.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
