/* Chooses the kernel variant once per process, from the CPU's features and MOP_KERNEL_ISA, and routes the public
 * entry points to it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "CKernels.h"
#include "variants.h"

typedef struct {
    const char *name;
    int (*dequantize)(int, const void *, int64_t, float *);
    float (*dot)(int, const void *, const float *, int64_t);
    int (*matvec)(int, const void *, int64_t, const int32_t *, int64_t, const float *, int64_t, float *);
    mop_vector_kernels vector;
} variant;

#define MOP_VECTOR(isa)                                                                                                \
    {mop_rmsnorm_##isa, mop_rope_##isa, mop_maximum_##isa, mop_exp_shifted_sum_##isa, mop_softmax_##isa,              \
     mop_swiglu_##isa, mop_vector_exp_##isa, mop_layernorm_##isa, mop_gelu_tanh_##isa, mop_gelu_tanh_backward_##isa,   \
     mop_geglu_##isa, mop_geglu_backward_##isa}

static const variant variants[3] = {
    {"baseline", mop_dequantize_baseline, mop_dot_baseline, mop_matvec_baseline, MOP_VECTOR(baseline)},
    {"avx2", mop_dequantize_avx2, mop_dot_avx2, mop_matvec_avx2, MOP_VECTOR(avx2)},
    {"avx512", mop_dequantize_avx512, mop_dot_avx512, mop_matvec_avx512, MOP_VECTOR(avx512)},
};

static int available[3];
static int chosen;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* __builtin_cpu_supports also checks that the OS saves the wider registers (XCR0). */
static void choose(void) {
    __builtin_cpu_init();
    available[MOP_ISA_BASELINE] = 1;
    available[MOP_ISA_AVX2] = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
        && __builtin_cpu_supports("f16c");
    available[MOP_ISA_AVX512] = available[MOP_ISA_AVX2] && __builtin_cpu_supports("avx512f")
        && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512dq");
    int best = available[MOP_ISA_AVX512] ? MOP_ISA_AVX512 : available[MOP_ISA_AVX2] ? MOP_ISA_AVX2 : MOP_ISA_BASELINE;
    chosen = best;
    const char *forced = getenv("MOP_KERNEL_ISA");
    for (int isa = 0; forced && isa < 3; isa++) {
        if (strcmp(forced, variants[isa].name) == 0 && available[isa]) chosen = isa;
    }
}

/* The variant to run for `isa` (-1: the chosen one); an unavailable one falls back to baseline. */
static const variant *variant_for(int isa) {
    pthread_once(&once, choose);
    if (isa < 0) return &variants[chosen];
    return isa < 3 && available[isa] ? &variants[isa] : &variants[MOP_ISA_BASELINE];
}

int mop_type_supported(int type) {
    switch (type) {
    case MOP_TYPE_F32: case MOP_TYPE_F16: case MOP_TYPE_BF16: case MOP_TYPE_Q8_0: case MOP_TYPE_Q4_0:
    case MOP_TYPE_Q4_1: case MOP_TYPE_Q5_0: case MOP_TYPE_Q5_1: case MOP_TYPE_Q2_K: case MOP_TYPE_Q3_K:
    case MOP_TYPE_Q4_K: case MOP_TYPE_Q5_K: case MOP_TYPE_Q6_K:
        return 1;
    default:
        return 0;
    }
}

const char *mop_kernel_isa(void) { return variant_for(-1)->name; }

int mop_isa_available(int isa) {
    pthread_once(&once, choose);
    return isa >= 0 && isa < 3 && available[isa];
}

int mop_dequantize_row(int type, const void *src, int64_t n, float *dst) {
    return variant_for(-1)->dequantize(type, src, n, dst);
}

float mop_dot_row(int type, const void *src, const float *x, int64_t n) { return variant_for(-1)->dot(type, src, x, n); }

int mop_matvec(int type, const void *base, int64_t row_bytes, const int32_t *rows, int64_t count, const float *x,
               int64_t n, float *y) {
    return variant_for(-1)->matvec(type, base, row_bytes, rows, count, x, n, y);
}

int mop_dequantize_row_isa(int isa, int type, const void *src, int64_t n, float *dst) {
    return variant_for(isa)->dequantize(type, src, n, dst);
}

float mop_dot_row_isa(int isa, int type, const void *src, const float *x, int64_t n) {
    return variant_for(isa)->dot(type, src, x, n);
}

int mop_matvec_isa(int isa, int type, const void *base, int64_t row_bytes, const int32_t *rows, int64_t count,
                   const float *x, int64_t n, float *y) {
    return variant_for(isa)->matvec(type, base, row_bytes, rows, count, x, n, y);
}

const mop_vector_kernels *mop_vector_kernels_for(int isa) { return &variant_for(isa)->vector; }
