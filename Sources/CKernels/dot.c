/* The dot_body and matvec_body of rows.h, instantiated once per ISA. matvec inlines the dot so that a row costs no
 * indirect call. */
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#include "rows.h"
#include "variants.h"

float mop_dot_baseline(int type, const void *src, const float *x, int64_t n) { return dot_body(type, src, x, n); }

MOP_TARGET_AVX2 float mop_dot_avx2(int type, const void *src, const float *x, int64_t n) {
    return dot_body(type, src, x, n);
}

MOP_TARGET_AVX512 float mop_dot_avx512(int type, const void *src, const float *x, int64_t n) {
    return dot_body(type, src, x, n);
}

int mop_matvec_baseline(int type, const void *base, int64_t row_bytes, const int32_t *rows, int64_t count,
                        const float *x, int64_t n, float *y) {
    return matvec_body(type, base, row_bytes, rows, count, x, n, y, 2);
}

MOP_TARGET_AVX2 int mop_matvec_avx2(int type, const void *base, int64_t row_bytes, const int32_t *rows,
                                    int64_t count, const float *x, int64_t n, float *y) {
    return matvec_body(type, base, row_bytes, rows, count, x, n, y, 2);
}

MOP_TARGET_AVX512 int mop_matvec_avx512(int type, const void *base, int64_t row_bytes, const int32_t *rows,
                                        int64_t count, const float *x, int64_t n, float *y) {
    return matvec_body(type, base, row_bytes, rows, count, x, n, y, 4);
}
