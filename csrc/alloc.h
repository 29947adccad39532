/* alloc.h: how the core allocates (internal to the core).
 *
 * Every allocation of the core goes through cg_plan_alloc or cg_malloc,
 * whose size arithmetic saturates at SIZE_MAX (cg_mul, cg_add): a size that
 * would overflow is refused without calling malloc.  A plan either
 * allocates or only counts; a model's create and its *_bytes function run
 * the same plan, so the bytes a model reports before it exists are the bytes
 * its create asks for.  The C tests build with CG_ALLOC_HOOK, which sends
 * every allocation through functions they define, to count the bytes and
 * hold the *_bytes functions to them. */
#ifndef CGAN_ALLOC_H
#define CGAN_ALLOC_H

#include <stdint.h>
#include <stdlib.h>

static inline size_t cg_mul(size_t a, size_t b) { return b && a > SIZE_MAX / b ? SIZE_MAX : a * b; }
static inline size_t cg_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

#ifdef CG_ALLOC_HOOK
void *cg_hook_malloc(size_t bytes);
void *cg_hook_calloc(size_t bytes);
void cg_hook_free(void *p);
#define CG_RAW_MALLOC(bytes) cg_hook_malloc(bytes)
#define CG_RAW_CALLOC(bytes) cg_hook_calloc(bytes)
#define CG_RAW_FREE(p) cg_hook_free(p)
#else
#define CG_RAW_MALLOC(bytes) malloc(bytes)
#define CG_RAW_CALLOC(bytes) calloc(1, bytes)
#define CG_RAW_FREE(p) free(p)
#endif

/* bytes from the heap (zeroed when zero); NULL, without asking, for a size
 * that saturated.  A size of 0 asks for 1 byte, so that success is never
 * NULL. */
static inline void *cg_malloc(size_t bytes, int zero)
{
    if (bytes == SIZE_MAX) return NULL;
    if (bytes == 0) bytes = 1;
    return zero ? CG_RAW_CALLOC(bytes) : CG_RAW_MALLOC(bytes);
}

static inline void cg_free(void *p) { CG_RAW_FREE(p); }

/* A sequence of allocations: with count_only, each call only adds its
 * size to bytes; otherwise it allocates, and after the first failure sets
 * failed and allocates nothing more (the caller frees what it got). */
typedef struct {
    size_t bytes;
    int count_only, failed;
} cg_plan;

static inline void *cg_plan_alloc(cg_plan *p, size_t count, size_t size, int zero)
{
    size_t bytes = cg_mul(count, size);
    if (bytes == 0) bytes = 1;
    p->bytes = cg_add(p->bytes, bytes);
    if (p->count_only || p->failed) return NULL;
    void *out = cg_malloc(bytes, zero);
    if (!out) p->failed = 1;
    return out;
}

#endif
