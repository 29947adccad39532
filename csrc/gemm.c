/* gemm.c: the matrix product under every dense layer.
 *
 * C[m,n] (+)= op(A)[m,k] op(B)[k,n], row-major, in the style of BLIS: B is
 * packed into KC x NR panels (transposing on the fly when asked; a small
 * untransposed B is read in place instead, as packing would cost as much as
 * the product), A is read in place a few rows at a time, and a 6 x NR
 * register-blocked micro-kernel does the flops.  The micro-kernel is written with GCC vector extensions and
 * compiled twice through target_clones (AVX with FMA, and the baseline ISA); the
 * loader picks one at run time, so wheels stay portable.
 *
 * Limits: single-threaded by design (reductions over k are never split, so
 * results do not depend on thread count); packing buffers live on the stack
 * (about 100 KB), so the core needs no allocation here.  Row-block sums run in
 * a fixed order, so the same inputs give bit-identical outputs on one CPU. */
#include "cgan.h"

#include <string.h>

#define VBYTES 32
#define VL (VBYTES / sizeof(cg_real))
#define MR 6
#define NR (2 * VL)
#define KC 256
#define NC (6 * NR)
/* an untransposed B up to this size is read in place rather than packed */
#define DIRECT_BYTES (256 * 1024)

typedef cg_real vreal __attribute__((vector_size(VBYTES)));
typedef cg_real vreal_u __attribute__((vector_size(VBYTES), aligned(sizeof(cg_real))));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(CG_NO_CLONES)
#define CG_CLONES __attribute__((target_clones("fma", "default")))
#else
#define CG_CLONES
#endif

/* Pack B[pc:pc+kc, jc:jc+nc] into ceil(nc/NR) panels of kc x NR, zero-padded. */
static void pack_b(cg_real *restrict bp, const cg_real *B, size_t n, size_t k, int trans_b,
                   size_t pc, size_t kc, size_t jc, size_t nc)
{
    for (size_t j0 = 0; j0 < nc; j0 += NR) {
        size_t nr = nc - j0 < NR ? nc - j0 : NR;
        if (!trans_b) {
            for (size_t p = 0; p < kc; p++) {
                cg_real *dst = bp + p * NR;
                const cg_real *src = B + (pc + p) * n + jc + j0;
                for (size_t j = 0; j < nr; j++) dst[j] = src[j];
                for (size_t j = nr; j < NR; j++) dst[j] = 0;
            }
        } else {
            /* B is stored [n, k]: walk each of its rows contiguously */
            if (nr < NR)
                for (size_t p = 0; p < kc; p++)
                    for (size_t j = nr; j < NR; j++) bp[p * NR + j] = 0;
            for (size_t j = 0; j < nr; j++) {
                const cg_real *src = B + (jc + j0 + j) * k + pc;
                for (size_t p = 0; p < kc; p++) bp[p * NR + j] = src[p];
            }
        }
        bp += kc * NR;
    }
}

/* One MR x NR tile: c[mr, nr] (+)= a[MR rows, kc] * bp[kc, NR], where row p
 * of the B panel starts at bp + p*bs (bs = NR when packed).
 * a(i, p) = a[i*rs + p*cs] for all MR rows (the caller pads short tiles). */
static inline __attribute__((always_inline)) void
micro_kernel(size_t kc, const cg_real *restrict a, size_t rs, size_t cs,
             const cg_real *restrict bp, size_t bs, cg_real *restrict c, size_t ldc,
             size_t mr, size_t nr, int accumulate)
{
    vreal c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0};
    vreal c30 = {0}, c31 = {0}, c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};
    const cg_real *a0 = a, *a1 = a + rs, *a2 = a + 2 * rs;
    const cg_real *a3 = a + 3 * rs, *a4 = a + 4 * rs, *a5 = a + 5 * rs;
    for (size_t p = 0; p < kc; p++) {
        vreal b0 = *(const vreal_u *)(bp);
        vreal b1 = *(const vreal_u *)(bp + VL);
        bp += bs;
        size_t o = p * cs;
        cg_real x;
        x = a0[o]; c00 += x * b0; c01 += x * b1;
        x = a1[o]; c10 += x * b0; c11 += x * b1;
        x = a2[o]; c20 += x * b0; c21 += x * b1;
        x = a3[o]; c30 += x * b0; c31 += x * b1;
        x = a4[o]; c40 += x * b0; c41 += x * b1;
        x = a5[o]; c50 += x * b0; c51 += x * b1;
    }
    vreal acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    if (mr == MR && nr == NR) {
        for (size_t i = 0; i < MR; i++) {
            vreal_u *row = (vreal_u *)(c + i * ldc);
            if (accumulate) {
                row[0] = row[0] + acc[i][0];
                row[1] = row[1] + acc[i][1];
            } else {
                row[0] = acc[i][0];
                row[1] = acc[i][1];
            }
        }
    } else {
        /* Ragged edge: whole vectors where they fit, lanes for the rest. */
        size_t jv = nr >= VL ? VL : 0;
        for (size_t i = 0; i < mr; i++) {
            cg_real *row = c + i * ldc;
            if (jv) {
                vreal_u *r0 = (vreal_u *)row;
                r0[0] = accumulate ? r0[0] + acc[i][0] : acc[i][0];
            }
            vreal tail = jv ? acc[i][1] : acc[i][0];
            if (accumulate)
                for (size_t j = jv; j < nr; j++) row[j] += tail[j - jv];
            else
                for (size_t j = jv; j < nr; j++) row[j] = tail[j - jv];
        }
    }
}

/* A narrow tile, nr <= VL: one vector of columns, so that output layers with
 * a handful of units do not pay for a full NR-wide panel. */
static inline __attribute__((always_inline)) void
micro_kernel_narrow(size_t kc, const cg_real *restrict a, size_t rs, size_t cs,
                    const cg_real *restrict bp, size_t bs, cg_real *restrict c, size_t ldc,
                    size_t mr, size_t nr, int accumulate)
{
    vreal acc[MR] = {{0}};
    const cg_real *a0 = a, *a1 = a + rs, *a2 = a + 2 * rs;
    const cg_real *a3 = a + 3 * rs, *a4 = a + 4 * rs, *a5 = a + 5 * rs;
    vreal c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0}, c4 = {0}, c5 = {0};
    for (size_t p = 0; p < kc; p++) {
        vreal b0 = *(const vreal_u *)(bp);
        bp += bs;
        size_t o = p * cs;
        c0 += a0[o] * b0;
        c1 += a1[o] * b0;
        c2 += a2[o] * b0;
        c3 += a3[o] * b0;
        c4 += a4[o] * b0;
        c5 += a5[o] * b0;
    }
    acc[0] = c0, acc[1] = c1, acc[2] = c2, acc[3] = c3, acc[4] = c4, acc[5] = c5;
    for (size_t i = 0; i < mr; i++) {
        cg_real *row = c + i * ldc;
        if (accumulate)
            for (size_t j = 0; j < nr; j++) row[j] += acc[i][j];
        else
            for (size_t j = 0; j < nr; j++) row[j] = acc[i][j];
    }
}

/* All tiles of C[m, nc] against one block of B.  Full-width panels of an
 * untransposed B are read in place (bdirect + j, row stride ldb); the others
 * come from the packed buffer. */
CG_CLONES
static void macro_kernel(size_t m, size_t nc, size_t kc, const cg_real *A, size_t rs, size_t cs,
                         const cg_real *bpack, const cg_real *bdirect, size_t ldb,
                         cg_real *C, size_t ldc, int accumulate)
{
    cg_real apad[MR * KC];
    for (size_t i = 0; i < m; i += MR) {
        size_t mr = m - i < MR ? m - i : MR;
        const cg_real *a = A + i * rs;
        size_t ars = rs, acs = cs;
        if (mr < MR) {
            /* Short tile: copy the live rows and zero the rest, so the kernel
             * never reads past the end of A. */
            for (size_t r = 0; r < MR; r++)
                for (size_t p = 0; p < kc; p++)
                    apad[r * kc + p] = r < mr ? a[r * rs + p * cs] : 0;
            a = apad;
            ars = kc;
            acs = 1;
        }
        for (size_t j = 0; j < nc; j += NR) {
            size_t nr = nc - j < NR ? nc - j : NR;
            const cg_real *bp = bpack + (j / NR) * kc * NR;
            size_t bs = NR;
            if (bdirect && nr == NR) {
                bp = bdirect + j;
                bs = ldb;
            }
            if (nr <= VL)
                micro_kernel_narrow(kc, a, ars, acs, bp, bs, C + i * ldc + j, ldc, mr, nr, accumulate);
            else
                micro_kernel(kc, a, ars, acs, bp, bs, C + i * ldc + j, ldc, mr, nr, accumulate);
        }
    }
}

void cg_gemm(cg_real *C, const cg_real *A, const cg_real *B,
             size_t m, size_t n, size_t k, int trans_a, int trans_b, int accumulate)
{
    _Alignas(64) cg_real bpack[KC * NC];
    if (m == 0 || n == 0) return;
    if (k == 0) {
        if (!accumulate) memset(C, 0, m * n * sizeof *C);
        return;
    }
    /* A(i, p) = A[i*rs + p*cs] */
    size_t rs = trans_a ? 1 : k, cs = trans_a ? m : 1;
    for (size_t jc = 0; jc < n; jc += NC) {
        size_t nc = n - jc < NC ? n - jc : NC;
        for (size_t pc = 0; pc < k; pc += KC) {
            size_t kc = k - pc < KC ? k - pc : KC;
            const cg_real *bdirect = NULL;
            if (!trans_b && k * n * sizeof(cg_real) <= DIRECT_BYTES) {
                /* B is small enough to stay in cache unpacked: only the
                 * ragged last panel needs packing */
                bdirect = B + pc * n + jc;
                size_t full = nc / NR * NR;
                if (full < nc)
                    pack_b(bpack + (full / NR) * kc * NR, B, n, k, 0, pc, kc, jc + full, nc - full);
            } else {
                pack_b(bpack, B, n, k, trans_b, pc, kc, jc, nc);
            }
            macro_kernel(m, nc, kc, A + pc * cs, rs, cs, bpack, bdirect, n, C + jc, n,
                         pc == 0 ? accumulate : 1);
        }
    }
}
