/*
 * The few Fortran BLAS/LAPACK routines the test models call (OpenBLAS, 32-bit integers).
 * The trailing size_t arguments are the hidden lengths of the character arguments that
 * gfortran-compiled LAPACK expects.
 */
#ifndef PS_TM_BLAS_H
#define PS_TM_BLAS_H

#include <stddef.h>

void dgemv_(const char *trans, const int *m, const int *n, const double *alpha, const double *a,
            const int *lda, const double *x, const int *incx, const double *beta, double *y,
            const int *incy, size_t trans_len);
void dtrsv_(const char *uplo, const char *trans, const char *diag, const int *n, const double *a,
            const int *lda, double *x, const int *incx, size_t uplo_len, size_t trans_len,
            size_t diag_len);
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);

#endif
