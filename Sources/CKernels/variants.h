/*
 * Internal: the per-ISA instantiations of the bodies in rows.h, defined in dequantize.c and dot_*.c and chosen by
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

#endif
