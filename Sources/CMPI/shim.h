#ifndef MOP_CMPI_SHIM_H
#define MOP_CMPI_SHIM_H
#include <mpi.h>

// OpenMPI's handles are macros over addresses of incomplete structs, which Swift cannot import.
// Each getter below exposes one as a read-only global spelled like the macro.
static inline MPI_Comm _Nonnull mop_MPI_COMM_WORLD(void) __attribute__((swift_name("getter:MPI_COMM_WORLD()"))) { return MPI_COMM_WORLD; }
static inline MPI_Datatype _Nonnull mop_MPI_FLOAT(void) __attribute__((swift_name("getter:MPI_FLOAT()"))) { return MPI_FLOAT; }
static inline MPI_Datatype _Nonnull mop_MPI_DOUBLE(void) __attribute__((swift_name("getter:MPI_DOUBLE()"))) { return MPI_DOUBLE; }
static inline MPI_Datatype _Nonnull mop_MPI_BYTE(void) __attribute__((swift_name("getter:MPI_BYTE()"))) { return MPI_BYTE; }
static inline MPI_Datatype _Nonnull mop_MPI_INT64(void) __attribute__((swift_name("getter:MPI_INT64_T()"))) { return MPI_INT64_T; }
static inline MPI_Op _Nonnull mop_MPI_SUM(void) __attribute__((swift_name("getter:MPI_SUM()"))) { return MPI_SUM; }
static inline MPI_Op _Nonnull mop_MPI_MAX(void) __attribute__((swift_name("getter:MPI_MAX()"))) { return MPI_MAX; }
static inline void * _Nonnull mop_MPI_IN_PLACE(void) __attribute__((swift_name("getter:MPI_IN_PLACE()"))) { return MPI_IN_PLACE; }
static inline MPI_Status * _Nullable mop_MPI_STATUS_IGNORE(void) __attribute__((swift_name("getter:MPI_STATUS_IGNORE()"))) { return MPI_STATUS_IGNORE; }
#endif
