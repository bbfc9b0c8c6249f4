/*
 * Internal: the element-wise kernels of the forward pass on fp32 activations (RMSNorm, RoPE, softmax, SwiGLU, exp),
 * written once and compiled per ISA like dot_body.h (the variant_*.c files). Each element is computed by the same
 * vector-extension expression in every build and every sum follows the fixed 16-lane order of CKernels.h, so the
 * variants agree bit for bit. Partial vectors at a row's end are padded with a neutral value and their extra lanes
 * dropped, so a value never depends on where it sits in its row.
 */
#ifndef MOP_ISA
#error "include isa_begin.h before vector_body.h"
#endif

/* Lanes [0, count) of p (count <= 16), the others `fill`. */
MOP_INLINE v16f load_n(const float *p, int64_t count, float fill) {
    if (count == 16) return load_f(p);
    v16f v = splat_f(fill);
    for (int64_t i = 0; i < count; i++) v[i] = p[i];
    return v;
}

MOP_INLINE void store_n(float *p, v16f v, int64_t count) {
    if (count == 16) {
        store_f(p, v);
        return;
    }
    for (int64_t i = 0; i < count; i++) p[i] = v[i];
}

/* a where mask, else b (mask lanes all ones or zero, as vector comparisons give). */
MOP_INLINE v16f select_f(v16i mask, v16f a, v16f b) { return (v16f)(((v16i)a & mask) | ((v16i)b & ~mask)); }

/* v with lanes count..15 set to +0. */
MOP_INLINE v16f first_lanes(v16f v, int64_t count) {
    const v16i lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    return select_f(lane < splat_i((int32_t)count), v, splat_f(0));
}

/* exp on 16 lanes: Cephes expf (range reduction by ln 2, a degree-5 polynomial; about 1 ulp on [-87, 88]). Adding
 * 1.5 * 2^23 rounds x / ln 2 to an integer held in the low mantissa bits, which then build 2^n directly, with no
 * float-to-int conversion. */
MOP_INLINE v16f exp16(v16f x) {
    const v16f magic = splat_f(12582912.0f), low = splat_f(-87.3f), high = splat_f(88.3f);
    v16f clamped = select_f(x < low, low, x);
    clamped = select_f(clamped > high, high, clamped);
    const v16f shifted = clamped * splat_f(1.44269504f) + magic;
    const v16f n = shifted - magic;
    /* Two-step ln 2, so that r = x - n ln 2 keeps full precision. */
    v16f r = clamped - n * splat_f(0.693359375f);
    r = r - n * splat_f(-2.1219444e-4f);
    v16f p = splat_f(1.98756915e-4f);
    p = p * r + splat_f(1.39819995e-3f);
    p = p * r + splat_f(8.333452e-3f);
    p = p * r + splat_f(4.1665796e-2f);
    p = p * r + splat_f(1.66666655e-1f);
    p = p * r + splat_f(5e-1f);
    p = p * (r * r) + r + splat_f(1);
    const v16u exponent = ((v16u)shifted - (v16u)magic + splat_u(127)) << 23;
    return p * (v16f)exponent;
}

void MOP_NAME(mop_vector_exp)(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        const int64_t k = n - i < 16 ? n - i : 16;
        store_n(y + i, exp16(load_n(x + i, k, 0)), k);
    }
}

/* y = x / sqrt(mean(x^2) + eps) * weight per row of d; the squares summed element i into lane i % 16. */
void MOP_NAME(mop_rmsnorm)(const float *x, const float *weight, float *y, int64_t rows, int64_t d, float eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float *row = x + r * d;
        float *out = y + r * d;
        v16f squares = splat_f(0);
        for (int64_t i = 0; i < d; i += 16) {
            const v16f v = load_n(row + i, d - i < 16 ? d - i : 16, 0);
            squares += v * v;
        }
        const v16f inverse = splat_f(1.0f / sqrtf(reduce_lanes(squares) / (float)d + eps));
        for (int64_t i = 0; i < d; i += 16) {
            const int64_t k = d - i < 16 ? d - i : 16;
            store_n(out + i, load_n(row + i, k, 0) * inverse * load_n(weight + i, k, 0), k);
        }
    }
}

/* Rotates each head of x [tokens, heads * head_dim] in place: element i pairs with i + head_dim/2, by the angle
 * whose cos and sin are row t, column i of cos_rows and sin_rows [tokens, head_dim/2], the sine times sin_sign
 * (-1 rotates back, for the backward pass). */
void MOP_NAME(mop_rope)(float *x, int64_t tokens, int64_t heads, int64_t head_dim, const float *cos_rows,
                        const float *sin_rows, float sin_sign) {
    const int64_t half = head_dim / 2;
    for (int64_t t = 0; t < tokens; t++) {
        for (int64_t i = 0; i < half; i += 16) {
            const int64_t k = half - i < 16 ? half - i : 16;
            const v16f c = load_n(cos_rows + t * half + i, k, 0);
            const v16f s = splat_f(sin_sign) * load_n(sin_rows + t * half + i, k, 0);
            for (int64_t h = 0; h < heads; h++) {
                float *first = x + (t * heads + h) * head_dim + i, *second = first + half;
                const v16f x1 = load_n(first, k, 0), x2 = load_n(second, k, 0);
                store_n(first, x1 * c - x2 * s, k);
                store_n(second, x2 * c + x1 * s, k);
            }
        }
    }
}

float MOP_NAME(mop_maximum)(const float *x, int64_t n) {
    v16f best = splat_f(-INFINITY);
    for (int64_t i = 0; i < n; i += 16) {
        const v16f v = load_n(x + i, n - i < 16 ? n - i : 16, -INFINITY);
        best = select_f(v > best, v, best);
    }
    float result = -INFINITY;
    for (int k = 0; k < 16; k++) result = best[k] > result ? best[k] : result;
    return result;
}

/* x[i] = exp(x[i] - shift) for i < n; returns their sum: runs of 512 summed in 16 float lanes, each run's
 * reduce_lanes added to a double. */
double MOP_NAME(mop_exp_shifted_sum)(float *x, int64_t n, float shift) {
    double total = 0;
    for (int64_t start = 0; start < n; start += 512) {
        const int64_t end = n - start < 512 ? n : start + 512;
        v16f lanes = splat_f(0);
        for (int64_t i = start; i < end; i += 16) {
            const int64_t k = end - i < 16 ? end - i : 16;
            const v16f v = first_lanes(exp16(load_n(x + i, k, 0) - splat_f(shift)), k);
            store_n(x + i, v, k);
            lanes += v;
        }
        total += reduce_lanes(lanes);
    }
    return total;
}

/* Softmax of x[0, visible) in place, and x[visible, width) set to 0 (the masked tail of a causal row). */
void MOP_NAME(mop_softmax)(float *x, int64_t visible, int64_t width) {
    const double sum = MOP_NAME(mop_exp_shifted_sum)(x, visible, MOP_NAME(mop_maximum)(x, visible));
    const v16f inverse = splat_f((float)(1 / sum));
    for (int64_t i = 0; i < visible; i += 16) {
        const int64_t k = visible - i < 16 ? visible - i : 16;
        store_n(x + i, load_n(x + i, k, 0) * inverse, k);
    }
    if (width > visible) memset(x + visible, 0, (size_t)(width - visible) * sizeof(float));
}

/* gate[i] = SiLU(gate[i]) * up[i] = gate[i] / (1 + exp(-gate[i])) * up[i]. */
void MOP_NAME(mop_swiglu)(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        const int64_t k = n - i < 16 ? n - i : 16;
        const v16f g = load_n(gate + i, k, 0);
        store_n(gate + i, g / (splat_f(1) + exp16(-g)) * load_n(up + i, k, 0), k);
    }
}
