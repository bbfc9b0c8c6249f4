/* Internal: closes what isa_begin.h opened. */
#if MOP_ISA > 0
#pragma clang attribute pop
#endif
