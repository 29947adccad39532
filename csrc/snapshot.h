/* snapshot.h: a bounds-checked byte cursor for the versioned model
 * snapshots (internal to the core; native byte order, checked on load). */
#ifndef CGAN_SNAPSHOT_H
#define CGAN_SNAPSHOT_H

#include <stdint.h>
#include <string.h>

#include "cgan.h"

typedef struct {
    unsigned char *p;
    size_t left;
    int ok;
} cursor;

static inline void put(cursor *c, const void *src, size_t len)
{
    if (!c->ok || len > c->left) {
        c->ok = 0;
        return;
    }
    if (c->p) memcpy(c->p, src, len), c->p += len;
    c->left -= len;
}

static inline void get(cursor *c, void *dst, size_t len)
{
    if (!c->ok || len > c->left) {
        c->ok = 0;
        memset(dst, 0, len);
        return;
    }
    memcpy(dst, c->p, len);
    c->p += len;
    c->left -= len;
}

static inline void put_i32(cursor *c, int32_t v) { put(c, &v, sizeof v); }
static inline void put_i64(cursor *c, int64_t v) { put(c, &v, sizeof v); }
static inline void put_f64(cursor *c, double v) { put(c, &v, sizeof v); }


/* one network and its optimiser: n_params, params, Adam step count, m, v */
static inline void put_net(cursor *c, cg_mlp *net, cg_adam *opt)
{
    size_t np = cg_mlp_n_params(net);
    put_i64(c, (int64_t)np);
    put(c, cg_mlp_params(net), np * sizeof(cg_real));
    put_i64(c, cg_adam_steps(opt));
    put(c, cg_adam_m(opt), np * sizeof(cg_real));
    put(c, cg_adam_v(opt), np * sizeof(cg_real));
}

/* the inverse of put_net into a network of the same shape; clears c->ok on
 * a mismatch */
static inline void get_net(cursor *c, cg_mlp *net, cg_adam *opt)
{
    int64_t np = 0, t = 0;
    get(c, &np, 8);
    if (!c->ok || (size_t)np != cg_mlp_n_params(net)) {
        c->ok = 0;
        return;
    }
    get(c, cg_mlp_params(net), (size_t)np * sizeof(cg_real));
    get(c, &t, 8);
    cg_adam_set_steps(opt, t);
    get(c, cg_adam_m(opt), (size_t)np * sizeof(cg_real));
    get(c, cg_adam_v(opt), (size_t)np * sizeof(cg_real));
}

#endif
