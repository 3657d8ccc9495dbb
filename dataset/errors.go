package dataset

import "errors"

// Errors wrapped by the parsers, for errors.Is; the message around them
// names the file and, where it applies, the record.
var (
	// ErrTruncated: the file ends inside a header or a record.
	ErrTruncated = errors.New("truncated")
	// ErrOversized: the file holds more data than its format allows or
	// than its header declares.
	ErrOversized = errors.New("oversized")
	// ErrCorrupt: a header or a value is invalid (bad magic number,
	// dimensions, label out of range, undecodable image).
	ErrCorrupt = errors.New("corrupt")
)
