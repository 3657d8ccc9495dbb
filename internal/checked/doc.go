// Package checked does the integer arithmetic that sizes allocations from
// untrusted numbers: dimensions in a file header, a size option on a
// command line. Every product that decides how much memory to allocate
// goes through Mul or Product first, so a hostile or corrupt header
// yields an error that names it, never a negative or wrapped length that
// makes make panic (or, worse, a small wrapped length that passes a later
// length check and indexes out of range).
//
// The functions take and return int, Go's length type; they report
// overflow of the platform's int (64 bits on every platform disiam
// supports) and treat negative operands as invalid, since sizes are never
// negative.
package checked
