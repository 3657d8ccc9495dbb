package ssl

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// progress writes the trainer's human-readable log.
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
func (p *progress) step(epoch, stageEpoch, epochs, b, spe int, loss, lr float64, images int, start time.Time, remaining, batch int) {
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
		epoch, stageEpoch, epochs, bar, b, spe, loss, lr, float64(images)/el.Seconds(), (perStep * time.Duration(remaining)).Round(time.Second))
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K"+line)
		p.open = true
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// epochSummary reports a finished epoch.
func (p *progress) epochSummary(r EpochRecord, epochs int) {
	coll := ""
	if r.CollapseDim > 0 {
		coll = fmt.Sprintf("  collapse std %.4f (×√d %.2f)", r.CollapseStd, r.CollapseStd*math.Sqrt(float64(r.CollapseDim)))
	}
	p.printf("epoch %d (%s %d/%d): loss %.4f  lr %.4g  %.1f img/s  %.1fs%s\n",
		r.Epoch, r.Method, r.StageEpoch, epochs, r.Loss, r.LR, r.ImagesPerSec, r.Seconds, coll)
}

// metricsWriter writes one record per epoch as CSV or JSON Lines.
type metricsWriter struct {
	f   *os.File
	buf *bufio.Writer
	csv *csv.Writer
}

var csvHeader = []string{"stage", "method", "epoch", "stage_epoch", "steps", "loss", "lr", "img_per_s", "seconds",
	"collapse_std", "collapse_dim", "knn_top1", "knn_top5", "switched"}

// newMetricsWriter creates (truncates) path and writes the records of
// earlier epochs (a resumed run's history) to it.
func newMetricsWriter(path string, earlier []EpochRecord) (*metricsWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("ssl: metrics: %w", err)
	}
	w := &metricsWriter{f: f, buf: bufio.NewWriter(f)}
	if strings.HasSuffix(strings.ToLower(path), ".csv") {
		w.csv = csv.NewWriter(w.buf)
		if err := w.csv.Write(csvHeader); err != nil {
			f.Close()
			return nil, fmt.Errorf("ssl: metrics: %w", err)
		}
	}
	for _, r := range earlier {
		if err := w.write(r); err != nil {
			f.Close()
			return nil, err
		}
	}
	return w, nil
}

func (w *metricsWriter) write(r EpochRecord) error {
	if w.csv != nil {
		f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
		row := []string{strconv.Itoa(r.Stage), r.Method, strconv.Itoa(r.Epoch), strconv.Itoa(r.StageEpoch), strconv.Itoa(r.Steps),
			f(r.Loss), f(r.LR), f(r.ImagesPerSec), f(r.Seconds), f(r.CollapseStd), strconv.Itoa(r.CollapseDim), "", "", strconv.FormatBool(r.Switched)}
		if r.KNN != nil {
			row[11], row[12] = f(r.KNN.Top1), f(r.KNN.Top5)
		}
		if err := w.csv.Write(row); err != nil {
			return fmt.Errorf("ssl: metrics: %w", err)
		}
		w.csv.Flush()
		if err := w.csv.Error(); err != nil {
			return fmt.Errorf("ssl: metrics: %w", err)
		}
	} else {
		js, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("ssl: metrics: %w", err)
		}
		w.buf.Write(js)
		w.buf.WriteByte('\n')
	}
	if err := w.buf.Flush(); err != nil {
		return fmt.Errorf("ssl: metrics: %w", err)
	}
	return nil
}

func (w *metricsWriter) close() error {
	if err := w.buf.Flush(); err != nil {
		w.f.Close()
		return err
	}
	return w.f.Close()
}
