/*
 * Internal: the dequantizing kernels, written once. Each type has one row loop producing its elements 16 at a time
 * (element e..e+15, e a multiple of 16) and handing each chunk to a sink that either stores it (dequantize) or
 * multiplies it into the 16-lane accumulator (the dot of the F32/F16/BF16 rows; the block types' dots are in
 * dot_body.h). The .c files inline these bodies into one function per ISA (variants.h).
 *
 * Per element the float operations are exactly those of ggml's dequantize_row_* and of GGUFDequantize.swift, in the
 * same order; integer steps are exact, so only the float steps matter: a quant is converted to float, multiplied by
 * a scale that was itself rounded to float first (K-quants: d * sc), then a min is added (Q4_1, Q5_1) or a scaled
 * min subtracted (Q2_K, Q4_K, Q5_K). Types without a min add nothing: x + 0 would turn -0 into +0.
 */
#ifndef MOP_ROWS_H
#define MOP_ROWS_H

#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#include <math.h>
#include "CKernels.h"
#include "simd.h"

/* Rows one dot works on at once. Each row's lanes are one chain of dependent adds (4 cycles each on current x86), so
 * a single row is bound by add latency, not by the 16-wide arithmetic; independent rows interleaved fill the gap
 * without touching any row's order. */
enum { MOP_MAX_ROWS = 4 };

/* Where chunks go: stored into dst (dequantize, one row) or multiplied by x into the accumulator of their row (dot
 * of rows at src[0..]). Which of the two, and how many rows, is the `rows` argument of every row loop: 0 stores one
 * row, k > 0 dots k rows. It is a literal constant at each call site, so after inlining each instantiation keeps one
 * branch and a fixed, unrolled number of rows (a struct field would not be folded as reliably). */
typedef struct {
    const uint8_t *src[MOP_MAX_ROWS];
    float *dst;
    const float *x;
    v16f acc[MOP_MAX_ROWS];
} sink;

MOP_INLINE void emit(sink *s, const int rows, int r, int64_t e, v16f w) {
    if (rows) s->acc[r] += w * load_f(s->x + e);
    else store_f(s->dst + e, w);
}

/* Rows are unrolled so that their chains interleave and their accumulators stay in registers. Where a loop has one
 * row it is gone before the unroller runs, which clang reports as a failed unroll: not a problem. */
#define MOP_UNROLL _Pragma("clang loop unroll(full)")
#pragma clang diagnostic ignored "-Wpass-failed"

/* Every row loop walks the blocks in order and, inside a block, the sink's rows: `src` is block b of row r and e the
 * index of its first element. */

/* The float types have 1-element blocks, so a row may end with fewer than 16 elements: the last `count` go through
 * `emit_part`, the same per-lane operations on the lanes that exist. */
MOP_INLINE void emit_part(sink *s, const int rows, int r, int64_t e, v16f w, int count) {
    for (int j = 0; j < count; j++) {
        if (rows) s->acc[r][j] += w[j] * s->x[e + j];
        else s->dst[e + j] = w[j];
    }
}

/* The 16 elements of a float row from byte `offset` of row r, of which only `count` exist (zero-padded copy). */
MOP_INLINE const uint8_t *tail_bytes(sink *s, int r, int64_t offset, int count, int size, uint8_t buffer[64]) {
    memset(buffer, 0, 64);
    memcpy(buffer, s->src[r] + offset, (size_t)count * size);
    return buffer;
}

MOP_INLINE void row_f32(int64_t n, sink *s, const int rows) {
    int64_t e = 0;
    for (; e + 16 <= n; e += 16)
        MOP_UNROLL
        for (int r = 0; r < (rows ? rows : 1); r++) emit(s, rows, r, e, load_f(s->src[r] + 4 * e));
    uint8_t buffer[64];
    for (int r = 0; e < n && r < (rows ? rows : 1); r++)
        emit_part(s, rows, r, e, load_f(tail_bytes(s, r, 4 * e, (int)(n - e), 4, buffer)), (int)(n - e));
}

MOP_INLINE void row_f16(int64_t n, sink *s, const int rows) {
    int64_t e = 0;
    for (; e + 16 <= n; e += 16)
        MOP_UNROLL
        for (int r = 0; r < (rows ? rows : 1); r++) emit(s, rows, r, e, half_to_float16(load_h(s->src[r] + 2 * e)));
    uint8_t buffer[64];
    for (int r = 0; e < n && r < (rows ? rows : 1); r++)
        emit_part(s, rows, r, e, half_to_float16(load_h(tail_bytes(s, r, 2 * e, (int)(n - e), 2, buffer))), (int)(n - e));
}

/* BF16 is the top half of an f32. */
MOP_INLINE v16f bf16_to_float16(v16h h) { return (v16f)(__builtin_convertvector(h, v16u) << 16); }

MOP_INLINE void row_bf16(int64_t n, sink *s, const int rows) {
    int64_t e = 0;
    for (; e + 16 <= n; e += 16)
        MOP_UNROLL
        for (int r = 0; r < (rows ? rows : 1); r++) emit(s, rows, r, e, bf16_to_float16(load_h(s->src[r] + 2 * e)));
    uint8_t buffer[64];
    for (int r = 0; e < n && r < (rows ? rows : 1); r++)
        emit_part(s, rows, r, e, bf16_to_float16(load_h(tail_bytes(s, r, 2 * e, (int)(n - e), 2, buffer))), (int)(n - e));
}

/* Q8_0, 34 bytes: f16 d, int8 qs[32]; x = q * d. */
MOP_INLINE void row_q8_0(int64_t n, sink *s, const int rows) {
    for (int64_t b = 0, e = 0; e < n; b++, e += 32) {
        MOP_UNROLL
        for (int r = 0; r < (rows ? rows : 1); r++) {
            const uint8_t *src = s->src[r] + 34 * b;
            v16f d = splat_f(half_at(src));
            emit(s, rows, r, e, float_of_s8(load_sb(src + 2)) * d);
            emit(s, rows, r, e + 16, float_of_s8(load_sb(src + 18)) * d);
        }
    }
}

/* Q4_0, 18 bytes: f16 d, qs[16]; byte j holds element j (low nibble) and j + 16 (high); x = (q - 8) * d. */
MOP_INLINE void row_q4_0(int64_t n, sink *s, const int rows) {
    for (int64_t b = 0, e = 0; e < n; b++, e += 32) {
        MOP_UNROLL
        for (int r = 0; r < (rows ? rows : 1); r++) {
            const uint8_t *src = s->src[r] + 18 * b;
            v16f d = splat_f(half_at(src));
            v16b q = load_b(src + 2);
            emit(s, rows, r, e, float_of_i32(__builtin_convertvector(q & 0x0F, v16i) - 8) * d);
            emit(s, rows, r, e + 16, float_of_i32(__builtin_convertvector(q >> 4, v16i) - 8) * d);
        }
    }
}

/* Q4_1, 20 bytes: f16 d, f16 m, qs[16]; x = q * d + m. */
MOP_INLINE void row_q4_1(int64_t n, sink *s, const int rows) {
    for (int64_t b = 0, e = 0; e < n; b++, e += 32) {
        MOP_UNROLL
        for (int r = 0; r < (rows ? rows : 1); r++) {
            const uint8_t *src = s->src[r] + 20 * b;
            v16f d = splat_f(half_at(src)), m = splat_f(half_at(src + 2));
            v16b q = load_b(src + 4);
            emit(s, rows, r, e, float_of_u8(q & 0x0F) * d + m);
            emit(s, rows, r, e + 16, float_of_u8(q >> 4) * d + m);
        }
    }
}

/* Bit 4 of the 5-bit quants: bit j of the little-endian u32 qh for element j, as 0 or 16. Masks, not per-lane
 * shift counts, which SSE2 lacks. */
MOP_INLINE v16i q5_high(uint32_t qh, int upper) {
    const v16u bit = {1u << 0, 1u << 1, 1u << 2, 1u << 3, 1u << 4, 1u << 5, 1u << 6, 1u << 7,
                      1u << 8, 1u << 9, 1u << 10, 1u << 11, 1u << 12, 1u << 13, 1u << 14, 1u << 15};
    v16u shifted = upper ? splat_u(qh >> 16) : splat_u(qh);
    return (v16i)((shifted & bit) != 0) & 16;
}

/* Q5_0, 22 bytes: f16 d, u32 qh, qs[16]; x = (q - 16) * d. */
MOP_INLINE void row_q5_0(int64_t n, sink *s, const int rows) {
    for (int64_t b = 0, e = 0; e < n; b++, e += 32) {
        MOP_UNROLL
        for (int r = 0; r < (rows ? rows : 1); r++) {
            const uint8_t *src = s->src[r] + 22 * b;
            v16f d = splat_f(half_at(src));
            uint32_t qh = load_u32(src + 2);
            v16b q = load_b(src + 6);
            emit(s, rows, r, e, float_of_i32((__builtin_convertvector(q & 0x0F, v16i) | q5_high(qh, 0)) - 16) * d);
            emit(s, rows, r, e + 16, float_of_i32((__builtin_convertvector(q >> 4, v16i) | q5_high(qh, 1)) - 16) * d);
        }
    }
}

/* Q5_1, 24 bytes: f16 d, f16 m, u32 qh, qs[16]; x = q * d + m. */
MOP_INLINE void row_q5_1(int64_t n, sink *s, const int rows) {
    for (int64_t b = 0, e = 0; e < n; b++, e += 32) {
        MOP_UNROLL
        for (int r = 0; r < (rows ? rows : 1); r++) {
            const uint8_t *src = s->src[r] + 24 * b;
            v16f d = splat_f(half_at(src)), m = splat_f(half_at(src + 2));
            uint32_t qh = load_u32(src + 4);
            v16b q = load_b(src + 8);
            emit(s, rows, r, e, float_of_i32(__builtin_convertvector(q & 0x0F, v16i) | q5_high(qh, 0)) * d + m);
            emit(s, rows, r, e + 16, float_of_i32(__builtin_convertvector(q >> 4, v16i) | q5_high(qh, 1)) * d + m);
        }
    }
}

/* Q2_K, 84 bytes: scales[16] (low nibble scale, high nibble min, per 16 elements), qs[64], f16 d, f16 dmin.
 * Chunk c = 8h + 2s + g holds bits 2s, 2s+1 of qs[32h + 16g ..]; x = (d * sc) * q - dmin * mn. The 16 products
 * d * sc and dmin * mn are computed as two vectors, one lane per chunk (the same roundings as one at a time). */
MOP_INLINE void row_q2_K(int64_t n, sink *s, const int rows) {
    for (int64_t b = 0, e = 0; e < n; b++, e += 256) {
        MOP_UNROLL
        for (int r = 0; r < (rows ? rows : 1); r++) {
            const uint8_t *src = s->src[r] + 84 * b;
            v16b sc = load_b(src);
            v16f dl = float_of_u8(sc & 0x0F) * splat_f(half_at(src + 80));
            v16f ml = float_of_u8(sc >> 4) * splat_f(half_at(src + 82));
            for (int c = 0; c < 16; c++) {
                int h = c / 8, sh = 2 * ((c / 2) % 4), g = c % 2;
                v16b q = (load_b(src + 16 + 32 * h + 16 * g) >> sh) & 3;
                emit(s, rows, r, e + 16 * c, float_of_u8(q) * splat_f(dl[c]) - splat_f(ml[c]));
            }
        }
    }
}

/* Q3_K scale j (< 16) from its 12 packed bytes: low 4 bits in byte j (j < 8) or the high nibble of byte j - 8,
 * top 2 bits at bit 2(j / 4) of byte 8 + j % 4; stored + 32. */
MOP_INLINE int q3_K_scale(const uint8_t *scales, int j) {
    int low = j < 8 ? scales[j] & 0x0F : scales[j - 8] >> 4;
    int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | high << 4) - 32;
}

/* Q3_K, 110 bytes: hmask[32], qs[64], scales[12], f16 d. Chunk c = 8h + 2s + g: low bits 2s, 2s+1 of
 * qs[32h + 16g ..], high bit 4h + s of hmask[16g ..] (clear means -4); x = (d * scale_c) * q. */
MOP_INLINE void row_q3_K(int64_t n, sink *s, const int rows) {
    for (int64_t b = 0, e = 0; e < n; b++, e += 256) {
        MOP_UNROLL
        for (int r = 0; r < (rows ? rows : 1); r++) {
            const uint8_t *src = s->src[r] + 110 * b;
            float d = half_at(src + 108);
            for (int c = 0; c < 16; c++) {
                int h = c / 8, sub = (c / 2) % 4, g = c % 2;
                float dl = d * (float)q3_K_scale(src + 96, c);
                v16b low = (load_b(src + 32 + 32 * h + 16 * g) >> (2 * sub)) & 3;
                v16b high = (load_b(src + 16 * g) >> (4 * h + sub)) & 1;
                /* high ? low : low - 4, as one exact integer expression. */
                v16i q = __builtin_convertvector(low, v16i) + (__builtin_convertvector(high, v16i) << 2) - 4;
                emit(s, rows, r, e + 16 * c, float_of_i32(q) * splat_f(dl));
            }
        }
    }
}

/* ggml's get_scale_min_k4: 6-bit scale and min j (< 8) of a Q4_K/Q5_K block from its 12 packed bytes. */
MOP_INLINE void scale_min_k4(const uint8_t *q, int j, int *scale, int *min) {
    if (j < 4) {
        *scale = q[j] & 63;
        *min = q[j + 4] & 63;
    } else {
        *scale = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
        *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* The 8 scales (lanes 0-7) and mins (lanes 8-15) of scale_min_k4 for all j at once, from the same 12 packed bytes
 * read as three little-endian words (ggml's kmask form): j < 4 are the low 6 bits of bytes j and j + 4; j >= 4 take
 * their low 4 bits from byte j + 4 (scale: low nibble, min: high nibble) and their top 2 from bytes j - 4 and j. */
MOP_INLINE v16b scales_mins_k4(const uint8_t *q) {
    const uint32_t low6 = 0x3f3f3f3f, low4 = 0x0f0f0f0f, low2 = 0x03030303;
    const uint32_t w0 = load_u32(q), w1 = load_u32(q + 4), w2 = load_u32(q + 8);
    const uint32_t packed[4] = {w0 & low6, (w2 & low4) | (((w0 >> 6) & low2) << 4), w1 & low6,
                                ((w2 >> 4) & low4) | (((w1 >> 6) & low2) << 4)};
    return load_b((const uint8_t *)packed);
}

/* Q4_K (144 bytes: f16 d, f16 dmin, scales[12], qs[128]) and Q5_K (176 bytes: the same with qh[32] before qs).
 * Sub-block j (32 elements) is nibble j % 2 of qs[32(j / 2) ..], plus bit j of qh[..] as bit 4 for Q5_K;
 * x = (d * sc_j) * q - dmin * m_j. */
MOP_INLINE void row_scaled_nibbles(int64_t n, sink *s, const int rows, int five) {
    const int bytes = five ? 176 : 144, quants = five ? 48 : 16;
    for (int64_t b = 0, e = 0; e < n; b++, e += 256) {
        MOP_UNROLL
        for (int r = 0; r < (rows ? rows : 1); r++) {
            const uint8_t *src = s->src[r] + bytes * b;
            float d = half_at(src), dmin = half_at(src + 2);
            for (int j = 0; j < 8; j++) {
                int sc, mn;
                scale_min_k4(src + 4, j, &sc, &mn);
                v16f dl = splat_f(d * (float)sc), ml = splat_f(dmin * (float)mn);
                for (int g = 0; g < 2; g++) {
                    v16b q = load_b(src + quants + 32 * (j / 2) + 16 * g);
                    q = j % 2 ? q >> 4 : q & 0x0F;
                    if (five) q |= ((load_b(src + 16 + 16 * g) >> j) & 1) << 4;
                    emit(s, rows, r, e + 32 * j + 16 * g, float_of_u8(q) * dl - ml);
                }
            }
        }
    }
}

/* Q6_K, 210 bytes: ql[128], qh[64], int8 scales[16], f16 d. Chunk c = 8h + 2s + g: bits 0-3 are nibble s / 2 of
 * ql[64h + 32(s % 2) + 16g ..], bits 4-5 are bits 2s, 2s+1 of qh[32h + 16g ..]; x = (d * scale_c) * (q - 32).
 * The 16 products d * scale_c are one vector, lane c. */
MOP_INLINE void row_q6_K(int64_t n, sink *s, const int rows) {
    for (int64_t b = 0, e = 0; e < n; b++, e += 256) {
        MOP_UNROLL
        for (int r = 0; r < (rows ? rows : 1); r++) {
            const uint8_t *src = s->src[r] + 210 * b;
            v16f dl = float_of_s8(load_sb(src + 192)) * splat_f(half_at(src + 208));
            for (int c = 0; c < 16; c++) {
                int h = c / 8, sub = (c / 2) % 4, g = c % 2;
                v16b low = (load_b(src + 64 * h + 32 * (sub % 2) + 16 * g) >> (4 * (sub / 2))) & 0x0F;
                v16b high = (load_b(src + 128 + 32 * h + 16 * g) >> (2 * sub)) & 3;
                v16i q = __builtin_convertvector(low | (high << 4), v16i) - 32;
                emit(s, rows, r, e + 16 * c, float_of_i32(q) * splat_f(dl[c]));
            }
        }
    }
}

/* Runs the row loop of `type` over the sink's rows; -1 for a type the kernels do not know. */
MOP_INLINE int run_rows(int type, int64_t n, sink *s, const int rows) {
    switch (type) {
    case MOP_TYPE_F32: row_f32(n, s, rows); return 0;
    case MOP_TYPE_F16: row_f16(n, s, rows); return 0;
    case MOP_TYPE_BF16: row_bf16(n, s, rows); return 0;
    case MOP_TYPE_Q8_0: row_q8_0(n, s, rows); return 0;
    case MOP_TYPE_Q4_0: row_q4_0(n, s, rows); return 0;
    case MOP_TYPE_Q4_1: row_q4_1(n, s, rows); return 0;
    case MOP_TYPE_Q5_0: row_q5_0(n, s, rows); return 0;
    case MOP_TYPE_Q5_1: row_q5_1(n, s, rows); return 0;
    case MOP_TYPE_Q2_K: row_q2_K(n, s, rows); return 0;
    case MOP_TYPE_Q3_K: row_q3_K(n, s, rows); return 0;
    case MOP_TYPE_Q4_K: row_scaled_nibbles(n, s, rows, 0); return 0;
    case MOP_TYPE_Q5_K: row_scaled_nibbles(n, s, rows, 1); return 0;
    case MOP_TYPE_Q6_K: row_q6_K(n, s, rows); return 0;
    default: return -1;
    }
}

MOP_INLINE int dequantize_body(int type, const void *src, int64_t n, float *dst) {
    sink s = {.src = {src}, .dst = dst};
    return run_rows(type, n, &s, 0);
}

MOP_INLINE float dot_body(int type, const void *src, const float *x, int64_t n) {
    sink s = {.src = {src}, .x = x, .acc = {splat_f(0)}};
    if (run_rows(type, n, &s, 1) != 0) return NAN;
    return reduce_lanes(s.acc[0]);
}

/* `group` rows at a time (a constant per instantiation: as many as the registers hold), then one at a time. Each
 * row's result is exactly its dot_body: rows only share the loop, never a lane. */
MOP_INLINE int matvec_body(int type, const void *base, int64_t row_bytes, const int32_t *rows, int64_t count,
                           const float *x, int64_t n, float *y, int group) {
    if (!mop_type_supported(type)) return -1;
    int64_t r = 0;
    for (; group > 1 && r + group <= count; r += group) {
        sink s = {.x = x};
        MOP_UNROLL
        for (int k = 0; k < group; k++) {
            s.src[k] = (const uint8_t *)base + (rows ? rows[r + k] : r + k) * row_bytes;
            s.acc[k] = splat_f(0);
        }
        run_rows(type, n, &s, group);
        MOP_UNROLL
        for (int k = 0; k < group; k++) y[r + k] = reduce_lanes(s.acc[k]);
    }
    for (; r < count; r++) y[r] = dot_body(type, (const uint8_t *)base + (rows ? rows[r] : r) * row_bytes, x, n);
    return 0;
}

#endif
