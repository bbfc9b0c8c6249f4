/*
 * Internal: opens one ISA's instantiation of the kernel bodies (dot_body.h, vector_body.h). A variant_*.c file
 * defines MOP_ISA (0 baseline, 1 AVX2, 2 AVX-512), includes this file, the bodies, then isa_end.h. In between, every
 * function gets that ISA's target features and MOP_NAME(f) names it f_baseline, f_avx2 or f_avx512.
 */
#ifndef MOP_ISA
#error "define MOP_ISA (0 baseline, 1 AVX2, 2 AVX-512) before including isa_begin.h"
#endif

#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

/* System headers first: the pragma below must give our functions, not theirs, the ISA's features. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if MOP_ISA > 0
#include <immintrin.h>
#endif
#include "CKernels.h"
#include "variants.h"

#if MOP_ISA == 2
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"), \
                                            min_vector_width(512))), apply_to = function)
#define MOP_NAME(f) f##_avx512
#define MOP_FLOAT_GROUP 4
#elif MOP_ISA == 1
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#define MOP_NAME(f) f##_avx2
#define MOP_FLOAT_GROUP 2
#else
#define MOP_NAME(f) f##_baseline
#define MOP_FLOAT_GROUP 2
#endif
