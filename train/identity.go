package train

import (
	"fmt"
	"strings"
)

// sameStages returns an error when a checkpoint's stages (the identity's
// "stages": "name:epochs,...") have the same methods as this run's but
// other epoch counts. A run cannot be continued for more (or fewer)
// epochs: every stage's learning-rate schedule (a cosine decay, a warmup)
// is a function of its epoch count, so the steps already taken followed
// another schedule than a longer run's, and the continued run would be
// neither the original nor the longer one.
func sameStages(path, saved, now string) error {
	if saved == "" || now == "" || saved == now {
		return nil
	}
	a, b := strings.Split(saved, ","), strings.Split(now, ",")
	if len(a) != len(b) {
		return nil
	}
	for i := range a {
		na, _, _ := strings.Cut(a[i], ":")
		nb, _, _ := strings.Cut(b[i], ":")
		if na != nb {
			return nil // other methods: the general message names the field
		}
	}
	return fmt.Errorf("train: resume: %s was written by a run of %s epochs; this run asks for %s: a run cannot be continued with another number of epochs, since its learning-rate schedule (the cosine decay) depends on the epoch count; resume with the original epochs, or train the longer run afresh in another directory",
		path, saved, now)
}
