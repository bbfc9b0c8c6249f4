/*
 * Internal: the per-ISA instantiations of the kernel bodies, defined in dequantize.c and variant_*.c and chosen by
 * dispatch.c. Only dispatch.c calls them, and only after checking the CPU supports the variant.
 */
#ifndef MOP_VARIANTS_H
#define MOP_VARIANTS_H

#include <stdint.h>

/* Target features of the two SIMD variants. The AVX-512 one also asks for 512-bit vectors: otherwise clang may
 * legalise a 16-float vector as two ymm halves (its "prefer 256-bit" tuning). */
#define MOP_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define MOP_TARGET_AVX512 \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"), min_vector_width(512)))

int mop_dequantize_baseline(int type, const void *src, int64_t n, float *dst);
int mop_dequantize_avx2(int type, const void *src, int64_t n, float *dst);
int mop_dequantize_avx512(int type, const void *src, int64_t n, float *dst);

float mop_dot_baseline(int type, const void *src, const float *x, int64_t n);
float mop_dot_avx2(int type, const void *src, const float *x, int64_t n);
float mop_dot_avx512(int type, const void *src, const float *x, int64_t n);

int mop_matvec_baseline(int type, const void *base, int64_t row_bytes, const int32_t *rows, int64_t count,
                        const float *x, int64_t n, float *y);
int mop_matvec_avx2(int type, const void *base, int64_t row_bytes, const int32_t *rows, int64_t count,
                    const float *x, int64_t n, float *y);
int mop_matvec_avx512(int type, const void *base, int64_t row_bytes, const int32_t *rows, int64_t count,
                      const float *x, int64_t n, float *y);

#define MOP_DECLARE_VECTOR(isa)                                                                                        \
    void mop_vector_exp_##isa(const float *x, float *y, int64_t n);                                                    \
    void mop_rmsnorm_##isa(const float *x, const float *weight, float *y, int64_t rows, int64_t d, float eps);         \
    void mop_rope_##isa(float *x, int64_t tokens, int64_t heads, int64_t head_dim, const float *cos_rows,              \
                        const float *sin_rows, float sin_sign);                                                        \
    float mop_maximum_##isa(const float *x, int64_t n);                                                                \
    double mop_exp_shifted_sum_##isa(float *x, int64_t n, float shift);                                                \
    void mop_softmax_##isa(float *x, int64_t visible, int64_t width);                                                  \
    void mop_swiglu_##isa(float *gate, const float *up, int64_t n);                                                    \
    void mop_layernorm_##isa(const float *x, const float *weight, const float *bias, float *y, int64_t rows, int64_t d, \
                             float eps);                                                                               \
    void mop_gelu_tanh_##isa(float *x, int64_t n);                                                                     \
    void mop_gelu_tanh_backward_##isa(const float *x, float *dy, int64_t n);                                           \
    void mop_geglu_##isa(float *gate, const float *up, int64_t n);                                                     \
    void mop_geglu_backward_##isa(const float *da, const float *gate, const float *up, float *d_gate, float *d_up,     \
                                  int64_t n);
MOP_DECLARE_VECTOR(baseline)
MOP_DECLARE_VECTOR(avx2)
MOP_DECLARE_VECTOR(avx512)
#undef MOP_DECLARE_VECTOR

#endif
