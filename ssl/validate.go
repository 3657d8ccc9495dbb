package ssl

import (
	"errors"
	"fmt"
	"math"
)

// validate checks a stage's own settings before anything is built: a
// method taking at least two views (a method with fewer cannot compare
// views), positive Epochs, and a BaseLR that is 0 (the method's default)
// or a finite positive number. A NaN or negative rate would otherwise
// train (or diverge) silently until the first step.
func (s Stage) validate() error {
	switch {
	case s.Method == nil:
		return errors.New("needs a Method")
	case s.Epochs <= 0:
		return fmt.Errorf("%s: Epochs %d, want > 0", s.Method.Name(), s.Epochs)
	case s.Method.Views() < 2:
		return fmt.Errorf("%s: %d views, want at least 2", s.Method.Name(), s.Method.Views())
	case math.IsNaN(s.BaseLR) || math.IsInf(s.BaseLR, 0) || s.BaseLR < 0:
		return fmt.Errorf("%s: BaseLR %v, want a finite number ≥ 0 (0: the method's default)", s.Method.Name(), s.BaseLR)
	}
	return nil
}
