/* The dot kernels of dot_body.h for the baseline x86-64 ISA (SSE2). */
#define MOP_ISA 0
#include "dot_body.h"
