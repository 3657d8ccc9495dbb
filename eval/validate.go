package eval

// Validator is an optional interface of an Evaluator: Validate checks its
// settings without measuring anything. A trainer calls it before the
// first epoch (ssl.Trainer does), so that a bad setting, such as a
// negative k of the kNN classifier, fails before any training rather
// than at the first evaluation.
type Validator interface {
	Validate() error
}
