// Tests run one at a time: the CPU kernels already use every core, and several tests read the
// process-wide allocator statistics or change the kernel thread count, which must not interleave.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
