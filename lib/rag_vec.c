/*
 * rag_vec — vector kernels (see rag_vec.h).
 */
#include "rag_vec.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

static int32_t
dot_i8_c(const int8_t *a, const int8_t *b, uint32_t n)
{
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    uint32_t i = 0;

    for (; i + 4 <= n; i += 4) {
        s0 += (int32_t)a[i] * b[i];
        s1 += (int32_t)a[i + 1] * b[i + 1];
        s2 += (int32_t)a[i + 2] * b[i + 2];
        s3 += (int32_t)a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += (int32_t)a[i] * b[i];
    return s0 + s1 + s2 + s3;
}

static float
dot_f32_c(const float *a, const float *b, uint32_t n)
{
    float s[8] = {0};
    uint32_t i = 0;

    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            s[k] += a[i + k] * b[i + k];
    for (; i < n; i++)
        s[0] += a[i] * b[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static void
dots_f32_c(const float *v, const float *rows, uint32_t nrows, uint32_t n,
           float *out)
{
    for (uint32_t j = 0; j < nrows; j++)
        out[j] = dot_f32_c(v, rows + (size_t)j * n, n);
}

/* the q4 layout walked block by block (see rag_vec.h) */
static int32_t
dot_q4_c(const int8_t *q, const uint8_t *r, uint32_t n)
{
    int32_t s = 0;

    for (uint32_t b = 0; b < n; b += 128) {
        uint32_t m = n - b < 128 ? n - b : 128, h = (m + 1) / 2;
        for (uint32_t j = 0; j < h; j++) {
            s += (int32_t)q[b + j] * ((r[j] & 15) - 8);
            if (h + j < m)
                s += (int32_t)q[b + h + j] * ((r[j] >> 4) - 8);
        }
        r += h;
    }
    return s;
}

static void
dots_q4_c(const int8_t *q, const uint8_t *rows, uint32_t nrows, uint32_t n,
          int32_t *out)
{
    size_t rb = RAG_VEC_Q4_BYTES(n);

    for (uint32_t j = 0; j < nrows; j++)
        out[j] = dot_q4_c(q, rows + j * rb, n);
}

float
rag_vec_quantize_q4(const float *unit, uint32_t n, uint8_t *q4)
{
    float mx = 0, scale;

    memset(q4, 0x88, RAG_VEC_Q4_BYTES(n));
    for (uint32_t i = 0; i < n; i++)
        if (fabsf(unit[i]) > mx)
            mx = fabsf(unit[i]);
    if (!(mx > 0))
        return 0;
    scale = mx / 7.0f;
    for (uint32_t b = 0; b < n; b += 128) {
        uint32_t m = n - b < 128 ? n - b : 128, h = (m + 1) / 2;
        for (uint32_t i = 0; i < m; i++) {
            long c = lrintf(unit[b + i] / scale);
            unsigned v = (unsigned)(c > 7 ? 7 : c < -7 ? -7 : c) + 8;
            uint8_t *p = q4 + i % h;
            *p = i < h ? (uint8_t)((*p & 0xf0) | v)
                       : (uint8_t)((*p & 0x0f) | v << 4);
        }
        q4 += h;
    }
    return scale;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* 16 int8 pairs per step, widened to int16 and multiply-added into
 * int32 lanes (|127 * 127 * 2| per lane step: no overflow). */
__attribute__((target("avx2"))) static int32_t
dot_i8_avx2(const int8_t *a, const int8_t *b, uint32_t n)
{
    __m256i acc = _mm256_setzero_si256();
    uint32_t i = 0;
    int32_t lanes[8], s = 0;

    for (; i + 16 <= n; i += 16) {
        __m256i x =
            _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256i y =
            _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x, y));
    }
    _mm256_storeu_si256((__m256i *)lanes, acc);
    for (int k = 0; k < 8; k++)
        s += lanes[k];
    return s + dot_i8_c(a + i, b + i, n - i);
}

__attribute__((target("avx2,fma"))) static float
hsum256(__m256 v)
{
    __m128 s =
        _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) static float
dot_f32_avx2(const float *a, const float *b, uint32_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    uint32_t i = 0;
    float s;

    for (; i + 16 <= n; i += 16) {
        s0 =
            _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8),
                             _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 =
            _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* v against four rows at once: v is loaded once per step */
__attribute__((target("avx2,fma"))) static void
dots_f32_avx2(const float *v, const float *rows, uint32_t nrows, uint32_t n,
              float *out)
{
    uint32_t j = 0;

    for (; j + 4 <= nrows; j += 4) {
        const float *r0 = rows + (size_t)j * n, *r1 = r0 + n, *r2 = r1 + n,
                    *r3 = r2 + n;
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(),
               s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
        uint32_t i = 0;
        for (; i + 8 <= n; i += 8) {
            __m256 x = _mm256_loadu_ps(v + i);
            s0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r0 + i), s0);
            s1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r1 + i), s1);
            s2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r2 + i), s2);
            s3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r3 + i), s3);
        }
        out[j] = hsum256(s0);
        out[j + 1] = hsum256(s1);
        out[j + 2] = hsum256(s2);
        out[j + 3] = hsum256(s3);
        for (; i < n; i++) {
            out[j] += v[i] * r0[i];
            out[j + 1] += v[i] * r1[i];
            out[j + 2] += v[i] * r2[i];
            out[j + 3] += v[i] * r3[i];
        }
    }
    for (; j < nrows; j++)
        out[j] = dot_f32_avx2(v, rows + (size_t)j * n, n);
}

/* vpdpbusd multiplies unsigned by signed bytes: with the row's bytes
 * flipped to unsigned (r + 128), dot(q, r) = dot(r + 128, q) - 128 *
 * sum(q), and sum(q) is computed once per query. Exact (int32 lanes:
 * 64 products of at most 255 * 127 per lane and 64-byte step). */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void
dots_i8_vnni(const int8_t *q, const int8_t *rows, uint32_t nrows, uint32_t n,
             int32_t *out)
{
    uint32_t full = n / 64 * 64;
    int32_t qsum = 0;
    const __m512i flip = _mm512_set1_epi8((char)0x80);

    for (uint32_t i = 0; i < full; i++)
        qsum += q[i];
    for (uint32_t j = 0; j < nrows; j++) {
        const int8_t *r = rows + (size_t)j * n;
        __m512i acc = _mm512_setzero_si512();
        for (uint32_t i = 0; i < full; i += 64) {
            __m512i x = _mm512_xor_si512(_mm512_loadu_si512(r + i), flip);
            acc = _mm512_dpbusd_epi32(acc, x, _mm512_loadu_si512(q + i));
        }
        out[j] = _mm512_reduce_add_epi32(acc) - 128 * qsum +
                 dot_i8_c(q + full, r + full, n - full);
    }
}

/* q4, AVX2: the 64 bytes of a full block give 64 low and 64 high
 * nibbles (0..15); maddubs multiplies them (unsigned) by the query's
 * bytes (signed) into int16 pairs (|15 * 127 * 2| fits), madd widens to
 * int32; the - 8 comes off as 8 * sum(q) once per query. The last,
 * partial block goes through the portable code: same integers. */
__attribute__((target("avx2"))) static void
dots_q4_avx2(const int8_t *q, const uint8_t *rows, uint32_t nrows, uint32_t n,
             int32_t *out)
{
    uint32_t full = n / 128 * 128;
    size_t rb = RAG_VEC_Q4_BYTES(n);
    int32_t qsum = 0;
    const __m256i lo = _mm256_set1_epi8(15), one = _mm256_set1_epi16(1);

    for (uint32_t i = 0; i < full; i++)
        qsum += q[i];
    for (uint32_t j = 0; j < nrows; j++) {
        const uint8_t *r = rows + j * rb;
        __m256i acc = _mm256_setzero_si256();
        int32_t lanes[8], s = 0;
        for (uint32_t b = 0; b < full; b += 128, r += 64) {
            for (int k = 0; k < 64; k += 32) {
                __m256i x = _mm256_loadu_si256((const __m256i *)(r + k));
                __m256i xl = _mm256_and_si256(x, lo),
                        xh = _mm256_and_si256(_mm256_srli_epi16(x, 4), lo);
                __m256i ql = _mm256_loadu_si256((const __m256i *)(q + b + k)),
                        qh = _mm256_loadu_si256(
                            (const __m256i *)(q + b + 64 + k));
                __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(xl, ql),
                                             _mm256_maddubs_epi16(xh, qh));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, one));
            }
        }
        _mm256_storeu_si256((__m256i *)lanes, acc);
        for (int k = 0; k < 8; k++)
            s += lanes[k];
        out[j] = s - 8 * qsum + dot_q4_c(q + full, r, n - full);
    }
}

static int vec_avx2, vec_vnni;
static pthread_once_t vec_once = PTHREAD_ONCE_INIT;

static void
vec_pick(void)
{
    __builtin_cpu_init();
    vec_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    vec_vnni = __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vnni");
}

static int
use_avx2(void)
{
    pthread_once(&vec_once, vec_pick);
    return vec_avx2;
}

rag_vec_dot_i8_fn
rag_vec_dot_i8_impl(void)
{
    return use_avx2() ? dot_i8_avx2 : dot_i8_c;
}

void
rag_vec_dots_i8(const int8_t *q, const int8_t *rows, uint32_t nrows, uint32_t n,
                int32_t *out)
{
    rag_vec_dot_i8_fn dot = rag_vec_dot_i8_impl();

    if (vec_vnni && n >= 64) {
        dots_i8_vnni(q, rows, nrows, n, out);
        return;
    }
    for (uint32_t j = 0; j < nrows; j++)
        out[j] = dot(q, rows + (size_t)j * n, n);
}

float
rag_vec_dot_f32(const float *a, const float *b, uint32_t n)
{
    return use_avx2() ? dot_f32_avx2(a, b, n) : dot_f32_c(a, b, n);
}

void
rag_vec_dots_f32(const float *v, const float *rows, uint32_t nrows, uint32_t n,
                 float *out)
{
    if (use_avx2())
        dots_f32_avx2(v, rows, nrows, n, out);
    else
        dots_f32_c(v, rows, nrows, n, out);
}

int
rag_vec_dots_q4_isa(rag_vec_isa isa, const int8_t *q, const uint8_t *rows,
                    uint32_t nrows, uint32_t n, int32_t *out)
{
    int avx2 = use_avx2();

    switch (isa) {
    case RAG_VEC_SCALAR:
        dots_q4_c(q, rows, nrows, n, out);
        return 0;
    case RAG_VEC_AVX2:
        if (!avx2)
            return -1;
        dots_q4_avx2(q, rows, nrows, n, out);
        return 0;
    }
    return -1;
}

void
rag_vec_dots_q4(const int8_t *q, const uint8_t *rows, uint32_t nrows,
                uint32_t n, int32_t *out)
{
    int avx2 = use_avx2();

    rag_vec_dots_q4_isa(avx2 ? RAG_VEC_AVX2 : RAG_VEC_SCALAR, q, rows, nrows, n,
                        out);
}
#else
rag_vec_dot_i8_fn
rag_vec_dot_i8_impl(void)
{
    return dot_i8_c;
}

void
rag_vec_dots_i8(const int8_t *q, const int8_t *rows, uint32_t nrows, uint32_t n,
                int32_t *out)
{
    for (uint32_t j = 0; j < nrows; j++)
        out[j] = dot_i8_c(q, rows + (size_t)j * n, n);
}

float
rag_vec_dot_f32(const float *a, const float *b, uint32_t n)
{
    return dot_f32_c(a, b, n);
}

void
rag_vec_dots_f32(const float *v, const float *rows, uint32_t nrows, uint32_t n,
                 float *out)
{
    dots_f32_c(v, rows, nrows, n, out);
}
int
rag_vec_dots_q4_isa(rag_vec_isa isa, const int8_t *q, const uint8_t *rows,
                    uint32_t nrows, uint32_t n, int32_t *out)
{
    if (isa != RAG_VEC_SCALAR)
        return -1;
    dots_q4_c(q, rows, nrows, n, out);
    return 0;
}

void
rag_vec_dots_q4(const int8_t *q, const uint8_t *rows, uint32_t nrows,
                uint32_t n, int32_t *out)
{
    dots_q4_c(q, rows, nrows, n, out);
}
#endif

double
rag_vec_dot_f64(const float *a, const float *b, uint32_t n)
{
    double s = 0;
    for (uint32_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

float
rag_vec_quantize_unit(const float *unit, uint32_t n, int8_t *q)
{
    float mx = 0, scale;

    for (uint32_t i = 0; i < n; i++)
        if (fabsf(unit[i]) > mx)
            mx = fabsf(unit[i]);
    if (!(mx > 0)) {
        memset(q, 0, n);
        return 0;
    }
    scale = mx / 127.0f;
    for (uint32_t i = 0; i < n; i++) {
        long r = lrintf(unit[i] / scale);
        q[i] = (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
    }
    return scale;
}

float
rag_vec_quantize(const float *v, uint32_t n, float *unit, int8_t *q)
{
    double norm = 0;
    float scale;

    memset(unit, 0, (size_t)n * sizeof(float));
    memset(q, 0, n);
    for (uint32_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            return 0;
        norm += (double)v[i] * v[i];
    }
    if (!(norm > 0))
        return 0;
    norm = sqrt(norm);
    for (uint32_t i = 0; i < n; i++)
        unit[i] = (float)(v[i] / norm);
    scale = rag_vec_quantize_unit(unit, n, q);
    if (scale == 0)
        memset(unit, 0, (size_t)n * sizeof(float));
    return scale;
}
