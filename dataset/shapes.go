package dataset

// ShapeSDF is the signed distance (negative inside), in units of the
// shape's radius, from (x, y) to the shape of class k of the synthetic set
// (SyntheticClasses[k]); shapes fit in [−1, 1]² with y pointing down.
// Detection sets draw the same shapes (detect/synth).
func ShapeSDF(k int, x, y float64) float64 { return shapeSDF(k, x, y) }
