// Package cputime reads the CPU time the process has used (user plus
// system, all threads): the cost of a run or a benchmark that other jobs
// on a shared machine hardly change, where wall time depends on them.
package cputime
