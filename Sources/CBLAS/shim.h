#ifndef MOP_CBLAS_SHIM_H
#define MOP_CBLAS_SHIM_H
#include <cblas.h>
#endif
