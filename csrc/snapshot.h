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


#define SNAPSHOT_ENDIAN 0x01020304u

/* header: 8-byte magic, format version, byte-order mark, sizeof(cg_real) */
static inline void put_header(cursor *c, const char magic[8], uint32_t version)
{
    put(c, magic, 8);
    put_i32(c, (int32_t)version);
    put_i32(c, (int32_t)SNAPSHOT_ENDIAN);
    put_i32(c, (int32_t)sizeof(cg_real));
}

/* reads and checks a header written by put_header; `what` names the model
 * kind in the message */
static inline cg_status get_header(cursor *c, const char magic[8], uint32_t version, const char *what, char *err)
{
    char m[8];
    int32_t v, endian, real_size;
    get(c, m, 8);
    get(c, &v, 4);
    get(c, &endian, 4);
    get(c, &real_size, 4);
    if (!c->ok || memcmp(m, magic, 8) != 0) {
        cg_set_error(err, "not a cgan %s snapshot", what);
        return CG_ESNAPSHOT;
    }
    if ((uint32_t)v != version || (uint32_t)endian != SNAPSHOT_ENDIAN || real_size != (int32_t)sizeof(cg_real)) {
        cg_set_error(err, "snapshot version %d (byte order %#x, real size %d) is not supported by this build", (int)v,
                     (unsigned)endian, (int)real_size);
        return CG_ESNAPSHOT;
    }
    return CG_OK;
}

/* a model's configuration: n_ints int32s, then n_reals doubles, then the
 * seed as an int64 */
static inline void put_config(cursor *c, const int32_t *ints, int n_ints, const double *reals, int n_reals,
                              uint64_t seed)
{
    for (int i = 0; i < n_ints; i++) put_i32(c, ints[i]);
    for (int i = 0; i < n_reals; i++) put_f64(c, reals[i]);
    put_i64(c, (int64_t)seed);
}

/* the inverse of put_config; returns the seed */
static inline uint64_t get_config(cursor *c, int32_t *ints, int n_ints, double *reals, int n_reals)
{
    int64_t seed;
    for (int i = 0; i < n_ints; i++) get(c, &ints[i], sizeof *ints);
    for (int i = 0; i < n_reals; i++) get(c, &reals[i], sizeof *reals);
    get(c, &seed, sizeof seed);
    return (uint64_t)seed;
}

/* a cursor that only counts bytes, for the *_snapshot_size functions */
static inline cursor counting_cursor(void) { return (cursor){NULL, (size_t)-1, 1}; }
static inline size_t counted_bytes(const cursor *c) { return (size_t)-1 - c->left; }

static inline cg_status finish_write(const cursor *c, size_t size, char *err)
{
    if (c->ok) return CG_OK;
    cg_set_error(err, "snapshot buffer of %zu bytes is too small", size);
    return CG_EINVAL;
}

/* one network and its optimiser: n_params, params, Adam step count, m, v */
/* Parameters of an MLP with n_hidden hidden layers of `hidden` units, in
 * double so that a hostile configuration cannot overflow: restore checks
 * that the bytes left can hold them before it creates any network. */
static inline double snapshot_net_params(double in, double hidden, double n_hidden, double outw)
{
    return in * hidden + hidden + (n_hidden - 1) * (hidden * hidden + hidden) + hidden * outw + outw;
}

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
