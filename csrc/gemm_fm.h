/* gemm_fm.h: the kernels of cg_gemm_fm (see gemm.c), which includes this
 * file once per instruction set with these defined:
 *   FMV, FMVU, FMVI  the vector type, its unaligned form, and the integer
 *                    vector of the same lanes
 *   FMVL             lanes per vector (CG_FM_ALIGN is a multiple of it)
 *   FMN(x)           the name of function x in this set
 *   FM_ATTR          attributes of the outer kernel (its target)
 * and undefines them at its end, ready for the next set.
 * Each output value is summed in the same order at every width (one
 * multiply-add per term, k in blocks of KC), so the widths give
 * bit-identical results where both fuse the multiply-adds. */

_Static_assert(CG_FM_ALIGN % FMVL == 0, "CG_FM_ALIGN must be a multiple of the vector length");

/* One tile: rows [0, MRc) of C against NVc vectors of columns, over kc terms.
 * a(r, p) = a[r*rs + p*cs]; b has row stride ldb, c and gate ldc.  The sum
 * continues from C when load_c (a later block of k), and the epilogue is
 * applied only when final; CG_EPI_ADD adds every block's sum to C. */
static inline __attribute__((always_inline)) void
FMN(fm_tile)(const int MRc, const int NVc, size_t kc, const cg_real *restrict a, size_t rs, size_t cs,
        const cg_real *restrict b, size_t ldb, cg_real *restrict c, size_t ldc, int load_c, int final, int epi,
        const cg_real *restrict bias, const cg_real *restrict gate)
{
    FMV acc[FM_MR][4];
    const FMV zero = {0};
#pragma GCC unroll 6
    for (int r = 0; r < MRc; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NVc; v++) acc[r][v] = load_c ? *(const FMVU *)(c + r * ldc + v * FMVL) : zero;
    const cg_real *ar[FM_MR];
#pragma GCC unroll 6
    for (int r = 0; r < MRc; r++) ar[r] = a + r * rs;
    for (size_t p = 0; p < kc; p++) {
        FMV bv[4];
#pragma GCC unroll 4
        for (int v = 0; v < NVc; v++) bv[v] = *(const FMVU *)(b + v * FMVL);
        b += ldb;
        size_t o = p * cs;
#pragma GCC unroll 6
        for (int r = 0; r < MRc; r++) {
            cg_real x = ar[r][o];
#pragma GCC unroll 4
            for (int v = 0; v < NVc; v++) acc[r][v] += x * bv[v];
        }
    }
    if (!final && epi != CG_EPI_ADD) epi = CG_EPI_STORE;
    const FMV one = zero + 1;
#pragma GCC unroll 6
    for (int r = 0; r < MRc; r++) {
        cg_real bi = (epi == CG_EPI_BIAS || epi == CG_EPI_BIAS_RELU) ? bias[r] : 0;
#pragma GCC unroll 4
        for (int v = 0; v < NVc; v++) {
            size_t o = r * ldc + v * FMVL;
            FMV z = acc[r][v];
            switch (epi) {
            case CG_EPI_BIAS:
                z += bi;
                break;
            case CG_EPI_BIAS_RELU:
                z += bi;
                z = (FMV)((FMVI)z & (z > zero));
                break;
            case CG_EPI_GATE_RELU:
                z *= (FMV)((FMVI)one & (*(const FMVU *)(gate + o) > zero));
                break;
            case CG_EPI_ADD:
                /* the product is summed from zero and then added, so that
                 * adding the same product twice doubles exactly */
                z = *(const FMVU *)(c + o) + z;
                break;
            default:
                break;
            }
            *(FMVU *)(c + o) = z;
        }
    }
}

/* rows [i, i+mr) of C over the columns [j, j+NVc*FMVL) */
static inline __attribute__((always_inline)) void
FMN(fm_rows)(const int NVc, size_t mr, size_t kc, const cg_real *a, size_t rs, size_t cs, const cg_real *b, size_t ldb,
        cg_real *c, size_t ldc, int load_c, int final, int epi, const cg_real *bias, const cg_real *gate)
{
    switch (mr) {
    case 6: FMN(fm_tile)(6, NVc, kc, a, rs, cs, b, ldb, c, ldc, load_c, final, epi, bias, gate); break;
    case 5: FMN(fm_tile)(5, NVc, kc, a, rs, cs, b, ldb, c, ldc, load_c, final, epi, bias, gate); break;
    case 4: FMN(fm_tile)(4, NVc, kc, a, rs, cs, b, ldb, c, ldc, load_c, final, epi, bias, gate); break;
    case 3: FMN(fm_tile)(3, NVc, kc, a, rs, cs, b, ldb, c, ldc, load_c, final, epi, bias, gate); break;
    case 2: FMN(fm_tile)(2, NVc, kc, a, rs, cs, b, ldb, c, ldc, load_c, final, epi, bias, gate); break;
    default: FMN(fm_tile)(1, NVc, kc, a, rs, cs, b, ldb, c, ldc, load_c, final, epi, bias, gate); break;
    }
}

FM_ATTR
static void FMN(fm_macro)(cg_real *C, const cg_real *A, size_t rs, size_t cs, const cg_real *B, size_t m, size_t n,
                     size_t k, size_t ldb, size_t ldc, int epi, const cg_real *aux)
{
    const cg_real *bias = (epi == CG_EPI_BIAS || epi == CG_EPI_BIAS_RELU) ? aux : NULL;
    const cg_real *gate = epi == CG_EPI_GATE_RELU ? aux : NULL;
    size_t pc = 0;
    do {
        size_t kc = k - pc < KC ? k - pc : KC;
        int final = pc + kc >= k;
        int load_c = pc > 0 && epi != CG_EPI_ADD;
        const cg_real *Ak = A + pc * cs, *Bk = B + pc * ldb;
        size_t j = 0;
        /* Few rows: panels of four vectors keep enough sums in flight. */
        if (m <= 3)
            for (; j + 4 * FMVL <= n; j += 4 * FMVL)
                FMN(fm_rows)(4, m, kc, Ak, rs, cs, Bk + j, ldb, C + j, ldc, load_c, final, epi, bias,
                             gate ? gate + j : NULL);
        /* panels of two vectors, then of one where n leaves half a panel
         * (n is a multiple of CG_FM_ALIGN, itself a multiple of FMVL) */
        for (int nv = 2; nv >= 1; nv--) {
            for (; j + (size_t)nv * FMVL <= n; j += (size_t)nv * FMVL) {
                for (size_t i = 0; i < m; i += FM_MR) {
                    size_t mr = m - i < FM_MR ? m - i : FM_MR;
                    size_t o = i * ldc + j;
                    if (nv == 2)
                        FMN(fm_rows)(2, mr, kc, Ak + i * rs, rs, cs, Bk + j, ldb, C + o, ldc, load_c, final, epi,
                                     bias ? bias + i : NULL, gate ? gate + o : NULL);
                    else
                        FMN(fm_rows)(1, mr, kc, Ak + i * rs, rs, cs, Bk + j, ldb, C + o, ldc, load_c, final, epi,
                                     bias ? bias + i : NULL, gate ? gate + o : NULL);
                }
            }
        }
        pc += kc;
    } while (pc < k);
}

#undef FMV
#undef FMVU
#undef FMVI
#undef FMVL
#undef FMN
#undef FM_ATTR
