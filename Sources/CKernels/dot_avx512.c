/* The dot kernels of dot_body.h for AVX-512 (F, BW, VL, DQ). */
#define MOP_ISA 2
#include "dot_body.h"
