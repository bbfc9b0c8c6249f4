/* The kernels of dot_body.h and vector_body.h for AVX-512 (F, BW, VL, DQ). */
#define MOP_ISA 2
#include "isa_begin.h"
#include "dot_body.h"
#include "vector_body.h"
#include "isa_end.h"
