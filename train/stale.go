package train

import (
	"os"
	"path/filepath"
	"strings"
)

// removeStale deletes the temporary files a killed run may have left in
// dir while writing the checkpoint, the metrics or an export
// (safetensors.WriteFile writes ".NAME.tmp-*" and renames it into place,
// so a run killed in the middle leaves its temporary file behind and the
// previous complete file in place). Run calls it when it resumes; it never
// touches a complete file.
func removeStale(dir string, names ...string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		for _, n := range names {
			if n != "" && strings.HasPrefix(e.Name(), "."+n+".tmp-") && !e.IsDir() {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
}

// removeStale removes what a killed run of l may have left half written:
// the temporary files of the checkpoint, the exports and the metrics.
func (l *Loop) removeStale() {
	names := []string{CheckpointFile}
	for _, s := range l.Stages {
		for _, ex := range s.Exports {
			names = append(names, filepath.Base(ex.File))
		}
	}
	removeStale(l.CheckpointDir, names...)
	if l.MetricsPath != "" {
		removeStale(filepath.Dir(l.MetricsPath), filepath.Base(l.MetricsPath))
	}
}
