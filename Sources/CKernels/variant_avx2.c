/* The kernels of dot_body.h and vector_body.h for AVX2 + FMA + F16C (FMA is never used: contraction is off). */
#define MOP_ISA 1
#include "isa_begin.h"
#include "dot_body.h"
#include "vector_body.h"
#include "isa_end.h"
