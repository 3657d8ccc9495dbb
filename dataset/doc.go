// Package dataset holds labeled image collections in memory and turns them
// into batches of augmented views.
//
// See Open for the dataset spec strings every example and tool accepts
// (synthetic, cifar10:DIR, cifar100:DIR, fashion-mnist[:DIR], mnist:DIR,
// folder:DIR) and Loader for the parallel, deterministic batch loader.
package dataset
