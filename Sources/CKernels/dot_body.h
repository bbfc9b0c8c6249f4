/*
 * Internal: mop_dot_row and mop_matvec, written once and compiled once per ISA: the variant_*.c files include this
 * file between isa_begin.h and isa_end.h, so every function below gets the target features of that ISA, which lets
 * the few ISA-specific helpers use intrinsics. Those helpers only move exact values (loads, gathers, conversions of
 * halves and small integers); every rounding step is the same vector-extension expression in all three builds, so the
 * variants agree bit for bit. The order of the sums is documented in CKernels.h.
 *
 * Block types: a row is cut into units of 32 elements (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0: one block; Q4_K, Q5_K: one
 * sub-block) or 16 (Q2_K, Q3_K, Q6_K: one scale's chunk). A unit's 16 or 32 integer quants (exact in float) times x
 * make one 16-lane vector, which a fused multiply-add scales into the row's accumulator: per 32 elements a
 * conversion or two, a product and two FMAs, and no reduction until the row's end. Scales and mins are decoded 16
 * units at a time, as one vector; the min terms take one FMA per 16 units with the x sums X_u shared by all rows.
 * Units alternate between two accumulators, so that the FMA's latency does not bound a row.
 */
#ifndef MOP_ISA
#error "include isa_begin.h before dot_body.h"
#endif

/* Inside the pragma, so that the shared helpers (which pass 16-float vectors) get this ISA's features too. */
#include "rows.h"

/* The four levels of the tree of CKernels.h (k + (k + 8), then k + (k + 4), k + (k + 2), 0 + 1) for 16 vectors at
 * once, so that lane i of the result is reduce_lanes of vector i. Level 1 adds the halves of two vectors (a's 8 sums,
 * then b's), level 2 the quarter pairs of two of those (4 vectors' 4 sums), and so on: every lane takes exactly the
 * tree's adds. */
MOP_INLINE v16f level1(v16f a, v16f b) {
    return __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)
         + __builtin_shufflevector(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
}
MOP_INLINE v16f level2(v16f a, v16f b) {
    return __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27)
         + __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
}
MOP_INLINE v16f level3(v16f a, v16f b) {
    return __builtin_shufflevector(a, b, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29)
         + __builtin_shufflevector(a, b, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
}
MOP_INLINE v16f level4(v16f a, v16f b) {
    return __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
         + __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}

/* sums16 of the vectors PRODUCE(i) for i < 16, reduced as soon as a pair is ready (few live registers). */
#define MOP_SUMS16(result, PRODUCE)                                                                                    \
    do {                                                                                                               \
        v16f w_[2];                                                                                                    \
        MOP_UNROLL for (int q_ = 0; q_ < 2; q_++) {                                                                    \
            v16f u_[2];                                                                                                \
            MOP_UNROLL for (int h_ = 0; h_ < 2; h_++) {                                                                \
                v16f t_[2];                                                                                            \
                MOP_UNROLL for (int k_ = 0; k_ < 2; k_++) {                                                            \
                    const int i0_ = 8 * q_ + 4 * h_ + 2 * k_;                                                          \
                    t_[k_] = level1(PRODUCE(i0_), PRODUCE(i0_ + 1));                                                   \
                }                                                                                                      \
                u_[h_] = level2(t_[0], t_[1]);                                                                         \
            }                                                                                                          \
            w_[q_] = level3(u_[0], u_[1]);                                                                             \
        }                                                                                                              \
        (result) = level4(w_[0], w_[1]);                                                                               \
    } while (0)

/* The little-endian u32 at p + stride * i in lane i, for i < count; 0 in the other lanes. */
MOP_INLINE v16u gather_u32(const uint8_t *p, const int stride, int count) {
#if MOP_ISA == 2
    if (count == 16) {
        const __m512i index = _mm512_mullo_epi32(_mm512_set1_epi32(stride),
                                                 _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
        return (v16u)_mm512_i32gather_epi32(index, p, 1);
    }
#elif MOP_ISA == 1
    if (count == 16) {
        const __m256i index = _mm256_mullo_epi32(_mm256_set1_epi32(stride), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256i lo = _mm256_i32gather_epi32((const int *)p, index, 1);
        __m256i hi = _mm256_i32gather_epi32((const int *)(p + 8 * stride), index, 1);
        v16u out;
        memcpy(&out, &lo, 32);
        memcpy((char *)&out + 32, &hi, 32);
        return out;
    }
#endif
    v16u out = splat_u(0);
    for (int i = 0; i < count; i++) out[i] = load_u32(p + (int64_t)stride * i);
    return out;
}

/* The IEEE halves in the low (hi = 0) or high 16 bits of each lane, exactly (as half_at). */
MOP_INLINE v16f halves(v16u w, int hi) {
    v16u h = hi ? w >> 16 : w & 0xFFFF;
#if MOP_ISA > 0
    typedef _Float16 v16fh __attribute__((vector_size(32)));
    return __builtin_convertvector((v16fh)__builtin_convertvector(h, v16h), v16f);
#else
    return half_to_float16(__builtin_convertvector(h, v16h));
#endif
}

MOP_INLINE int unit_elements(const int type) {
    return type == MOP_TYPE_Q2_K || type == MOP_TYPE_Q3_K || type == MOP_TYPE_Q6_K ? 16 : 32;
}

/* Whether the dot has a min term (added for Q4_1/Q5_1, subtracted for the K-quants). */
MOP_INLINE int has_min(const int type) {
    return type == MOP_TYPE_Q4_1 || type == MOP_TYPE_Q5_1 || type == MOP_TYPE_Q4_K || type == MOP_TYPE_Q5_K
        || type == MOP_TYPE_Q2_K;
}

MOP_INLINE v16i ints(v16b q) { return __builtin_convertvector(q, v16i); }

/* a * b + c per lane with one rounding. AVX2 and AVX-512 have the instruction; the baseline build calls the C
 * library's fmaf per lane (exact too, and slow: that build is the fallback for CPUs without AVX2). */
MOP_INLINE v16f fma16(v16f a, v16f b, v16f c) { return __builtin_elementwise_fma(a, b, c); }

/* The low 4 bits of each lane, minus `offset`, as floats (exact). AVX-512 looks them up in a 16-float table: one
 * vpermps, which reads only those 4 bits, so neither a mask nor a conversion is needed. */
MOP_INLINE v16f nibble_floats(v16i q, const int offset) {
#if MOP_ISA == 2
    const float o = (float)offset;
    const __m512 table = _mm512_setr_ps(0 - o, 1 - o, 2 - o, 3 - o, 4 - o, 5 - o, 6 - o, 7 - o, 8 - o, 9 - o, 10 - o,
                                        11 - o, 12 - o, 13 - o, 14 - o, 15 - o);
    return (v16f)_mm512_permutexvar_ps((__m512i)q, table);
#else
    return float_of_i32((q & 0x0F) - offset);
#endif
}

/* The integer quants of elements 16h .. 16h + 15 of unit u as exact floats (h = 0 for 16-element units), after the
 * type's integer offset (Q4_0 q - 8, Q5_0 q - 16, Q3_K q - 4 when the high bit is clear, Q6_K q - 32). In a
 * 32-element block, byte l of the packed nibbles holds element l (low nibble) and l + 16 (high); in a K super-block
 * a sub-block pair shares 32 bytes, the even one in the low nibbles. */
MOP_INLINE v16f unit_quants(const int type, const uint8_t *row, int64_t u, const int h) {
    switch (type) {
    case MOP_TYPE_Q8_0: return float_of_s8(load_sb(row + 34 * u + 2 + 16 * h));
    case MOP_TYPE_Q4_0: return nibble_floats(ints(load_b(row + 18 * u + 2)) >> (4 * h), 8);
    case MOP_TYPE_Q4_1: return nibble_floats(ints(load_b(row + 20 * u + 4)) >> (4 * h), 0);
    case MOP_TYPE_Q5_0: {
        const uint8_t *b = row + 22 * u;
        return float_of_i32((((ints(load_b(b + 6)) >> (4 * h)) & 0x0F) | q5_high(load_u32(b + 2), h)) - 16);
    }
    case MOP_TYPE_Q5_1: {
        const uint8_t *b = row + 24 * u;
        return float_of_i32(((ints(load_b(b + 8)) >> (4 * h)) & 0x0F) | q5_high(load_u32(b + 4), h));
    }
    case MOP_TYPE_Q5_K: {
        const int j = (int)(u % 8);
        const uint8_t *b = row + 176 * (u / 8);
        v16i q = (ints(load_b(b + 48 + 32 * (j / 2) + 16 * h)) >> (4 * (j % 2))) & 0x0F;
        return float_of_i32(q | (((ints(load_b(b + 16 + 16 * h)) >> j) & 1) << 4));
    }
    case MOP_TYPE_Q2_K: {
        const int i = (int)(u % 16), sh = 2 * ((i / 2) % 4);
        return float_of_u8((load_b(row + 84 * (u / 16) + 16 + 32 * (i / 8) + 16 * (i % 2)) >> sh) & 3);
    }
    case MOP_TYPE_Q3_K: {
        const int i = (int)(u % 16), sub = (i / 2) % 4, g = i % 2;
        const uint8_t *b = row + 110 * (u / 16);
        v16b low = (load_b(b + 32 + 32 * (i / 8) + 16 * g) >> (2 * sub)) & 3;
        v16b high = (load_b(b + 16 * g) >> (4 * (i / 8) + sub)) & 1;
        return float_of_i32(ints(low) + (ints(high) << 2) - 4);
    }
    default:
        return splat_f(0);
    }
}

/* Scale (and min) of units u0 .. u0 + count - 1 in lanes 0 .. count - 1, 0 in the others: d (block types), or the
 * float products d * sc and dmin * m of the K-quants, rounded as ggml's dequantizer rounds them. */
MOP_INLINE void group_scales(const int type, const uint8_t *row, int64_t u0, int count, v16f *scale, v16f *min) {
    switch (type) {
    case MOP_TYPE_Q8_0: *scale = halves(gather_u32(row + 34 * u0, 34, count), 0); return;
    case MOP_TYPE_Q4_0: *scale = halves(gather_u32(row + 18 * u0, 18, count), 0); return;
    case MOP_TYPE_Q5_0: *scale = halves(gather_u32(row + 22 * u0, 22, count), 0); return;
    case MOP_TYPE_Q4_1:
    case MOP_TYPE_Q5_1: {
        v16u w = type == MOP_TYPE_Q4_1 ? gather_u32(row + 20 * u0, 20, count) : gather_u32(row + 24 * u0, 24, count);
        *scale = halves(w, 0);
        *min = halves(w, 1);
        return;
    }
    case MOP_TYPE_Q5_K: {
        v16f sc = splat_f(0), mn = splat_f(0), d = splat_f(0), dmin = splat_f(0);
        for (int s = 0; s < 2 && 8 * s < count; s++) {
            const uint8_t *b = row + 176 * (u0 / 8 + s);
            const v16f both = float_of_u8(scales_mins_k4(b + 4));
            const float bd = half_at(b), bmin = half_at(b + 2);
            for (int j = 0; j < 8; j++) {
                sc[8 * s + j] = both[j];
                mn[8 * s + j] = both[8 + j];
                d[8 * s + j] = bd;
                dmin[8 * s + j] = bmin;
            }
        }
        *scale = d * sc;
        *min = dmin * mn;
        return;
    }
    case MOP_TYPE_Q2_K: {
        const uint8_t *b = row + 84 * (u0 / 16);
        v16b sc = load_b(b);
        *scale = float_of_u8(sc & 0x0F) * splat_f(half_at(b + 80));
        *min = float_of_u8(sc >> 4) * splat_f(half_at(b + 82));
        return;
    }
    case MOP_TYPE_Q3_K: {
        const uint8_t *b = row + 110 * (u0 / 16);
        v16i sc;
        for (int c = 0; c < 16; c++) sc[c] = q3_K_scale(b + 96, c);
        *scale = float_of_i32(sc) * splat_f(half_at(b + 108));
        return;
    }
    default:
        *scale = *min = splat_f(0);
    }
}

/* X_u of units u0 .. u0 + count - 1 (0 past them): reduce_lanes of x_l + x_{l+16} (32-element units) or of x_l. */
MOP_INLINE v16f x_unit(const int unit, const float *x, int64_t u0, int count, int i) {
    const float *xu = x + unit * (u0 + i);
    return i >= count ? splat_f(0) : unit == 32 ? load_f(xu) + load_f(xu + 16) : load_f(xu);
}

MOP_INLINE v16f group_x_sums(const int unit, const float *x, int64_t u0, int count, const int most) {
    v16f sums;
#define PRODUCE(i) ((i) < most ? x_unit(unit, x, u0, count, (i)) : splat_f(0))
    MOP_SUMS16(sums, PRODUCE);
#undef PRODUCE
    return sums;
}

/* The X_u of a whole row into X (units rounded up to 16, zero-padded). */
MOP_INLINE void x_sums(const int unit, const float *x, int64_t n, float *X) {
    const int64_t units = n / unit;
    for (int64_t u0 = 0; u0 < units; u0 += 16)
        store_f(X + u0, group_x_sums(unit, x, u0, units - u0 < 16 ? (int)(units - u0) : 16, 16));
}

/* The rows of one call share their input's preparation (workspace of matvec_workspace_floats floats):
 * generic types: X_u, and room for one row's unit scales; Q4_K and Q6_K: x permuted into their lanes' order
 * (permute_q4_K, permute_q6_K), and for Q4_K the X_j per super-block. */
typedef struct {
    const float *x, *X;
    float *scales;
} shared_input;

MOP_INLINE int64_t padded_units(const int type, int64_t n) { return (n / unit_elements(type) + 15) / 16 * 16; }

MOP_INLINE int64_t matvec_workspace_floats(const int type, int64_t n) {
    if (type == MOP_TYPE_Q4_K) return n + n / 16;
    if (type == MOP_TYPE_Q6_K) return n;
    return 2 * padded_units(type, n);
}

/* P_u: unit u's quants times x (x at the row's first element). */
MOP_INLINE v16f unit_products(const int type, const uint8_t *row, const float *x, int64_t u) {
    const int unit = unit_elements(type);
    const float *xu = x + unit * u;
    const v16f p = unit_quants(type, row, u, 0) * load_f(xu);
    return unit == 32 ? fma16(unit_quants(type, row, u, 1), load_f(xu + 16), p) : p;
}

/* Generic types, one row: the unit scales of the whole row first (into in->scales, so that the second pass reads
 * each as a memory broadcast) with the min terms, then the quants. */
MOP_INLINE float dot_generic(const int type, const uint8_t *row, const shared_input *in, int64_t n) {
    const int unit = unit_elements(type);
    const int64_t units = n / unit;
    v16f A0 = splat_f(0), A1 = splat_f(0), M = splat_f(0);
    for (int64_t u0 = 0; u0 < units; u0 += 16) {
        v16f scale, min;
        group_scales(type, row, u0, units - u0 < 16 ? (int)(units - u0) : 16, &scale, &min);
        /* Lanes past the last unit are 0 in both, so they add (+0) * (+0). */
        if (has_min(type)) M = fma16(min, load_f(in->X + u0), M);
        store_f(in->scales + u0, scale);
    }
    int64_t u = 0;
    for (; u + 1 < units; u += 2) {
        A0 = fma16(unit_products(type, row, in->x, u), splat_f(in->scales[u]), A0);
        A1 = fma16(unit_products(type, row, in->x, u + 1), splat_f(in->scales[u + 1]), A1);
    }
    if (u < units) A0 = fma16(unit_products(type, row, in->x, u), splat_f(in->scales[u]), A0);
    const v16f A = A0 + A1;
    return reduce_lanes(type == MOP_TYPE_Q4_1 || type == MOP_TYPE_Q5_1 ? A + M : has_min(type) ? A - M : A);
}

/* out[i] = v[index[i]]: an exact move, one vpermps on AVX-512. */
MOP_INLINE v16f permute_lanes(v16f v, v16i index) {
#if MOP_ISA == 2
    return (v16f)_mm512_permutexvar_ps((__m512i)index, (__m512)v);
#else
    v16f out;
    for (int i = 0; i < 16; i++) out[i] = v[index[i] & 15];
    return out;
#endif
}

/* Q4_K lanes: in super-block b, the 64 bytes of sub-blocks 4c .. 4c + 3 (c = 0, 1) are read as 16 words; lane l
 * of word shift 8k + 4h (k < 4, h < 2) holds nibble h of byte 4l + k, element 64 (2c + l / 8) + 32h + (4l + k) % 32
 * of the super-block, of sub-block 4c + 2 (l / 8) + h. permute_q4_K puts x in that order: per super-block [c][h][k][l]. */
MOP_INLINE void permute_q4_K(const float *x, int64_t n, float *xp) {
    for (int64_t b = 0; b < n / 256; b++)
        for (int c = 0; c < 2; c++)
            for (int h = 0; h < 2; h++)
                for (int k = 0; k < 4; k++)
                    for (int l = 0; l < 16; l++)
                        xp[256 * b + 128 * c + 64 * h + 16 * k + l] = x[256 * b + 64 * (2 * c + l / 8) + 32 * h + (4 * l + k) % 32];
}

/* The x sums of Q4_K, per super-block 16 lanes: +0 in lanes 0-7, X_j of sub-block j in lane 8 + j. */
MOP_INLINE void x_sums_q4_K(const float *x, int64_t n, float *X) {
    for (int64_t b = 0; b < n / 256; b++) {
        v16f sums = splat_f(0);
        for (int j = 0; j < 8; j++) sums[8 + j] = reduce_lanes(load_f(x + 256 * b + 32 * j) + load_f(x + 256 * b + 32 * j + 16));
        store_f(X + 16 * b, sums);
    }
}

/* d * sc_j in lanes 0-7 and dmin * m_j in lanes 8-15 of a Q4_K super-block (as group_scales rounds them). */
MOP_INLINE v16f q4_K_scales_mins(const uint8_t *b) {
    const float d = half_at(b), dmin = half_at(b + 2);
    const v16f dd = {d, d, d, d, d, d, d, d, dmin, dmin, dmin, dmin, dmin, dmin, dmin, dmin};
    return float_of_u8(scales_mins_k4(b + 4)) * dd;
}

MOP_INLINE float dot_q4_K(const uint8_t *row, const shared_input *in, int64_t n) {
    v16f A = splat_f(0), M = splat_f(0);
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *block = row + 144 * b;
        const float *xb = in->x + 256 * b;
        const v16f sm = q4_K_scales_mins(block);
        M = fma16(sm, load_f(in->X + 16 * b), M); /* lanes 0-7: d * sc_j * (+0) */
        MOP_UNROLL
        for (int c = 0; c < 2; c++) {
            v16u words;
            memcpy(&words, block + 16 + 64 * c, 64);
            MOP_UNROLL
            for (int h = 0; h < 2; h++) {
                v16f p = splat_f(0);
                MOP_UNROLL
                for (int k = 0; k < 4; k++) {
                    const v16f q = nibble_floats((v16i)(words >> (8 * k + 4 * h)), 0);
                    const v16f xv = load_f(xb + 128 * c + 64 * h + 16 * k);
                    p = k ? fma16(q, xv, p) : q * xv;
                }
                const int j = 4 * c + h;
                const v16f scale = permute_lanes(sm, (v16i){j, j, j, j, j, j, j, j, j + 2, j + 2, j + 2, j + 2, j + 2,
                                                            j + 2, j + 2, j + 2});
                A = fma16(p, scale, A);
            }
        }
    }
    return reduce_lanes(A - M);
}

/* Q6_K lanes: in super-block b, half g (< 2) reads its 64 bytes of low nibbles as 16 words and its 32 bytes of high
 * bits twice (lanes 0-7 and 8-15); lane l of shift 8k + 4h holds element 128g + 64h + 4l + k of the super-block, of
 * scale 8g + 4h + l / 4: low bits nibble h of ql byte 4l + k, high bits 2 bits at 4h + 2 (l / 8) of qh byte
 * 4 (l % 8) + k. permute_q6_K puts x in that order: per super-block [g][h][k][l]. */
MOP_INLINE void permute_q6_K(const float *x, int64_t n, float *xp) {
    for (int64_t b = 0; b < n / 256; b++)
        for (int g = 0; g < 2; g++)
            for (int h = 0; h < 2; h++)
                for (int k = 0; k < 4; k++)
                    for (int l = 0; l < 16; l++)
                        xp[256 * b + 128 * g + 64 * h + 16 * k + l] = x[256 * b + 128 * g + 64 * h + 4 * l + k];
}

/* 16 * (bits 0-1 of each lane) - 32 as floats (the high part of a Q6_K quant, offset included), exactly. */
MOP_INLINE v16f q6_K_high_floats(v16i q) {
#if MOP_ISA == 2
    const __m512 table = _mm512_setr_ps(-32, -16, 0, 16, -32, -16, 0, 16, -32, -16, 0, 16, -32, -16, 0, 16);
    return (v16f)_mm512_permutexvar_ps((__m512i)q, table);
#else
    return float_of_i32(((q & 3) << 4) - 32);
#endif
}

MOP_INLINE float dot_q6_K(const uint8_t *row, const shared_input *in, int64_t n) {
    const v16u upper = {0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2};
    v16f A = splat_f(0);
    for (int64_t b = 0; b < n / 256; b++) {
        const uint8_t *block = row + 210 * b;
        const float *xb = in->x + 256 * b;
        const v16f dl = float_of_s8(load_sb(block + 192)) * splat_f(half_at(block + 208));
        MOP_UNROLL
        for (int g = 0; g < 2; g++) {
            v16u low, high;
            memcpy(&low, block + 64 * g, 64);
            memcpy(&high, block + 128 + 32 * g, 32);
            memcpy((uint8_t *)&high + 32, block + 128 + 32 * g, 32);
            high = high >> upper;
            MOP_UNROLL
            for (int h = 0; h < 2; h++) {
                v16f p = splat_f(0);
                MOP_UNROLL
                for (int k = 0; k < 4; k++) {
                    const int shift = 8 * k + 4 * h;
                    /* Both parts are small integers, so their sum is the exact quant. */
                    const v16f q = nibble_floats((v16i)(low >> shift), 0) + q6_K_high_floats((v16i)(high >> shift));
                    const v16f xv = load_f(xb + 128 * g + 64 * h + 16 * k);
                    p = k ? fma16(q, xv, p) : q * xv;
                }
                const int s = 8 * g + 4 * h;
                const v16f scale = permute_lanes(dl, (v16i){s, s, s, s, s + 1, s + 1, s + 1, s + 1, s + 2, s + 2, s + 2,
                                                            s + 2, s + 3, s + 3, s + 3, s + 3});
                A = fma16(p, scale, A);
            }
        }
    }
    return reduce_lanes(A);
}

MOP_INLINE float dot_one(const int type, const uint8_t *row, const shared_input *in, int64_t n) {
    if (type == MOP_TYPE_Q4_K) return dot_q4_K(row, in, n);
    if (type == MOP_TYPE_Q6_K) return dot_q6_K(row, in, n);
    return dot_generic(type, row, in, n);
}

/* Every row of one call, after the shared preparation of x into `workspace`. */
MOP_INLINE void matvec_type(const int type, const void *base, int64_t row_bytes, const int32_t *rows, int64_t count,
                            const float *x, int64_t n, float *y, float *workspace) {
    shared_input in = {x, NULL, NULL};
    if (type == MOP_TYPE_Q4_K) {
        permute_q4_K(x, n, workspace);
        x_sums_q4_K(x, n, workspace + n);
        in = (shared_input){workspace, workspace + n, NULL};
    } else if (type == MOP_TYPE_Q6_K) {
        permute_q6_K(x, n, workspace);
        in.x = workspace;
    } else {
        const int64_t padded = padded_units(type, n);
        if (has_min(type)) x_sums(unit_elements(type), x, n, workspace + padded);
        in = (shared_input){x, workspace + padded, workspace};
    }
    for (int64_t r = 0; r < count; r++) y[r] = dot_one(type, (const uint8_t *)base + (rows ? rows[r] : r) * row_bytes, &in, n);
}

/* One instantiation per type, so that every type's loops are specialised. */
#define MOP_EACH_QUANT(F)                                                                                              \
    F(MOP_TYPE_Q8_0) F(MOP_TYPE_Q4_0) F(MOP_TYPE_Q4_1) F(MOP_TYPE_Q5_0) F(MOP_TYPE_Q5_1) F(MOP_TYPE_Q2_K)               \
    F(MOP_TYPE_Q3_K) F(MOP_TYPE_Q4_K) F(MOP_TYPE_Q5_K) F(MOP_TYPE_Q6_K)

/* The quantized matvec: the workspace on the stack when small, else on the heap; -1 without memory for it. */
MOP_INLINE int matvec_quant(int type, const void *base, int64_t row_bytes, const int32_t *rows, int64_t count,
                            const float *x, int64_t n, float *y) {
    const int64_t floats = matvec_workspace_floats(type, n);
    float stack[4096], *workspace = floats <= 4096 ? stack : malloc((size_t)floats * sizeof(float));
    if (!workspace) return -1;
    switch (type) {
#define CASE(T) case T: matvec_type(T, base, row_bytes, rows, count, x, n, y, workspace); break;
    MOP_EACH_QUANT(CASE)
#undef CASE
    default: break;
    }
    if (workspace != stack) free(workspace);
    return 0;
}

float MOP_NAME(mop_dot)(int type, const void *src, const float *x, int64_t n) {
    if (type == MOP_TYPE_F32 || type == MOP_TYPE_F16 || type == MOP_TYPE_BF16 || !mop_type_supported(type))
        return dot_body(type, src, x, n);
    float y = NAN;
    return matvec_quant(type, src, 0, NULL, 1, x, n, &y) == 0 ? y : NAN;
}

int MOP_NAME(mop_matvec)(int type, const void *base, int64_t row_bytes, const int32_t *rows, int64_t count,
                         const float *x, int64_t n, float *y) {
    if (!mop_type_supported(type)) return -1;
    if (type == MOP_TYPE_F32 || type == MOP_TYPE_F16 || type == MOP_TYPE_BF16)
        return matvec_body(type, base, row_bytes, rows, count, x, n, y, MOP_FLOAT_GROUP);
    return matvec_quant(type, base, row_bytes, rows, count, x, n, y);
}
