/*
 * Internal: the element-wise kernels on fp32 activations (RMSNorm, LayerNorm, RoPE, softmax, SwiGLU, GELU-tanh and
 * its gated and backward forms, exp),
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

/* Sums of runs of 512 elements in 16 float lanes, each run's reduce_lanes added to a double: of x[i] - center
 * (power 1) or of its square (power 2), for i < n. */
MOP_INLINE double run_sum(const float *x, int64_t n, float center, int power) {
    double total = 0;
    for (int64_t start = 0; start < n; start += 512) {
        const int64_t end = n - start < 512 ? n : start + 512;
        v16f lanes = splat_f(0);
        for (int64_t i = start; i < end; i += 16) {
            const int64_t k = end - i < 16 ? end - i : 16;
            const v16f v = first_lanes(load_n(x + i, k, 0) - splat_f(center), k);
            lanes += power == 2 ? v * v : v;
        }
        total += reduce_lanes(lanes);
    }
    return total;
}

/* y = (x - mean) / sqrt(var + eps) * weight + bias per row of d (bias may be NULL); the mean first, then the biased
 * variance of the centred row, both summed by run_sum. */
void MOP_NAME(mop_layernorm)(const float *x, const float *weight, const float *bias, float *y, int64_t rows, int64_t d,
                             float eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float *row = x + r * d;
        float *out = y + r * d;
        const float mean = (float)(run_sum(row, d, 0, 1) / (double)d);
        const v16f inverse = splat_f((float)(1 / sqrt(run_sum(row, d, mean, 2) / (double)d + (double)eps)));
        for (int64_t i = 0; i < d; i += 16) {
            const int64_t k = d - i < 16 ? d - i : 16;
            const v16f normed = (load_n(row + i, k, 0) - splat_f(mean)) * inverse * load_n(weight + i, k, 0);
            store_n(out + i, bias ? normed + load_n(bias + i, k, 0) : normed, k);
        }
    }
}

/* GELU-tanh's sigmoid form: 0.5 (1 + tanh(u)) = s = 1 / (1 + e), e = exp(-2u), u = sqrt(2/pi) (x + 0.044715 x^3), so
 * gelu(x) = x * s. exp16's clamping keeps s in [0, 1] for any x. Returns e; *s gets s. */
MOP_INLINE v16f gelu_exp16(v16f x, v16f *s) {
    const v16f u = splat_f(0.7978845608f) * (x + splat_f(0.044715f) * x * x * x);
    const v16f e = exp16(splat_f(-2) * u);
    *s = splat_f(1) / (splat_f(1) + e);
    return e;
}

/* d gelu / dx = s + 2 x s (1 - s) sqrt(2/pi) (1 + 3 * 0.044715 x^2), from ds/du = 2 s (1 - s); 1 - s is taken as
 * e * s, which keeps its digits where s is near 1 (1 - s would cancel). */
MOP_INLINE v16f gelu_slope16(v16f x, v16f s, v16f e) {
    return s + splat_f(2) * x * s * (e * s) * splat_f(0.7978845608f) * (splat_f(1) + splat_f(0.134145f) * x * x);
}

/* x[i] = gelu_tanh(x[i]) (a plain MLP: Phi's fc1 output). */
void MOP_NAME(mop_gelu_tanh)(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        const int64_t k = n - i < 16 ? n - i : 16;
        const v16f v = load_n(x + i, k, 0);
        v16f s;
        gelu_exp16(v, &s);
        store_n(x + i, v * s, k);
    }
}

/* dy[i] *= gelu_tanh'(x[i]): the backward of mop_gelu_tanh. */
void MOP_NAME(mop_gelu_tanh_backward)(const float *x, float *dy, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        const int64_t k = n - i < 16 ? n - i : 16;
        const v16f v = load_n(x + i, k, 0);
        v16f s;
        const v16f e = gelu_exp16(v, &s);
        store_n(dy + i, load_n(dy + i, k, 0) * gelu_slope16(v, s, e), k);
    }
}

/* gate[i] = gelu_tanh(gate[i]) * up[i] (GeGLU). */
void MOP_NAME(mop_geglu)(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        const int64_t k = n - i < 16 ? n - i : 16;
        const v16f g = load_n(gate + i, k, 0);
        v16f s;
        gelu_exp16(g, &s);
        store_n(gate + i, g * s * load_n(up + i, k, 0), k);
    }
}

/* The backward of a = gelu_tanh(g) * u: d_gate = da * u * gelu'(g), d_up = da * gelu(g). */
void MOP_NAME(mop_geglu_backward)(const float *da, const float *gate, const float *up, float *d_gate, float *d_up,
                                  int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        const int64_t k = n - i < 16 ? n - i : 16;
        const v16f g = load_n(gate + i, k, 0), d = load_n(da + i, k, 0);
        v16f s;
        const v16f e = gelu_exp16(g, &s);
        store_n(d_up + i, d * (g * s), k);
        store_n(d_gate + i, d * load_n(up + i, k, 0) * gelu_slope16(g, s, e), k);
    }
}
