/* The kernels of dot_body.h and vector_body.h for the baseline x86-64 ISA (SSE2). */
#define MOP_ISA 0
#include "isa_begin.h"
#include "dot_body.h"
#include "vector_body.h"
#include "isa_end.h"
