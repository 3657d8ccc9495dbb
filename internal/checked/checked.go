package checked

import "math"

// Mul returns a*b and true, or 0 and false when either operand is
// negative or the product overflows an int.
func Mul(a, b int) (int, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	if a != 0 && b > math.MaxInt/a {
		return 0, false
	}
	return a * b, true
}

// Product returns the product of dims (1 for none) and true, or 0 and
// false when a factor is negative or the product overflows an int. A zero
// factor makes the product 0 whatever the others, as for an array's number
// of elements, but every factor is still checked for a negative value.
func Product(dims ...int) (int, bool) {
	p := 1
	for _, d := range dims {
		if d < 0 {
			return 0, false
		}
	}
	for _, d := range dims {
		if d == 0 {
			return 0, true
		}
	}
	for _, d := range dims {
		var ok bool
		if p, ok = Mul(p, d); !ok {
			return 0, false
		}
	}
	return p, true
}

// Add returns a+b and true, or 0 and false when either operand is
// negative or the sum overflows an int.
func Add(a, b int) (int, bool) {
	if a < 0 || b < 0 || a > math.MaxInt-b {
		return 0, false
	}
	return a + b, true
}
