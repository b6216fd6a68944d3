#ifndef TEDI_CBLASCORE_H
#define TEDI_CBLASCORE_H

/// The OpenBLAS kernel set in use ("SkylakeX", "Haswell", ...), as OpenBLAS names it.
const char *tedi_blas_corename(void);

/// The core type tedi's start-up check chose for OPENBLAS_CORETYPE, or "" when it left
/// OpenBLAS's own detection alone (see blascore.c).
const char *tedi_blas_core_override(void);

#endif
