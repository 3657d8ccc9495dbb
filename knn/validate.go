package knn

import (
	"errors"
	"fmt"
)

// Validate checks the configuration: K ≥ 0 (0: DefaultK) and Tau a finite
// number ≥ 0 (0: DefaultTau). NewClassifier and the Evaluator apply the
// same checks.
func (c Config) Validate() error {
	_, err := c.norm()
	return err
}

// Validate checks the Evaluator's settings without extracting anything:
// both datasets present and non-empty with the same number of classes,
// the classifier's K and Tau (Config.Validate), and non-negative
// BatchSize and InputSize. A trainer calls it before training (see
// eval.Validator), so that a bad setting fails before the first epoch
// rather than at the first evaluation.
func (e *Evaluator) Validate() error {
	switch {
	case e.Train == nil || e.Test == nil:
		return errors.New("knn: Evaluator needs Train and Test datasets")
	case e.Train.Len() == 0:
		return errors.New("knn: Evaluator: empty Train set (the bank)")
	case e.Test.Len() == 0:
		return errors.New("knn: Evaluator: empty Test set (the queries)")
	case e.Train.Classes() != e.Test.Classes():
		return fmt.Errorf("knn: Train has %d classes, Test %d", e.Train.Classes(), e.Test.Classes())
	case e.BatchSize < 0:
		return fmt.Errorf("knn: BatchSize = %d, want >= 0", e.BatchSize)
	case e.InputSize < 0:
		return fmt.Errorf("knn: InputSize = %d, want >= 0", e.InputSize)
	}
	return Config{K: e.K, Tau: e.Tau}.Validate()
}
