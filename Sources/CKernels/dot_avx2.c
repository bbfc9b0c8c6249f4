/* The dot kernels of dot_body.h for AVX2 + FMA + F16C (FMA is never used: contraction is off). */
#define MOP_ISA 1
#include "dot_body.h"
