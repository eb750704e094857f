/*
 * Vector kernels and the k-means lists at their default size:
 *   - every 4-bit kernel (portable, and AVX2 when this CPU has it) gives the
 * integers of a plain decode-and-multiply, bit for bit, on random inputs of
 * every length to 300 (odd ones, partial blocks) and a few long ones, extreme
 * values included;
 *   - 4-bit codes decode to within half a step of the unit vector;
 *   - a generated clustered set above RAG_INDEX_IVF_MIN gets lists, 4-bit
 *     codes and a default probe that keeps recall@10 >= 0.95 against the
 *     exact scan; a small one keeps the exact scan and no codes.
 */
#include "rag_index.h"
#include "rag_search.h"
#include "rag_vec.h"
#include "test_rng.h"
#include "unit.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/test_vec_XXXXXX";
static test_rng rng = {0x2545f4914f6cdd1dull};

static double
rnd(void)
{
    return test_rng_unit(&rng);
}

static double
gauss(void)
{
    return test_rng_gauss(&rng);
}

/* dimension i's code in a row of n dimensions, by the layout's words */
static int
code_at(const uint8_t *r, uint32_t n, uint32_t i)
{
    uint32_t b = i / 128 * 128, m = n - b < 128 ? n - b : 128, h = (m + 1) / 2,
             j = i - b;
    const uint8_t *p = r + b / 2;
    return j < h ? p[j] & 15 : p[j - h] >> 4;
}

static void
test_q4_kernels(void)
{
    enum { R = 5, NMAX = 2100 };
    static int8_t q[NMAX];
    static uint8_t rows[R * NMAX];
    int32_t out[R];
    int bad = 0, ran[2] = {0, 0};

    for (uint32_t n = 1; n <= NMAX; n += n < 300 ? 1 : 451) {
        size_t rb = RAG_VEC_Q4_BYTES(n);
        for (uint32_t i = 0; i < n; i++)
            q[i] = (int8_t)(rnd() < 0.1 ? -127 : (int)(rnd() * 255) - 127);
        for (size_t i = 0; i < R * rb; i++) {
            unsigned lo = rnd() < 0.1 ? 15 : (unsigned)(rnd() * 16),
                     hi = rnd() < 0.1 ? 0 : (unsigned)(rnd() * 16);
            rows[i] = (uint8_t)(lo | hi << 4);
        }
        for (int isa = RAG_VEC_SCALAR; isa <= RAG_VEC_AVX2; isa++) {
            if (rag_vec_dots_q4_isa((rag_vec_isa)isa, q, rows, R, n, out) != 0)
                continue;
            ran[isa]++;
            for (int r = 0; r < R; r++) {
                int32_t want = 0;
                for (uint32_t i = 0; i < n; i++)
                    want += q[i] * (code_at(rows + r * rb, n, i) - 8);
                bad += out[r] != want;
            }
        }
        rag_vec_dots_q4(q, rows, R, n, out);
        for (int r = 0; r < R; r++) {
            int32_t want = 0;
            for (uint32_t i = 0; i < n; i++)
                want += q[i] * (code_at(rows + r * rb, n, i) - 8);
            bad += out[r] != want;
        }
    }
    CHECK_INT(bad, 0);
    CHECK(ran[RAG_VEC_SCALAR] > 0);
    fprintf(stderr, "  q4 kernels compared: scalar %d, avx2 %d\n", ran[0],
            ran[1]);
}

static void
test_q4_quantize(void)
{
    enum { N = 333 };
    float u[N], zero[N] = {0};
    uint8_t c[RAG_VEC_Q4_BYTES(N)];
    double norm = 0, worst = 0;

    for (int i = 0; i < N; i++) {
        u[i] = (float)gauss();
        norm += (double)u[i] * u[i];
    }
    for (int i = 0; i < N; i++)
        u[i] = (float)(u[i] / sqrt(norm));
    float scale = rag_vec_quantize_q4(u, N, c);
    CHECK(scale > 0);
    for (int i = 0; i < N; i++) {
        int k = code_at(c, N, (uint32_t)i);
        double e = fabs((k - 8) * (double)scale - u[i]);
        CHECK(k >= 1 && k <= 15);
        if (e > worst)
            worst = e;
    }
    CHECK(worst <= scale * 0.5 + 1e-7);
    CHECK(rag_vec_quantize_q4(zero, N, c) == 0);
    int all8 = 1;
    for (int i = 0; i < N; i++)
        all8 &= code_at(c, N, (uint32_t)i) == 8;
    CHECK(all8);
}

/* clustered vectors, N above RAG_INDEX_IVF_MIN: writer's own choices */
static void
test_default_lists_recall(void)
{
    enum { N = 70000, D = 136, C = 3000, Q = 60, K = 10 };
    float *vecs = malloc(sizeof(float) * (size_t)N * D),
          *cent = malloc(sizeof(float) * C * D);
    char path[256], err[256];
    rag_index *ix = NULL;
    int found = 0;

    for (int i = 0; i < C * D; i++)
        cent[i] = (float)gauss();
    for (int i = 0; i < N; i++) {
        int c = (int)(rnd() * C);
        for (int j = 0; j < D; j++)
            vecs[(size_t)i * D + j] = cent[c * D + j] + 0.5f * (float)gauss();
    }
    rag_index_writer *w = rag_index_writer_new(D);
    for (int i = 0; i < N; i++) {
        rag_index_input in = {i, "u", "", "", "x", vecs + (size_t)i * D};
        rag_index_writer_add(w, &in);
    }
    snprintf(path, sizeof(path), "%s/big.idx", dir);
    CHECK_INT(rag_index_writer_write(w, path, 1, err, sizeof(err)), 0);
    rag_index_writer_free(w);
    ix = rag_index_open(path, err, sizeof(err));
    CHECK(ix != NULL);
    if (ix == NULL)
        goto done;
    uint32_t probe, lists = rag_index_vec_lists(ix, &probe);
    const float *sc;
    CHECK(lists > 1 && probe < lists);
    CHECK(rag_index_vec_q4(ix, 0, &sc) != NULL);
    for (int qi = 0; qi < Q; qi++) {
        float qv[D];
        rag_hit h[K], e[K];
        int c = (int)(rnd() * C);
        for (int j = 0; j < D; j++)
            qv[j] = cent[c * D + j] + 0.5f * (float)gauss();
        rag_query q = {
            NULL, 0, qv, K, RAG_SEARCH_VECTOR, RAG_SEARCH_PER_PAGE_ANY};
        rag_search_opts all = {.n_probe = lists}, def = {.n_probe = 0};
        CHECK_INT(rag_search_ex(ix, &q, &all, e), K);
        CHECK_INT(rag_search_ex(ix, &q, &def, h), K);
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++)
                found += h[i].rec == e[j].rec;
    }
    CHECK(found >= Q * K * 95 / 100);
    fprintf(stderr, "  default lists: recall@10 %.3f at %u of %u lists\n",
            found / (double)(Q * K), probe, lists);
    rag_index_close(ix);

    /* a small collection keeps the exact scan, without 4-bit codes */
    w = rag_index_writer_new(D);
    for (int i = 0; i < 5000; i++) {
        rag_index_input in = {i, "u", "", "", "x", vecs + (size_t)i * D};
        rag_index_writer_add(w, &in);
    }
    CHECK_INT(rag_index_writer_write(w, path, 2, err, sizeof(err)), 0);
    rag_index_writer_free(w);
    ix = rag_index_open(path, err, sizeof(err));
    CHECK(ix != NULL);
    if (ix) {
        CHECK_INT(rag_index_vec_lists(ix, NULL), 0);
        CHECK(rag_index_vec_q4(ix, 0, &sc) == NULL);
        rag_index_close(ix);
    }
done:
    unlink(path);
    free(vecs);
    free(cent);
}

int
main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    RUN(test_q4_kernels);
    RUN(test_q4_quantize);
    RUN(test_default_lists_recall);
    rmdir(dir);
    UNIT_DONE();
}
