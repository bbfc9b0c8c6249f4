#ifndef MOP_CKERNELS_H
#define MOP_CKERNELS_H

/*
 * Kernels for rows of GGML-quantized weights (GGUF), compiled for several x86-64 ISAs in one binary and chosen
 * at run time. Types are GGUF type ids (GGUFTensorType in Swift). Every variant gives bit-identical results:
 * floating-point contraction is off (the quantized dots' fused multiply-adds are explicit), dequantizing performs
 * ggml's `dequantize_row_*` operations in ggml's order, and dot products follow one fixed order of roundings (see
 * mop_dot_row).
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

/* dot(row, x) over n elements (a multiple of the block size), without materialising the row. Returns NaN for an
 * unsupported type (or, as mop_matvec, without memory for its prepared input). The result is within a few float roundings of the exact dot of the dequantized row (the tests
 * bound it by 1e-5 * sum |w_i x_i|) but is not "dequantize, then dot": the scales apply once per unit of 16 or 32
 * elements. The order is fixed, the same on every ISA and for any split of rows among calls:
 *
 * reduce(v), for 16 lanes v: lanes k + (k + 8) for k < 8, then k + (k + 4) for k < 4, then k + (k + 2) for k < 2,
 * then 0 + 1.
 *
 * F32, F16, BF16: w[i] * x[i] (w exactly converted) is added into lane i % 16 of an accumulator starting at +0, in
 * increasing i; the result is reduce(accumulator).
 *
 * Quantized types: the row is cut into units u = 0, 1, ... of 32 elements (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0: a block;
 * Q4_K, Q5_K: a sub-block of one scale and min) or of 16 (Q2_K, Q3_K, Q6_K: the elements of one scale). In each unit
 * q_l is the integer quant of its element l as a float (exact), after the type's integer offset: Q8_0 q, Q4_0 q - 8,
 * Q4_1 q, Q5_0 q - 16, Q5_1 q, Q4_K and Q5_K q, Q2_K q, Q3_K q - (high bit clear ? 4 : 0), Q6_K q - 32; x_l is x at
 * the unit's element l; s_u is the unit's scale (d, the block's f16 scale; K-quants dl = d * sc, as ggml rounds it)
 * and m_u its min (Q4_1, Q5_1: the block's f16 min; Q4_K, Q5_K, Q2_K: ml = dmin * mn, as ggml rounds it). With
 * fma(a, b, c) = a * b + c rounded once and every other product and sum rounded to float, on 16 lanes l:
 *   P_u[l] = q_l * x_l, then for 32-element units P_u[l] = fma(q_{l+16}, x_{l+16}, P_u[l]);
 *   A_{u % 2}[l] = fma(P_u[l], s_u, A_{u % 2}[l]) for u = 0, 1, ... (both start at +0), A = A_0 + A_1;
 *   types with a min: M[u % 16] = fma(m_u, X_u, M[u % 16]) in increasing u (M starts at +0; lanes past the last
 *   unit are left as they are), where X_u = reduce(x_l + x_{l+16}) (32-element units) or reduce(x_l) (16);
 * the result is reduce(A + M) for Q4_1 and Q5_1, reduce(A - M) for Q5_K and Q2_K, and reduce(A) for the others,
 * except Q4_K and Q6_K, whose lanes follow their packed bytes (read as 16 little-endian words):
 *   Q4_K, one accumulator A; per super-block (elements e of it, sub-blocks j = e / 32 with dl_j and ml_j), for
 *   c < 2 and h < 2: lane l of P takes k = 0, 1, 2, 3 in turn (a product, then fmas) of q_e * x_e, e = 64 (2c + l / 8)
 *   + 32h + (4l + k) % 32; then A[l] = fma(P[l], dl_{4c + 2 (l / 8) + h}, A[l]). M[8 + j] = fma(ml_j, X_j, M[8 + j])
 *   per super-block (X_j as above); the result is reduce(A - M).
 *   Q6_K, one accumulator A; per super-block, for g < 2 and h < 2: lane l of P takes k = 0, 1, 2, 3 in turn of
 *   q_e * x_e, e = 128g + 64h + 4l + k; then A[l] = fma(P[l], dl_{8g + 4h + l / 4}, A[l]); the result is reduce(A). */
float mop_dot_row(int type, const void *src, const float *x, int64_t n);

/* y[r] = mop_dot_row(type, base + (rows ? rows[r] : r) * row_bytes, x, n) for r < count, bit for bit, on the
 * calling thread (the X_u, and x in the lane order of Q4_K and Q6_K, are prepared once per call, shared by its rows:
 * on the heap for rows over 4096 elements). Leaves y untouched and returns -1 for an unsupported type or when that
 * memory is not available, else 0. */
int mop_matvec(int type, const void *base, int64_t row_bytes, const int32_t *rows, int64_t count,
               const float *x, int64_t n, float *y);

/* The element-wise kernels of the forward pass on fp32 rows, single-threaded (callers split rows). Every variant gives
 * bit-identical results: sums follow the 16-lane order above (element i into lane i % 16, then reduce), exp is one
 * fixed polynomial (Cephes expf, about 1 ulp on [-87, 88]; below -87.3 it gives 2^-126-ish, not 0). */
typedef struct {
    /* y = x / sqrt(mean(x^2) + eps) * weight, per row; x, y [rows, d] (may be the same), weight [d]. */
    void (*rmsnorm)(const float *x, const float *weight, float *y, int64_t rows, int64_t d, float eps);
    /* Rotates each head of x [tokens, heads * head_dim] in place (rotate_half layout: element i pairs with
     * i + head_dim/2) by the angles whose cos and sin are the rows of cos_rows, sin_rows [tokens, head_dim/2];
     * sin_sign -1 rotates back (the backward pass). */
    void (*rope)(float *x, int64_t tokens, int64_t heads, int64_t head_dim, const float *cos_rows,
                 const float *sin_rows, float sin_sign);
    /* max of x[0, n), -inf when n is 0. */
    float (*maximum)(const float *x, int64_t n);
    /* x[i] = exp(x[i] - shift) for i < n; returns their sum (16 float lanes per run of 512, runs added in double). */
    double (*exp_shifted_sum)(float *x, int64_t n, float shift);
    /* Softmax of x[0, visible) in place; x[visible, width) set to 0 (a causal row's masked tail). */
    void (*softmax)(float *x, int64_t visible, int64_t width);
    /* gate[i] = gate[i] / (1 + exp(-gate[i])) * up[i] (SwiGLU). */
    void (*swiglu)(float *gate, const float *up, int64_t n);
    /* y[i] = exp(x[i]). */
    void (*exp)(const float *x, float *y, int64_t n);
    /* y = (x - mean) / sqrt(var + eps) * weight + bias, per row (bias may be NULL); x, y [rows, d] (may be the same),
     * weight and bias [d]. Mean and biased variance summed in 16 float lanes per run of 512, runs added in double. */
    void (*layernorm)(const float *x, const float *weight, const float *bias, float *y, int64_t rows, int64_t d,
                      float eps);
    /* GELU-tanh, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), computed as x / (1 + exp(-2 sqrt(2/pi) (...))):
     * x[i] = gelu(x[i]). */
    void (*gelu_tanh)(float *x, int64_t n);
    /* dy[i] *= gelu'(x[i]). */
    void (*gelu_tanh_backward)(const float *x, float *dy, int64_t n);
    /* gate[i] = gelu(gate[i]) * up[i] (GeGLU). */
    void (*geglu)(float *gate, const float *up, int64_t n);
    /* d_gate[i] = da[i] * up[i] * gelu'(gate[i]), d_up[i] = da[i] * gelu(gate[i]). */
    void (*geglu_backward)(const float *da, const float *gate, const float *up, float *d_gate, float *d_up, int64_t n);
} mop_vector_kernels;

/* The element-wise kernels of variant `isa`, or of the chosen variant for -1 (an unavailable one: baseline). */
const mop_vector_kernels *mop_vector_kernels_for(int isa);

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
