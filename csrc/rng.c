/* rng.c: the per-model random number generator and small shared helpers.
 *
 * xoshiro256** (Blackman & Vigna) seeded through splitmix64 from one 64-bit
 * integer.  Every model owns a cg_rng; nothing here is global, so fits in
 * different threads never share a stream.  Normals use the Box-Muller
 * transform on two uniforms, one normal per call, so that the number of draws
 * per sample is fixed and streams are reproducible whatever the caller does. */
#include "cgan.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#ifdef CG_DOUBLE
#define nextafter_real nextafter
#else
#define nextafter_real nextafterf
#endif

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void cg_rng_seed(cg_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

uint64_t cg_rng_u64(cg_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double cg_rng_uniform(cg_rng *rng)
{
    return (double)(cg_rng_u64(rng) >> 11) * 0x1.0p-53;
}

double cg_rng_normal(cg_rng *rng)
{
    /* 1 - u lies in (0, 1], so the log is finite. */
    double u1 = 1.0 - cg_rng_uniform(rng);
    double u2 = cg_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* The 128-bit product x * y: returns the low 64 bits, *high the high ones.
 * __uint128_t is a GNU extension; elsewhere (MSVC, or -DCG_PORTABLE_GEMM)
 * the product is assembled exactly from 32-bit halves. */
static inline uint64_t mul_64x64(uint64_t x, uint64_t y, uint64_t *high)
{
#if defined(__SIZEOF_INT128__) && !defined(CG_PORTABLE_GEMM)
    __uint128_t p = (__uint128_t)x * y;
    *high = (uint64_t)(p >> 64);
    return (uint64_t)p;
#else
    uint64_t xl = x & 0xffffffffu, xh = x >> 32, yl = y & 0xffffffffu, yh = y >> 32;
    uint64_t ll = xl * yl, lh = xl * yh, hl = xh * yl, hh = xh * yh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    *high = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return (mid << 32) | (ll & 0xffffffffu);
#endif
}

uint64_t cg_rng_below(cg_rng *rng, uint64_t n)
{
    /* Lemire's multiply-shift with rejection: unbiased for every n >= 1. */
    if (n <= 1) return 0;
    uint64_t x = cg_rng_u64(rng), high;
    uint64_t low = mul_64x64(x, n, &high);
    if (low < n) {
        uint64_t threshold = (0 - n) % n;
        while (low < threshold) {
            x = cg_rng_u64(rng);
            low = mul_64x64(x, n, &high);
        }
    }
    return high;
}

void cg_rng_fill_uniform(cg_rng *rng, cg_real *out, size_t n, double lo, double hi)
{
    /* Rounding to cg_real can land on hi; step back inside [lo, hi). */
    cg_real top = (cg_real)hi;
    for (size_t i = 0; i < n; i++) {
        cg_real v = (cg_real)(lo + (hi - lo) * cg_rng_uniform(rng));
        out[i] = v >= top && hi > lo ? nextafter_real(top, (cg_real)lo) : v;
    }
}

void cg_rng_fill_normal(cg_rng *rng, cg_real *out, size_t n, double mean, double sd)
{
    for (size_t i = 0; i < n; i++) out[i] = (cg_real)(mean + sd * cg_rng_normal(rng));
}

void cg_rng_indices(cg_rng *rng, int64_t *out, size_t count, int64_t n_rows)
{
    for (size_t i = 0; i < count; i++) out[i] = (int64_t)cg_rng_below(rng, (uint64_t)n_rows);
}

/* ---------------------------------------------------------- helpers */

const char *cg_status_name(cg_status s)
{
    switch (s) {
    case CG_OK: return "ok";
    case CG_EINVAL: return "invalid argument";
    case CG_ENOMEM: return "out of memory";
    case CG_EFLOAT: return "non-finite value";
    case CG_EINTERNAL: return "internal error";
    case CG_ESNAPSHOT: return "bad snapshot";
    }
    return "unknown status";
}

void cg_set_error(char *err, const char *fmt, ...)
{
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, CG_ERR_LEN, fmt, ap);
    va_end(ap);
}

cg_status cg_check_ranges(const cg_range *ranges, size_t n, char *err)
{
    for (size_t i = 0; i < n; i++) {
        const cg_range *r = &ranges[i];
        if (r->value >= r->lo && r->value <= r->hi) continue;
        cg_set_error(err, "%s must be between %lld and %lld, got %lld", r->name, (long long)r->lo, (long long)r->hi,
                     (long long)r->value);
        return CG_EINVAL;
    }
    return CG_OK;
}

int cg_all_finite(const cg_real *x, size_t n)
{
    /* x - x is 0 for finite x and NaN for inf/NaN; summing keeps it branch-free. */
    cg_real acc = 0;
    for (size_t i = 0; i < n; i++) acc += x[i] - x[i];
    return acc == 0;
}
