// Package distributed runs disiam's training data-parallel over several
// processes and hosts, on Open MPI: the communicator (Comm), its
// single-process default (Local), an in-process group of ranks for tests
// (NewGroup), the MPI communicator (Open, in builds with -tags mpi), and
// AllGather, a differentiable gather for losses whose samples meet the
// other ranks' (SimCLR's negatives).
//
// # The communicator
//
// A Comm is the few collectives data-parallel training needs: Rank, Size,
// AllReduceSum of float32 buffers (gradients) and of float64 buffers
// (BatchNorm statistics, losses), AllGather, Broadcast, Barrier and
// Close. Every rank calls the same collectives in the same order with the
// same lengths. Each collective first all-reduces a small description of
// the call (which collective, how many values, which root), so that ranks
// which disagree get an error naming both calls on every rank instead of
// corrupt data or a hang; and every wait has a deadline (Options.Timeout,
// DefaultTimeout 10 minutes), after which the collective fails with
// ErrTimeout. After an error the Comm is broken and the process should
// exit with a non-zero status.
//
// # Open MPI
//
// The default build is pure Go and single-process. Built with -tags mpi
// (cgo, Open MPI's libopenmpi-dev: `apt-get install openmpi-bin
// libopenmpi-dev`; the flags come from pkg-config's ompi), Open returns
// MPI's world when the process was started by mpirun, srun or Kubeflow's
// MPIJob (FromEnv reads OMPI_COMM_WORLD_RANK, PMIX_RANK, PMI_RANK or
// SLURM_PROCID). The binding is a few calls: MPI_Init_thread
// (MPI_THREAD_FUNNELED), MPI_Comm_dup of the world with MPI_ERRORS_RETURN
// (errors return codes instead of aborting), the non-blocking
// MPI_Iallreduce, MPI_Iallgather and MPI_Ibcast, polled with MPI_Test
// until they complete or the deadline passes, and MPI_Finalize. One
// goroutine, locked to its OS thread (the thread that initialized MPI),
// makes every MPI call; the methods hand it their work, so they may be
// called from any goroutine. Go buffers are pinned (runtime.Pinner) while
// MPI uses them, and stay pinned if a collective times out.
//
// When a rank dies, Open MPI's mpirun ends the job: it notices the exit
// (or the signal) of one process and kills the others, which exit with a
// non-zero status within seconds (3 s after a SIGKILL in the failure
// test of .ci/mpi-failure.sh). The timeout covers what the launcher does
// not see: a rank that hangs or stops (SIGSTOP: the others fail with
// ErrTimeout after Options.Timeout), a host cut off, or collectives that
// disagree. Training resumes from the last checkpoint on any number of
// ranks (see package train). Open MPI 4.1 has no fault tolerance beyond
// this (ULFM's MPI_Comm_shrink is an extension of Open MPI 5): a job
// with a dead rank is restarted, not repaired.
//
// Open MPI's non-blocking collectives (libnbc) are not its fastest
// (the blocking MPI_Allreduce picks among tuned algorithms); on the
// shared test machine the two were within the noise of each other for
// gradient buffers of 57 and 76 MB, and so was this binding
// (bench/distributed.md). The deadline is worth it on a shared cluster.
//
// # Data-parallel training
//
// Package train uses a Comm (train.Config.Comm) at a few points: rank 0's
// initial weights are broadcast; each rank loads its share of every
// global batch (dataset.LoaderConfig.Shards); after the backward pass the
// trainable parameters' gradients are flattened into one buffer,
// all-reduced and divided by the number of ranks, before the optimizer
// step; the step's loss is averaged the same way; rank 0 evaluates (the
// others wait at a barrier), logs and writes the checkpoints. With
// train.Config.SyncBatchNorm, BatchNorm normalizes with the global
// batch's statistics (nn.Replica). The batch, the learning-rate rules and
// the run identity are those of the global batch, so N ranks train the
// run one process trains, and a run resumes on any number of ranks.
//
// Which method needs what to match one process with the global batch:
//
//	method                          synchronized BatchNorm   gathered negatives (AllGather)
//	SimCLR, SoftChain               yes                      yes (ssl.Gatherer, automatic)
//	SimSiam, FastSiam, DiSiam(+)    yes                      no
//	BYOL, DYOL                      yes (online and target)  no
//
// Without them a data-parallel run is still a valid training run, with
// smaller BatchNorm batches and fewer negatives (N·B → B per rank), as
// many published runs were; its identity then records the per-rank
// BatchNorm batch. StochasticDepth and Dropout draw their masks by the
// global sample index (nn.Replica.Offset) either way.
//
// The equivalence is exact up to float32 reduction order: on 2 and 4
// ranks against one process with the whole batch, SimCLR's losses agree
// to the last digit and DiSiam's (a loss near 0 in [-1, 1]) to 2e-8
// absolute over 12 steps, and the weights to 3e-7 (relative to 1+|w|),
// in the in-process and the mpirun tests of tiny networks (the tests
// allow 1e-5 for both). With ResNet-18 (.ci/mpi-failure.sh, 6 steps),
// one rank resuming a 2-rank run reproduces its DiSiam losses to 6e-6.
//
// # Scaling to N hosts
//
// Per optimizer step each rank sends and receives, in a ring all-reduce,
// 2(N-1)/N times the gradient buffer: 76 MB for SimSiam on ResNet-18
// (19.0 M parameters with its heads), 52 MB for SimCLR on ResNet-18,
// 173 MB for DiSiam with EfficientNet-B0 online and a ResNet-34
// assistant (43.4 M), the thesis' main setting. Beside it, small
// latency-bound reductions: three per BatchNorm application with
// SyncBatchNorm (two in the forward pass, one in the backward pass: about
// 140 per step for SimSiam on ResNet-18 with two views, 2C floats each) and, for
// SimCLR, two gathers of N·B×128 floats. At 10 Gb/s Ethernet the
// ResNet-18 gradient exchange takes about 0.12 s and DiSiam's 0.28 s; at
// 100 Gb/s InfiniBand a tenth of that. The compute of a step shrinks as
// 1/N while the exchange stays. A SimSiam ResNet-18 step runs at about 47
// images/s per core (93 on two cores, BENCHMARKS.md), so one 16-core host
// takes about 1.4 s for the thesis' batch of 1024, and the efficiency on
// 10 Gb/s is about 1/(1+0.12·N/1.4): 74% on 4 hosts, 59% on 8, 42% on 16;
// on 100 Gb/s 97%, 94%, 88%. DiSiam (EfficientNet-B0 + ResNet-34, about
// 10 images/s per core, 6.4 s per step on one host) computes more per
// byte: 85% on 4 hosts and 59% on 16 at 10 Gb/s. The BatchNorm reductions
// add about 140·log2(N) latencies (30 µs each on Ethernet: 0.02 s at 16
// hosts). The gradients are exchanged after the whole backward pass;
// overlapping buckets of them with the backward pass, as PyTorch's DDP
// does, would
// hide most of the exchange and is the next step for many hosts.
//
// On GPUs NCCL replaces MPI for the collectives on device memory: the
// gradient all-reduce (ncclAllReduce over NVLink and InfiniBand with
// GPUDirect), the BatchNorm reductions and SimCLR's gather, each a method
// of Comm. MPI stays for what it does well there: starting the job
// (mpirun, srun, MPIJob), handing every rank the NCCL unique id
// (MPI_Bcast), and the host-side barrier; NCCL's own deadline is a
// watchdog polling ncclCommGetAsyncError and calling ncclCommAbort.
package distributed
