package runner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

// Main runs an example program: run gets a context cancelled by an
// interrupt (Ctrl-C ends a sweep after writing what it finished), the
// arguments and the standard streams. An error other than -h's is printed
// as "name: error". The exit status is 0 for success and -h, ExitUsage
// (2) for a rejected command line (a *UsageError, which Parse returns:
// nothing was done) and ExitFailure (1) for any other error.
func Main(name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(ExitCode(err, os.Stderr, name))
}

// ExitCode returns the exit status for a run's error (see Main), printing
// the error as "name: error" to w unless it is nil or -h's.
func ExitCode(err error, w io.Writer, name string) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	var u *UsageError
	if errors.As(err, &u) && u.Reported {
		return ExitUsage
	}
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		for _, e := range joined.Unwrap() {
			fmt.Fprintf(w, "%s: %v\n", name, e)
		}
	} else {
		fmt.Fprintf(w, "%s: %v\n", name, err)
	}
	if errors.As(err, &u) {
		return ExitUsage
	}
	return ExitFailure
}
