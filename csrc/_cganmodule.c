/* _cganmodule.c: the CPython binding of the cgan core (the only file that
 * includes Python.h).
 *
 * Its job: check every argument and name it in the error, convert array-likes
 * to contiguous float32 once (never writing into the caller's array), allocate
 * outputs while holding the GIL, release the GIL around every core call, and
 * map core status codes to Python exceptions. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_22_API_VERSION
#include <numpy/arrayobject.h>

#include <float.h>
#include <stddef.h>
#include <math.h>
#include <string.h>

#include "cgan.h"

#if defined(CG_DOUBLE)
#error "the binding is built against the float32 core only"
#endif

/* ------------------------------------------------------------ errors */

static PyObject *raise_status(cg_status st, const char *msg)
{
    PyObject *type = PyExc_RuntimeError;
    switch (st) {
    case CG_EINVAL: type = PyExc_ValueError; break;
    case CG_ENOMEM: type = PyExc_MemoryError; break;
    case CG_EFLOAT: type = PyExc_FloatingPointError; break;
    case CG_ESNAPSHOT: type = PyExc_ValueError; break;
    default: break;
    }
    PyErr_SetString(type, msg && msg[0] ? msg : cg_status_name(st));
    return NULL;
}

/* ---------------------------------------------------- argument checks */

/* An integer in [lo, hi], from any object supporting __index__. */
static int get_int(PyObject *obj, const char *name, long long lo, long long hi, long long *out)
{
    if (PyBool_Check(obj) || PyFloat_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an integer, got %.100s", name, Py_TYPE(obj)->tp_name);
        return -1;
    }
    PyObject *idx = PyNumber_Index(obj);
    if (!idx) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s must be an integer, got %.100s", name, Py_TYPE(obj)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(idx, &overflow);
    Py_DECREF(idx);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (overflow || v < lo || v > hi) {
        PyErr_Format(PyExc_ValueError, "%s must be between %lld and %lld, got %S", name, lo, hi, obj);
        return -1;
    }
    *out = v;
    return 0;
}

static int get_seed(PyObject *obj, uint64_t *out)
{
    if (PyBool_Check(obj) || PyFloat_Check(obj) || !PyIndex_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "seed must be an integer, got %.100s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    PyObject *idx = PyNumber_Index(obj);
    if (!idx) return -1;
    unsigned long long v = PyLong_AsUnsignedLongLong(idx);
    Py_DECREF(idx);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "seed must be an integer in [0, 2**64), got %S", obj);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

static int get_real(PyObject *obj, const char *name, double lo, double hi, int open_lo, int open_hi,
                    double *out)
{
    if (PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a number, got bool", name);
        return -1;
    }
    double v = PyFloat_AsDouble(obj);
    if (v == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s must be a number, got %.100s", name, Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (!isfinite(v) || (open_lo ? v <= lo : v < lo) || (open_hi ? v >= hi : v > hi)) {
        /* PyErr_Format has no %g: format the numbers first */
        char range[128];
        snprintf(range, sizeof range, "%c%g, %g%c", open_lo ? '(' : '[', lo, hi, open_hi ? ')' : ']');
        PyErr_Format(PyExc_ValueError, "%s must lie in %s, got %R", name, range, obj);
        return -1;
    }
    *out = v;
    return 0;
}

/* Convert an array-like to a C-contiguous float32 array of `ndim` dimensions
 * with no empty axis and only finite values.  The result may be the caller's
 * own array (already float32 and contiguous); it is only ever read. */
static PyArrayObject *as_real(PyObject *obj, const char *name, int ndim)
{
    PyArrayObject *raw = NULL, *wide = NULL, *out = NULL;
    if (obj == Py_None) {
        PyErr_Format(PyExc_TypeError, "%s must be an array of numbers, got None", name);
        return NULL;
    }
    raw = (PyArrayObject *)PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
    if (!raw) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyObject *t, *v, *tb;
            PyErr_Fetch(&t, &v, &tb);
            PyErr_Format(PyExc_ValueError, "%s could not be read as an array: %S", name, v ? v : Py_None);
            Py_XDECREF(t);
            Py_XDECREF(v);
            Py_XDECREF(tb);
        }
        return NULL;
    }
    char kind = PyArray_DESCR(raw)->kind;
    if (kind != 'b' && kind != 'i' && kind != 'u' && kind != 'f') {
        PyErr_Format(PyExc_TypeError, "%s must hold real numbers (float, int or bool), got dtype %S", name,
                     (PyObject *)PyArray_DESCR(raw));
        goto error;
    }
    if (PyArray_NDIM(raw) != ndim) {
        PyErr_Format(PyExc_ValueError, "%s must be %d-dimensional, got %d dimension%s", name, ndim,
                     PyArray_NDIM(raw), PyArray_NDIM(raw) == 1 ? "" : "s");
        goto error;
    }
    for (int d = 0; d < ndim; d++) {
        if (PyArray_DIM(raw, d) == 0) {
            PyErr_Format(PyExc_ValueError, "%s has no %s", name, d == 0 ? "rows" : "columns");
            goto error;
        }
    }
    npy_intp size = PyArray_SIZE(raw);
    if (kind == 'f' && PyArray_ITEMSIZE(raw) > 4) {
        /* Cast float64 ourselves so that values beyond float32's range are
         * reported as such instead of turning silently into inf. */
        wide = (PyArrayObject *)PyArray_FROM_OTF((PyObject *)raw, NPY_DOUBLE,
                                                 NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
        if (!wide) goto error;
        out = (PyArrayObject *)PyArray_SimpleNew(ndim, PyArray_DIMS(raw), NPY_FLOAT32);
        if (!out) goto error;
        const double *src = (const double *)PyArray_DATA(wide);
        float *dst = (float *)PyArray_DATA(out);
        npy_intp bad = -1;
        for (npy_intp i = 0; i < size; i++) {
            double v = src[i];
            if (!(fabs(v) <= FLT_MAX)) {
                bad = i;
                break;
            }
            dst[i] = (float)v;
        }
        if (bad >= 0) {
            PyErr_Format(PyExc_ValueError, "%s contains %s at flat index %zd", name,
                         isnan(src[bad]) ? "NaN" : isinf(src[bad]) ? "inf" : "a value beyond float32's range",
                         (Py_ssize_t)bad);
            goto error;
        }
    } else {
        out = (PyArrayObject *)PyArray_FROM_OTF((PyObject *)raw, NPY_FLOAT32,
                                                NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
        if (!out) goto error;
        if (kind == 'f') {
            const float *p = (const float *)PyArray_DATA(out);
            for (npy_intp i = 0; i < size; i++) {
                if (!isfinite(p[i])) {
                    PyErr_Format(PyExc_ValueError, "%s contains %s at flat index %zd", name,
                                 isnan(p[i]) ? "NaN" : "inf", (Py_ssize_t)i);
                    goto error;
                }
            }
        }
    }
    Py_DECREF(raw);
    Py_XDECREF(wide);
    return out;
error:
    Py_XDECREF(raw);
    Py_XDECREF(wide);
    Py_XDECREF(out);
    return NULL;
}

/* as_real, but the result is always a private array that no caller can
 * change behind our back (for inputs kept across calls). */
static PyArrayObject *as_private_real(PyObject *obj, const char *name, int ndim)
{
    PyArrayObject *a = as_real(obj, name, ndim);
    if (!a) return NULL;
    if ((PyObject *)a == obj || !PyArray_CHKFLAGS(a, NPY_ARRAY_OWNDATA) || PyArray_BASE(a) != NULL) {
        PyArrayObject *copy = (PyArrayObject *)PyArray_NewCopy(a, NPY_CORDER);
        Py_DECREF(a);
        return copy;
    }
    return a;
}

/* Optional 1-d weights of length n: None -> NULL with *arr = NULL. */
static int as_weights(PyObject *obj, const char *name, npy_intp n, PyArrayObject **arr)
{
    *arr = NULL;
    if (obj == NULL || obj == Py_None) return 0;
    *arr = as_real(obj, name, 1);
    if (!*arr) return -1;
    if (PyArray_DIM(*arr, 0) != n) {
        PyErr_Format(PyExc_ValueError, "%s has %zd entries but the data have %zd rows", name,
                     (Py_ssize_t)PyArray_DIM(*arr, 0), (Py_ssize_t)n);
        Py_CLEAR(*arr);
        return -1;
    }
    const float *w = (const float *)PyArray_DATA(*arr);
    for (npy_intp i = 0; i < n; i++) {
        if (w[i] < 0) {
            PyErr_Format(PyExc_ValueError, "%s must be non-negative", name);
            Py_CLEAR(*arr);
            return -1;
        }
    }
    return 0;
}

/* 1-d integer labels of n entries, as int64 (their range is checked by
 * labels_in_range, which may need a model's number of classes). */
static PyArrayObject *as_label_codes(PyObject *obj, const char *name, npy_intp n)
{
    PyArrayObject *raw = (PyArrayObject *)PyArray_FromAny(obj, NULL, 0, 0, 0, NULL), *wide = NULL;
    if (!raw) return NULL;
    char kind = PyArray_DESCR(raw)->kind;
    if (kind != 'i' && kind != 'u' && kind != 'b') {
        PyErr_Format(PyExc_TypeError, "%s must hold integer class labels, got dtype %S", name,
                     (PyObject *)PyArray_DESCR(raw));
        goto done;
    }
    if (PyArray_NDIM(raw) != 1 || PyArray_DIM(raw, 0) != n) {
        PyErr_Format(PyExc_ValueError, "%s must be 1-dimensional with %zd entries", name, (Py_ssize_t)n);
        goto done;
    }
    wide = (PyArrayObject *)PyArray_FROM_OTF((PyObject *)raw, NPY_INT64, NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
done:
    Py_DECREF(raw);
    return wide;
}

/* codes (int64, from as_label_codes) in [0, k), as a new int32 array */
static PyArrayObject *labels_in_range(PyArrayObject *codes, const char *name, long k)
{
    npy_intp n = PyArray_DIM(codes, 0);
    const int64_t *src = (const int64_t *)PyArray_DATA(codes);
    for (npy_intp i = 0; i < n; i++) {
        if (src[i] < 0 || src[i] >= k) {
            PyErr_Format(PyExc_ValueError, "%s must lie in [0, %ld), got %lld at index %zd", name, k,
                         (long long)src[i], (Py_ssize_t)i);
            return NULL;
        }
    }
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_INT32);
    if (!out) return NULL;
    int32_t *dst = (int32_t *)PyArray_DATA(out);
    for (npy_intp i = 0; i < n; i++) dst[i] = (int32_t)src[i];
    return out;
}

/* 1-d integer labels in [0, k), as int32. */
static PyArrayObject *as_labels(PyObject *obj, const char *name, npy_intp n, long k)
{
    PyArrayObject *codes = as_label_codes(obj, name, n);
    if (!codes) return NULL;
    PyArrayObject *out = labels_in_range(codes, name, k);
    Py_DECREF(codes);
    return out;
}

static const char *const activation_names[CG_ACT_COUNT] = {"identity", "relu", "leaky_relu", "elu", "tanh",
                                                           "sigmoid"};

static int parse_activation(PyObject *obj, const char *name, int *out)
{
    const char *const *names = activation_names;
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a string, got %.100s", name, Py_TYPE(obj)->tp_name);
        return -1;
    }
    const char *s = PyUnicode_AsUTF8(obj);
    if (!s) return -1;
    for (int i = 0; i < CG_ACT_COUNT; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    PyErr_Format(PyExc_ValueError,
                 "%s must be one of 'identity', 'relu', 'leaky_relu', 'elu', 'tanh', 'sigmoid'; got %R",
                 name, obj);
    return -1;
}

static double default_act_param(int act) { return act == CG_ACT_LEAKY_RELU ? 0.2 : 1.0; }

static PyArrayObject *new_array(int ndim, npy_intp *dims, int zero)
{
    return (PyArrayObject *)(zero ? PyArray_ZEROS(ndim, dims, NPY_FLOAT32, 0)
                                  : PyArray_SimpleNew(ndim, dims, NPY_FLOAT32));
}

#define F32(a) ((float *)PyArray_DATA(a))

/* ----------------------------------------------------------- kernels */

/* 0 if a holds a rows x cols matrix whose element (i, j) is at i*rs + j*cs,
 * i.e. (rows - 1) rs + (cols - 1) cs < its length (checked without
 * overflowing); else -1 with a ValueError naming it */
static int need(PyArrayObject *a, const char *name, size_t rows, size_t rs, size_t cols, size_t cs)
{
    size_t len = (size_t)PyArray_SIZE(a);
    if (len > 0 && (!rs || rows - 1 <= (len - 1) / rs) && (!cs || cols - 1 <= (len - 1 - (rows - 1) * rs) / cs))
        return 0;
    PyErr_Format(PyExc_ValueError, "%s has %zu values, too few for %zu x %zu values at strides (%zu, %zu)", name, len,
                 rows, cols, rs, cs);
    return -1;
}

/* a size or stride argument of the kernel hooks, default dflt when absent;
 * at most CG_MAX_ROWS, so that their products stay within an npy_intp */
static int get_size(PyObject *obj, const char *name, long long dflt, long long lo, long long *out)
{
    *out = dflt;
    return obj && obj != Py_None ? get_int(obj, name, lo, CG_MAX_ROWS, out) : 0;
}

/* isa=None|"auto"|"baseline"|"fma"|"avx512": a set this CPU and build run */
static const char *const isa_names[] = {"auto", "baseline", "fma", "avx512"};

static int parse_isa(PyObject *obj, cg_isa *out)
{
    *out = CG_ISA_AUTO;
    if (!obj || obj == Py_None) return 0;
    const char *s = PyUnicode_Check(obj) ? PyUnicode_AsUTF8(obj) : NULL;
    if (!s) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "isa must be a string, got %.100s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    for (int i = 0; i <= CG_ISA_AVX512; i++) {
        if (strcmp(s, isa_names[i]) != 0) continue;
        if (i > (int)cg_isa_best()) {
            PyErr_Format(PyExc_ValueError, "isa %R is not available on this CPU and build (the best is '%s')", obj,
                         isa_names[cg_isa_best()]);
            return -1;
        }
        *out = (cg_isa)i;
        return 0;
    }
    PyErr_Format(PyExc_ValueError, "isa must be one of 'auto', 'baseline', 'fma', 'avx512'; got %R", obj);
    return -1;
}

/* A private copy of the optional 1-d array `obj` (zeros of length len when
 * None) for a kernel to write into: the caller's array is never written. */
static PyArrayObject *output_copy(PyObject *obj, const char *name, npy_intp len)
{
    if (obj == Py_None) return new_array(1, &len, 1);
    PyArrayObject *a = as_real(obj, name, 1);
    if (!a) return NULL;
    PyArrayObject *copy = (PyArrayObject *)PyArray_NewCopy(a, NPY_CORDER);
    Py_DECREF(a);
    return copy;
}

static int epilogue_from(PyObject *obj, cg_epilogue *out)
{
    static const char *names[] = {"store", "add", "bias", "bias_relu", "gate_relu"};
    const char *s = PyUnicode_Check(obj) ? PyUnicode_AsUTF8(obj) : NULL;
    for (int i = 0; s && i <= CG_EPI_GATE_RELU; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (cg_epilogue)i;
            return 0;
        }
    }
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_ValueError,
                     "epilogue must be one of 'store', 'add', 'bias', 'bias_relu', 'gate_relu'; got %R", obj);
    return -1;
}

/* gemm_fm(A, B, m, n, k, rs=k, cs=1, ldb=n, ldc=n, epilogue="store",
 * aux=None, C=None, isa=None) -> C: cg_gemm_fm_isa over flat float32
 * buffers, C[i*ldc + j] for i < m, j < n (the rest of C as given, or 0). */
static PyObject *py_gemm_fm(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"A", "B", "m", "n", "k", "rs", "cs", "ldb", "ldc", "epilogue", "aux", "C", "isa", NULL};
    PyObject *oa, *ob, *om, *on, *ok, *ors = NULL, *ocs = NULL, *oldb = NULL, *oldc = NULL, *oepi = NULL;
    PyObject *oaux = Py_None, *oc = Py_None, *oisa = NULL;
    PyArrayObject *A = NULL, *B = NULL, *aux = NULL, *C = NULL;
    long long m, n, k, rs, cs, ldb, ldc;
    cg_epilogue epi = CG_EPI_STORE;
    cg_isa isa;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOO|OOOOOOOO:gemm_fm", kwlist, &oa, &ob, &om, &on, &ok, &ors, &ocs,
                                     &oldb, &oldc, &oepi, &oaux, &oc, &oisa))
        return NULL;
    if (get_size(om, "m", 0, 1, &m) < 0 || get_size(on, "n", 0, 1, &n) < 0 || get_size(ok, "k", 0, 1, &k) < 0 ||
        get_size(ors, "rs", k, 0, &rs) < 0 || get_size(ocs, "cs", 1, 0, &cs) < 0 || get_size(oldb, "ldb", n, n, &ldb) < 0 ||
        get_size(oldc, "ldc", n, n, &ldc) < 0 || (oepi && epilogue_from(oepi, &epi) < 0) || parse_isa(oisa, &isa) < 0)
        return NULL;
    if (n % CG_FM_ALIGN != 0) {
        PyErr_Format(PyExc_ValueError, "n must be a multiple of %d, got %lld", CG_FM_ALIGN, n);
        return NULL;
    }
    int bias = epi == CG_EPI_BIAS || epi == CG_EPI_BIAS_RELU, gate = epi == CG_EPI_GATE_RELU;
    if (!(A = as_real(oa, "A", 1)) || !(B = as_real(ob, "B", 1)) || !(C = output_copy(oc, "C", (npy_intp)(m * ldc))) ||
        ((bias || gate) && !(aux = as_real(oaux, "aux", 1))))
        goto error;
    if (!bias && !gate && oaux != Py_None) {
        PyErr_SetString(PyExc_ValueError, "aux is only for the 'bias', 'bias_relu' and 'gate_relu' epilogues");
        goto error;
    }
    if (need(A, "A", (size_t)m, (size_t)rs, (size_t)k, (size_t)cs) < 0 ||
        need(B, "B", (size_t)k, (size_t)ldb, (size_t)n, 1) < 0 || need(C, "C", (size_t)m, (size_t)ldc, (size_t)n, 1) < 0 ||
        (bias && need(aux, "aux", 1, 1, (size_t)m, 1) < 0) || (gate && need(aux, "aux", (size_t)m, (size_t)ldc, (size_t)n, 1) < 0))
        goto error;
    Py_BEGIN_ALLOW_THREADS
    cg_gemm_fm_isa(isa, F32(C), (size_t)ldc, F32(A), (size_t)rs, (size_t)cs, F32(B), (size_t)ldb, (size_t)m, (size_t)n,
                   (size_t)k, epi, aux ? F32(aux) : NULL);
    Py_END_ALLOW_THREADS
    Py_DECREF(A);
    Py_DECREF(B);
    Py_XDECREF(aux);
    return (PyObject *)C;
error:
    Py_XDECREF(A);
    Py_XDECREF(B);
    Py_XDECREF(aux);
    Py_XDECREF(C);
    return NULL;
}

/* gemm_nt(A, B, m, n, k, lda=k, ldb=k, ldc=n, C=None, bsum=None, isa=None)
 * -> (C, bsum): C[i*ldc + j] += sum_p A[i*lda + p] B[j*ldb + p], and
 * bsum[j] += sum_p B[j*ldb + p] when bsum is given (else None). */
static PyObject *py_gemm_nt(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"A", "B", "m", "n", "k", "lda", "ldb", "ldc", "C", "bsum", "isa", NULL};
    PyObject *oa, *ob, *om, *on, *ok, *olda = NULL, *oldb = NULL, *oldc = NULL, *oc = Py_None, *obs = Py_None;
    PyObject *oisa = NULL;
    PyArrayObject *A = NULL, *B = NULL, *C = NULL, *bsum = NULL;
    long long m, n, k, lda, ldb, ldc;
    cg_isa isa;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOO|OOOOOO:gemm_nt", kwlist, &oa, &ob, &om, &on, &ok, &olda, &oldb,
                                     &oldc, &oc, &obs, &oisa))
        return NULL;
    if (get_size(om, "m", 0, 1, &m) < 0 || get_size(on, "n", 0, 1, &n) < 0 || get_size(ok, "k", 0, 1, &k) < 0 ||
        get_size(olda, "lda", k, k, &lda) < 0 || get_size(oldb, "ldb", k, k, &ldb) < 0 ||
        get_size(oldc, "ldc", n, n, &ldc) < 0 || parse_isa(oisa, &isa) < 0)
        return NULL;
    if (!(A = as_real(oa, "A", 1)) || !(B = as_real(ob, "B", 1)) || !(C = output_copy(oc, "C", (npy_intp)(m * ldc))) ||
        (obs != Py_None && !(bsum = output_copy(obs, "bsum", (npy_intp)n))))
        goto error;
    if (need(A, "A", (size_t)m, (size_t)lda, (size_t)k, 1) < 0 || need(B, "B", (size_t)n, (size_t)ldb, (size_t)k, 1) < 0 ||
        need(C, "C", (size_t)m, (size_t)ldc, (size_t)n, 1) < 0 || (bsum && need(bsum, "bsum", 1, 1, (size_t)n, 1) < 0))
        goto error;
    Py_BEGIN_ALLOW_THREADS
    cg_gemm_nt_isa(isa, F32(C), (size_t)ldc, F32(A), (size_t)lda, F32(B), (size_t)ldb, (size_t)m, (size_t)n, (size_t)k,
                   bsum ? F32(bsum) : NULL);
    Py_END_ALLOW_THREADS
    Py_DECREF(A);
    Py_DECREF(B);
    return bsum ? Py_BuildValue("(NN)", C, bsum) : Py_BuildValue("(NO)", C, Py_None);
error:
    Py_XDECREF(A);
    Py_XDECREF(B);
    Py_XDECREF(C);
    Py_XDECREF(bsum);
    return NULL;
}

/* transpose(src, rows, cols, lds=cols, ldd=rows, dst=None, add=False,
 * isa=None) -> dst: dst[j*ldd + i] (+)= src[i*lds + j]; src must hold rows *
 * lds values (the kernel may read a row's padding). */
static PyObject *py_transpose(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"src", "rows", "cols", "lds", "ldd", "dst", "add", "isa", NULL};
    PyObject *os, *orows, *ocols, *olds = NULL, *oldd = NULL, *od = Py_None, *oisa = NULL;
    int add = 0;
    PyArrayObject *src = NULL, *dst = NULL;
    long long rows, cols, lds, ldd;
    cg_isa isa;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|OOOpO:transpose", kwlist, &os, &orows, &ocols, &olds, &oldd, &od,
                                     &add, &oisa))
        return NULL;
    if (get_size(orows, "rows", 0, 1, &rows) < 0 || get_size(ocols, "cols", 0, 1, &cols) < 0 ||
        get_size(olds, "lds", cols, cols, &lds) < 0 || get_size(oldd, "ldd", rows, rows, &ldd) < 0 ||
        parse_isa(oisa, &isa) < 0)
        return NULL;
    /* src whole rows of lds values: the kernel may read a row's padding */
    if (!(src = as_real(os, "src", 1)) || !(dst = output_copy(od, "dst", (npy_intp)(cols * ldd))) ||
        need(src, "src", (size_t)rows, (size_t)lds, (size_t)lds, 1) < 0 ||
        need(dst, "dst", (size_t)cols, (size_t)ldd, (size_t)rows, 1) < 0)
        goto error;
    Py_BEGIN_ALLOW_THREADS
    cg_transpose_isa(isa, F32(dst), (size_t)ldd, F32(src), (size_t)lds, (size_t)rows, (size_t)cols, add);
    Py_END_ALLOW_THREADS
    Py_DECREF(src);
    return (PyObject *)dst;
error:
    Py_XDECREF(src);
    Py_XDECREF(dst);
    return NULL;
}

static int parse_act_args(PyObject *oact, PyObject *oparam, int *act, double *param)
{
    if (parse_activation(oact, "activation", act) < 0) return -1;
    *param = default_act_param(*act);
    if (oparam != Py_None && get_real(oparam, "param", 0, 1e6, 0, 0, param) < 0) return -1;
    return 0;
}

static PyObject *py_activation_forward(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"x", "activation", "param", NULL};
    PyObject *ox, *oact, *oparam = Py_None;
    PyArrayObject *x = NULL, *y = NULL;
    int act;
    double param;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:activation_forward", kwlist, &ox, &oact, &oparam))
        return NULL;
    if (parse_act_args(oact, oparam, &act, &param) < 0) return NULL;
    if (!(x = as_real(ox, "x", 1))) return NULL;
    npy_intp n = PyArray_DIM(x, 0);
    if (!(y = new_array(1, &n, 0))) goto error;
    Py_BEGIN_ALLOW_THREADS
    cg_activation_forward(F32(y), F32(x), (size_t)n, (cg_activation)act, param);
    Py_END_ALLOW_THREADS
    Py_DECREF(x);
    return (PyObject *)y;
error:
    Py_XDECREF(x);
    return NULL;
}

static PyObject *py_activation_backward(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"dy", "x", "activation", "param", NULL};
    PyObject *ody, *ox, *oact, *oparam = Py_None;
    PyArrayObject *dy = NULL, *x = NULL, *y = NULL, *dx = NULL;
    int act;
    double param;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|O:activation_backward", kwlist, &ody, &ox, &oact, &oparam))
        return NULL;
    if (parse_act_args(oact, oparam, &act, &param) < 0) return NULL;
    if (!(dy = as_real(ody, "dy", 1)) || !(x = as_real(ox, "x", 1))) goto error;
    npy_intp n = PyArray_DIM(x, 0);
    if (PyArray_DIM(dy, 0) != n) {
        PyErr_Format(PyExc_ValueError, "dy has %zd entries but x has %zd", (Py_ssize_t)PyArray_DIM(dy, 0),
                     (Py_ssize_t)n);
        goto error;
    }
    if (!(y = new_array(1, &n, 0)) || !(dx = new_array(1, &n, 0))) goto error;
    Py_BEGIN_ALLOW_THREADS
    cg_activation_forward(F32(y), F32(x), (size_t)n, (cg_activation)act, param);
    memcpy(F32(dx), F32(dy), (size_t)n * sizeof(float));
    cg_activation_backward(F32(dx), F32(x), F32(y), (size_t)n, (cg_activation)act, param);
    Py_END_ALLOW_THREADS
    Py_DECREF(dy);
    Py_DECREF(x);
    Py_DECREF(y);
    return (PyObject *)dx;
error:
    Py_XDECREF(dy);
    Py_XDECREF(x);
    Py_XDECREF(y);
    Py_XDECREF(dx);
    return NULL;
}

/* dropout_forward(x, p, seed, n=None) -> (y, mask): x is (units, width),
 * feature-major lines of which the first n columns are rows (the mask is
 * drawn for them, row by row) and the rest padding. */
static PyObject *py_dropout_forward(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"x", "p", "seed", "n", NULL};
    PyObject *ox, *op, *oseed, *on = Py_None;
    PyArrayObject *x = NULL, *y = NULL, *mask = NULL;
    double p;
    uint64_t seed;
    long long n;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|O:dropout_forward", kwlist, &ox, &op, &oseed, &on)) return NULL;
    if (get_real(op, "p", 0, 1, 0, 1, &p) < 0 || get_seed(oseed, &seed) < 0) return NULL;
    if (!(x = as_real(ox, "x", 2))) return NULL;
    npy_intp units = PyArray_DIM(x, 0), width = PyArray_DIM(x, 1);
    n = width;
    if (on != Py_None && get_int(on, "n", 0, width, &n) < 0) goto error;
    if (!(y = new_array(2, PyArray_DIMS(x), 0)) || !(mask = new_array(2, PyArray_DIMS(x), 0))) goto error;
    Py_BEGIN_ALLOW_THREADS
    cg_rng rng;
    cg_rng_seed(&rng, seed);
    cg_dropout_forward(F32(y), F32(mask), F32(x), (size_t)units, (size_t)n, (size_t)width, (size_t)width, p, &rng);
    Py_END_ALLOW_THREADS
    Py_DECREF(x);
    return Py_BuildValue("(NN)", y, mask);
error:
    Py_XDECREF(x);
    Py_XDECREF(y);
    Py_XDECREF(mask);
    return NULL;
}

/* losses: (pred, target, weight) -> (loss, grad), mean over rows */
typedef double (*pointwise_loss)(cg_real *, const cg_real *, const cg_real *, const cg_real *, size_t, double);

static PyObject *pointwise_loss_call(PyObject *args, PyObject *kw, const char *fmt, pointwise_loss f,
                                     const char *pred_name, int target_in_unit)
{
    static char *kwlist[] = {"prediction", "target", "weight", NULL};
    PyObject *op, *ot, *ow = Py_None;
    PyArrayObject *p = NULL, *t = NULL, *w = NULL, *g = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, &op, &ot, &ow)) return NULL;
    if (!(p = as_real(op, pred_name, 1)) || !(t = as_real(ot, "target", 1))) goto error;
    npy_intp n = PyArray_DIM(p, 0);
    if (PyArray_DIM(t, 0) != n) {
        PyErr_Format(PyExc_ValueError, "target has %zd entries but %s has %zd", (Py_ssize_t)PyArray_DIM(t, 0),
                     pred_name, (Py_ssize_t)n);
        goto error;
    }
    if (target_in_unit) {
        const float *tv = F32(t);
        for (npy_intp i = 0; i < n; i++) {
            if (tv[i] < 0 || tv[i] > 1) {
                PyErr_SetString(PyExc_ValueError, "target must lie in [0, 1]");
                goto error;
            }
        }
    }
    if (as_weights(ow, "weight", n, &w) < 0) goto error;
    if (!(g = new_array(1, &n, 1))) goto error;
    double loss;
    Py_BEGIN_ALLOW_THREADS
    loss = f(F32(g), F32(p), F32(t), w ? F32(w) : NULL, (size_t)n, 1.0 / (double)n);
    Py_END_ALLOW_THREADS
    Py_DECREF(p);
    Py_DECREF(t);
    Py_XDECREF(w);
    return Py_BuildValue("(dN)", loss, g);
error:
    Py_XDECREF(p);
    Py_XDECREF(t);
    Py_XDECREF(w);
    Py_XDECREF(g);
    return NULL;
}

static PyObject *py_mse_loss(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    return pointwise_loss_call(args, kw, "OO|O:mse_loss", cg_mse_loss, "prediction", 0);
}

static PyObject *py_bce_logits_loss(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    return pointwise_loss_call(args, kw, "OO|O:bce_logits_loss", cg_bce_logits_loss, "prediction", 1);
}

static PyObject *py_softmax_ce_loss(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"logits", "labels", "weight", NULL};
    PyObject *oz, *ol, *ow = Py_None;
    PyArrayObject *z = NULL, *lab = NULL, *w = NULL, *g = NULL;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:softmax_ce_loss", kwlist, &oz, &ol, &ow)) return NULL;
    if (!(z = as_real(oz, "logits", 2))) return NULL;
    npy_intp n = PyArray_DIM(z, 0), k = PyArray_DIM(z, 1);
    if (!(lab = as_labels(ol, "labels", n, (long)k))) goto error;
    if (as_weights(ow, "weight", n, &w) < 0) goto error;
    if (!(g = new_array(2, PyArray_DIMS(z), 1))) goto error;
    double loss;
    Py_BEGIN_ALLOW_THREADS
    loss = cg_softmax_ce_loss(F32(g), F32(z), (const int32_t *)PyArray_DATA(lab), w ? F32(w) : NULL, (size_t)n,
                              (size_t)k, 1.0 / (double)n);
    Py_END_ALLOW_THREADS
    Py_DECREF(z);
    Py_DECREF(lab);
    Py_XDECREF(w);
    return Py_BuildValue("(dN)", loss, g);
error:
    Py_XDECREF(z);
    Py_XDECREF(lab);
    Py_XDECREF(w);
    Py_XDECREF(g);
    return NULL;
}

/* --------------------------------------------------------------- RNG */

#define MAX_DRAWS ((long long)1 << 32)

static PyObject *py_rng_draw(PyObject *args, PyObject *kw, int which)
{
    static char *kwlist_draw[] = {"seed", "size", NULL};
    static char *kwlist_indices[] = {"seed", "size", "high", NULL};
    PyObject *oseed, *osize, *ohigh = NULL;
    uint64_t seed;
    long long size, high = 0;
    int ok = which == 2 ? PyArg_ParseTupleAndKeywords(args, kw, "OOO:rng_indices", kwlist_indices, &oseed, &osize,
                                                      &ohigh)
                        : PyArg_ParseTupleAndKeywords(args, kw, which == 0 ? "OO:rng_uniform" : "OO:rng_normal",
                                                      kwlist_draw, &oseed, &osize);
    if (!ok) return NULL;
    if (get_seed(oseed, &seed) < 0 || get_int(osize, "size", 0, MAX_DRAWS, &size) < 0) return NULL;
    if (which == 2 && get_int(ohigh, "high", 1, (long long)1 << 62, &high) < 0) return NULL;
    npy_intp n = (npy_intp)size;
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, &n, which == 2 ? NPY_INT64 : NPY_FLOAT32);
    if (!out) return NULL;
    Py_BEGIN_ALLOW_THREADS
    cg_rng rng;
    cg_rng_seed(&rng, seed);
    if (which == 0)
        cg_rng_fill_uniform(&rng, F32(out), (size_t)n, 0.0, 1.0);
    else if (which == 1)
        cg_rng_fill_normal(&rng, F32(out), (size_t)n, 0.0, 1.0);
    else
        cg_rng_indices(&rng, (int64_t *)PyArray_DATA(out), (size_t)n, (int64_t)high);
    Py_END_ALLOW_THREADS
    return (PyObject *)out;
}

static PyObject *py_rng_uniform(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    return py_rng_draw(args, kw, 0);
}
static PyObject *py_rng_normal(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    return py_rng_draw(args, kw, 1);
}
static PyObject *py_rng_indices(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    return py_rng_draw(args, kw, 2);
}

/* -------------------------------------------------------------- Adam */

static int parse_adam(PyObject *olr, PyObject *ob1, PyObject *ob2, PyObject *oeps, PyObject *owd, int decoupled,
                      cg_adam_config *cfg)
{
    cfg->lr = 1e-3;
    cfg->beta1 = 0.9;
    cfg->beta2 = 0.999;
    cfg->eps = 1e-8;
    cfg->weight_decay = 0.0;
    cfg->decoupled = decoupled;
    if (olr && get_real(olr, "learning_rate", 0, 10, 1, 0, &cfg->lr) < 0) return -1;
    if (ob1 && get_real(ob1, "beta1", 0, 1, 0, 1, &cfg->beta1) < 0) return -1;
    if (ob2 && get_real(ob2, "beta2", 0, 1, 0, 1, &cfg->beta2) < 0) return -1;
    if (oeps && get_real(oeps, "eps", 0, 1, 1, 0, &cfg->eps) < 0) return -1;
    if (owd && get_real(owd, "weight_decay", 0, 1e3, 0, 0, &cfg->weight_decay) < 0) return -1;
    return 0;
}

static PyObject *py_adam_run(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"params", "grads", "learning_rate", "beta1", "beta2", "eps", "weight_decay",
                             "decoupled", NULL};
    PyObject *op, *og, *olr = NULL, *ob1 = NULL, *ob2 = NULL, *oeps = NULL, *owd = NULL;
    int decoupled = 0;
    PyArrayObject *p = NULL, *g = NULL, *out = NULL;
    cg_adam *adam = NULL;
    char err[CG_ERR_LEN] = "";
    cg_adam_config cfg;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OOOOOp:adam_run", kwlist, &op, &og, &olr, &ob1, &ob2, &oeps,
                                     &owd, &decoupled))
        return NULL;
    if (parse_adam(olr, ob1, ob2, oeps, owd, decoupled, &cfg) < 0) return NULL;
    if (!(p = as_real(op, "params", 1)) || !(g = as_real(og, "grads", 2))) goto error;
    npy_intp n = PyArray_DIM(p, 0), steps = PyArray_DIM(g, 0);
    if (PyArray_DIM(g, 1) != n) {
        PyErr_Format(PyExc_ValueError, "grads has %zd columns but params has %zd entries",
                     (Py_ssize_t)PyArray_DIM(g, 1), (Py_ssize_t)n);
        goto error;
    }
    out = (PyArrayObject *)PyArray_NewCopy(p, NPY_CORDER);
    if (!out) goto error;
    cg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cg_adam_create(&adam, (size_t)n, &cfg, err);
    for (npy_intp s = 0; st == CG_OK && s < steps; s++) cg_adam_step(adam, F32(out), F32(g) + s * n);
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        goto error;
    }
    cg_adam_free(adam);
    Py_DECREF(p);
    Py_DECREF(g);
    return (PyObject *)out;
error:
    cg_adam_free(adam);
    Py_XDECREF(p);
    Py_XDECREF(g);
    Py_XDECREF(out);
    return NULL;
}

/* ------------------------------------------------------- core objects */

/* The four types (MLP, Ganite, Wgan, Scigan) share one layout and one lifecycle: a
 * pointer to the core object, a lock that serialises every call on it, and
 * the arrays the core reads across calls, kept alive while it does.
 *
 * The lock.  A call converts its arguments first (which can run Python code:
 * __array__, __index__), then takes the object's lock, waiting for it with
 * the GIL released: a second thread's call on a busy object waits and then
 * runs, and no thread ever waits for the lock while holding the GIL.  With
 * the lock held a call runs only C: the core (with the GIL released), array
 * allocation (ndarrays are not tracked by the garbage collector, so no
 * finalizer can run) and raising built-in exceptions; tuples and dicts are
 * built, and references dropped, after the lock is released.  A call from
 * the thread that already holds the lock raises instead of waiting for
 * itself.  The core's forward passes use the object's buffers, so reading
 * calls are serialised too. */
typedef struct CoreObject CoreObject;

/* what differs between the types */
typedef struct {
    const char *name;                       /* in messages */
    void (*release)(CoreObject *self);      /* frees the core object (and what else the type owns) */
    void (*clear_data)(void *model);        /* forgets attached data; NULL: none */
    size_t (*snapshot_size)(const void *model);
    cg_status (*snapshot)(const void *model, void *buf, size_t size, char *err);
    cg_status (*restore)(void **model, const void *buf, size_t size, char *err);
} core_kind;

#define N_KEPT 5

struct CoreObject {
    PyObject_HEAD
    void *model;               /* NULL until __init__ (or restore) */
    PyThread_type_lock lock;
    unsigned long owner;       /* the thread holding lock, 0 when none; read and written with the GIL */
    const core_kind *kind;
    PyObject *kept[N_KEPT];    /* arrays the core reads across calls */
};

static PyObject *core_alloc(PyTypeObject *type, const core_kind *kind)
{
    CoreObject *self = (CoreObject *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->kind = kind;
    if (!(self->lock = PyThread_allocate_lock())) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static void core_dealloc(CoreObject *self)
{
    if (self->kind) self->kind->release(self);
    for (int i = 0; i < N_KEPT; i++) Py_CLEAR(self->kept[i]);
    if (self->lock) PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Takes self's lock (waiting with the GIL released) and sets *held; -1 with
 * RuntimeError if this thread holds it already. */
static int core_lock(CoreObject *self, int *held)
{
    unsigned long me = PyThread_get_thread_ident();
    if (self->owner == me) {
        PyErr_Format(PyExc_RuntimeError, "this %s is already running a call in this thread", self->kind->name);
        return -1;
    }
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    self->owner = me;
    *held = 1;
    return 0;
}

/* Releases self's lock if *held (so that one error label serves every path). */
static void core_release(CoreObject *self, int *held)
{
    if (!*held) return;
    *held = 0;
    self->owner = 0;
    PyThread_release_lock(self->lock);
}

/* core_lock, for an object that holds a model ("not initialised" otherwise) */
static int core_acquire(CoreObject *self, int *held)
{
    if (core_lock(self, held) < 0) return -1;
    if (self->model) return 0;
    core_release(self, held);
    PyErr_Format(PyExc_RuntimeError, "%s is not initialised", self->kind->name);
    return -1;
}

/* Replaces the kept arrays by kept[] (references stolen, NULL allowed) and
 * moves the old ones to old[], to be dropped once the lock is released. */
static void swap_kept(CoreObject *self, PyObject **kept, PyObject **old)
{
    for (int i = 0; i < N_KEPT; i++) {
        old[i] = self->kept[i];
        self->kept[i] = kept[i];
        kept[i] = NULL;
    }
}

static void drop_all(PyObject **objs)
{
    for (int i = 0; i < N_KEPT; i++) Py_CLEAR(objs[i]);
}

/* __init__'s end: self takes the new core object (the old one is freed) and
 * drops its kept arrays. */
static int core_replace(CoreObject *self, void *model)
{
    PyObject *none[N_KEPT] = {NULL}, *old[N_KEPT];
    int held = 0;
    if (core_lock(self, &held) < 0) return -1;
    self->kind->release(self);
    self->model = model;
    swap_kept(self, none, old);
    core_release(self, &held);
    drop_all(old);
    return 0;
}

static PyObject *core_clear_data(CoreObject *self, PyObject *noargs)
{
    PyObject *none[N_KEPT] = {NULL}, *old[N_KEPT];
    int held = 0;
    (void)noargs;
    if (core_acquire(self, &held) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    self->kind->clear_data(self->model);
    Py_END_ALLOW_THREADS
    swap_kept(self, none, old);
    core_release(self, &held);
    drop_all(old);
    Py_RETURN_NONE;
}

/* The versioned byte snapshot of the full state. */
static PyObject *core_snapshot(CoreObject *self, PyObject *noargs)
{
    PyObject *bytes = NULL, *result = NULL;
    char err[CG_ERR_LEN] = "";
    int held = 0;
    cg_status st;
    (void)noargs;
    if (core_acquire(self, &held) < 0) return NULL;
    size_t size;
    Py_BEGIN_ALLOW_THREADS
    size = self->kind->snapshot_size(self->model);
    Py_END_ALLOW_THREADS
    if (size > (size_t)PY_SSIZE_T_MAX) {
        PyErr_Format(PyExc_MemoryError, "a snapshot of %zu bytes is too large", size);
        goto done;
    }
    if (!(bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size))) goto done;
    Py_BEGIN_ALLOW_THREADS
    st = self->kind->snapshot(self->model, PyBytes_AS_STRING(bytes), size, err);
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        goto done;
    }
    result = bytes, bytes = NULL;
done:
    core_release(self, &held);
    Py_XDECREF(bytes);
    return result;
}

/* A new object of type cls holding the model restored from arg's bytes. */
static PyObject *core_restore(PyObject *cls, PyObject *arg, const core_kind *kind)
{
    Py_buffer view;
    char err[CG_ERR_LEN] = "";
    void *model = NULL;
    cg_status st;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "snapshot must be bytes, got %.100s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = kind->restore(&model, view.buf, (size_t)view.len, err);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (st != CG_OK) return raise_status(st, err);
    CoreObject *obj = (CoreObject *)core_alloc((PyTypeObject *)cls, kind);
    if (!obj) {
        CoreObject orphan = {.model = model}; /* only for release, which frees the model */
        kind->release(&orphan);
        return NULL;
    }
    obj->model = model;
    return (PyObject *)obj;
}

/* X's columns against what the model takes: "X has 5 columns but <whose>
 * 3<unit>" */
static int check_columns(PyArrayObject *X, const char *name, int want, const char *whose, const char *unit)
{
    if (PyArray_DIM(X, 1) == want) return 0;
    PyErr_Format(PyExc_ValueError, "%s has %zd columns but %s %d%s", name, (Py_ssize_t)PyArray_DIM(X, 1), whose, want,
                 unit);
    return -1;
}

static PyArrayObject *new_losses(npy_intp n) { return (PyArrayObject *)PyArray_ZEROS(1, &n, NPY_FLOAT64, 0); }

/* --------------------------------------------------------------- MLP */

typedef struct {
    CoreObject core;           /* kept[0]: the last forward's input (its rows are what backward needs) */
    cg_adam *adam;
    cg_rng rng;
    npy_intp last_n;
    cg_mlp_capture *capture;   /* per_example_begin's, freed with the network */
} MLPObject;

static void mlp_release(CoreObject *self)
{
    MLPObject *m = (MLPObject *)self;
    cg_mlp_free(self->model);
    cg_adam_free(m->adam);
    cg_mlp_capture_free(m->capture);
    self->model = NULL;
    m->adam = NULL;
    m->capture = NULL;
    m->last_n = 0;
}

static const core_kind mlp_kind = {"MLP", mlp_release, NULL, NULL, NULL, NULL};

static PyObject *MLP_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    return core_alloc(type, &mlp_kind);
}

/* a sequence argument of n entries (any number when n < 0), or NULL with
 * the error set */
static PyObject *sequence_of(PyObject *obj, const char *what, Py_ssize_t n, const char *name)
{
    PyObject *seq = PySequence_Fast(obj, what);
    if (seq && n >= 0 && PySequence_Fast_GET_SIZE(seq) != n) {
        PyErr_Format(PyExc_ValueError, "%s must have %zd entries", name, n);
        Py_CLEAR(seq);
    }
    return seq;
}

/* the spec of MLP(sizes, activations, activation_params=None, dropout=None) */
typedef struct {
    cg_mlp_spec spec;
    int sizes[CG_MAX_LAYERS + 1], acts[CG_MAX_LAYERS];
    double aparams[CG_MAX_LAYERS], drop[CG_MAX_LAYERS];
} mlp_args;

static int mlp_args_from(PyObject *osizes, PyObject *oacts, PyObject *oparams, PyObject *odrop, mlp_args *a)
{
    PyObject *sizes = NULL, *acts = NULL, *params = NULL, *drop = NULL;
    int rc = -1;
    if (!(sizes = sequence_of(osizes, "sizes must be a sequence of integers", -1, "sizes"))) goto done;
    Py_ssize_t ns = PySequence_Fast_GET_SIZE(sizes), L = ns - 1;
    if (L < 1 || L > CG_MAX_LAYERS) {
        PyErr_Format(PyExc_ValueError, "sizes must have between 2 and %d entries, got %zd", CG_MAX_LAYERS + 1, ns);
        goto done;
    }
    if (!(acts = PySequence_Fast(oacts, "activations must be a sequence of strings"))) goto done;
    if (PySequence_Fast_GET_SIZE(acts) != L) {
        PyErr_Format(PyExc_ValueError, "activations must have %zd entries (one per layer), got %zd", L,
                     PySequence_Fast_GET_SIZE(acts));
        goto done;
    }
    for (Py_ssize_t i = 0; i < ns; i++) {
        long long v;
        if (get_int(PySequence_Fast_GET_ITEM(sizes, i), "each entry of sizes", 1, CG_MAX_FEATURES, &v) < 0) goto done;
        a->sizes[i] = (int)v;
    }
    for (Py_ssize_t l = 0; l < L; l++) {
        if (parse_activation(PySequence_Fast_GET_ITEM(acts, l), "each entry of activations", &a->acts[l]) < 0)
            goto done;
        a->aparams[l] = default_act_param(a->acts[l]);
        a->drop[l] = 0;
    }
    if (oparams != Py_None) {
        if (!(params = sequence_of(oparams, "activation_params must be a sequence", L, "activation_params"))) goto done;
        for (Py_ssize_t l = 0; l < L; l++)
            if (get_real(PySequence_Fast_GET_ITEM(params, l), "activation_params", 0, 1e6, 0, 0, &a->aparams[l]) < 0)
                goto done;
    }
    if (odrop != Py_None) {
        if (!(drop = sequence_of(odrop, "dropout must be a sequence", L, "dropout"))) goto done;
        for (Py_ssize_t l = 0; l < L; l++)
            if (get_real(PySequence_Fast_GET_ITEM(drop, l), "dropout", 0, 1, 0, 1, &a->drop[l]) < 0) goto done;
    }
    a->spec = (cg_mlp_spec){(int)L, a->sizes, a->acts, a->aparams, a->drop};
    rc = 0;
done:
    Py_XDECREF(sizes);
    Py_XDECREF(acts);
    Py_XDECREF(params);
    Py_XDECREF(drop);
    return rc;
}

static int MLP_init(MLPObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"sizes", "activations", "seed", "activation_params", "dropout", NULL};
    PyObject *osizes, *oacts, *oseed, *oparams = Py_None, *odrop = Py_None;
    PyObject *none[N_KEPT] = {NULL}, *old[N_KEPT] = {NULL};
    mlp_args a;
    uint64_t seed;
    char err[CG_ERR_LEN] = "";
    int held = 0;
    cg_mlp *m = NULL;
    cg_rng rng;
    cg_status st;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|OO:MLP", kwlist, &osizes, &oacts, &oseed, &oparams, &odrop) ||
        get_seed(oseed, &seed) < 0 || mlp_args_from(osizes, oacts, oparams, odrop, &a) < 0)
        return -1;
    Py_BEGIN_ALLOW_THREADS
    st = cg_mlp_create(&m, &a.spec, 1, err);
    if (st == CG_OK) {
        cg_rng_seed(&rng, seed);
        cg_mlp_init(m, &rng);
    }
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        return -1;
    }
    if (core_lock(&self->core, &held) < 0) {
        cg_mlp_free(m);
        return -1;
    }
    mlp_release(&self->core);
    self->core.model = m;
    self->rng = rng;
    swap_kept(&self->core, none, old);
    core_release(&self->core, &held);
    drop_all(old);
    return 0;
}

/* a byte count from the core as a Python int; SIZE_MAX is a count that overflowed */
static PyObject *bytes_result(size_t bytes, const char *what)
{
    if (bytes == SIZE_MAX) {
        PyErr_Format(PyExc_OverflowError, "%s needs more bytes than this platform can count", what);
        return NULL;
    }
    return PyLong_FromSize_t(bytes);
}

static PyObject *MLP_nbytes(PyObject *unused, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"sizes", "activations", "capacity", "activation_params", "dropout", "penalty", NULL};
    PyObject *osizes, *oacts, *ocap = NULL, *oparams = Py_None, *odrop = Py_None;
    int penalty = 0;
    long long cap = 1;
    mlp_args a;
    size_t bytes;
    (void)unused;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OOOp:nbytes", kwlist, &osizes, &oacts, &ocap, &oparams, &odrop,
                                     &penalty) ||
        (ocap && get_int(ocap, "capacity", 1, CG_MAX_ROWS, &cap) < 0) ||
        mlp_args_from(osizes, oacts, oparams, odrop, &a) < 0)
        return NULL;
    if (penalty && a.sizes[a.spec.n_layers] != 1) {
        PyErr_SetString(PyExc_ValueError, "a gradient penalty needs a network with one output");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    bytes = cg_mlp_bytes(&a.spec, (size_t)cap);
    size_t extra = penalty ? cg_mlp_penalty_bytes(&a.spec, (size_t)cap) : 0;
    bytes = bytes > SIZE_MAX - extra ? SIZE_MAX : bytes + extra;
    Py_END_ALLOW_THREADS
    return bytes_result(bytes, "this network");
}

static PyObject *MLP_get_n_params(MLPObject *self, void *closure)
{
    int held = 0;
    (void)closure;
    if (core_lock(&self->core, &held) < 0) return NULL;
    size_t n = self->core.model ? cg_mlp_n_params(self->core.model) : 0;
    core_release(&self->core, &held);
    return PyLong_FromSize_t(n);
}

/* a copy of the parameter block (grads = 0) or of the gradient block */
static PyObject *copy_block(MLPObject *self, int grads)
{
    PyArrayObject *out = NULL;
    int held = 0;
    if (core_acquire(&self->core, &held) < 0) return NULL;
    cg_mlp *m = self->core.model;
    npy_intp n = (npy_intp)cg_mlp_n_params(m);
    if ((out = new_array(1, &n, 0)))
        memcpy(F32(out), grads ? cg_mlp_grads(m) : cg_mlp_params(m), (size_t)n * sizeof(float));
    core_release(&self->core, &held);
    return (PyObject *)out;
}

static PyObject *MLP_get_params(MLPObject *self, PyObject *noargs)
{
    (void)noargs;
    return copy_block(self, 0);
}

static PyObject *MLP_get_grads(MLPObject *self, PyObject *noargs)
{
    (void)noargs;
    return copy_block(self, 1);
}

static PyObject *MLP_set_params(MLPObject *self, PyObject *arg)
{
    PyArrayObject *p = as_real(arg, "params", 1);
    PyObject *result = NULL;
    int held = 0;
    if (!p || core_acquire(&self->core, &held) < 0) goto done;
    npy_intp n = (npy_intp)cg_mlp_n_params(self->core.model);
    if (PyArray_DIM(p, 0) != n) {
        PyErr_Format(PyExc_ValueError, "params must have %zd entries, got %zd", (Py_ssize_t)n,
                     (Py_ssize_t)PyArray_DIM(p, 0));
        goto done;
    }
    memcpy(cg_mlp_params(self->core.model), F32(p), (size_t)n * sizeof(float));
    result = Py_NewRef(Py_None);
done:
    core_release(&self->core, &held);
    Py_XDECREF(p);
    return result;
}

static PyObject *MLP_zero_grad(MLPObject *self, PyObject *noargs)
{
    int held = 0;
    (void)noargs;
    if (core_acquire(&self->core, &held) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    cg_mlp_zero_grad(self->core.model);
    Py_END_ALLOW_THREADS
    core_release(&self->core, &held);
    Py_RETURN_NONE;
}

static PyObject *MLP_forward(MLPObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"X", "train", NULL};
    PyObject *ox, *result = NULL, *kept[N_KEPT] = {NULL}, *old[N_KEPT] = {NULL};
    PyArrayObject *X = NULL, *Y = NULL;
    int train = 0, held = 0;
    char err[CG_ERR_LEN] = "";
    cg_status st;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p:forward", kwlist, &ox, &train)) return NULL;
    /* a private copy: it is kept as the input that backward refers to */
    if (!(X = as_private_real(ox, "X", 2)) || core_acquire(&self->core, &held) < 0) goto done;
    cg_mlp *m = self->core.model;
    npy_intp n = PyArray_DIM(X, 0), dims[2] = {n, cg_mlp_size(m, cg_mlp_n_layers(m))};
    if (check_columns(X, "X", cg_mlp_size(m, 0), "the network takes", " inputs") < 0) goto done;
    if (n > (npy_intp)CG_MAX_ROWS) {
        PyErr_Format(PyExc_ValueError, "X has too many rows (%zd)", (Py_ssize_t)n);
        goto done;
    }
    if (!(Y = new_array(2, dims, 0))) goto done;
    Py_BEGIN_ALLOW_THREADS
    st = cg_mlp_reserve(m, (size_t)n, err);
    if (st == CG_OK) {
        const cg_real *out = cg_mlp_forward(m, F32(X), (size_t)n, train, &self->rng);
        memcpy(F32(Y), out, (size_t)(dims[0] * dims[1]) * sizeof(float));
    }
    Py_END_ALLOW_THREADS
    /* a failed reserve drops the cache, and with it the last forward */
    if (st == CG_OK) kept[0] = (PyObject *)X, X = NULL;
    swap_kept(&self->core, kept, old);
    self->last_n = st == CG_OK ? n : 0;
    if (st != CG_OK) {
        raise_status(st, err);
        goto done;
    }
    result = (PyObject *)Y, Y = NULL;
done:
    core_release(&self->core, &held);
    drop_all(old);
    Py_XDECREF(X);
    Py_XDECREF(Y);
    return result;
}

static PyObject *MLP_backward(MLPObject *self, PyObject *arg)
{
    PyArrayObject *dY = NULL, *dX = NULL;
    PyObject *result = NULL;
    int held = 0;
    if (!(dY = as_real(arg, "dY", 2)) || core_acquire(&self->core, &held) < 0) goto done;
    cg_mlp *m = self->core.model;
    if (!self->core.kept[0]) {
        PyErr_SetString(PyExc_RuntimeError, "backward needs a forward call first");
        goto done;
    }
    int L = cg_mlp_n_layers(m);
    if (PyArray_DIM(dY, 0) != self->last_n || PyArray_DIM(dY, 1) != cg_mlp_size(m, L)) {
        PyErr_Format(PyExc_ValueError, "dY must have shape (%zd, %d), the shape of the last forward output",
                     (Py_ssize_t)self->last_n, cg_mlp_size(m, L));
        goto done;
    }
    npy_intp dims[2] = {self->last_n, cg_mlp_size(m, 0)};
    if (!(dX = new_array(2, dims, 1))) goto done;
    Py_BEGIN_ALLOW_THREADS
    cg_mlp_backward(m, F32(dX), F32(dY));
    Py_END_ALLOW_THREADS
    result = (PyObject *)dX, dX = NULL;
done:
    core_release(&self->core, &held);
    Py_XDECREF(dY);
    Py_XDECREF(dX);
    return result;
}

static PyObject *MLP_fit(MLPObject *self, PyObject *args, PyObject *kw, int classify)
{
    static char *kwlist[] = {"X", "Y", "batch_size", "n_iter", "learning_rate", "weight_decay", "decoupled", NULL};
    PyObject *ox, *oy, *obs, *oit, *olr = NULL, *owd = NULL, *odec = NULL, *none[N_KEPT] = {NULL};
    PyObject *old[N_KEPT] = {NULL}, *result = NULL;
    int decoupled = 1, held = 0;
    PyArrayObject *X = NULL, *Y = NULL, *codes = NULL, *losses = NULL;
    long long bs, n_iter;
    char err[CG_ERR_LEN] = "";
    cg_adam_config cfg;
    cg_status st;
    if (!PyArg_ParseTupleAndKeywords(args, kw, classify ? "OOOO|OOO:fit_softmax" : "OOOO|OOO:fit_mse", kwlist,
                                     &ox, &oy, &obs, &oit, &olr, &owd, &odec))
        return NULL;
    if (odec) {
        if (!PyBool_Check(odec) && !PyArray_IsScalar(odec, Bool)) {
            PyErr_Format(PyExc_TypeError, "decoupled must be a bool, got %s", Py_TYPE(odec)->tp_name);
            return NULL;
        }
        decoupled = PyObject_IsTrue(odec);
    }
    if (parse_adam(olr, NULL, NULL, NULL, owd, decoupled, &cfg) < 0 ||
        get_int(obs, "batch_size", 1, CG_MAX_ROWS, &bs) < 0 || get_int(oit, "n_iter", 0, CG_MAX_ITERATIONS, &n_iter) < 0)
        return NULL;
    if (!(X = as_real(ox, "X", 2))) return NULL;
    npy_intp n = PyArray_DIM(X, 0), nl = (npy_intp)n_iter;
    if (!(classify ? (codes = as_label_codes(oy, "Y", n)) : (Y = as_real(oy, "Y", 2)))) goto done;
    if (!(losses = new_losses(nl)) || core_acquire(&self->core, &held) < 0) goto done;
    cg_mlp *m = self->core.model;
    int out = cg_mlp_size(m, cg_mlp_n_layers(m));
    if (check_columns(X, "X", cg_mlp_size(m, 0), "the network takes", " inputs") < 0) goto done;
    if (classify) {
        if (out < 2) {
            PyErr_SetString(PyExc_ValueError, "fit_softmax needs a network with at least two outputs");
            goto done;
        }
        if (!(Y = labels_in_range(codes, "Y", out))) goto done;
    } else if (PyArray_DIM(Y, 0) != n || PyArray_DIM(Y, 1) != out) {
        PyErr_Format(PyExc_ValueError, "Y must have shape (%zd, %d), got (%zd, %zd)", (Py_ssize_t)n, out,
                     (Py_ssize_t)PyArray_DIM(Y, 0), (Py_ssize_t)PyArray_DIM(Y, 1));
        goto done;
    }
    if (bs > n) {
        PyErr_Format(PyExc_ValueError, "batch_size (%lld) is larger than the number of rows (%zd)", bs, (Py_ssize_t)n);
        goto done;
    }
    int ran = 0;
    Py_BEGIN_ALLOW_THREADS
    st = self->adam ? cg_adam_configure(self->adam, &cfg, err) : cg_adam_create(&self->adam, cg_mlp_n_params(m), &cfg, err);
    if (st == CG_OK) {
        ran = 1;
        if (classify)
            st = cg_mlp_fit_softmax(m, self->adam, &self->rng, F32(X), (const int32_t *)PyArray_DATA(Y), (size_t)n,
                                    (size_t)bs, (size_t)n_iter, (double *)PyArray_DATA(losses), err);
        else
            st = cg_mlp_fit_mse(m, self->adam, &self->rng, F32(X), F32(Y), (size_t)n, (size_t)bs, (size_t)n_iter,
                                (double *)PyArray_DATA(losses), err);
    }
    Py_END_ALLOW_THREADS
    if (ran) {
        /* the cache now holds a minibatch, not the last forward */
        swap_kept(&self->core, none, old);
        self->last_n = 0;
    }
    if (st != CG_OK) {
        raise_status(st, err);
        goto done;
    }
    result = (PyObject *)losses, losses = NULL;
done:
    core_release(&self->core, &held);
    drop_all(old);
    Py_XDECREF(X);
    Py_XDECREF(Y);
    Py_XDECREF(codes);
    Py_XDECREF(losses);
    return result;
}

static PyObject *MLP_fit_mse(MLPObject *self, PyObject *args, PyObject *kw) { return MLP_fit(self, args, kw, 0); }
static PyObject *MLP_fit_softmax(MLPObject *self, PyObject *args, PyObject *kw) { return MLP_fit(self, args, kw, 1); }

static PyObject *MLP_gradient_penalty(MLPObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"n_penalized", "one_sided", "scale", NULL};
    PyObject *onp, *oscale = NULL;
    PyArrayObject *norms = NULL;
    int one_sided = 0, held = 0, ok = 0;
    long long n_pen;
    double scale = 1.0, pen = 0;
    char err[CG_ERR_LEN] = "";
    cg_status st;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pO:gradient_penalty", kwlist, &onp, &one_sided, &oscale))
        return NULL;
    if (get_int(onp, "n_penalized", 1, CG_MAX_FEATURES, &n_pen) < 0 ||
        (oscale && get_real(oscale, "scale", 0, 1e12, 0, 0, &scale) < 0) || core_acquire(&self->core, &held) < 0)
        return NULL;
    cg_mlp *m = self->core.model;
    if (n_pen > cg_mlp_size(m, 0)) {
        PyErr_Format(PyExc_ValueError, "n_penalized must be between 1 and %d, got %lld", cg_mlp_size(m, 0), n_pen);
        goto done;
    }
    if (!self->core.kept[0]) {
        PyErr_SetString(PyExc_RuntimeError, "gradient_penalty needs a forward call first");
        goto done;
    }
    npy_intp n = self->last_n;
    if (!(norms = (PyArrayObject *)PyArray_ZEROS(1, &n, NPY_FLOAT64, 0))) goto done;
    Py_BEGIN_ALLOW_THREADS
    st = cg_mlp_reserve_penalty(m, err);
    if (st == CG_OK)
        st = cg_mlp_gradient_penalty(m, (size_t)n_pen, one_sided, scale, &pen, (double *)PyArray_DATA(norms), err);
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        goto done;
    }
    ok = 1;
done:
    core_release(&self->core, &held);
    if (ok) return Py_BuildValue("(dN)", pen, norms);
    Py_XDECREF(norms);
    return NULL;
}

/* per-example gradients (cg_mlp_capture_*), for the tests of DP-SGD */
static PyObject *MLP_per_example_begin(MLPObject *self, PyObject *args)
{
    PyObject *orows, *oterms;
    long long rows, terms;
    int held = 0;
    char err[CG_ERR_LEN] = "";
    if (!PyArg_ParseTuple(args, "OO:per_example_begin", &orows, &oterms) ||
        get_int(orows, "rows", 1, 1 << 20, &rows) < 0 || get_int(oterms, "terms_per_layer", 1, 16, &terms) < 0 ||
        core_acquire(&self->core, &held) < 0)
        return NULL;
    cg_mlp *m = self->core.model;
    int L = cg_mlp_n_layers(m);
    int sizes[CG_MAX_LAYERS + 1], acts[CG_MAX_LAYERS];
    for (int l = 0; l <= L; l++) sizes[l] = cg_mlp_size(m, l);
    for (int l = 0; l < L; l++) acts[l] = cg_mlp_activation(m, l);
    cg_mlp_spec spec = {L, sizes, acts, NULL, NULL};
    cg_mlp_capture *cap = NULL;
    cg_status st = cg_mlp_capture_create(&cap, &spec, (size_t)rows, (int)terms, err);
    if (st == CG_OK) {
        cg_mlp_capture_end(m, err);
        cg_mlp_capture_free(self->capture);
        self->capture = cap;
        cg_mlp_capture_begin(m, cap);
    }
    core_release(&self->core, &held);
    if (st != CG_OK) {
        raise_status(st, err);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *MLP_per_example_end(MLPObject *self, PyObject *noargs)
{
    int held = 0;
    char err[CG_ERR_LEN] = "";
    PyObject *result = NULL;
    (void)noargs;
    if (core_acquire(&self->core, &held) < 0) return NULL;
    if (!self->capture) {
        PyErr_SetString(PyExc_RuntimeError, "per_example_end needs per_example_begin first");
        goto done;
    }
    if (cg_mlp_capture_end(self->core.model, err) != CG_OK) {
        raise_status(CG_EINVAL, err);
        goto done;
    }
    npy_intp n = (npy_intp)cg_mlp_capture_rows(self->capture);
    PyArrayObject *sq = (PyArrayObject *)PyArray_ZEROS(1, &n, NPY_FLOAT64, 0);
    if (!sq) goto done;
    cg_mlp_capture_sqnorms(self->core.model, self->capture, (double *)PyArray_DATA(sq));
    result = (PyObject *)sq;
done:
    core_release(&self->core, &held);
    return result;
}

static PyObject *MLP_per_example_accumulate(MLPObject *self, PyObject *arg)
{
    int held = 0;
    PyObject *result = NULL;
    PyArrayObject *w = (PyArrayObject *)PyArray_FROM_OTF(arg, NPY_FLOAT64, NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
    if (!w || core_acquire(&self->core, &held) < 0) goto done;
    if (!self->capture) {
        PyErr_SetString(PyExc_RuntimeError, "per_example_accumulate needs per_example_begin and _end first");
        goto done;
    }
    if (PyArray_NDIM(w) != 1 || PyArray_DIM(w, 0) != (npy_intp)cg_mlp_capture_rows(self->capture)) {
        PyErr_Format(PyExc_ValueError, "weights must have one entry per example (%zd)",
                     (Py_ssize_t)cg_mlp_capture_rows(self->capture));
        goto done;
    }
    cg_mlp_capture_accumulate(self->core.model, self->capture, (const double *)PyArray_DATA(w));
    cg_mlp_capture_free(self->capture);
    self->capture = NULL;
    result = Py_NewRef(Py_None);
done:
    core_release(&self->core, &held);
    Py_XDECREF(w);
    return result;
}

static PyMethodDef MLP_methods[] = {
    {"gradient_penalty", (PyCFunction)(void (*)(void))MLP_gradient_penalty, METH_VARARGS | METH_KEYWORDS,
     "gradient_penalty(n_penalized, one_sided=False, scale=1.0) -> (penalty, norms).\n"
     "For a one-output network after forward: penalty = scale * sum_i (|d out_i/d X_i[:n_penalized]| - 1)^2;\n"
     "adds its exact parameter gradient (double backprop) into the gradient block."},
    {"forward", (PyCFunction)(void (*)(void))MLP_forward, METH_VARARGS | METH_KEYWORDS,
     "forward(X, train=False) -> output (n, sizes[-1]); keeps what backward needs."},
    {"backward", (PyCFunction)MLP_backward, METH_O,
     "backward(dY) -> dX; adds parameter gradients into the gradient block."},
    {"zero_grad", (PyCFunction)MLP_zero_grad, METH_NOARGS, "Set the gradient block to zero."},
    {"per_example_begin", (PyCFunction)MLP_per_example_begin, METH_VARARGS,
     "per_example_begin(rows, terms_per_layer): until per_example_end, backward and gradient_penalty add\n"
     "nothing to the gradient block; row i of every pass in between counts as part of example i."},
    {"per_example_end", (PyCFunction)MLP_per_example_end, METH_NOARGS,
     "per_example_end() -> squared norm of each example's gradient."},
    {"per_example_accumulate", (PyCFunction)MLP_per_example_accumulate, METH_O,
     "per_example_accumulate(weights): grads += sum_i weights[i] * example i's gradient."},
    {"get_params", (PyCFunction)MLP_get_params, METH_NOARGS, "A copy of the parameter block."},
    {"get_grads", (PyCFunction)MLP_get_grads, METH_NOARGS, "A copy of the gradient block."},
    {"set_params", (PyCFunction)MLP_set_params, METH_O, "Overwrite the parameter block."},
    {"fit_mse", (PyCFunction)(void (*)(void))MLP_fit_mse, METH_VARARGS | METH_KEYWORDS,
     "fit_mse(X, Y, batch_size, n_iter, learning_rate=1e-3, weight_decay=0, decoupled=True) -> losses.\n"
     "Minibatch MSE regression with Adam, run in C: AdamW's decoupled weight decay, or with\n"
     "decoupled=False weight_decay * params added to the gradient (an L2 penalty of\n"
     "weight_decay / 2 * |params|^2 on the mean loss)."},
    {"fit_softmax", (PyCFunction)(void (*)(void))MLP_fit_softmax, METH_VARARGS | METH_KEYWORDS,
     "fit_softmax(X, labels, batch_size, n_iter, learning_rate=1e-3, weight_decay=0, decoupled=True) -> losses.\n"
     "Minibatch softmax cross-entropy classification with Adam, run in C; weight_decay as in fit_mse."},
    {"nbytes", (PyCFunction)(void (*)(void))MLP_nbytes, METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "MLP.nbytes(sizes, activations, capacity=1, activation_params=None, dropout=None, penalty=False) -> int.\n"
     "The bytes MLP(sizes, activations, ...) allocates with its cache grown to capacity rows (forward on n rows\n"
     "grows it to n), plus with penalty=True the buffers gradient_penalty allocates; computed, not allocated."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef MLP_getset[] = {
    {"n_params", (getter)MLP_get_n_params, NULL, "number of parameters", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject MLPType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cgan._cgan.MLP",
    .tp_basicsize = sizeof(MLPObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "MLP(sizes, activations, seed, activation_params=None, dropout=None)\n\n"
              "A multilayer perceptron of the cgan core with one contiguous parameter block.  Calls on one\n"
              "network from several threads run one at a time.",
    .tp_new = MLP_new,
    .tp_init = (initproc)MLP_init,
    .tp_dealloc = (destructor)core_dealloc,
    .tp_methods = MLP_methods,
    .tp_getset = MLP_getset,
};

/* ------------------------------------------------------------ GANITE */

/* kept: X, T, Y, rows of the attached training data, in core layout */
enum { KEPT_X, KEPT_T, KEPT_Y, KEPT_ROWS };

static void ganite_release(CoreObject *self)
{
    cg_ganite_free(self->model);
    self->model = NULL;
}
static void ganite_clear(void *model) { cg_ganite_clear_data(model); }
static size_t ganite_snap_size(const void *m) { return cg_ganite_snapshot_size(m); }
static cg_status ganite_snap_save(const void *m, void *buf, size_t size, char *err)
{
    return cg_ganite_snapshot(m, buf, size, err);
}
static cg_status ganite_snap_load(void **m, const void *buf, size_t size, char *err)
{
    cg_ganite *g = NULL;
    cg_status st = cg_ganite_restore(&g, buf, size, err);
    *m = g;
    return st;
}

static const core_kind ganite_kind = {"GANITE core", ganite_release, ganite_clear, ganite_snap_size,
                                      ganite_snap_save, ganite_snap_load};

static PyObject *Ganite_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    return core_alloc(type, &ganite_kind);
}

/* integer arguments in [lo, hi] named in names[], from objs[] */
static int get_ints(PyObject *const *objs, const char *const *names, const long long *lo, const long long *hi, int n,
                    long long *out)
{
    for (int i = 0; i < n; i++)
        if (get_int(objs[i], names[i], lo[i], hi[i], &out[i]) < 0) return -1;
    return 0;
}

/* The arguments GANITE and SCIGAN end with, from o[0]: alpha, beta,
 * learning_rate, weight_decay and seed, checked */
static int loop_reals(PyObject *const *o, double *alpha, double *beta, double *learning_rate, double *weight_decay,
                      uint64_t *seed)
{
    if (get_real(o[0], "alpha", 0, 1e6, 0, 0, alpha) < 0 || get_real(o[1], "beta", 0, 1e6, 0, 0, beta) < 0 ||
        get_real(o[2], "learning_rate", 0, 10, 1, 0, learning_rate) < 0 ||
        get_real(o[3], "weight_decay", 0, 1e3, 0, 0, weight_decay) < 0 || get_seed(o[4], seed) < 0)
        return -1;
    return 0;
}

/* the configuration of Ganite(...) from its arguments; fmt names the
 * function in PyArg's messages */
static int ganite_args(PyObject *args, PyObject *kw, const char *fmt, cg_ganite_config *cfg)
{
    static char *kwlist[] = {"n_features", "n_treatments", "hidden_size", "n_hidden", "noise_dim",
                             "binary_outcome", "batch_size", "d_steps", "alpha", "beta", "learning_rate",
                             "weight_decay", "seed", "crps_weight", NULL};
    static const long long lo[8] = {1, 2, 1, 1, 0, 0, 1, 1};
    static const long long hi[8] = {CG_MAX_FEATURES, CG_MAX_TREATMENTS, CG_MAX_HIDDEN_SIZE, CG_MAX_N_HIDDEN,
                                    CG_MAX_NOISE_DIM, 1, CG_MAX_BATCH_SIZE, CG_MAX_INNER_STEPS};
    PyObject *o[14];
    long long v[8];
    o[13] = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7],
                                     &o[8], &o[9], &o[10], &o[11], &o[12], &o[13]) ||
        get_ints(o, (const char *const *)kwlist, lo, hi, 8, v) < 0)
        return -1;
    cfg->crps_weight = 0.0;
    if (o[13] && get_real(o[13], "crps_weight", 0, 1e6, 0, 0, &cfg->crps_weight) < 0) return -1;
    cfg->n_features = (int)v[0];
    cfg->n_treatments = (int)v[1];
    cfg->hidden_size = (int)v[2];
    cfg->n_hidden = (int)v[3];
    cfg->noise_dim = (int)v[4];
    cfg->binary_outcome = (int)v[5];
    cfg->batch_size = (int)v[6];
    cfg->d_steps = (int)v[7];
    return loop_reals(o + 8, &cfg->alpha, &cfg->beta, &cfg->learning_rate, &cfg->weight_decay, &cfg->seed);
}

static int Ganite_init(CoreObject *self, PyObject *args, PyObject *kw)
{
    cg_ganite_config cfg;
    char err[CG_ERR_LEN] = "";
    cg_ganite *g = NULL;
    cg_status st;
    if (ganite_args(args, kw, "OOOOOOOOOOOOO|O:Ganite", &cfg) < 0) return -1;
    Py_BEGIN_ALLOW_THREADS
    st = cg_ganite_create(&g, &cfg, err);
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        return -1;
    }
    if (core_replace(self, g) == 0) return 0;
    cg_ganite_free(g);
    return -1;
}

/* Ganite.nbytes(**kwargs of Ganite, n_rows=0): the model's bytes, and those
 * set_data adds for n_rows training rows */
static PyObject *Ganite_nbytes(PyObject *unused, PyObject *args, PyObject *kw)
{
    PyObject *rest = NULL, *orows = NULL;
    cg_ganite_config cfg;
    long long n_rows = 0;
    size_t bytes;
    (void)unused;
    if (kw) {
        if (!(rest = PyDict_Copy(kw))) return NULL;
        orows = PyDict_GetItemString(rest, "n_rows");
        Py_XINCREF(orows);
        if (orows && PyDict_DelItemString(rest, "n_rows") < 0) goto error;
    }
    if ((orows && get_int(orows, "n_rows", 0, CG_MAX_ROWS, &n_rows) < 0) ||
        ganite_args(args, rest, "OOOOOOOOOOOOO|O:nbytes", &cfg) < 0)
        goto error;
    Py_BEGIN_ALLOW_THREADS
    size_t model = cg_ganite_bytes(&cfg), data = cg_ganite_data_bytes(&cfg, (size_t)n_rows);
    bytes = model > SIZE_MAX - data ? SIZE_MAX : model + data;
    Py_END_ALLOW_THREADS
    Py_XDECREF(rest);
    Py_XDECREF(orows);
    return bytes_result(bytes, "this GANITE");
error:
    Py_XDECREF(rest);
    Py_XDECREF(orows);
    return NULL;
}

/* (X, T codes, Y) converted before the lock: X (n, d) float32 (private when
 * it is kept), T (n,) int64 codes, Y (n,) float32 */
static int ganite_inputs(PyObject *ox, PyObject *ot, PyObject *oy, int keep, PyArrayObject **X, PyArrayObject **T,
                         PyArrayObject **Y)
{
    *X = *T = *Y = NULL;
    if (!(*X = keep ? as_private_real(ox, "X", 2) : as_real(ox, "X", 2))) return -1;
    npy_intp n = PyArray_DIM(*X, 0);
    if (!(*T = as_label_codes(ot, "T", n)) || !(*Y = keep ? as_private_real(oy, "Y", 1) : as_real(oy, "Y", 1)))
        return -1;
    if (PyArray_DIM(*Y, 0) != n) {
        PyErr_Format(PyExc_ValueError, "Y has %zd entries but X has %zd rows", (Py_ssize_t)PyArray_DIM(*Y, 0),
                     (Py_ssize_t)n);
        return -1;
    }
    return 0;
}

/* With the lock: X's width and T's arms against the model; T becomes the
 * int32 labels the core takes. */
static int ganite_check(const cg_ganite *g, PyArrayObject *X, PyArrayObject **T)
{
    const cg_ganite_config *cfg = cg_ganite_get_config(g);
    if (check_columns(X, "X", cfg->n_features, "the model was built for", "") < 0) return -1;
    PyArrayObject *labels = labels_in_range(*T, "T", cfg->n_treatments);
    if (!labels) return -1;
    Py_SETREF(*T, labels);
    return 0;
}

/* rows (1-d integer indices, a private int64 copy), or NULL */
static PyArrayObject *as_rows(PyObject *obj)
{
    PyArrayObject *raw = (PyArrayObject *)PyArray_FromAny(obj, NULL, 0, 0, 0, NULL), *rows = NULL;
    if (!raw) return NULL;
    if (PyArray_DESCR(raw)->kind != 'i' && PyArray_DESCR(raw)->kind != 'u')
        PyErr_Format(PyExc_TypeError, "rows must hold integer row indices, got dtype %S", (PyObject *)PyArray_DESCR(raw));
    else if (PyArray_NDIM(raw) != 1)
        PyErr_SetString(PyExc_ValueError, "rows must be 1-dimensional");
    else
        rows = (PyArrayObject *)PyArray_FROM_OTF((PyObject *)raw, NPY_INT64, NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
    if (rows && (PyObject *)rows == obj) Py_SETREF(rows, (PyArrayObject *)PyArray_NewCopy(rows, NPY_CORDER));
    Py_DECREF(raw);
    return rows;
}

/* ((mean_0, sd_0), ..., (mean_K-1, sd_K-1)) from mean[K], sd[K] */
static PyObject *scale_tuple(const double *mean, const double *sd, int K)
{
    PyObject *out = PyTuple_New(K);
    for (int k = 0; out && k < K; k++) {
        PyObject *pair = Py_BuildValue("(dd)", mean[k], sd[k]);
        if (!pair) {
            Py_CLEAR(out);
            break;
        }
        PyTuple_SET_ITEM(out, k, pair);
    }
    return out;
}

/* the outcome scale of every arm, copied with the lock held (mean[K] then
 * sd[K] in one PyMem block, which the caller frees) */
static double *ganite_scale(const cg_ganite *g)
{
    int K = cg_ganite_get_config(g)->n_treatments;
    double *mean = PyMem_Malloc(2 * (size_t)K * sizeof(double));
    if (!mean) return (double *)PyErr_NoMemory();
    cg_ganite_outcome_scale(g, mean, mean + K);
    return mean;
}

static PyObject *Ganite_set_data(CoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"X", "T", "Y", "rows", "copy", NULL};
    PyObject *ox, *ot, *oy, *orows = Py_None, *result = NULL, *kept[N_KEPT] = {NULL}, *old[N_KEPT] = {NULL};
    PyArrayObject *X = NULL, *T = NULL, *Y = NULL, *rows = NULL;
    double *scale = NULL;
    int copy = 1, held = 0, K = 0;
    char err[CG_ERR_LEN] = "";
    cg_status st;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|Op:set_data", kwlist, &ox, &ot, &oy, &orows, &copy)) return NULL;
    if (ganite_inputs(ox, ot, oy, copy, &X, &T, &Y) < 0) goto done;
    npy_intp n = PyArray_DIM(X, 0), n_rows = n;
    if (orows != Py_None) {
        if (!(rows = as_rows(orows))) goto done;
        n_rows = PyArray_DIM(rows, 0);
    }
    if (core_acquire(self, &held) < 0 || ganite_check(self->model, X, &T) < 0) goto done;
    Py_BEGIN_ALLOW_THREADS
    st = cg_ganite_set_data(self->model, F32(X), (const int32_t *)PyArray_DATA(T), F32(Y), (size_t)n,
                            rows ? (const int64_t *)PyArray_DATA(rows) : NULL, (size_t)n_rows, err);
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        goto done;
    }
    kept[KEPT_X] = (PyObject *)X, kept[KEPT_T] = (PyObject *)T, kept[KEPT_Y] = (PyObject *)Y;
    kept[KEPT_ROWS] = (PyObject *)rows;
    X = T = Y = rows = NULL;
    swap_kept(self, kept, old);
    K = cg_ganite_get_config(self->model)->n_treatments;
    scale = ganite_scale(self->model);
done:
    core_release(self, &held);
    if (scale) result = scale_tuple(scale, scale + K, K);
    PyMem_Free(scale);
    drop_all(old);
    Py_XDECREF(X);
    Py_XDECREF(T);
    Py_XDECREF(Y);
    Py_XDECREF(rows);
    return result;
}

static PyObject *Ganite_train(CoreObject *self, PyObject *arg, int ite)
{
    PyArrayObject *a = NULL, *b = NULL;
    long long n_iter;
    int held = 0, ok = 0;
    char err[CG_ERR_LEN] = "";
    cg_status st;
    if (get_int(arg, "n_iter", 0, CG_MAX_ITERATIONS, &n_iter) < 0) return NULL;
    if (!(a = new_losses((npy_intp)n_iter)) || (!ite && !(b = new_losses((npy_intp)n_iter)))) goto done;
    if (core_acquire(self, &held) < 0) goto done;
    if (!self->kept[KEPT_X]) {
        PyErr_SetString(PyExc_RuntimeError, "no training data: call set_data first");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    if (ite)
        st = cg_ganite_train_ite(self->model, (size_t)n_iter, (double *)PyArray_DATA(a), err);
    else
        st = cg_ganite_train_counterfactual(self->model, (size_t)n_iter, (double *)PyArray_DATA(a),
                                            (double *)PyArray_DATA(b), err);
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        goto done;
    }
    ok = 1;
done:
    core_release(self, &held);
    if (ok) return ite ? (PyObject *)a : Py_BuildValue("(NN)", a, b);
    Py_XDECREF(a);
    Py_XDECREF(b);
    return NULL;
}

static PyObject *Ganite_train_counterfactual(CoreObject *self, PyObject *arg) { return Ganite_train(self, arg, 0); }
static PyObject *Ganite_train_ite(CoreObject *self, PyObject *arg) { return Ganite_train(self, arg, 1); }

static PyObject *Ganite_restart_ite(CoreObject *self, PyObject *arg)
{
    double beta;
    int held = 0;
    char err[CG_ERR_LEN] = "";
    cg_status st;
    if (get_real(arg, "beta", 0.0, INFINITY, 0, 1, &beta) < 0 || core_acquire(self, &held) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = cg_ganite_restart_ite(self->model, beta, err);
    Py_END_ALLOW_THREADS
    core_release(self, &held);
    if (st != CG_OK) return raise_status(st, err);
    Py_RETURN_NONE;
}

static PyObject *Ganite_predict(CoreObject *self, PyObject *arg)
{
    PyArrayObject *X = NULL, *out = NULL;
    PyObject *result = NULL;
    char err[CG_ERR_LEN] = "";
    int held = 0;
    cg_status st;
    if (!(X = as_real(arg, "X", 2)) || core_acquire(self, &held) < 0) goto done;
    const cg_ganite_config *cfg = cg_ganite_get_config(self->model);
    if (check_columns(X, "X", cfg->n_features, "the model was built for", "") < 0) goto done;
    npy_intp dims[2] = {PyArray_DIM(X, 0), cfg->n_treatments};
    if (!(out = new_array(2, dims, 0))) goto done;
    Py_BEGIN_ALLOW_THREADS
    st = cg_ganite_predict(self->model, F32(out), F32(X), (size_t)dims[0], err);
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        goto done;
    }
    result = (PyObject *)out, out = NULL;
done:
    core_release(self, &held);
    Py_XDECREF(X);
    Py_XDECREF(out);
    return result;
}

static PyObject *Ganite_sample(CoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"X", "T", "Y", "n_samples", "seed", NULL};
    PyObject *ox, *ot, *oy, *os, *oseed, *result = NULL;
    PyArrayObject *X = NULL, *T = NULL, *Y = NULL, *out = NULL;
    long long ns;
    uint64_t seed;
    int held = 0;
    char err[CG_ERR_LEN] = "";
    cg_status st;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOO:sample", kwlist, &ox, &ot, &oy, &os, &oseed)) return NULL;
    if (get_int(os, "n_samples", 1, CG_MAX_SAMPLES, &ns) < 0 || get_seed(oseed, &seed) < 0) return NULL;
    if (ganite_inputs(ox, ot, oy, 0, &X, &T, &Y) < 0) goto done;
    if (core_acquire(self, &held) < 0 || ganite_check(self->model, X, &T) < 0) goto done;
    npy_intp n = PyArray_DIM(X, 0), K = cg_ganite_get_config(self->model)->n_treatments;
    npy_intp dims[3] = {(npy_intp)ns, n, K};
    if ((double)ns * (double)n * (double)K > (double)CG_MAX_SAMPLE_VALUES) {
        PyErr_Format(PyExc_ValueError, "n_samples * rows * arms = %.3g values is too many to hold at once",
                     (double)ns * (double)n * (double)K);
        goto done;
    }
    if (!(out = new_array(3, dims, 0))) goto done;
    Py_BEGIN_ALLOW_THREADS
    st = cg_ganite_sample(self->model, F32(out), F32(X), (const int32_t *)PyArray_DATA(T), F32(Y), (size_t)n,
                          (size_t)ns, seed, err);
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        goto done;
    }
    result = (PyObject *)out, out = NULL;
done:
    core_release(self, &held);
    Py_XDECREF(X);
    Py_XDECREF(T);
    Py_XDECREF(Y);
    Py_XDECREF(out);
    return result;
}

static PyObject *Ganite_restore(PyObject *cls, PyObject *arg) { return core_restore(cls, arg, &ganite_kind); }

static PyObject *Ganite_get_config(CoreObject *self, void *closure)
{
    cg_ganite_config c;
    double *scale = NULL;
    int held = 0;
    (void)closure;
    if (core_lock(self, &held) < 0) return NULL;
    if (self->model) {
        c = *cg_ganite_get_config(self->model);
        scale = ganite_scale(self->model);
    }
    int had_model = self->model != NULL;
    core_release(self, &held);
    if (!had_model) Py_RETURN_NONE;
    if (!scale) return NULL;
    PyObject *scales = scale_tuple(scale, scale + c.n_treatments, c.n_treatments);
    PyMem_Free(scale);
    if (!scales) return NULL;
    return Py_BuildValue("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:d,s:d,s:d,s:d,s:d,s:K,s:N}", "n_features", c.n_features,
                         "n_treatments", c.n_treatments, "hidden_size", c.hidden_size, "n_hidden", c.n_hidden,
                         "noise_dim", c.noise_dim, "binary_outcome", c.binary_outcome, "batch_size", c.batch_size,
                         "d_steps", c.d_steps, "alpha", c.alpha, "beta", c.beta, "learning_rate", c.learning_rate,
                         "weight_decay", c.weight_decay, "crps_weight", c.crps_weight, "seed",
                         (unsigned long long)c.seed, "outcome_scale", scales);
}

static PyMethodDef Ganite_methods[] = {
    {"set_data", (PyCFunction)(void (*)(void))Ganite_set_data, METH_VARARGS | METH_KEYWORDS,
     "set_data(X, T, Y, rows=None, copy=True) -> ((mean, sd) per arm); attaches the training data.\n"
     "rows selects the rows to train on; copy=False keeps a float32 C-contiguous X/Y without copying\n"
     "(the caller must not change them while attached)."},
    {"clear_data", (PyCFunction)core_clear_data, METH_NOARGS, "Drop the training data."},
    {"train_counterfactual", (PyCFunction)Ganite_train_counterfactual, METH_O,
     "train_counterfactual(n_iter) -> (generator_loss, discriminator_loss) per iteration."},
    {"train_ite", (PyCFunction)Ganite_train_ite, METH_O, "train_ite(n_iter) -> ITE-network loss per iteration."},
    {"restart_ite", (PyCFunction)Ganite_restart_ite, METH_O,
     "restart_ite(beta): start the ITE block afresh (I drawn again from the model's stream, its optimiser and "
     "average cleared) with the factual weight beta; G and D are kept."},
    {"predict", (PyCFunction)Ganite_predict, METH_O, "predict(X) -> (n, K) potential outcomes from the ITE network."},
    {"sample", (PyCFunction)(void (*)(void))Ganite_sample, METH_VARARGS | METH_KEYWORDS,
     "sample(X, T, Y, n_samples, seed) -> (n_samples, n, K) draws from the generator."},
    {"snapshot", (PyCFunction)core_snapshot, METH_NOARGS, "A versioned byte snapshot of the full state."},
    {"restore", (PyCFunction)Ganite_restore, METH_O | METH_CLASS, "Ganite.restore(snapshot) -> Ganite."},
    {"nbytes", (PyCFunction)(void (*)(void))Ganite_nbytes, METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "Ganite.nbytes(**the arguments of Ganite, n_rows=0) -> int.\n"
     "The bytes Ganite(...) allocates (its three networks, their Adam moments and caches, its buffers), plus\n"
     "those set_data adds for n_rows training rows (n_rows * n_treatments * 4 when noise_dim = 0, else 0);\n"
     "computed, not allocated.  Training, predict and sample allocate nothing more in the core."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Ganite_getset[] = {
    {"config", (getter)Ganite_get_config, NULL, "the configuration and outcome scaling", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject GaniteType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cgan._cgan.Ganite",
    .tp_basicsize = sizeof(CoreObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Ganite(n_features, n_treatments, hidden_size, n_hidden, noise_dim, binary_outcome, batch_size,\n"
              "       d_steps, alpha, beta, learning_rate, weight_decay, seed, crps_weight=0)\n\n"
              "The GANITE training loops of the cgan core.  cgan.GANITE is the estimator users call.  Calls on\n"
              "one object from several threads run one at a time.",
    .tp_new = Ganite_new,
    .tp_init = (initproc)Ganite_init,
    .tp_dealloc = (destructor)core_dealloc,
    .tp_methods = Ganite_methods,
    .tp_getset = Ganite_getset,
};

/* -------------------------------------------------------------- WGAN */

/* kept: X and the context of the attached training rows */
enum { KEPT_CTX = 1 };

static void wgan_release(CoreObject *self)
{
    cg_wgan_free(self->model);
    self->model = NULL;
}
static void wgan_clear(void *model) { cg_wgan_clear_data(model); }
static size_t wgan_snap_size(const void *m) { return cg_wgan_snapshot_size(m); }
static cg_status wgan_snap_save(const void *m, void *buf, size_t size, char *err)
{
    return cg_wgan_snapshot(m, buf, size, err);
}
static cg_status wgan_snap_load(void **m, const void *buf, size_t size, char *err)
{
    cg_wgan *w = NULL;
    cg_status st = cg_wgan_restore(&w, buf, size, err);
    *m = w;
    return st;
}

static const core_kind wgan_kind = {"WGAN core", wgan_release, wgan_clear, wgan_snap_size, wgan_snap_save,
                                    wgan_snap_load};

static PyObject *Wgan_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    return core_alloc(type, &wgan_kind);
}

/* an optional 1-d array of x_dim entries of the given type (None: NULL) */
static int column_array(PyObject *obj, int type, int x_dim, const char *name, PyArrayObject **out)
{
    *out = NULL;
    if (obj == Py_None) return 0;
    if (!(*out = (PyArrayObject *)PyArray_FROM_OTF(obj, type, NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST))) return -1;
    if (PyArray_NDIM(*out) == 1 && PyArray_DIM(*out, 0) == x_dim) return 0;
    PyErr_Format(PyExc_ValueError, "%s must have x_dim = %d entries", name, x_dim);
    Py_CLEAR(*out);
    return -1;
}

/* the configuration and column layout (column_block, lower, upper: None or
 * arrays of x_dim entries, layout[3]) of Wgan(...) from its arguments */
static int wgan_args(PyObject *args, PyObject *kw, const char *fmt, cg_wgan_config *cfg, PyArrayObject **layout)
{
    static char *kwlist[] = {"x_dim", "ctx_dim", "noise_dim", "hidden_size", "n_hidden", "batch_size",
                             "critic_steps", "gp_lambda", "one_sided", "critic_dropout", "learning_rate", "beta1",
                             "beta2", "seed", "column_block", "lower", "upper", NULL};
    static const long long lo[7] = {1, 0, 1, 1, 1, 1, 1};
    static const long long hi[7] = {CG_MAX_X_DIM,    CG_MAX_CTX_DIM,    CG_MAX_NOISE_DIM,  CG_MAX_HIDDEN_SIZE,
                                    CG_MAX_N_HIDDEN, CG_MAX_BATCH_SIZE, CG_MAX_INNER_STEPS};
    PyObject *o[14], *oblock = Py_None, *olo = Py_None, *ohi = Py_None;
    long long v[7], one_sided;
    layout[0] = layout[1] = layout[2] = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7],
                                     &o[8], &o[9], &o[10], &o[11], &o[12], &o[13], &oblock, &olo, &ohi))
        return -1;
    if (get_ints(o, (const char *const *)kwlist, lo, hi, 7, v) < 0 ||
        get_real(o[7], "gp_lambda", 0, 1e6, 0, 0, &cfg->gp_lambda) < 0 ||
        get_int(o[8], "one_sided", 0, 1, &one_sided) < 0 ||
        get_real(o[9], "critic_dropout", 0, 1, 0, 1, &cfg->critic_dropout) < 0 ||
        get_real(o[10], "learning_rate", 0, 10, 1, 0, &cfg->learning_rate) < 0 ||
        get_real(o[11], "beta1", 0, 1, 0, 1, &cfg->beta1) < 0 || get_real(o[12], "beta2", 0, 1, 0, 1, &cfg->beta2) < 0 ||
        get_seed(o[13], &cfg->seed) < 0)
        return -1;
    cfg->x_dim = (int)v[0];
    cfg->ctx_dim = (int)v[1];
    cfg->noise_dim = (int)v[2];
    cfg->hidden_size = (int)v[3];
    cfg->n_hidden = (int)v[4];
    cfg->batch_size = (int)v[5];
    cfg->critic_steps = (int)v[6];
    cfg->one_sided = (int)one_sided;
    if (column_array(oblock, NPY_INT, cfg->x_dim, "column_block", &layout[0]) < 0 ||
        column_array(olo, NPY_DOUBLE, cfg->x_dim, "lower", &layout[1]) < 0 ||
        column_array(ohi, NPY_DOUBLE, cfg->x_dim, "upper", &layout[2]) < 0) {
        for (int i = 0; i < 3; i++) Py_CLEAR(layout[i]);
        return -1;
    }
    return 0;
}

#define DATA_OR_NULL(a, type) ((a) ? (const type *)PyArray_DATA(a) : NULL)

static int Wgan_init(CoreObject *self, PyObject *args, PyObject *kw)
{
    cg_wgan_config cfg;
    char err[CG_ERR_LEN] = "";
    PyArrayObject *layout[3];
    cg_wgan *w = NULL;
    cg_status st;
    if (wgan_args(args, kw, "OOOOOOOOOOOOOO|OOO:Wgan", &cfg, layout) < 0) return -1;
    Py_BEGIN_ALLOW_THREADS
    st = cg_wgan_create(&w, &cfg, DATA_OR_NULL(layout[0], int), DATA_OR_NULL(layout[1], double),
                        DATA_OR_NULL(layout[2], double), err);
    Py_END_ALLOW_THREADS
    for (int i = 0; i < 3; i++) Py_XDECREF(layout[i]);
    if (st != CG_OK) {
        raise_status(st, err);
        return -1;
    }
    if (core_replace(self, w) == 0) return 0;
    cg_wgan_free(w);
    return -1;
}

static PyObject *Wgan_nbytes(PyObject *unused, PyObject *args, PyObject *kw)
{
    cg_wgan_config cfg;
    PyArrayObject *layout[3];
    size_t bytes;
    (void)unused;
    if (wgan_args(args, kw, "OOOOOOOOOOOOOO|OOO:nbytes", &cfg, layout) < 0) return NULL;
    for (int i = 0; i < 3; i++) Py_XDECREF(layout[i]);
    Py_BEGIN_ALLOW_THREADS
    bytes = cg_wgan_bytes(&cfg);
    Py_END_ALLOW_THREADS
    return bytes_result(bytes, "this WGAN");
}

static PyObject *Wgan_privacy_nbytes(PyObject *unused, PyObject *args, PyObject *kw)
{
    cg_wgan_config cfg;
    PyArrayObject *layout[3];
    size_t bytes;
    (void)unused;
    if (wgan_args(args, kw, "OOOOOOOOOOOOOO|OOO:privacy_nbytes", &cfg, layout) < 0) return NULL;
    for (int i = 0; i < 3; i++) Py_XDECREF(layout[i]);
    Py_BEGIN_ALLOW_THREADS
    bytes = cg_wgan_privacy_bytes(&cfg);
    Py_END_ALLOW_THREADS
    return bytes_result(bytes, "this WGAN's private training");
}

static PyObject *Wgan_set_privacy(CoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"noise_multiplier", "max_grad_norm", "sample_rate", NULL};
    PyObject *o[3];
    double sigma, clip, rate;
    int held = 0;
    char err[CG_ERR_LEN] = "";
    cg_status st;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO:set_privacy", kwlist, &o[0], &o[1], &o[2]) ||
        get_real(o[0], "noise_multiplier", 0, 1e12, 0, 0, &sigma) < 0 ||
        get_real(o[1], "max_grad_norm", 0, 1e12, 1, 0, &clip) < 0 ||
        get_real(o[2], "sample_rate", 0, 1, 1, 0, &rate) < 0 || core_acquire(self, &held) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = cg_wgan_set_privacy(self->model, sigma, clip, rate, err);
    Py_END_ALLOW_THREADS
    core_release(self, &held);
    if (st != CG_OK) {
        raise_status(st, err);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* With the lock: the context a call passes (ctx, NULL for None) against the
 * model's ctx_dim, for rows rows. */
static int wgan_check_context(const cg_wgan *w, PyArrayObject *ctx, npy_intp rows)
{
    int ctx_dim = cg_wgan_get_config(w)->ctx_dim;
    if (ctx_dim == 0) return 0;
    if (!ctx) {
        PyErr_SetString(PyExc_TypeError, "context must be an array of numbers, got None");
        return -1;
    }
    if (PyArray_DIM(ctx, 0) == rows && PyArray_DIM(ctx, 1) == ctx_dim) return 0;
    PyErr_Format(PyExc_ValueError, "context must have shape (%zd, %d)", (Py_ssize_t)rows, ctx_dim);
    return -1;
}

static PyObject *Wgan_set_data(CoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"X", "context", NULL};
    PyObject *ox, *oc = Py_None, *result = NULL, *kept[N_KEPT] = {NULL}, *old[N_KEPT] = {NULL};
    PyArrayObject *X = NULL, *C = NULL;
    int held = 0;
    char err[CG_ERR_LEN] = "";
    cg_status st;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:set_data", kwlist, &ox, &oc)) return NULL;
    if (!(X = as_private_real(ox, "X", 2)) || (oc != Py_None && !(C = as_private_real(oc, "context", 2))) ||
        core_acquire(self, &held) < 0)
        goto done;
    const cg_wgan_config *cfg = cg_wgan_get_config(self->model);
    if (check_columns(X, "X", cfg->x_dim, "the model has", "") < 0 ||
        wgan_check_context(self->model, C, PyArray_DIM(X, 0)) < 0)
        goto done;
    if (cfg->ctx_dim == 0 && C) {
        PyErr_SetString(PyExc_ValueError, "this model takes no context");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    st = cg_wgan_set_data(self->model, F32(X), C ? F32(C) : NULL, (size_t)PyArray_DIM(X, 0), err);
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        goto done;
    }
    kept[KEPT_X] = (PyObject *)X, kept[KEPT_CTX] = (PyObject *)C;
    X = C = NULL;
    swap_kept(self, kept, old);
    result = Py_NewRef(Py_None);
done:
    core_release(self, &held);
    drop_all(old);
    Py_XDECREF(X);
    Py_XDECREF(C);
    return result;
}

static PyObject *Wgan_train(CoreObject *self, PyObject *arg)
{
    PyArrayObject *loss[3] = {NULL, NULL, NULL};
    long long n;
    int held = 0, ok = 0;
    char err[CG_ERR_LEN] = "";
    cg_status st;
    if (get_int(arg, "n_steps", 0, CG_MAX_ITERATIONS, &n) < 0) return NULL;
    for (int i = 0; i < 3; i++)
        if (!(loss[i] = new_losses((npy_intp)n))) goto done;
    if (core_acquire(self, &held) < 0) goto done;
    if (!self->kept[KEPT_X]) {
        PyErr_SetString(PyExc_RuntimeError, "no training data: call set_data first");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    st = cg_wgan_train(self->model, (size_t)n, (double *)PyArray_DATA(loss[0]), (double *)PyArray_DATA(loss[1]),
                       (double *)PyArray_DATA(loss[2]), err);
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        goto done;
    }
    ok = 1;
done:
    core_release(self, &held);
    if (ok) return Py_BuildValue("(NNN)", loss[0], loss[1], loss[2]);
    for (int i = 0; i < 3; i++) Py_XDECREF(loss[i]);
    return NULL;
}

static PyObject *Wgan_sample(CoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"n", "context", "seed", NULL};
    PyObject *on, *oc = Py_None, *oseed = Py_None, *result = NULL;
    PyArrayObject *C = NULL, *out = NULL;
    long long n;
    uint64_t seed = 0;
    int held = 0;
    char err[CG_ERR_LEN] = "";
    cg_status st;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OO:sample", kwlist, &on, &oc, &oseed)) return NULL;
    if (get_int(on, "n", 1, CG_MAX_ROWS, &n) < 0 || (oseed != Py_None && get_seed(oseed, &seed) < 0)) return NULL;
    if ((oc != Py_None && !(C = as_real(oc, "context", 2))) || core_acquire(self, &held) < 0) goto done;
    const cg_wgan_config *cfg = cg_wgan_get_config(self->model);
    if (wgan_check_context(self->model, C, (npy_intp)n) < 0) goto done;
    npy_intp dims[2] = {(npy_intp)n, cfg->x_dim};
    if ((double)n * cfg->x_dim > (double)CG_MAX_SAMPLE_VALUES) {
        PyErr_SetString(PyExc_ValueError, "n is too large to sample at once");
        goto done;
    }
    if (!(out = new_array(2, dims, 0))) goto done;
    Py_BEGIN_ALLOW_THREADS
    if (oseed == Py_None)
        st = cg_wgan_sample(self->model, F32(out), cfg->ctx_dim ? F32(C) : NULL, (size_t)n, err);
    else
        st = cg_wgan_sample_seeded(self->model, F32(out), cfg->ctx_dim ? F32(C) : NULL, (size_t)n, seed, err);
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        goto done;
    }
    result = (PyObject *)out, out = NULL;
done:
    core_release(self, &held);
    Py_XDECREF(C);
    Py_XDECREF(out);
    return result;
}

static PyObject *Wgan_restore(PyObject *cls, PyObject *arg) { return core_restore(cls, arg, &wgan_kind); }

static PyObject *Wgan_reseed(CoreObject *self, PyObject *arg)
{
    uint64_t seed;
    int held = 0;
    if (get_seed(arg, &seed) < 0 || core_acquire(self, &held) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    cg_wgan_reseed(self->model, seed);
    Py_END_ALLOW_THREADS
    core_release(self, &held);
    Py_RETURN_NONE;
}

static PyObject *Wgan_get_config(CoreObject *self, void *closure)
{
    cg_wgan_config c;
    int held = 0;
    (void)closure;
    if (core_lock(self, &held) < 0) return NULL;
    int had_model = self->model != NULL;
    if (had_model) c = *cg_wgan_get_config(self->model);
    core_release(self, &held);
    if (!had_model) Py_RETURN_NONE;
    return Py_BuildValue("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:d,s:i,s:d,s:d,s:d,s:d,s:K}", "x_dim", c.x_dim, "ctx_dim",
                         c.ctx_dim, "noise_dim", c.noise_dim, "hidden_size", c.hidden_size, "n_hidden", c.n_hidden,
                         "batch_size", c.batch_size, "critic_steps", c.critic_steps, "gp_lambda", c.gp_lambda,
                         "one_sided", c.one_sided, "critic_dropout", c.critic_dropout,
                         "learning_rate", c.learning_rate, "beta1", c.beta1, "beta2", c.beta2, "seed",
                         (unsigned long long)c.seed);
}

static PyGetSetDef Wgan_getset[] = {
    {"config", (getter)Wgan_get_config, NULL, "the configuration: the constructor's arguments but the column layout",
     NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef Wgan_methods[] = {
    {"reseed", (PyCFunction)Wgan_reseed, METH_O, "reseed(seed): restart the random stream."},
    {"set_data", (PyCFunction)(void (*)(void))Wgan_set_data, METH_VARARGS | METH_KEYWORDS,
     "set_data(X, context=None): attach the training rows (copied)."},
    {"clear_data", (PyCFunction)core_clear_data, METH_NOARGS, "Drop the training rows."},
    {"train", (PyCFunction)Wgan_train, METH_O,
     "train(n_steps) -> (critic_loss, generator_loss, penalty) per generator step."},
    {"sample", (PyCFunction)(void (*)(void))Wgan_sample, METH_VARARGS | METH_KEYWORDS,
     "sample(n, context=None, seed=None) -> (n, x_dim); categorical blocks one-hot.  Draws from the model's\n"
     "stream, or with a seed from a stream of its own, leaving the model's untouched: the bits of\n"
     "reseed(seed) followed by sample(n, context)."},
    {"snapshot", (PyCFunction)core_snapshot, METH_NOARGS, "A versioned byte snapshot of the full state."},
    {"restore", (PyCFunction)Wgan_restore, METH_O | METH_CLASS, "Wgan.restore(snapshot) -> Wgan."},
    {"set_privacy", (PyCFunction)(void (*)(void))Wgan_set_privacy, METH_VARARGS | METH_KEYWORDS,
     "set_privacy(noise_multiplier, max_grad_norm, sample_rate): train from here on with DP-SGD: Poisson\n"
     "sampling of the real rows at sample_rate, each row's whole contribution to a step's gradient clipped\n"
     "to max_grad_norm, Gaussian noise of sd noise_multiplier * max_grad_norm on the sum (critic steps,\n"
     "and generator steps when the model has a context).  Not kept in snapshots."},
    {"privacy_nbytes", (PyCFunction)(void (*)(void))Wgan_privacy_nbytes, METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "Wgan.privacy_nbytes(**the arguments of Wgan) -> int: what set_privacy allocates."},
    {"nbytes", (PyCFunction)(void (*)(void))Wgan_nbytes, METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "Wgan.nbytes(**the arguments of Wgan) -> int.\n"
     "The bytes Wgan(...) allocates (its two networks, their Adam moments and caches, the critic's\n"
     "gradient-penalty buffers, its buffers); computed, not allocated.  set_data, train and sample allocate\n"
     "nothing more in the core."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject WganType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cgan._cgan.Wgan",
    .tp_basicsize = sizeof(CoreObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Wgan(x_dim, ctx_dim, noise_dim, hidden_size, n_hidden, batch_size, critic_steps, gp_lambda,\n"
              "     one_sided, critic_dropout, learning_rate, beta1, beta2, seed, column_block=None, lower=None,\n"
              "     upper=None)\n\nThe conditional WGAN-GP of the cgan core.  cgan.CausalWGAN is what users call.  Calls\n"
              "on one object from several threads run one at a time.",
    .tp_new = Wgan_new,
    .tp_init = (initproc)Wgan_init,
    .tp_dealloc = (destructor)core_dealloc,
    .tp_methods = Wgan_methods,
    .tp_getset = Wgan_getset,
};

/* ------------------------------------------------------------ SCIGAN */

/* kept: X, T, Y, rows (as for GANITE) and the doses of the training data */
enum { KEPT_DOSE = 4 };

static void scigan_release(CoreObject *self)
{
    cg_scigan_free(self->model);
    self->model = NULL;
}
static void scigan_clear(void *model) { cg_scigan_clear_data(model); }
static size_t scigan_snap_size(const void *m) { return cg_scigan_snapshot_size(m); }
static cg_status scigan_snap_save(const void *m, void *buf, size_t size, char *err)
{
    return cg_scigan_snapshot(m, buf, size, err);
}
static cg_status scigan_snap_load(void **m, const void *buf, size_t size, char *err)
{
    cg_scigan *g = NULL;
    cg_status st = cg_scigan_restore(&g, buf, size, err);
    *m = g;
    return st;
}

static const core_kind scigan_kind = {"SCIGAN core", scigan_release, scigan_clear, scigan_snap_size,
                                      scigan_snap_save, scigan_snap_load};

static PyObject *Scigan_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    return core_alloc(type, &scigan_kind);
}

/* the configuration of Scigan(...) from its arguments; fmt names the
 * function in PyArg's messages */
static int scigan_args(PyObject *args, PyObject *kw, const char *fmt, cg_scigan_config *cfg)
{
    static char *kwlist[] = {"n_features", "n_treatments", "hidden_size", "n_hidden", "n_dosage_samples",
                             "noise_dim", "batch_size", "d_steps", "activation", "alpha", "beta",
                             "learning_rate", "weight_decay", "seed", NULL};
    static const long long lo[8] = {1, 1, 1, 1, 2, 0, 1, 1};
    static const long long hi[8] = {CG_MAX_FEATURES, CG_MAX_TREATMENTS, CG_MAX_HIDDEN_SIZE, CG_MAX_N_HIDDEN,
                                    CG_MAX_DOSAGE_SAMPLES, CG_MAX_NOISE_DIM, CG_MAX_BATCH_SIZE, CG_MAX_INNER_STEPS};
    PyObject *o[14];
    long long v[8];
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7],
                                     &o[8], &o[9], &o[10], &o[11], &o[12], &o[13]) ||
        get_ints(o, (const char *const *)kwlist, lo, hi, 8, v) < 0 ||
        parse_activation(o[8], "activation", &cfg->activation) < 0)
        return -1;
    if (cfg->activation == CG_ACT_IDENTITY) {
        PyErr_SetString(PyExc_ValueError, "activation must be nonlinear, got 'identity'");
        return -1;
    }
    cfg->n_features = (int)v[0];
    cfg->n_treatments = (int)v[1];
    cfg->hidden_size = (int)v[2];
    cfg->n_hidden = (int)v[3];
    cfg->n_dosage_samples = (int)v[4];
    cfg->noise_dim = (int)v[5];
    cfg->batch_size = (int)v[6];
    cfg->d_steps = (int)v[7];
    return loop_reals(o + 9, &cfg->alpha, &cfg->beta, &cfg->learning_rate, &cfg->weight_decay, &cfg->seed);
}

static int Scigan_init(CoreObject *self, PyObject *args, PyObject *kw)
{
    cg_scigan_config cfg;
    char err[CG_ERR_LEN] = "";
    cg_scigan *g = NULL;
    cg_status st;
    if (scigan_args(args, kw, "OOOOOOOOOOOOOO:Scigan", &cfg) < 0) return -1;
    Py_BEGIN_ALLOW_THREADS
    st = cg_scigan_create(&g, &cfg, err);
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        return -1;
    }
    if (core_replace(self, g) == 0) return 0;
    cg_scigan_free(g);
    return -1;
}

static PyObject *Scigan_nbytes(PyObject *unused, PyObject *args, PyObject *kw)
{
    cg_scigan_config cfg;
    size_t bytes;
    char err[CG_ERR_LEN] = "";
    cg_status st = CG_OK;
    (void)unused;
    if (scigan_args(args, kw, "OOOOOOOOOOOOOO:nbytes", &cfg) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    bytes = cg_scigan_bytes(&cfg);
    if (bytes == SIZE_MAX) {
        /* a configuration create refuses: say why, as create would */
        cg_scigan *g = NULL;
        st = cg_scigan_create(&g, &cfg, err);
        cg_scigan_free(g);
    }
    Py_END_ALLOW_THREADS
    if (st != CG_OK) return raise_status(st, err);
    return bytes_result(bytes, "this SCIGAN");
}

/* (X, T codes, dose, Y) converted before the lock: X (n, d) float32
 * (private when it is kept), T (n,) int64 codes, dose and Y (n,) float32 */
static int scigan_inputs(PyObject *ox, PyObject *ot, PyObject *od, PyObject *oy, int keep, PyArrayObject **X,
                         PyArrayObject **T, PyArrayObject **D, PyArrayObject **Y)
{
    *D = NULL;
    if (ganite_inputs(ox, ot, oy, keep, X, T, Y) < 0) return -1;
    if (!(*D = keep ? as_private_real(od, "dose", 1) : as_real(od, "dose", 1))) return -1;
    if (PyArray_DIM(*D, 0) != PyArray_DIM(*X, 0)) {
        PyErr_Format(PyExc_ValueError, "dose has %zd entries but X has %zd rows", (Py_ssize_t)PyArray_DIM(*D, 0),
                     (Py_ssize_t)PyArray_DIM(*X, 0));
        return -1;
    }
    return 0;
}

/* With the lock: X's width and T's treatments against the model; T
 * becomes the int32 labels the core takes. */
static int scigan_check(const cg_scigan *g, PyArrayObject *X, PyArrayObject **T)
{
    const cg_scigan_config *cfg = cg_scigan_get_config(g);
    if (check_columns(X, "X", cfg->n_features, "the model was built for", "") < 0) return -1;
    if (!T) return 0;
    PyArrayObject *labels = labels_in_range(*T, "T", cfg->n_treatments);
    if (!labels) return -1;
    Py_SETREF(*T, labels);
    return 0;
}

static PyObject *Scigan_set_data(CoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"X", "T", "dose", "Y", "rows", "copy", NULL};
    PyObject *ox, *ot, *od, *oy, *orows = Py_None, *kept[N_KEPT] = {NULL}, *old[N_KEPT] = {NULL};
    PyArrayObject *X = NULL, *T = NULL, *D = NULL, *Y = NULL, *rows = NULL;
    double mean = 0, sd = 1;
    int copy = 1, held = 0, ok = 0;
    char err[CG_ERR_LEN] = "";
    cg_status st;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOO|Op:set_data", kwlist, &ox, &ot, &od, &oy, &orows, &copy))
        return NULL;
    if (scigan_inputs(ox, ot, od, oy, copy, &X, &T, &D, &Y) < 0) goto done;
    npy_intp n = PyArray_DIM(X, 0), n_rows = n;
    if (orows != Py_None) {
        if (!(rows = as_rows(orows))) goto done;
        n_rows = PyArray_DIM(rows, 0);
    }
    if (core_acquire(self, &held) < 0 || scigan_check(self->model, X, &T) < 0) goto done;
    Py_BEGIN_ALLOW_THREADS
    st = cg_scigan_set_data(self->model, F32(X), (const int32_t *)PyArray_DATA(T), F32(D), F32(Y), (size_t)n,
                            rows ? (const int64_t *)PyArray_DATA(rows) : NULL, (size_t)n_rows, err);
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        goto done;
    }
    kept[KEPT_X] = (PyObject *)X, kept[KEPT_T] = (PyObject *)T, kept[KEPT_Y] = (PyObject *)Y;
    kept[KEPT_ROWS] = (PyObject *)rows, kept[KEPT_DOSE] = (PyObject *)D;
    X = T = Y = rows = D = NULL;
    swap_kept(self, kept, old);
    cg_scigan_outcome_scale(self->model, &mean, &sd);
    ok = 1;
done:
    core_release(self, &held);
    drop_all(old);
    Py_XDECREF(X);
    Py_XDECREF(T);
    Py_XDECREF(D);
    Py_XDECREF(Y);
    Py_XDECREF(rows);
    return ok ? Py_BuildValue("(dd)", mean, sd) : NULL;
}

static PyObject *Scigan_train(CoreObject *self, PyObject *arg, int inference)
{
    PyArrayObject *loss[3] = {NULL, NULL, NULL};
    int n_out = inference ? 1 : 3, held = 0, ok = 0;
    long long n_iter;
    char err[CG_ERR_LEN] = "";
    cg_status st;
    if (get_int(arg, "n_iter", 0, CG_MAX_ITERATIONS, &n_iter) < 0) return NULL;
    for (int i = 0; i < n_out; i++)
        if (!(loss[i] = new_losses((npy_intp)n_iter))) goto done;
    if (core_acquire(self, &held) < 0) goto done;
    if (!self->kept[KEPT_X]) {
        PyErr_SetString(PyExc_RuntimeError, "no training data: call set_data first");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    if (inference)
        st = cg_scigan_train_inference(self->model, (size_t)n_iter, (double *)PyArray_DATA(loss[0]), err);
    else
        st = cg_scigan_train_gan(self->model, (size_t)n_iter, (double *)PyArray_DATA(loss[0]),
                                 (double *)PyArray_DATA(loss[1]), (double *)PyArray_DATA(loss[2]), err);
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        goto done;
    }
    ok = 1;
done:
    core_release(self, &held);
    if (ok) return inference ? (PyObject *)loss[0] : Py_BuildValue("(NNN)", loss[0], loss[1], loss[2]);
    for (int i = 0; i < 3; i++) Py_XDECREF(loss[i]);
    return NULL;
}

static PyObject *Scigan_train_gan(CoreObject *self, PyObject *arg) { return Scigan_train(self, arg, 0); }
static PyObject *Scigan_train_inference(CoreObject *self, PyObject *arg) { return Scigan_train(self, arg, 1); }

/* the doses of a query: 2-d (n, m) float32 with n = rows, m <= limit */
static PyArrayObject *query_doses(PyObject *obj, npy_intp rows)
{
    PyArrayObject *doses = as_real(obj, "doses", 2);
    if (!doses) return NULL;
    if (PyArray_DIM(doses, 0) != rows) {
        PyErr_Format(PyExc_ValueError, "doses has %zd rows but X has %zd", (Py_ssize_t)PyArray_DIM(doses, 0),
                     (Py_ssize_t)rows);
        Py_DECREF(doses);
        return NULL;
    }
    return doses;
}

static int get_treatment(PyObject *obj, const cg_scigan *g, long long *k)
{
    return get_int(obj, "treatment", 0, cg_scigan_get_config(g)->n_treatments - 1, k);
}

static PyObject *Scigan_predict(CoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"X", "treatment", "doses", NULL};
    PyObject *ox, *ok, *od, *result = NULL;
    PyArrayObject *X = NULL, *doses = NULL, *out = NULL;
    long long k;
    int held = 0;
    char err[CG_ERR_LEN] = "";
    cg_status st;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO:predict", kwlist, &ox, &ok, &od)) return NULL;
    if (!(X = as_real(ox, "X", 2)) || !(doses = query_doses(od, PyArray_DIM(X, 0))) ||
        core_acquire(self, &held) < 0 || scigan_check(self->model, X, NULL) < 0 || get_treatment(ok, self->model, &k) < 0)
        goto done;
    if (!(out = new_array(2, PyArray_DIMS(doses), 0))) goto done;
    Py_BEGIN_ALLOW_THREADS
    st = cg_scigan_predict(self->model, F32(out), F32(X), (int)k, F32(doses), (size_t)PyArray_DIM(doses, 0),
                           (size_t)PyArray_DIM(doses, 1), err);
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        goto done;
    }
    result = (PyObject *)out, out = NULL;
done:
    core_release(self, &held);
    Py_XDECREF(X);
    Py_XDECREF(doses);
    Py_XDECREF(out);
    return result;
}

static PyObject *Scigan_sample(CoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"X", "T", "dose", "Y", "treatment", "doses", "n_samples", "seed", NULL};
    PyObject *ox, *ot, *od, *oy, *ok, *odoses, *os, *oseed, *result = NULL;
    PyArrayObject *X = NULL, *T = NULL, *D = NULL, *Y = NULL, *doses = NULL, *out = NULL;
    long long k, ns;
    uint64_t seed;
    int held = 0;
    char err[CG_ERR_LEN] = "";
    cg_status st;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOOOOO:sample", kwlist, &ox, &ot, &od, &oy, &ok, &odoses, &os,
                                     &oseed))
        return NULL;
    if (get_int(os, "n_samples", 1, CG_MAX_SAMPLES, &ns) < 0 || get_seed(oseed, &seed) < 0) return NULL;
    if (scigan_inputs(ox, ot, od, oy, 0, &X, &T, &D, &Y) < 0 || !(doses = query_doses(odoses, PyArray_DIM(X, 0))) ||
        core_acquire(self, &held) < 0 || scigan_check(self->model, X, &T) < 0 || get_treatment(ok, self->model, &k) < 0)
        goto done;
    npy_intp n = PyArray_DIM(doses, 0), m = PyArray_DIM(doses, 1), dims[3] = {(npy_intp)ns, n, m};
    if ((double)ns * (double)n * (double)m > (double)CG_MAX_SAMPLE_VALUES) {
        PyErr_Format(PyExc_ValueError, "n_samples * rows * doses = %.3g values is too many to hold at once",
                     (double)ns * (double)n * (double)m);
        goto done;
    }
    if (!(out = new_array(3, dims, 0))) goto done;
    Py_BEGIN_ALLOW_THREADS
    st = cg_scigan_sample(self->model, F32(out), F32(X), (const int32_t *)PyArray_DATA(T), F32(D), F32(Y), (int)k,
                          F32(doses), (size_t)n, (size_t)m, (size_t)ns, seed, err);
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        goto done;
    }
    result = (PyObject *)out, out = NULL;
done:
    core_release(self, &held);
    Py_XDECREF(X);
    Py_XDECREF(T);
    Py_XDECREF(D);
    Py_XDECREF(Y);
    Py_XDECREF(doses);
    Py_XDECREF(out);
    return result;
}

static PyObject *Scigan_restore(PyObject *cls, PyObject *arg) { return core_restore(cls, arg, &scigan_kind); }

static PyObject *Scigan_get_config(CoreObject *self, void *closure)
{
    cg_scigan_config c;
    double mean = 0, sd = 1;
    int held = 0;
    (void)closure;
    if (core_lock(self, &held) < 0) return NULL;
    int had_model = self->model != NULL;
    if (had_model) {
        c = *cg_scigan_get_config(self->model);
        cg_scigan_outcome_scale(self->model, &mean, &sd);
    }
    core_release(self, &held);
    if (!had_model) Py_RETURN_NONE;
    return Py_BuildValue("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:s,s:d,s:d,s:d,s:d,s:K,s:(dd)}", "n_features",
                         c.n_features, "n_treatments", c.n_treatments, "hidden_size", c.hidden_size, "n_hidden",
                         c.n_hidden, "n_dosage_samples", c.n_dosage_samples, "noise_dim", c.noise_dim, "batch_size",
                         c.batch_size, "d_steps", c.d_steps, "activation", activation_names[c.activation], "alpha",
                         c.alpha, "beta", c.beta, "learning_rate", c.learning_rate, "weight_decay", c.weight_decay,
                         "seed", (unsigned long long)c.seed, "outcome_scale", mean, sd);
}

static PyMethodDef Scigan_methods[] = {
    {"set_data", (PyCFunction)(void (*)(void))Scigan_set_data, METH_VARARGS | METH_KEYWORDS,
     "set_data(X, T, dose, Y, rows=None, copy=True) -> (mean, sd) of the outcome; attaches the training data.\n"
     "Doses must lie in [0, 1].  rows selects the rows to train on; copy=False keeps float32 C-contiguous\n"
     "arrays without copying (the caller must not change them while attached)."},
    {"clear_data", (PyCFunction)core_clear_data, METH_NOARGS, "Drop the training data."},
    {"train_gan", (PyCFunction)Scigan_train_gan, METH_O,
     "train_gan(n_iter) -> (generator_loss, dosage_discriminator_loss, treatment_discriminator_loss)."},
    {"train_inference", (PyCFunction)Scigan_train_inference, METH_O,
     "train_inference(n_iter) -> inference-network loss per iteration."},
    {"predict", (PyCFunction)(void (*)(void))Scigan_predict, METH_VARARGS | METH_KEYWORDS,
     "predict(X, treatment, doses) -> (n, m): the inference network's outcomes of treatment code `treatment`\n"
     "at doses (n, m) in [0, 1]."},
    {"sample", (PyCFunction)(void (*)(void))Scigan_sample, METH_VARARGS | METH_KEYWORDS,
     "sample(X, T, dose, Y, treatment, doses, n_samples, seed) -> (n_samples, n, m): the generator's draws of\n"
     "treatment `treatment`'s outcomes at doses (n, m), given each row's observed (T, dose, Y)."},
    {"snapshot", (PyCFunction)core_snapshot, METH_NOARGS, "A versioned byte snapshot of the full state."},
    {"restore", (PyCFunction)Scigan_restore, METH_O | METH_CLASS, "Scigan.restore(snapshot) -> Scigan."},
    {"nbytes", (PyCFunction)(void (*)(void))Scigan_nbytes, METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "Scigan.nbytes(**the arguments of Scigan) -> int.\n"
     "The bytes Scigan(...) allocates (its four networks, their Adam moments and caches, its buffers);\n"
     "computed, not allocated.  set_data, training, predict and sample allocate nothing more in the core."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Scigan_getset[] = {
    {"config", (getter)Scigan_get_config, NULL, "the configuration and the outcome scale (mean, sd)", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject SciganType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cgan._cgan.Scigan",
    .tp_basicsize = sizeof(CoreObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Scigan(n_features, n_treatments, hidden_size, n_hidden, n_dosage_samples, noise_dim, batch_size,\n"
              "       d_steps, activation, alpha, beta, learning_rate, weight_decay, seed)\n\n"
              "The SCIGAN training loops of the cgan core.  cgan.SCIGAN is the estimator users call.  Calls on\n"
              "one object from several threads run one at a time.",
    .tp_new = Scigan_new,
    .tp_init = (initproc)Scigan_init,
    .tp_dealloc = (destructor)core_dealloc,
    .tp_methods = Scigan_methods,
    .tp_getset = Scigan_getset,
};

/* arm_moments(X, T, Y, n_arms, weights=None) -> (gram, cross, sq): float64
 * arrays of shapes (K, d+1, d+1), (K, d+1) and (K,); see cg_arm_moments. */
static PyObject *py_arm_moments(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"X", "T", "Y", "n_arms", "weights", NULL};
    PyObject *ox, *ot, *oy, *ok, *ow = Py_None;
    PyArrayObject *X = NULL, *T = NULL, *Y = NULL, *W = NULL, *gram = NULL, *cross = NULL, *sq = NULL;
    long long K;
    char err[CG_ERR_LEN] = "";
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOO|O:arm_moments", kwlist, &ox, &ot, &oy, &ok, &ow)) return NULL;
    if (get_int(ok, "n_arms", 1, CG_MAX_TREATMENTS, &K) < 0) return NULL;
    if (!(X = as_real(ox, "X", 2))) return NULL;
    npy_intp n = PyArray_DIM(X, 0), d = PyArray_DIM(X, 1);
    if (d > CG_MAX_MOMENT_FEATURES) {
        PyErr_Format(PyExc_ValueError, "X has %zd columns; arm_moments takes at most %d", (Py_ssize_t)d,
                     CG_MAX_MOMENT_FEATURES);
        goto error;
    }
    if (!(T = as_labels(ot, "T", n, (long)K))) goto error;
    if (!(Y = as_real(oy, "Y", 1))) goto error;
    if (PyArray_DIM(Y, 0) != n) {
        PyErr_Format(PyExc_ValueError, "Y has %zd entries but X has %zd rows", (Py_ssize_t)PyArray_DIM(Y, 0),
                     (Py_ssize_t)n);
        goto error;
    }
    if (ow != Py_None) {
        PyArrayObject *raw = (PyArrayObject *)PyArray_FromAny(ow, NULL, 0, 0, 0, NULL);
        if (!raw) goto error;
        char kind = PyArray_DESCR(raw)->kind;
        if (kind != 'b' && kind != 'i' && kind != 'u' && kind != 'f') {
            PyErr_Format(PyExc_TypeError, "weights must hold real numbers, got dtype %S", (PyObject *)PyArray_DESCR(raw));
            Py_DECREF(raw);
            goto error;
        }
        W = (PyArrayObject *)PyArray_FROM_OTF((PyObject *)raw, NPY_FLOAT64, NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
        Py_DECREF(raw);
        if (!W) goto error;
        if (PyArray_NDIM(W) != 1 || PyArray_DIM(W, 0) != n) {
            PyErr_Format(PyExc_ValueError, "weights must be 1-dimensional with %zd entries", (Py_ssize_t)n);
            goto error;
        }
    }
    npy_intp gd[3] = {(npy_intp)K, d + 1, d + 1}, cd[2] = {(npy_intp)K, d + 1}, sd[1] = {(npy_intp)K};
    if (!(gram = (PyArrayObject *)PyArray_ZEROS(3, gd, NPY_FLOAT64, 0))) goto error;
    if (!(cross = (PyArrayObject *)PyArray_ZEROS(2, cd, NPY_FLOAT64, 0))) goto error;
    if (!(sq = (PyArrayObject *)PyArray_ZEROS(1, sd, NPY_FLOAT64, 0))) goto error;
    cg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cg_arm_moments(F32(X), (const int32_t *)PyArray_DATA(T), F32(Y), W ? (const double *)PyArray_DATA(W) : NULL,
                        (size_t)n, (int)d, (int)K, (double *)PyArray_DATA(gram), (double *)PyArray_DATA(cross),
                        (double *)PyArray_DATA(sq), err);
    Py_END_ALLOW_THREADS
    if (st != CG_OK) {
        raise_status(st, err);
        goto error;
    }
    Py_DECREF(X);
    Py_DECREF(T);
    Py_DECREF(Y);
    Py_XDECREF(W);
    return Py_BuildValue("(NNN)", gram, cross, sq);
error:
    Py_XDECREF(X);
    Py_XDECREF(T);
    Py_XDECREF(Y);
    Py_XDECREF(W);
    Py_XDECREF(gram);
    Py_XDECREF(cross);
    Py_XDECREF(sq);
    return NULL;
}

/* ------------------------------------------------------------ module */

#define KW_METHOD(name, doc) {#name, (PyCFunction)(void (*)(void))py_##name, METH_VARARGS | METH_KEYWORDS, doc}

static PyMethodDef module_methods[] = {
    KW_METHOD(gemm_fm, "gemm_fm(A, B, m, n, k, rs=k, cs=1, ldb=n, ldc=n, epilogue='store', aux=None, C=None, "
                       "isa=None) -> C: the MLP's product C = epilogue(A B) over flat float32 buffers"),
    KW_METHOD(gemm_nt, "gemm_nt(A, B, m, n, k, lda=k, ldb=k, ldc=n, C=None, bsum=None, isa=None) -> (C, bsum): "
                       "C += A B^T, bsum += the row sums of B"),
    KW_METHOD(transpose, "transpose(src, rows, cols, lds=cols, ldd=rows, dst=None, add=False, isa=None) -> dst"),
    KW_METHOD(activation_forward, "activation_forward(x, activation, param=None) -> f(x)"),
    KW_METHOD(activation_backward, "activation_backward(dy, x, activation, param=None) -> dy * f'(x)"),
    KW_METHOD(dropout_forward, "dropout_forward(x, p, seed, n=None) -> (y, mask): x (units, width) feature-major; "
                               "masks drawn for the first n columns (default all), 0 in the rest"),
    KW_METHOD(mse_loss, "mse_loss(prediction, target, weight=None) -> (loss, grad); mean over entries"),
    KW_METHOD(bce_logits_loss, "bce_logits_loss(prediction, target, weight=None) -> (loss, grad) from logits"),
    KW_METHOD(softmax_ce_loss, "softmax_ce_loss(logits, labels, weight=None) -> (loss, grad)"),
    KW_METHOD(rng_uniform, "rng_uniform(seed, size) -> float32 draws in [0, 1)"),
    KW_METHOD(rng_normal, "rng_normal(seed, size) -> float32 standard normal draws"),
    KW_METHOD(rng_indices, "rng_indices(seed, size, high) -> int64 draws in [0, high), with replacement"),
    KW_METHOD(arm_moments, "arm_moments(X, T, Y, n_arms, weights=None) -> (gram, cross, sq): per-arm weighted "
                           "moments of [1, x] and y, float64"),
    KW_METHOD(adam_run, "adam_run(params, grads, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, "
                        "weight_decay=0, decoupled=False) -> params after len(grads) steps"),
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "_cgan",
                                       "The C core of cgan: kernels, networks and training loops.", -1,
                                       module_methods, NULL, NULL, NULL, NULL};

/* _cgan.LIMITS: the largest value of each size argument, from cgan.h, for
 * the Python package to check against before it calls the core. */
static int add_limits(PyObject *module)
{
    static const struct {
        const char *key;
        long long value;
    } limits[] = {
        {"n_features", CG_MAX_FEATURES},   {"n_treatments", CG_MAX_TREATMENTS},
        {"hidden_size", CG_MAX_HIDDEN_SIZE}, {"n_hidden", CG_MAX_N_HIDDEN},
        {"noise_dim", CG_MAX_NOISE_DIM},   {"x_dim", CG_MAX_X_DIM},
        {"ctx_dim", CG_MAX_CTX_DIM},       {"batch_size", CG_MAX_BATCH_SIZE},
        {"d_steps", CG_MAX_INNER_STEPS},   {"critic_steps", CG_MAX_INNER_STEPS},
        {"n_iter", CG_MAX_ITERATIONS},     {"n_rows", CG_MAX_ROWS},
        {"n_samples", CG_MAX_SAMPLES},     {"sample_values", CG_MAX_SAMPLE_VALUES},
        {"layer_width", CG_MAX_FEATURES},  {"n_layers", CG_MAX_LAYERS},
        {"n_params", CG_MAX_PARAMS},       {"n_dosage_samples", CG_MAX_DOSAGE_SAMPLES},
    };
    PyObject *d = PyDict_New();
    if (!d) return -1;
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        PyObject *v = PyLong_FromLongLong(limits[i].value);
        if (!v || PyDict_SetItemString(d, limits[i].key, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return -1;
        }
        Py_DECREF(v);
    }
    if (PyModule_AddObject(module, "LIMITS", d) < 0) {
        Py_DECREF(d);
        return -1;
    }
    return 0;
}

PyMODINIT_FUNC PyInit__cgan(void)
{
    import_array();
    if (PyType_Ready(&MLPType) < 0 || PyType_Ready(&GaniteType) < 0 || PyType_Ready(&WganType) < 0 ||
        PyType_Ready(&SciganType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    Py_INCREF(&MLPType);
    if (PyModule_AddObject(m, "MLP", (PyObject *)&MLPType) < 0) {
        Py_DECREF(&MLPType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&GaniteType);
    if (PyModule_AddObject(m, "Ganite", (PyObject *)&GaniteType) < 0) {
        Py_DECREF(&GaniteType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&WganType);
    if (PyModule_AddObject(m, "Wgan", (PyObject *)&WganType) < 0) {
        Py_DECREF(&WganType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&SciganType);
    if (PyModule_AddObject(m, "Scigan", (PyObject *)&SciganType) < 0) {
        Py_DECREF(&SciganType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddStringConstant(m, "__version__", CG_VERSION) < 0 || add_limits(m) < 0 ||
        PyModule_AddStringConstant(m, "ISA", isa_names[cg_isa_best()]) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
