#ifndef MOP_CKERNELS_H
#define MOP_CKERNELS_H

/*
 * Kernels for rows of GGML-quantized weights (GGUF), compiled for several x86-64 ISAs in one binary and chosen
 * at run time. Types are GGUF type ids (GGUFTensorType in Swift). Every variant gives bit-identical results:
 * floating-point contraction is off, the per-element operations are ggml's `dequantize_row_*` in ggml's order,
 * and dot products accumulate in a fixed lane structure (see mop_dot_row).
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* GGUF type ids the kernels decode. */
enum {
    MOP_TYPE_F32 = 0, MOP_TYPE_F16 = 1, MOP_TYPE_Q4_0 = 2, MOP_TYPE_Q4_1 = 3, MOP_TYPE_Q5_0 = 6, MOP_TYPE_Q5_1 = 7,
    MOP_TYPE_Q8_0 = 8, MOP_TYPE_Q2_K = 10, MOP_TYPE_Q3_K = 11, MOP_TYPE_Q4_K = 12, MOP_TYPE_Q5_K = 13,
    MOP_TYPE_Q6_K = 14, MOP_TYPE_BF16 = 30
};

/* Kernel ISAs, lowest first: the `isa` argument of the *_isa functions. */
enum { MOP_ISA_BASELINE = 0, MOP_ISA_AVX2 = 1, MOP_ISA_AVX512 = 2 };

/* Whether `type` is one of the ids above. */
int mop_type_supported(int type);

/* Decodes n elements (a multiple of the type's block size) of one row at src into dst, bit-identical to Swift's
 * GGUFDequantize.dequantize (and ggml). Returns 0, or -1 for an unsupported type (dst untouched). */
int mop_dequantize_row(int type, const void *src, int64_t n, float *dst);

/* dot(dequantized row, x) over n elements (a multiple of the block size; of 16 for the fast path), without
 * materialising the row.
 * Fixed summation order whatever the ISA: w[i] * x[i] is added into lane i % 16 in increasing i (16 fp32 lanes
 * starting at +0), then lanes are reduced pairwise: k + (k + 8) for k < 8, then k + (k + 4) for k < 4, then
 * k + (k + 2) for k < 2, then 0 + 1. Returns NaN for an unsupported type. */
float mop_dot_row(int type, const void *src, const float *x, int64_t n);

/* y[r] = mop_dot_row(type, base + (rows ? rows[r] : r) * row_bytes, x, n) for r < count, on the calling thread.
 * Leaves y untouched and returns -1 for an unsupported type, else 0. */
int mop_matvec(int type, const void *base, int64_t row_bytes, const int32_t *rows, int64_t count,
               const float *x, int64_t n, float *y);

/* "avx512", "avx2" or "baseline": the variant the functions above use. The best the CPU supports, or a lower one
 * named by the environment variable MOP_KERNEL_ISA (read once; an unknown or unavailable name means the best). */
const char *mop_kernel_isa(void);

/* For tests and benchmarks: whether the CPU can run variant `isa`, and each entry point of that exact variant.
 * Calling an unavailable variant falls back to baseline (never executes an unsupported instruction). */
int mop_isa_available(int isa);
int mop_dequantize_row_isa(int isa, int type, const void *src, int64_t n, float *dst);
float mop_dot_row_isa(int isa, int type, const void *src, const float *x, int64_t n);
int mop_matvec_isa(int isa, int type, const void *base, int64_t row_bytes, const int32_t *rows, int64_t count,
                   const float *x, int64_t n, float *y);

#ifdef __cplusplus
}
#endif

#endif
