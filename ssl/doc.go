// Package ssl holds the parts of self-supervised methods.
package ssl
