/*
 * rag_svb — Stream VByte encode/decode (see rag_svb.h).
 *
 * The SIMD decoder handles four values per control byte: one unaligned
 * 16-byte load, one pshufb with the control byte's mask (which spreads
 * the 4-16 data bytes over four 32-bit lanes, zeroing the rest), then,
 * for gaps, a prefix sum over the lanes plus the running total. Tables
 * are built once per process.
 */
#include "rag_svb.h"

#include <pthread.h>
#include <string.h>

static uint8_t svb_len[2][256];      /* data bytes of a control byte */
static uint8_t svb_shuf[2][256][16]; /* pshufb masks */
static pthread_once_t svb_once = PTHREAD_ONCE_INIT;

static const uint8_t code_bytes[2][4] = {{1, 2, 3, 4}, {0, 1, 2, 4}};

static void
svb_init(void)
{
    for (int k = 0; k < 2; k++) {
        for (int c = 0; c < 256; c++) {
            int pos = 0;
            memset(svb_shuf[k][c], 0xff, 16);
            for (int lane = 0; lane < 4; lane++) {
                int nb = code_bytes[k][(c >> (2 * lane)) & 3];
                for (int b = 0; b < nb; b++)
                    svb_shuf[k][c][lane * 4 + b] = (uint8_t)(pos + b);
                pos += nb;
            }
            svb_len[k][c] = (uint8_t)pos;
        }
    }
}

static int
code_1234(uint32_t v)
{
    return v < (1u << 8) ? 0 : v < (1u << 16) ? 1 : v < (1u << 24) ? 2 : 3;
}

static int
code_0124(uint32_t v)
{
    return v == 0 ? 0 : v < (1u << 8) ? 1 : v < (1u << 16) ? 2 : 3;
}

static size_t
encode(const uint32_t *in, uint32_t n, uint32_t prev, int delta, int kind,
       uint8_t *out)
{
    uint8_t *ctrl = out, *data = out + ((size_t)n + 3) / 4;

    memset(ctrl, 0, ((size_t)n + 3) / 4);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v = delta ? in[i] - prev : in[i];
        int c = kind == RAG_SVB_1234 ? code_1234(v) : code_0124(v);
        int nb = code_bytes[kind][c];

        prev = in[i];
        ctrl[i / 4] |= (uint8_t)(c << (2 * (i % 4)));
        for (int b = 0; b < nb; b++)
            *data++ = (uint8_t)(v >> (8 * b));
    }
    return (size_t)(data - out);
}

size_t
rag_svb_encode_delta(const uint32_t *in, uint32_t n, uint32_t prev,
                     uint8_t *out)
{
    return encode(in, n, prev, 1, RAG_SVB_1234, out);
}

size_t
rag_svb_encode_0124(const uint32_t *in, uint32_t n, uint8_t *out)
{
    return encode(in, n, 0, 0, RAG_SVB_0124, out);
}

size_t
rag_svb_stream_len(const uint8_t *in, uint32_t n, enum rag_svb_kind kind)
{
    size_t len = ((size_t)n + 3) / 4;
    uint32_t full = n / 4;

    pthread_once(&svb_once, svb_init);
    for (uint32_t i = 0; i < full; i++)
        len += svb_len[kind][in[i]];
    for (uint32_t i = full * 4; i < n; i++)
        len += code_bytes[kind][(in[i / 4] >> (2 * (i % 4))) & 3];
    return len;
}

static uint32_t
get_le(const uint8_t *p, int nb)
{
    uint32_t v = 0;
    for (int b = 0; b < nb; b++)
        v |= (uint32_t)p[b] << (8 * b);
    return v;
}

static size_t
decode_scalar(const uint8_t *in, uint32_t n, uint32_t prev, int delta, int kind,
              uint32_t *out)
{
    const uint8_t *ctrl = in, *data = in + ((size_t)n + 3) / 4;

    for (uint32_t i = 0; i < n; i++) {
        int nb = code_bytes[kind][(ctrl[i / 4] >> (2 * (i % 4))) & 3];
        uint32_t v = get_le(data, nb);
        data += nb;
        if (delta) {
            prev += v;
            v = prev;
        }
        out[i] = v;
    }
    return (size_t)(data - in);
}

size_t
rag_svb_decode_delta_scalar(const uint8_t *in, uint32_t n, uint32_t prev,
                            uint32_t *out)
{
    return decode_scalar(in, n, prev, 1, RAG_SVB_1234, out);
}

size_t
rag_svb_decode_0124_scalar(const uint8_t *in, uint32_t n, uint32_t *out)
{
    return decode_scalar(in, n, 0, 0, RAG_SVB_0124, out);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

__attribute__((target("ssse3"))) static size_t
decode_ssse3(const uint8_t *in, uint32_t n, uint32_t prev, int delta, int kind,
             uint32_t *out)
{
    const uint8_t *ctrl = in, *data = in + ((size_t)n + 3) / 4;
    uint32_t full = n / 4, i;
    __m128i run = _mm_set1_epi32((int)prev);

    for (i = 0; i < full; i++) {
        uint8_t c = ctrl[i];
        __m128i v = _mm_loadu_si128((const __m128i *)data);
        v = _mm_shuffle_epi8(
            v, _mm_loadu_si128((const __m128i *)svb_shuf[kind][c]));
        if (delta) {
            v = _mm_add_epi32(v, _mm_slli_si128(v, 4));
            v = _mm_add_epi32(v, _mm_slli_si128(v, 8));
            v = _mm_add_epi32(v, run);
            run = _mm_shuffle_epi32(v, 0xff);
        }
        _mm_storeu_si128((__m128i *)(out + 4 * i), v);
        data += svb_len[kind][c];
    }
    prev = (uint32_t)_mm_cvtsi128_si32(run);
    for (i = full * 4; i < n; i++) {
        int nb = code_bytes[kind][(ctrl[i / 4] >> (2 * (i % 4))) & 3];
        uint32_t v = get_le(data, nb);
        data += nb;
        if (delta) {
            prev += v;
            v = prev;
        }
        out[i] = v;
    }
    return (size_t)(data - in);
}

static int svb_has_ssse3;

static void
svb_init_all(void)
{
    __builtin_cpu_init();
    svb_has_ssse3 = __builtin_cpu_supports("ssse3");
    svb_init();
}

static pthread_once_t svb_cpu_once = PTHREAD_ONCE_INIT;

static size_t
decode(const uint8_t *in, uint32_t n, uint32_t prev, int delta, int kind,
       uint32_t *out)
{
    pthread_once(&svb_cpu_once, svb_init_all);
    if (svb_has_ssse3)
        return decode_ssse3(in, n, prev, delta, kind, out);
    return decode_scalar(in, n, prev, delta, kind, out);
}
#else
static size_t
decode(const uint8_t *in, uint32_t n, uint32_t prev, int delta, int kind,
       uint32_t *out)
{
    return decode_scalar(in, n, prev, delta, kind, out);
}
#endif

size_t
rag_svb_decode_delta(const uint8_t *in, uint32_t n, uint32_t prev,
                     uint32_t *out)
{
    return decode(in, n, prev, 1, RAG_SVB_1234, out);
}

size_t
rag_svb_decode_0124(const uint8_t *in, uint32_t n, uint32_t *out)
{
    return decode(in, n, 0, 0, RAG_SVB_0124, out);
}
