/*
 * Internal: mop_dot_row and mop_matvec, written once and compiled once per ISA: the variant_*.c files include this
 * file between isa_begin.h and isa_end.h, so every function below gets the target features of that ISA, which lets
 * the few ISA-specific helpers use intrinsics. Those helpers only move exact values (loads, gathers, conversions of
 * halves); every rounding step is the same vector-extension expression in all three builds, so the variants agree
 * bit for bit. The order of the sums is documented in CKernels.h.
 *
 * Block types: a row is cut into units of 32 elements (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0: one block; Q4_K, Q5_K: one
 * sub-block) or 16 (Q2_K, Q3_K, Q6_K: one scale's chunk). Per unit, the integer quants (exact in float) are
 * multiplied by x and reduced to S_u; sixteen consecutive units are reduced at once by a transpose (sums16), so lane
 * i of a group vector is unit 16g + i. The scales then apply once per unit, to 16 units as one vector.
 */
#ifndef MOP_ISA
#error "include isa_begin.h before dot_body.h"
#endif

/* Rows of a block type a matvec works on at once. One: a row's units are independent (its accumulator takes one add
 * per 16 units), so interleaving rows hides no latency; it only adds register pressure (4 rows spill on AVX-512). */
#define MOP_GROUP 1

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

/* Whether C_u has a min term (added for Q4_1/Q5_1, subtracted for the K-quants). */
MOP_INLINE int has_min(const int type) {
    return type == MOP_TYPE_Q4_1 || type == MOP_TYPE_Q5_1 || type == MOP_TYPE_Q4_K || type == MOP_TYPE_Q5_K
        || type == MOP_TYPE_Q2_K;
}

MOP_INLINE v16i ints(v16b q) { return __builtin_convertvector(q, v16i); }

/* P_u, unit u = u0 + i of the row (u0 a multiple of 16, so i is the unit's place in its K super-block or pair of
 * them): for 32-element units lane l is q_l * x_l + q_{l+16} * x_{l+16}, for 16-element ones q_l * x_l, where q is
 * the integer the type scales (after its offset: Q4_0 q - 8, Q5_0 q - 16, Q3_K q - 4 when the high bit is clear,
 * Q6_K q - 32). x points at the unit's first element. */
MOP_INLINE v16f unit_products(const int type, const uint8_t *row, int64_t u0, const int i, const float *x) {
    const int64_t u = u0 + i;
    v16f x0 = load_f(x), x1 = unit_elements(type) == 32 ? load_f(x + 16) : splat_f(0);
    switch (type) {
    case MOP_TYPE_Q8_0: {
        const uint8_t *b = row + 34 * u;
        return float_of_s8(load_sb(b + 2)) * x0 + float_of_s8(load_sb(b + 18)) * x1;
    }
    case MOP_TYPE_Q4_0: {
        v16i q = ints(load_b(row + 18 * u + 2)); /* widened first: dword shifts exist, byte shifts do not */
        return float_of_i32((q & 0x0F) - 8) * x0 + float_of_i32((q >> 4) - 8) * x1;
    }
    case MOP_TYPE_Q4_1: {
        v16i q = ints(load_b(row + 20 * u + 4));
        return float_of_i32(q & 0x0F) * x0 + float_of_i32(q >> 4) * x1;
    }
    case MOP_TYPE_Q5_0: {
        const uint8_t *b = row + 22 * u;
        uint32_t qh = load_u32(b + 2);
        v16i q = ints(load_b(b + 6));
        return float_of_i32(((q & 0x0F) | q5_high(qh, 0)) - 16) * x0 + float_of_i32(((q >> 4) | q5_high(qh, 1)) - 16) * x1;
    }
    case MOP_TYPE_Q5_1: {
        const uint8_t *b = row + 24 * u;
        uint32_t qh = load_u32(b + 4);
        v16i q = ints(load_b(b + 8));
        return float_of_i32((q & 0x0F) | q5_high(qh, 0)) * x0 + float_of_i32((q >> 4) | q5_high(qh, 1)) * x1;
    }
    case MOP_TYPE_Q4_K:
    case MOP_TYPE_Q5_K: {
        const int five = type == MOP_TYPE_Q5_K, bytes = five ? 176 : 144, quants = five ? 48 : 16, j = i % 8;
        const uint8_t *b = row + bytes * (u0 / 8 + i / 8);
        v16f sum = splat_f(0);
        for (int g = 0; g < 2; g++) {
            v16i q = ints(load_b(b + quants + 32 * (j / 2) + 16 * g));
            q = j % 2 ? q >> 4 : q & 0x0F;
            if (five) q |= ((ints(load_b(b + 16 + 16 * g)) >> j) & 1) << 4;
            v16f p = float_of_i32(q) * (g ? x1 : x0);
            sum = g ? sum + p : p;
        }
        return sum;
    }
    case MOP_TYPE_Q2_K: {
        const int h = i / 8, sh = 2 * ((i / 2) % 4), g = i % 2;
        v16b q = (load_b(row + 84 * (u0 / 16) + 16 + 32 * h + 16 * g) >> sh) & 3;
        return float_of_u8(q) * x0;
    }
    case MOP_TYPE_Q3_K: {
        const int h = i / 8, sub = (i / 2) % 4, g = i % 2;
        const uint8_t *b = row + 110 * (u0 / 16);
        v16b low = (load_b(b + 32 + 32 * h + 16 * g) >> (2 * sub)) & 3;
        v16b high = (load_b(b + 16 * g) >> (4 * h + sub)) & 1;
        return float_of_i32(ints(low) + (ints(high) << 2) - 4) * x0;
    }
    case MOP_TYPE_Q6_K: {
        const int h = i / 8, sub = (i / 2) % 4, g = i % 2;
        const uint8_t *b = row + 210 * (u0 / 16);
        v16b low = (load_b(b + 64 * h + 32 * (sub % 2) + 16 * g) >> (4 * (sub / 2))) & 0x0F;
        v16b high = (load_b(b + 128 + 32 * h + 16 * g) >> (2 * sub)) & 3;
        return float_of_s8((v16sb)(low | (high << 4)) - 32) * x0; /* -32..31: exact in 8 bits, widened once */
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
    case MOP_TYPE_Q4_K:
    case MOP_TYPE_Q5_K: {
        const int bytes = type == MOP_TYPE_Q5_K ? 176 : 144;
        v16f sc = splat_f(0), mn = splat_f(0), d = splat_f(0), dmin = splat_f(0);
        for (int s = 0; s < 2 && 8 * s < count; s++) {
            const uint8_t *b = row + bytes * (u0 / 8 + s);
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
    case MOP_TYPE_Q6_K: {
        const uint8_t *b = row + 210 * (u0 / 16);
        *scale = float_of_s8(load_sb(b + 192)) * splat_f(half_at(b + 208));
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

/* C_u for units u0 .. u0 + count - 1 of `rows` rows (lane i: unit u0 + i), added into acc[r]. X: the precomputed
 * X_u of the row (or NULL: computed here). */
MOP_INLINE void group_terms(const int type, const uint8_t *const *src, const int rows, const float *x, const float *X,
                            int64_t u0, int count, const int most, v16f *acc) {
    const int unit = unit_elements(type);
    v16f xs = splat_f(0);
    if (has_min(type)) xs = X ? load_f(X + u0) : group_x_sums(unit, x, u0, count, most);
    MOP_UNROLL
    for (int r = 0; r < rows; r++) {
        v16f s, scale, min;
#define PRODUCE(i) ((i) < most && (i) < count ? unit_products(type, src[r], u0, (i), x + unit * (u0 + (i))) : splat_f(0))
        MOP_SUMS16(s, PRODUCE);
#undef PRODUCE
        group_scales(type, src[r], u0, count, &scale, &min);
        v16f c = scale * s;
        if (type == MOP_TYPE_Q4_1 || type == MOP_TYPE_Q5_1) c = c + min * xs;
        else if (has_min(type)) c = c - min * xs;
        acc[r] += c;
    }
}

/* Dots of `rows` rows with x; y[r] gets row src[r]'s. */
MOP_INLINE void dot_rows(const int type, const uint8_t *const *src, const int rows, const float *x, const float *X,
                         int64_t n, float *y) {
    const int64_t units = n / unit_elements(type);
    v16f acc[MOP_MAX_ROWS];
    MOP_UNROLL
    for (int r = 0; r < rows; r++) acc[r] = splat_f(0);
    int64_t u0 = 0;
    for (; u0 + 16 <= units; u0 += 16) group_terms(type, src, rows, x, X, u0, 16, 16, acc);
    /* A partial group: `most`, a constant bound on its units, lets the empty part of the tree fold away. */
    const int rest = (int)(units - u0);
    if (rest > 8) group_terms(type, src, rows, x, X, u0, rest, 16, acc);
    else if (rest > 4) group_terms(type, src, rows, x, X, u0, rest, 8, acc);
    else if (rest > 2) group_terms(type, src, rows, x, X, u0, rest, 4, acc);
    else if (rest > 0) group_terms(type, src, rows, x, X, u0, rest, 2, acc);
    MOP_UNROLL
    for (int r = 0; r < rows; r++) y[r] = reduce_lanes(acc[r]);
}

/* Every row of one call: `group` rows at a time, then one. */
MOP_INLINE void matvec_type(const int type, const void *base, int64_t row_bytes, const int32_t *rows, int64_t count,
                            const float *x, int64_t n, float *y, const float *X) {
    int64_t r = 0;
    for (; r + MOP_GROUP <= count; r += MOP_GROUP) {
        const uint8_t *src[MOP_MAX_ROWS];
        MOP_UNROLL
        for (int k = 0; k < MOP_GROUP; k++) src[k] = (const uint8_t *)base + (rows ? rows[r + k] : r + k) * row_bytes;
        dot_rows(type, src, MOP_GROUP, x, X, n, y + r);
    }
    for (; r < count; r++) {
        const uint8_t *src[1] = {(const uint8_t *)base + (rows ? rows[r] : r) * row_bytes};
        dot_rows(type, src, 1, x, X, n, y + r);
    }
}

/* One instantiation per type, so that every type's loops are specialised. */
#define MOP_EACH_QUANT(F)                                                                                              \
    F(MOP_TYPE_Q8_0) F(MOP_TYPE_Q4_0) F(MOP_TYPE_Q4_1) F(MOP_TYPE_Q5_0) F(MOP_TYPE_Q5_1) F(MOP_TYPE_Q2_K)               \
    F(MOP_TYPE_Q3_K) F(MOP_TYPE_Q4_K) F(MOP_TYPE_Q5_K) F(MOP_TYPE_Q6_K)

float MOP_NAME(mop_dot)(int type, const void *src, const float *x, int64_t n) {
    const uint8_t *rows[1] = {src};
    float y = NAN;
    switch (type) {
#define CASE(T) case T: dot_rows(T, rows, 1, x, NULL, n, &y); return y;
    MOP_EACH_QUANT(CASE)
#undef CASE
    default: return dot_body(type, src, x, n);
    }
}

int MOP_NAME(mop_matvec)(int type, const void *base, int64_t row_bytes, const int32_t *rows, int64_t count,
                         const float *x, int64_t n, float *y) {
    if (!mop_type_supported(type)) return -1;
    if (type == MOP_TYPE_F32 || type == MOP_TYPE_F16 || type == MOP_TYPE_BF16)
        return matvec_body(type, base, row_bytes, rows, count, x, n, y, MOP_FLOAT_GROUP);
    /* The X_u, shared by all rows: on the stack when small, else on the heap, else (no memory) per row. */
    const int unit = type == MOP_TYPE_Q2_K ? 16 : 32;
    const int64_t padded = (n / unit + 15) / 16 * 16;
    float stack[1024], *X = NULL;
    if (has_min(type) && count > 1) {
        X = padded <= 1024 ? stack : malloc((size_t)padded * sizeof(float));
        if (X) x_sums(unit, x, n, X);
    }
    switch (type) {
#define CASE(T) case T: matvec_type(T, base, row_bytes, rows, count, x, n, y, X); break;
    MOP_EACH_QUANT(CASE)
#undef CASE
    default: break;
    }
    if (X && X != stack) free(X);
    return 0;
}
