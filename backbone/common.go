package backbone

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// trunkCache remembers the trunk built for the last input node, so that
// Features and FeatureMaps on the same input share one computation.
type trunkCache struct {
	x   *G.Node
	out []*G.Node
}

func (c *trunkCache) get(x *G.Node, build func() []*G.Node) []*G.Node {
	if c.x == x && c.x != nil {
		return c.out
	}
	out := build()
	c.x, c.out = x, out
	return out
}

// checkInput panics unless x is [N, 3, H, W].
func checkInput(name string, x *G.Node) {
	s := x.Shape()
	if x.Dims() != 4 || s[1] != 3 {
		panic(fmt.Sprintf("backbone: %s: input %v, want [N, 3, H, W]", name, s))
	}
}
