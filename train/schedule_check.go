package train

import (
	"fmt"
	"math"

	"github.com/disiam/disiam/optim"
)

// checkSchedule returns an error naming the first of a stage's steps
// whose learning rate is negative or not finite. Validate runs it over
// every step, so that a bad rate (a negative or NaN base, whatever built
// the schedule) fails before training instead of training backwards or
// diverging at the first step.
func checkSchedule(s optim.Schedule, steps int) (err error) {
	k := 0
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the learning-rate schedule fails at step %d: %v", k, p)
		}
	}()
	for ; k < steps; k++ {
		if lr := s.At(k); !(lr >= 0) || math.IsInf(lr, 0) {
			return fmt.Errorf("the learning rate at step %d is %v, want a finite number ≥ 0", k, lr)
		}
	}
	return nil
}
