/*
 * Internal: the 16-lane vector helpers every kernel is written in.
 *
 * The kernels use clang/GCC vector extensions rather than intrinsics so that one body serves every ISA: a v16f is
 * four xmm registers in the baseline build, two ymm with AVX2 and one zmm with AVX-512. Vector operators are
 * element-wise IEEE operations, so each lane computes exactly what the scalar ggml code computes for that element,
 * and the 16-lane accumulator of mop_dot_row is the vector itself: its structure cannot depend on the ISA.
 * All helpers are always_inline, so they are compiled with the target features of the variant they are inlined
 * into (a baseline callee may be inlined into an AVX-512 caller, not the reverse).
 */
#ifndef MOP_SIMD_H
#define MOP_SIMD_H

/* No fused multiply-add anywhere: ggml's reference rounds every product (the .c files repeat this pragma). */
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#include <stdint.h>
#include <string.h>

#define MOP_INLINE static inline __attribute__((always_inline))

/* clang warns that passing a 16-float vector by value depends on the caller's ISA. Every helper taking or returning
 * one is always_inline, so no call (and no ABI) remains. */
#pragma clang diagnostic ignored "-Wpsabi"

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef uint32_t v16u __attribute__((vector_size(64)));
typedef uint16_t v16h __attribute__((vector_size(32)));
typedef uint8_t v16b __attribute__((vector_size(16)));
typedef int8_t v16sb __attribute__((vector_size(16)));

/* Unaligned loads and stores: memcpy compiles to one (or a few) vector moves. */
MOP_INLINE v16f load_f(const void *p) { v16f v; memcpy(&v, p, sizeof v); return v; }
MOP_INLINE void store_f(float *p, v16f v) { memcpy(p, &v, sizeof v); }
MOP_INLINE v16b load_b(const uint8_t *p) { v16b v; memcpy(&v, p, sizeof v); return v; }
MOP_INLINE v16sb load_sb(const uint8_t *p) { v16sb v; memcpy(&v, p, sizeof v); return v; }
MOP_INLINE v16h load_h(const uint8_t *p) { v16h v; memcpy(&v, p, sizeof v); return v; }
MOP_INLINE uint16_t load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, sizeof v); return v; }
MOP_INLINE uint32_t load_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, sizeof v); return v; }

MOP_INLINE v16f splat_f(float s) { return (v16f){s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s}; }
MOP_INLINE v16i splat_i(int32_t s) { return (v16i){s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s}; }
MOP_INLINE v16u splat_u(uint32_t s) { return (v16u){s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s}; }
MOP_INLINE v16b splat_b(uint8_t s) { return (v16b){s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s}; }

/* Small integers to float: exact. */
MOP_INLINE v16f float_of_u8(v16b q) { return __builtin_convertvector(__builtin_convertvector(q, v16i), v16f); }
MOP_INLINE v16f float_of_s8(v16sb q) { return __builtin_convertvector(__builtin_convertvector(q, v16i), v16f); }
MOP_INLINE v16f float_of_i32(v16i q) { return __builtin_convertvector(q, v16f); }

/* A block's f16 scale. Through _Float16 so that the AVX2/AVX-512 variants convert it with one F16C vcvtph2ps (a
 * portable bit manipulation costs a dozen instructions, as much as the vector work of a Q4_1 block); the baseline variant
 * gets a call to the runtime's __extendhfsf2, the routine Swift's Float(Float16) uses. All three are exact and quiet
 * NaNs alike, so the variants agree bit for bit (CKernelsTests compares them with Swift). */
MOP_INLINE float half_at(const uint8_t *p) {
    _Float16 h;
    memcpy(&h, p, sizeof h);
    return (float)h;
}

/* IEEE half to float on 16 lanes (F16 rows), exact, NaNs quieted with their payload kept, as F16C, ggml and Swift's
 * Float(Float16) do. Branch-free: each case is computed, then selected by masks. Normal numbers rebias the exponent
 * by 127 - 15; zeros and subnormals are em * 2^-24, exact in float. */
MOP_INLINE v16f half_to_float16(v16h h) {
    v16u w = __builtin_convertvector(h, v16u);
    v16u sign = (w & 0x8000) << 16, em = w & 0x7FFF;
    v16u normal = (em << 13) + 0x38000000u;
    v16u special = 0x7F800000u | ((em & 0x3FF) << 13) | ((v16u)(em > 0x7C00) & 0x00400000u);
    v16f small = float_of_i32((v16i)em) * splat_f(0x1p-24f);
    v16u is_special = (v16u)(em >= 0x7C00), is_normal = (v16u)(em >= 0x0400) & ~is_special;
    v16u is_small = ~(is_special | is_normal);
    v16u bits = (normal & is_normal) | (special & is_special) | ((v16u)small & is_small);
    return (v16f)(bits | sign);
}

/* The fixed reduction of the 16 lanes: halves, then quarters, then pairs (documented in CKernels.h). */
MOP_INLINE float reduce_lanes(v16f a) {
    float s8[8], s4[4];
    for (int k = 0; k < 8; k++) s8[k] = a[k] + a[k + 8];
    for (int k = 0; k < 4; k++) s4[k] = s8[k] + s8[k + 4];
    float s0 = s4[0] + s4[2], s1 = s4[1] + s4[3];
    return s0 + s1;
}

#endif
