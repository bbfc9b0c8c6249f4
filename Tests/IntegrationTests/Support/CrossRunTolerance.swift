/// How far, relative, a number may move between two runs that split the same work differently: another rank count,
/// shard layout or BLAS thread count, or another x86-64 CPU. OpenBLAS picks its blocking by thread count and CPU, so
/// the fp32 sums inside a product come out in another order and differ in their last bits (fp32 epsilon 6e-8 per
/// rounding; 3e-9 relative measured on a perplexity between 1 and 3 BLAS threads). The losses and perplexities are
/// means over many tokens accumulated in float64, so those per-element differences stay orders of magnitude below
/// this bound. It is the README's promise ("the same for any number of ranks, losses to 1e-6"), and every test of
/// that promise uses this one number.
///
/// Where a test asserts discrete outcomes (a chosen path, an accuracy count, identical structures) both runs are
/// pinned to one BLAS thread instead, so that a near tie cannot flip on rounding alone.
enum CrossRunTolerance {
    static let relative = 1e-6
}
