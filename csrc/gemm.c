/* gemm.c: the matrix products (and the transpose) under every dense layer
 * of the MLP, in its feature-major layout.
 *
 * The MLP stores a batch feature by feature: unit j of every row sits in one
 * contiguous line of ld >= n values.  The batch (usually 32..1024 rows) is
 * then the long, vector-friendly dimension of every product, and the narrow
 * layer widths (1, 2, 30, ...) only count tiles, so no product has a ragged
 * vector edge and no weight matrix needs packing:
 *   forward   Z^T[out, n] = W^T A^T             (cg_gemm_fm, A = W read transposed)
 *   backward  dA^T[in, n] = W dZ^T               (cg_gemm_fm, A = W read as stored)
 *             dW[in, out] += A^T (dZ^T)^T        (cg_gemm_nt, dot products over the batch,
 *                                                 with db = the row sums of dZ^T on the side;
 *                                                 or cg_transpose and cg_gemm_fm_strided)
 * Columns are computed in whole vectors, so callers round n up to a multiple
 * of CG_FM_ALIGN and keep the padding columns defined.
 *
 * The kernels are written with GCC vector extensions and built once per
 * instruction set (on x86-64: the baseline ISA, FMA, and 512-bit AVX-512
 * for cg_gemm_fm); cg_isa_best picks one at run time, so wheels stay
 * portable.
 *
 * Limits: single-threaded by design (reductions over k are never split, so
 * results do not depend on thread count); nothing here allocates.  Sums run
 * in a fixed order, so the same inputs give bit-identical outputs on one
 * CPU. */
#include "cgan.h"

#include <string.h>

#if defined(__GNUC__) && !defined(CG_PORTABLE_GEMM)
/* GCC and Clang: the vector kernels below.  Other compilers (MSVC), or any
 * build with -DCG_PORTABLE_GEMM, get the plain C11 loops at the end of the
 * file, which keep the same contracts (see cgan.h). */

#define VBYTES 32
#define VL (VBYTES / sizeof(cg_real))
#define KC 256  /* terms of a sum per pass over C (cg_gemm_fm) */

/* VECTORS(s, bytes): the vector type vreal<s> of `bytes` bytes, its
 * unaligned form vreal<s>_u, and vint<s>, the integers of its lanes */
#ifdef CG_DOUBLE
typedef int64_t lane_int;
#else
typedef int32_t lane_int;
#endif
#define VECTORS(s, bytes)                                                                                 \
    typedef cg_real vreal##s __attribute__((vector_size(bytes)));                                       \
    typedef cg_real vreal##s##_u __attribute__((vector_size(bytes), aligned(sizeof(cg_real))));         \
    typedef lane_int vint##s __attribute__((vector_size(bytes)))

VECTORS(, VBYTES);

/* SHUF(a, b, i...): lanes of a (0..VL-1) and b (VL..2VL-1) picked into a
 * vector of the same type, in the spelling of the compiler at hand (GCC's
 * __builtin_shufflevector is only in GCC 12 and later). */
#if defined(__clang__)
#define SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define SHUF(a, b, ...) __builtin_shuffle(a, b, (vint){__VA_ARGS__})
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(CG_NO_CLONES)
/* The kernels are built once per instruction set and picked at run time by
 * cg_isa_best (explicitly rather than through target_clones, so that tests
 * and benchmarks can name a set, and no ifunc is needed). */
#define CG_X86_VARIANTS 1
#define CG_FMA_TARGET __attribute__((target("fma")))
#endif

/* ------------------------------------------------------------ products */

#define FM_MR 6  /* rows of C per tile */

/* The baseline kernels with 128-bit vectors: the baseline ISA has no wider
 * registers (x86-64's SSE2, ARM's NEON), and GCC lowers a wider vector type
 * there to much slower code.  The width does not change the order of any
 * sum, so the results are those of the 256-bit form. */
VECTORS(128, 16);
#define FMV vreal128
#define FMVU vreal128_u
#define FMVI vint128
#define FMVL (16 / sizeof(cg_real))
#define FMN(x) x##_base
#define FM_ATTR
#include "gemm_fm.h"

#ifdef CG_X86_VARIANTS
/* the 256-bit kernels with FMA */
#define FMV vreal
#define FMVU vreal_u
#define FMVI vint
#define FMVL VL
#define FMN(x) x##_fma
#define FM_ATTR CG_FMA_TARGET
#include "gemm_fm.h"

/* The same kernels with 512-bit vectors, for CPUs with AVX-512F (the
 * library is still built for the baseline ISA). */
#pragma GCC push_options
#pragma GCC target("avx512f,fma")
VECTORS(512, 64);
#define FMV vreal512
#define FMVU vreal512_u
#define FMVI vint512
#define FMVL (64 / sizeof(cg_real))
#define FMN(x) x##_avx512
#define FM_ATTR
#include "gemm_fm.h"
#pragma GCC pop_options
#endif

cg_isa cg_isa_best(void)
{
#ifdef CG_X86_VARIANTS
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma")) return CG_ISA_AVX512;
    if (__builtin_cpu_supports("fma")) return CG_ISA_FMA;
#endif
    return CG_ISA_BASELINE;
}

/* the set a call runs: the one asked for, or the best the CPU has when it
 * asks for more (or for CG_ISA_AUTO) */
static cg_isa resolve(cg_isa isa)
{
    cg_isa best = cg_isa_best();
    return isa == CG_ISA_AUTO || isa > best ? best : isa;
}

void cg_gemm_fm_isa(cg_isa isa, cg_real *C, size_t ldc, const cg_real *A, size_t rs, size_t cs, const cg_real *B,
                    size_t ldb, size_t m, size_t n, size_t k, cg_epilogue epi, const cg_real *aux)
{
    if (m == 0 || n == 0) return;
    switch (resolve(isa)) {
#ifdef CG_X86_VARIANTS
    case CG_ISA_AVX512: fm_macro_avx512(C, A, rs, cs, B, m, n, k, ldb, ldc, (int)epi, aux); return;
    case CG_ISA_FMA: fm_macro_fma(C, A, rs, cs, B, m, n, k, ldb, ldc, (int)epi, aux); return;
#endif
    default: fm_macro_base(C, A, rs, cs, B, m, n, k, ldb, ldc, (int)epi, aux); return;
    }
}

/* Sum of the lanes of v, in a fixed order. */
static inline __attribute__((always_inline)) cg_real hsum(const vreal *vp)
{
    vreal v = *vp;
#ifdef CG_DOUBLE
    v += SHUF(v, v, 2, 3, 0, 1);
    v += SHUF(v, v, 1, 0, 3, 2);
#else
    v += SHUF(v, v, 4, 5, 6, 7, 0, 1, 2, 3);
    v += SHUF(v, v, 2, 3, 0, 1, 6, 7, 4, 5);
    v += SHUF(v, v, 1, 0, 3, 2, 5, 4, 7, 6);
#endif
    return v[0];
}

/* s[c] = the sum of the lanes of v[c], c < 3, by pairwise sums across the
 * three vectors at once (fewer shuffles than three separate sums). */
static inline __attribute__((always_inline)) void reduce3(cg_real *s, const vreal *v)
{
#ifdef CG_DOUBLE
    vreal x = SHUF(v[0], v[1], 0, 4, 2, 6) + SHUF(v[0], v[1], 1, 5, 3, 7);
    x += SHUF(x, x, 2, 3, 0, 1);
    s[0] = x[0];
    s[1] = x[1];
    s[2] = hsum(&v[2]);
#else
    vreal x = SHUF(v[0], v[1], 0, 2, 8, 10, 4, 6, 12, 14) + SHUF(v[0], v[1], 1, 3, 9, 11, 5, 7, 13, 15);
    vreal y = SHUF(v[2], v[2], 0, 2, 8, 10, 4, 6, 12, 14) + SHUF(v[2], v[2], 1, 3, 9, 11, 5, 7, 13, 15);
    vreal z = SHUF(x, y, 0, 2, 8, 10, 4, 6, 12, 14) + SHUF(x, y, 1, 3, 9, 11, 5, 7, 13, 15);
    z += SHUF(z, z, 4, 5, 6, 7, 0, 1, 2, 3);
    s[0] = z[0];
    s[1] = z[1];
    s[2] = z[2];
#endif
}

/* One block of C[m, n] += A[m, k] B[n, k]^T: rows ar[0..MRc) against rows
 * br[0..NRc), of which the first mr x nr are stored.  With DB, also
 * bsum[c] += sum_p br[c][p] for c < nr (plain adds, which run beside the
 * multiply-adds). */
static inline __attribute__((always_inline)) void
nt_block(const int MRc, const int NRc, const int DB, const cg_real *const *ar, const cg_real *const *br, size_t k,
         size_t mr, size_t nr, cg_real *C, size_t ldc, cg_real *bsum)
{
    size_t kv = k / VL * VL;
    vreal acc[8][3], dacc[3];
#pragma GCC unroll 8
    for (int r = 0; r < MRc; r++)
#pragma GCC unroll 3
        for (int c = 0; c < NRc; c++) acc[r][c] = (vreal){0};
#pragma GCC unroll 3
    for (int c = 0; c < NRc; c++) dacc[c] = (vreal){0};
    for (size_t p = 0; p < kv; p += VL) {
        vreal bv[3];
#pragma GCC unroll 3
        for (int c = 0; c < NRc; c++) {
            bv[c] = *(const vreal_u *)(br[c] + p);
            if (DB) dacc[c] += bv[c];
        }
#pragma GCC unroll 8
        for (int r = 0; r < MRc; r++) {
            vreal av = *(const vreal_u *)(ar[r] + p);
#pragma GCC unroll 3
            for (int c = 0; c < NRc; c++) acc[r][c] += av * bv[c];
        }
    }
    /* reduce every sum (constant indices keep them in registers), then store
     * the live ones */
    cg_real s[8][4];
#pragma GCC unroll 8
    for (int r = 0; r < MRc; r++) {
        if (NRc == 3) {
            reduce3(s[r], acc[r]);
        } else {
#pragma GCC unroll 3
            for (int c = 0; c < NRc; c++) s[r][c] = hsum(&acc[r][c]);
        }
    }
    for (size_t r = 0; r < mr; r++)
        for (size_t c = 0; c < nr; c++) {
            cg_real t = s[r][c];
            for (size_t p = kv; p < k; p++) t += ar[r][p] * br[c][p];
            C[r * ldc + c] += t;
        }
    if (DB) {
        cg_real d[4];
        if (NRc == 3) {
            reduce3(d, dacc);
        } else {
#pragma GCC unroll 3
            for (int c = 0; c < NRc; c++) d[c] = hsum(&dacc[c]);
        }
        for (size_t c = 0; c < nr; c++) {
            cg_real t = d[c];
            for (size_t p = kv; p < k; p++) t += br[c][p];
            bsum[c] += t;
        }
    }
}

/* All blocks of C[m, n] with MRc x NRc blocks; edge blocks repeat their last
 * row (the repeats are computed and dropped).  The first row of blocks also
 * sums the rows of B into bsum when it is given. */
static inline __attribute__((always_inline)) void
nt_blocks(const int MRc, const int NRc, cg_real *C, size_t ldc, const cg_real *A, size_t lda, const cg_real *B,
          size_t ldb, size_t m, size_t n, size_t k, cg_real *bsum)
{
    for (size_t i = 0; i < m; i += MRc) {
        size_t mr = m - i < (size_t)MRc ? m - i : (size_t)MRc;
        const cg_real *ar[8];
        for (int r = 0; r < MRc; r++) ar[r] = A + (i + ((size_t)r < mr ? (size_t)r : mr - 1)) * lda;
        for (size_t j = 0; j < n; j += NRc) {
            size_t nr = n - j < (size_t)NRc ? n - j : (size_t)NRc;
            const cg_real *br[3];
            for (int c = 0; c < NRc; c++) br[c] = B + (j + ((size_t)c < nr ? (size_t)c : nr - 1)) * ldb;
            if (i == 0 && bsum)
                nt_block(MRc, NRc, 1, ar, br, k, mr, nr, C + i * ldc + j, ldc, bsum + j);
            else
                nt_block(MRc, NRc, 0, ar, br, k, mr, nr, C + i * ldc + j, ldc, NULL);
        }
    }
}

/* C[m, n] += A[m, k] B[n, k]^T: dot products of rows, each summed in VL
 * lanes and then across them in a fixed order.  Blocks of 3 x 3 products
 * (9 sums in flight for 6 loads); one or two columns take taller blocks.
 * Built per instruction set by the wrappers below. */
static inline __attribute__((always_inline)) void nt_macro(cg_real *C, size_t ldc, const cg_real *A, size_t lda,
                                                           const cg_real *B, size_t ldb, size_t m, size_t n,
                                                           size_t k, cg_real *bsum)
{
    if (n == 1)
        nt_blocks(8, 1, C, ldc, A, lda, B, ldb, m, n, k, bsum);
    else if (n == 2)
        nt_blocks(5, 2, C, ldc, A, lda, B, ldb, m, n, k, bsum);
    else
        nt_blocks(3, 3, C, ldc, A, lda, B, ldb, m, n, k, bsum);
}

static void nt_base(cg_real *C, size_t ldc, const cg_real *A, size_t lda, const cg_real *B, size_t ldb, size_t m,
                    size_t n, size_t k, cg_real *bsum)
{
    nt_macro(C, ldc, A, lda, B, ldb, m, n, k, bsum);
}

#ifdef CG_X86_VARIANTS
CG_FMA_TARGET
static void nt_fma(cg_real *C, size_t ldc, const cg_real *A, size_t lda, const cg_real *B, size_t ldb, size_t m,
                   size_t n, size_t k, cg_real *bsum)
{
    nt_macro(C, ldc, A, lda, B, ldb, m, n, k, bsum);
}
#endif

void cg_gemm_nt_isa(cg_isa isa, cg_real *C, size_t ldc, const cg_real *A, size_t lda, const cg_real *B, size_t ldb,
                    size_t m, size_t n, size_t k, cg_real *bsum)
{
    if (n == 0) return;
    if (m == 0) {
        /* no products: only the row sums of B */
        for (size_t j = 0; bsum && j < n; j++) {
            cg_real t = 0;
            for (size_t p = 0; p < k; p++) t += B[j * ldb + p];
            bsum[j] += t;
        }
        return;
    }
    /* 256-bit sums on a CPU with AVX-512 too: the lanes of a sum fix its
     * order, and these products are short */
#ifdef CG_X86_VARIANTS
    if (resolve(isa) != CG_ISA_BASELINE) {
        nt_fma(C, ldc, A, lda, B, ldb, m, n, k, bsum);
        return;
    }
#else
    (void)isa;
#endif
    nt_base(C, ldc, A, lda, B, ldb, m, n, k, bsum);
}

/* dst[j*ldd + i] (+)= src[i*lds + j] for a VL x VL block, transposed in
 * registers; only the first nj rows of dst are written (all VL columns of
 * each source row are read). */
static inline __attribute__((always_inline)) void
transpose_block(cg_real *restrict dst, size_t ldd, const cg_real *restrict src, size_t lds, int add, size_t nj)
{
    vreal r[VL], t[VL];
#pragma GCC unroll 8
    for (size_t i = 0; i < VL; i++) r[i] = *(const vreal_u *)(src + i * lds);
#ifdef CG_DOUBLE
    for (int q = 0; q < 4; q += 2) {
        t[q] = SHUF(r[q], r[q + 1], 0, 4, 2, 6);
        t[q + 1] = SHUF(r[q], r[q + 1], 1, 5, 3, 7);
    }
    r[0] = SHUF(t[0], t[2], 0, 1, 4, 5);
    r[1] = SHUF(t[1], t[3], 0, 1, 4, 5);
    r[2] = SHUF(t[0], t[2], 2, 3, 6, 7);
    r[3] = SHUF(t[1], t[3], 2, 3, 6, 7);
#else
#pragma GCC unroll 4
    for (int q = 0; q < 8; q += 2) {
        t[q] = SHUF(r[q], r[q + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[q + 1] = SHUF(r[q], r[q + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    vreal s[8];
#pragma GCC unroll 2
    for (int q = 0; q < 8; q += 4) {
        s[q] = SHUF(t[q], t[q + 2], 0, 1, 8, 9, 4, 5, 12, 13);
        s[q + 1] = SHUF(t[q], t[q + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        s[q + 2] = SHUF(t[q + 1], t[q + 3], 0, 1, 8, 9, 4, 5, 12, 13);
        s[q + 3] = SHUF(t[q + 1], t[q + 3], 2, 3, 10, 11, 6, 7, 14, 15);
    }
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
        r[q] = SHUF(s[q], s[q + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        r[q + 4] = SHUF(s[q], s[q + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
#endif
#pragma GCC unroll 8
    for (size_t j = 0; j < VL; j++) {
        if (j >= nj) break;
        vreal_u *d = (vreal_u *)(dst + j * ldd);
        *d = add ? *d + r[j] : r[j];
    }
}

static inline __attribute__((always_inline)) void transpose_macro(cg_real *dst, size_t ldd, const cg_real *src,
                                                                  size_t lds, size_t rows, size_t cols, int add)
{
    size_t rv = rows / VL * VL, cv = cols / VL * VL, ce = cols - cv;
    for (size_t i = 0; i < rv; i += VL) {
        for (size_t j = 0; j < cv; j += VL) {
            if (add)
                transpose_block(dst + j * ldd + i, ldd, src + i * lds + j, lds, 1, VL);
            else
                transpose_block(dst + j * ldd + i, ldd, src + i * lds + j, lds, 0, VL);
        }
        if (ce == 0) continue;
        /* The ragged right edge: whole vectors, reaching into the next row
         * (never past the end of src), of which ce columns are kept. */
        if ((i + VL - 1) * lds + cv + VL <= rows * lds) {
            if (add)
                transpose_block(dst + cv * ldd + i, ldd, src + i * lds + cv, lds, 1, ce);
            else
                transpose_block(dst + cv * ldd + i, ldd, src + i * lds + cv, lds, 0, ce);
        } else {
            for (size_t j = cv; j < cols; j++)
                for (size_t r = i; r < i + VL; r++) {
                    cg_real v = src[r * lds + j];
                    dst[j * ldd + r] = add ? dst[j * ldd + r] + v : v;
                }
        }
    }
    /* the bottom rows */
    for (size_t i = rv; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            cg_real v = src[i * lds + j];
            dst[j * ldd + i] = add ? dst[j * ldd + i] + v : v;
        }
}

static void transpose_base(cg_real *dst, size_t ldd, const cg_real *src, size_t lds, size_t rows, size_t cols,
                           int add)
{
    transpose_macro(dst, ldd, src, lds, rows, cols, add);
}

#ifdef CG_X86_VARIANTS
CG_FMA_TARGET
static void transpose_fma(cg_real *dst, size_t ldd, const cg_real *src, size_t lds, size_t rows, size_t cols, int add)
{
    transpose_macro(dst, ldd, src, lds, rows, cols, add);
}
#endif

void cg_transpose_isa(cg_isa isa, cg_real *dst, size_t ldd, const cg_real *src, size_t lds, size_t rows, size_t cols,
                      int add)
{
    if (rows == 0 || cols == 0) return;
#ifdef CG_X86_VARIANTS
    if (resolve(isa) != CG_ISA_BASELINE) {
        transpose_fma(dst, ldd, src, lds, rows, cols, add);
        return;
    }
#else
    (void)isa;
#endif
    transpose_base(dst, ldd, src, lds, rows, cols, add);
}

#else /* portable C11: no vector extensions, no attributes */

/* Plain loops with the contracts of cgan.h.  Every sum runs over p in
 * ascending order in one accumulator, starting from zero, so a value of C
 * depends only on its own row of A and column of B (not on m, n or the
 * blocking), and the same inputs give bit-identical outputs. */

/* columns of C summed at once in a stack buffer */
#define PB 256

/* A(i, p) = A[i*rs + p*cs]; B(p, j) = B[p*bs + j] (rows of B contiguous).
 * C[i*ldc + j] for i < m, j < n gets the sum t = A B through fin(). */
typedef enum { FIN_STORE, FIN_ADD, FIN_BIAS, FIN_BIAS_RELU, FIN_GATE_RELU } fin_kind;

static void rows_times_b(cg_real *C, size_t ldc, const cg_real *A, size_t rs, size_t cs, const cg_real *B,
                         size_t bs, size_t m, size_t n, size_t k, fin_kind fin, const cg_real *aux, size_t ldaux)
{
    cg_real t[PB];
    for (size_t j0 = 0; j0 < n; j0 += PB) {
        size_t nb = n - j0 < PB ? n - j0 : PB;
        for (size_t i = 0; i < m; i++) {
            for (size_t j = 0; j < nb; j++) t[j] = 0;
            for (size_t p = 0; p < k; p++) {
                cg_real x = A[i * rs + p * cs];
                const cg_real *b = B + p * bs + j0;
                for (size_t j = 0; j < nb; j++) t[j] += x * b[j];
            }
            cg_real *c = C + i * ldc + j0;
            switch (fin) {
            case FIN_ADD:
                for (size_t j = 0; j < nb; j++) c[j] += t[j];
                break;
            case FIN_BIAS:
                for (size_t j = 0; j < nb; j++) c[j] = t[j] + aux[i];
                break;
            case FIN_BIAS_RELU:
                /* NaN gives 0, as the vector path's mask does */
                for (size_t j = 0; j < nb; j++) {
                    cg_real z = t[j] + aux[i];
                    c[j] = z > 0 ? z : 0;
                }
                break;
            case FIN_GATE_RELU: {
                const cg_real *g = aux + i * ldaux + j0;
                for (size_t j = 0; j < nb; j++) c[j] = t[j] * (g[j] > 0 ? (cg_real)1 : (cg_real)0);
                break;
            }
            default:
                for (size_t j = 0; j < nb; j++) c[j] = t[j];
                break;
            }
        }
    }
}

cg_isa cg_isa_best(void) { return CG_ISA_BASELINE; }

void cg_gemm_fm_isa(cg_isa isa, cg_real *C, size_t ldc, const cg_real *A, size_t rs, size_t cs, const cg_real *B,
                    size_t ldb, size_t m, size_t n, size_t k, cg_epilogue epi, const cg_real *aux)
{
    (void)isa;
    if (m == 0 || n == 0) return;
    fin_kind fin;
    switch (epi) {
    case CG_EPI_ADD: fin = FIN_ADD; break;
    case CG_EPI_BIAS: fin = FIN_BIAS; break;
    case CG_EPI_BIAS_RELU: fin = FIN_BIAS_RELU; break;
    case CG_EPI_GATE_RELU: fin = FIN_GATE_RELU; break;
    default: fin = FIN_STORE; break;
    }
    rows_times_b(C, ldc, A, rs, cs, B, ldb, m, n, k, fin, aux, ldc);
}

void cg_gemm_nt_isa(cg_isa isa, cg_real *C, size_t ldc, const cg_real *A, size_t lda, const cg_real *B, size_t ldb,
                    size_t m, size_t n, size_t k, cg_real *bsum)
{
    (void)isa;
    for (size_t j = 0; bsum && j < n; j++) {
        cg_real t = 0;
        for (size_t p = 0; p < k; p++) t += B[j * ldb + p];
        bsum[j] += t;
    }
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            const cg_real *a = A + i * lda, *b = B + j * ldb;
            cg_real t = 0;
            for (size_t p = 0; p < k; p++) t += a[p] * b[p];
            C[i * ldc + j] += t;
        }
}

void cg_transpose_isa(cg_isa isa, cg_real *dst, size_t ldd, const cg_real *src, size_t lds, size_t rows, size_t cols,
                      int add)
{
    (void)isa;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            cg_real v = src[i * lds + j];
            dst[j * ldd + i] = add ? dst[j * ldd + i] + v : v;
        }
}

#endif

/* the kernels at the best instruction set of the CPU: what training runs */
void cg_gemm_fm_strided(cg_real *C, size_t ldc, const cg_real *A, size_t rs, size_t cs, const cg_real *B, size_t ldb,
                        size_t m, size_t n, size_t k, cg_epilogue epi, const cg_real *aux)
{
    cg_gemm_fm_isa(CG_ISA_AUTO, C, ldc, A, rs, cs, B, ldb, m, n, k, epi, aux);
}

void cg_gemm_fm(cg_real *C, const cg_real *A, size_t rs, size_t cs, const cg_real *B, size_t m, size_t n, size_t k,
                size_t ld, cg_epilogue epi, const cg_real *aux)
{
    cg_gemm_fm_isa(CG_ISA_AUTO, C, ld, A, rs, cs, B, ld, m, n, k, epi, aux);
}

void cg_gemm_nt(cg_real *C, size_t ldc, const cg_real *A, size_t lda, const cg_real *B, size_t ldb, size_t m,
                size_t n, size_t k, cg_real *bsum)
{
    cg_gemm_nt_isa(CG_ISA_AUTO, C, ldc, A, lda, B, ldb, m, n, k, bsum);
}

void cg_transpose(cg_real *dst, size_t ldd, const cg_real *src, size_t lds, size_t rows, size_t cols, int add)
{
    cg_transpose_isa(CG_ISA_AUTO, dst, ldd, src, lds, rows, cols, add);
}

