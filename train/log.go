package train

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/disiam/disiam/eval"
)

// progress writes the loop's human-readable log: a progress line every
// interval (redrawn in place on a terminal, one line per interval
// otherwise, so that logs redirected to files or CI stay readable), a
// summary per epoch and the evaluations.
type progress struct {
	w        io.Writer
	interval time.Duration
	tty      bool
	last     time.Time
	open     bool // a redrawn progress line is on screen
}

func newProgress(w io.Writer, interval time.Duration) *progress {
	p := &progress{w: w, interval: interval}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	if p.interval <= 0 {
		p.interval = 10 * time.Second
		if p.tty {
			p.interval = 500 * time.Millisecond
		}
	}
	return p
}

func (p *progress) printf(format string, args ...any) {
	if p.w == nil {
		return
	}
	if p.open {
		fmt.Fprint(p.w, "\r\033[K")
		p.open = false
	}
	fmt.Fprintf(p.w, format, args...)
}

// step reports the progress of an epoch after batch b of spe.
func (p *progress) step(epoch, stageEpoch, epochs, b, spe int, loss, lr float64, samples int, start time.Time, remaining int) {
	if p.w == nil || b == spe || time.Since(p.last) < p.interval {
		return // the epoch summary reports the last batch
	}
	p.last = time.Now()
	el := time.Since(start)
	perStep := el / time.Duration(b)
	const width = 20
	done := width * b / spe
	bar := strings.Repeat("=", done) + strings.Repeat(" ", width-done)
	line := fmt.Sprintf("epoch %d (%d/%d) [%s] %d/%d  loss %.4f  lr %.4g  %.1f img/s  ETA %s",
		epoch, stageEpoch, epochs, bar, b, spe, loss, lr, float64(samples)/el.Seconds(), (perStep * time.Duration(remaining)).Round(time.Second))
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K"+line)
		p.open = true
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// epochSummary reports a finished epoch.
func (p *progress) epochSummary(r EpochRecord, epochs int) {
	obs := ""
	if len(r.Observed) > 0 {
		obs = "  " + r.Observed.String()
	}
	p.printf("epoch %d (%s %d/%d): loss %.4f  lr %.4g  %.1f img/s  %.1fs%s\n",
		r.Epoch, r.Name, r.StageEpoch, epochs, r.Loss, r.LR, r.SamplesPerSec, r.Seconds, obs)
}

// writeMetrics writes the history's epoch records to path, CSV if it ends
// in ".csv", JSON Lines otherwise, replacing the file atomically. The CSV
// columns are the record's fields, then every observed and evaluated
// metric in the order they first appear; a cell is empty where an epoch
// has no such value.
func writeMetrics(path string, h *History) error {
	var buf bytes.Buffer
	if strings.HasSuffix(strings.ToLower(path), ".csv") {
		var obs, ev []string
		seen := map[string]bool{}
		for _, r := range h.Epochs {
			for _, m := range r.Observed {
				if !seen["o:"+m.Name] {
					seen["o:"+m.Name] = true
					obs = append(obs, m.Name)
				}
			}
			for _, m := range r.Eval {
				if !seen["e:"+m.Name] {
					seen["e:"+m.Name] = true
					ev = append(ev, m.Name)
				}
			}
		}
		w := csv.NewWriter(&buf)
		header := append([]string{"stage", "name", "epoch", "stage_epoch", "steps", "loss", "lr", "samples_per_s", "seconds"}, obs...)
		header = append(append(header, ev...), "switched")
		w.Write(header)
		f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
		cell := func(ms eval.Metrics, name string) string {
			if v, ok := ms.Get(name); ok {
				return f(v)
			}
			return ""
		}
		for _, r := range h.Epochs {
			row := []string{strconv.Itoa(r.Stage), r.Name, strconv.Itoa(r.Epoch), strconv.Itoa(r.StageEpoch), strconv.Itoa(r.Steps),
				f(r.Loss), f(r.LR), f(r.SamplesPerSec), f(r.Seconds)}
			for _, n := range obs {
				row = append(row, cell(r.Observed, n))
			}
			for _, n := range ev {
				row = append(row, cell(r.Eval, n))
			}
			w.Write(append(row, strconv.FormatBool(r.Switched)))
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return fmt.Errorf("train: metrics: %w", err)
		}
	} else {
		for _, r := range h.Epochs {
			js, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("train: metrics: %w", err)
			}
			buf.Write(js)
			buf.WriteByte('\n')
		}
	}
	return writeAtomic(path, buf.Bytes())
}

// writeAtomic replaces path with data: it writes a temporary file in the
// same directory, syncs it and renames it over path.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	return nil
}
