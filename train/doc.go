// Package train is disiam's one training loop. Self-supervised
// pretraining (ssl.Trainer), detection fine-tuning, linear probing and
// data-parallel training all run through it, so checkpointing, exact
// resumption, evaluation, metrics and progress behave the same
// everywhere.
//
// # What a user provides
//
// A Loop trains a list of Stages with a shared Config. A Stage is
//
//   - Parts: the networks, each with a state_dict prefix (Part). Parts is
//     an nn.Module and derives everything a loop needs from the list:
//     Params, SetTraining, Trainable, StateDict and LoadStateDict with
//     PyTorch's keys, and NewOptimizer (one optimizer per trainable part,
//     keyed by state_dict key, so two networks may share parameter names).
//   - an Objective: Build adds the inputs, forward pass and scalar loss of
//     a micro-batch to a gorgonia graph (once per stage); Feed copies a
//     batch into those inputs. Optional: Starter, BeforeStepper,
//     AfterStepper (an EMA update), Observer (values averaged per epoch,
//     such as an SSL collapse measure).
//   - Data: StepsPerEpoch and an Epoch iterator of Batches (for SSL a
//     dataset.Loader; for detection images with their targets).
//   - a Recipe (optimizer constructor, learning-rate schedule and an
//     optional gradient-norm clip, torch.nn.utils.clip_grad_norm_), the
//     number of Epochs, an optional Evaluator (eval.Metrics of the
//     stage's model), an optional Plateau rule that ends the stage early,
//     and Exports (modules saved at the end of the stage).
//
// Stages run in order; stages whose parts share modules share weights
// (chained SSL methods, or a detector fine-tuned from a pretrained
// backbone).
//
// # One step
//
// For every batch of an epoch: BeforeStep; for each of Accumulate
// micro-batches, Feed, run the compiled program (forward and backward),
// check the loss is finite, Observe, accumulate the gradients; clip them
// (Recipe.ClipGradNorm); then the optimizer steps with the schedule's learning rate, AfterStep and the
// OnStep hook run. After every epoch the loop checks that every parameter,
// buffer and optimizer state is finite (a *DivergedError names the first
// tensor that is not), evaluates when due, applies the plateau rule,
// records an EpochRecord (History), rewrites the metrics file (CSV or
// JSON Lines, one column per observed and evaluated metric), writes a
// checkpoint when due and calls OnEpoch. A hook returning Stop ends the
// run early without an error (early stopping).
//
// # Checkpoints and resumption
//
// CheckpointFile holds the parts' state_dict, the optimizer state, the
// loop's position and history, the counters of every Dropout and
// StochasticDepth layer, and the run's identity: Config.Identity (every
// setting that changes the numbers, as the program knows them) plus the
// batch, accumulation, seed and the stages' names and epochs. It is
// written atomically (temporary file, fsync, rename) and never holds a
// non-finite value. Resume refuses a checkpoint of another identity with
// an error naming the first differing setting (more epochs are refused
// too, since the schedules depend on the epoch count) and otherwise
// continues bit for bit: the same losses and weights as an uninterrupted
// run.
//
// # Progress
//
// Log receives a progress line (loss, learning rate, img/s, ETA),
// redrawn in place on a terminal every 0.5 s and written as a plain line
// every 10 s otherwise, so logs redirected to files or CI stay readable,
// plus one summary per epoch and every evaluation. This is the loop's own
// small writer rather than a progress-bar library: the line carries
// training state, not only a count, and github.com/schollz/progressbar/v3
// (the usual choice) frames every update with carriage returns whatever
// the writer, which turns a log file into one long line.
//
// # Determinism
//
// The loop adds no randomness: results depend only on the stages and the
// configuration (the data's order and augmentations, the models' seeds),
// never on timing or the number of goroutines.
package train
