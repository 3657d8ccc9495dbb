package runner

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Progress returns a progress callback (done of total) that draws a bar
// labelled label on w: redrawn in place when w is a terminal, and
// otherwise one plain line every 10 seconds and one at the end, so that
// logs written to files stay readable. Call it with done == total last.
func Progress(w io.Writer, label string) func(done, total int) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	start, last := time.Now(), time.Time{}
	return func(done, total int) {
		if total <= 0 {
			return
		}
		end := done >= total
		if !tty && !end && time.Since(last) < 10*time.Second {
			return
		}
		last = time.Now()
		const width = 20
		n := min(width*done/total, width)
		line := fmt.Sprintf("%s [%s%s] %d/%d  %.1fs", label, strings.Repeat("=", n), strings.Repeat(" ", width-n), done, total, time.Since(start).Seconds())
		switch {
		case tty && end:
			fmt.Fprint(w, "\r\033[K"+line+"\n")
		case tty:
			fmt.Fprint(w, "\r\033[K"+line)
		default:
			fmt.Fprintln(w, line)
		}
	}
}
