/* The dequantize_body of rows.h, instantiated once per ISA: the same source, compiled with different features. */
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#include "rows.h"
#include "variants.h"

int mop_dequantize_baseline(int type, const void *src, int64_t n, float *dst) {
    return dequantize_body(type, src, n, dst);
}

MOP_TARGET_AVX2 int mop_dequantize_avx2(int type, const void *src, int64_t n, float *dst) {
    return dequantize_body(type, src, n, dst);
}

MOP_TARGET_AVX512 int mop_dequantize_avx512(int type, const void *src, int64_t n, float *dst) {
    return dequantize_body(type, src, n, dst);
}
