/*
 * vectors — the vector leg at scale, one thread: exact int8 scan (the
 * previous implementation's algorithm, still used below
 * RAG_INDEX_IVF_MIN) against k-means lists at several n_probe, recall@10
 * measured against exact float32 search.
 *
 *   vectors CORPUS.tsv QUERIES.txt N DIMS WORKDIR
 *
 * The vectors are derived from the corpus, so they cluster the way the
 * documents do: each record is a copy of a PostgreSQL manual chunk (copy
 * 0 the chunk itself, later copies with 30 % of their words dropped, as
 * in bench/search_scale.c), and its vector is the chunk's TF-IDF bag of
 * rag_terms (1 + ln tf, idf over the distinct chunks) projected to DIMS
 * by a fixed random Gaussian matrix (one N(0,1) row per term, drawn from
 * the term's hash; Johnson-Lindenstrauss: cosines are kept), plus a
 * shared offset so that, as with real embedding models, unrelated texts
 * are not orthogonal (mean cosine ~0.2). Queries: the bench's query
 * texts projected the same way, and as many "paraphrases" (random
 * chunks with 70 % of their words dropped). Nothing here is tuned on
 * the results.
 *
 * WORKDIR gets vecs.f32 (N x DIMS, unit length), queries.f32, gt.u32
 * (exact top 10 per query) for bench/vectors_faiss.cc, and the index.
 * Prints "key value" lines.
 */
#include "rag_index.h"
#include "rag_search.h"
#include "rag_terms.h"
#include "rag_vec.h"

#include "bench_corpus.h"

#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define K 10
#define ROUNDS 3
#define VOCAB_CAP (1u << 20)

static double
unif(uint64_t *s)
{
    *s = mix(*s + 0x9e3779b97f4a7c15ull);
    return ((*s >> 11) + 0.5) / 9007199254740992.0;
}

/* ---- vocabulary: term -> (df, gaussian row) ---------------------------- */

typedef struct {
    char t[RAG_TERM_MAX];
    uint8_t len;
    uint32_t df;
    uint32_t last; /* last chunk that counted it */
    float *row;
} term;

static term *voc;
static uint32_t nvoc, *vhash, dims;
static size_t nbase;

static uint64_t
fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static uint32_t
term_id(const char *t, size_t n, int add)
{
    uint64_t h = fnv(t, n);
    uint32_t i = (uint32_t)h & (VOCAB_CAP - 1);

    while (vhash[i]) {
        term *e = &voc[vhash[i] - 1];
        if (e->len == n && memcmp(e->t, t, n) == 0)
            return vhash[i] - 1;
        i = (i + 1) & (VOCAB_CAP - 1);
    }
    if (!add || nvoc >= VOCAB_CAP / 2)
        return UINT32_MAX;
    term *e = &voc[nvoc];
    memcpy(e->t, t, n);
    e->len = (uint8_t)n;
    e->df = 0;
    e->last = UINT32_MAX;
    e->row = NULL;
    vhash[i] = ++nvoc;
    return nvoc - 1;
}

static const float *
term_row(term *e)
{
    if (e->row == NULL) {
        uint64_t s = fnv(e->t, e->len);
        e->row = malloc(dims * sizeof(float));
        for (uint32_t j = 0; j < dims; j += 2) { /* Box-Muller pairs */
            double u = unif(&s), v = unif(&s), r = sqrt(-2 * log(u));
            e->row[j] = (float)(r * cos(2 * M_PI * v));
            if (j + 1 < dims)
                e->row[j + 1] = (float)(r * sin(2 * M_PI * v));
        }
    }
    return e->row;
}

/* a text's bag of terms */
typedef struct {
    uint32_t id[4096], tf[4096], n;
    uint32_t chunk;
    int add;
} bag;

static int
bag_cb(void *ud, const char *t, size_t n, size_t off, size_t len)
{
    bag *b = ud;
    uint32_t id = term_id(t, n, b->add);

    (void)off;
    (void)len;
    if (id == UINT32_MAX)
        return 0;
    for (uint32_t i = 0; i < b->n; i++)
        if (b->id[i] == id) {
            b->tf[i]++;
            return 0;
        }
    if (b->n < 4096) {
        b->id[b->n] = id;
        b->tf[b->n++] = 1;
    }
    return 0;
}

static float *offset_dir;

/* text -> unit vector */
static void
embed(const char *text, float *out)
{
    static bag b;
    double norm = 0;

    b.n = 0;
    b.add = 0;
    rag_terms_each(text, strlen(text), bag_cb, &b);
    memset(out, 0, dims * sizeof(float));
    for (uint32_t i = 0; i < b.n; i++) {
        term *e = &voc[b.id[i]];
        float w = (float)((1 + log(b.tf[i])) *
                          log((double)nbase / (e->df ? e->df : 1)));
        const float *r = term_row(e);
        for (uint32_t j = 0; j < dims; j++)
            out[j] += w * r[j];
    }
    for (uint32_t j = 0; j < dims; j++)
        norm += (double)out[j] * out[j];
    norm = norm > 0 ? sqrt(norm) : 1;
    /* the shared offset: unrelated texts at cosine ~0.2 */
    for (uint32_t j = 0; j < dims; j++)
        out[j] = (float)(out[j] / norm) + 0.5f * offset_dir[j];
    norm = 0;
    for (uint32_t j = 0; j < dims; j++)
        norm += (double)out[j] * out[j];
    norm = sqrt(norm);
    for (uint32_t j = 0; j < dims; j++)
        out[j] = (float)(out[j] / norm);
}

static int
write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(p, 1, n, f) == n;
    if (f && fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

int
main(int argc, char **argv)
{
    const char *corpus, *qpath, *wdir;
    uint64_t n;
    char path[4096], err[256], *buf;
    char **bodies, **qtexts = NULL;
    size_t nq_text = 0, qcap = 0, maxlen = 0;
    float *v, *qv;
    uint32_t *gt;
    int fd;
    double t0;

    if (argc != 6) {
        fprintf(stderr, "usage: %s CORPUS QUERIES N DIMS WORKDIR\n", argv[0]);
        return 2;
    }
    corpus = argv[1];
    qpath = argv[2];
    n = strtoull(argv[3], NULL, 10);
    dims = (uint32_t)atoi(argv[4]);
    wdir = argv[5];
    voc = calloc(VOCAB_CAP / 2, sizeof(term));
    vhash = calloc(VOCAB_CAP, sizeof(uint32_t));
    bench_chunk *chunks = load_corpus(corpus, &nbase);
    if (!chunks || !nbase)
        return 1;
    bodies = malloc(nbase * sizeof(char *));
    for (size_t i = 0; i < nbase; i++)
        bodies[i] = chunks[i].f[3];
    for (size_t i = 0; i < nbase; i++) {
        static bag b;
        b.n = 0;
        b.add = 1;
        rag_terms_each(bodies[i], strlen(bodies[i]), bag_cb, &b);
        for (uint32_t k = 0; k < b.n; k++)
            voc[b.id[k]].df++;
        if (strlen(bodies[i]) > maxlen)
            maxlen = strlen(bodies[i]);
    }
    offset_dir = malloc(dims * sizeof(float));
    {
        uint64_t s = 42;
        double nn = 0;
        for (uint32_t j = 0; j < dims; j++) {
            offset_dir[j] = (float)(unif(&s) - 0.5);
            nn += (double)offset_dir[j] * offset_dir[j];
        }
        for (uint32_t j = 0; j < dims; j++)
            offset_dir[j] = (float)(offset_dir[j] / sqrt(nn));
    }
    buf = malloc(maxlen + 2);
    v = malloc(dims * sizeof(float));

    /* vectors, streamed to vecs.f32 and to the index writer */
    snprintf(path, sizeof(path), "%s/vecs.f32", wdir);
    FILE *vf = fopen(path, "wb");
    rag_index_writer *w = rag_index_writer_new(dims);
    double t_embed = 0, t_add = 0;
    for (uint64_t r = 0; r < n; r++) {
        uint64_t c = r / nbase, i = r % nbase;
        double e0 = now_s();
        make_copy(bodies[i], c, i, 0, buf);
        embed(buf, v);
        fwrite(v, sizeof(float), dims, vf);
        double e1 = now_s();
        rag_index_input in = {(int64_t)r + 1, "u", "", "", "", v};
        if (rag_index_writer_add(w, &in) != 0)
            return 1;
        t_embed += e1 - e0;
        t_add += now_s() - e1;
    }
    fclose(vf);
    printf("records %llu\ndims %u\nembed_s %.1f\n", (unsigned long long)n, dims,
           t_embed);
    snprintf(path, sizeof(path), "%s/v.idx", wdir);
    t0 = now_s();
    if (rag_index_writer_write(w, path, 1, err, sizeof(err)) != 0) {
        fprintf(stderr, "write: %s\n", err);
        return 1;
    }
    printf("index_build_s %.1f\n", t_add + now_s() - t0);
    rag_index_writer_free(w);

    /* queries: texts, then paraphrases */
    FILE *qf = fopen(qpath, "r");
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while (qf && (len = getline(&line, &lcap, qf)) > 0) {
        if (line[len - 1] == '\n')
            line[len - 1] = '\0';
        if (nq_text == qcap) {
            qcap = qcap ? 2 * qcap : 64;
            qtexts = realloc(qtexts, qcap * sizeof(char *));
        }
        qtexts[nq_text++] = strdup(line);
    }
    if (qf)
        fclose(qf);
    size_t nq = nq_text * 2;
    qv = malloc(nq * dims * sizeof(float));
    for (size_t q = 0; q < nq_text; q++)
        embed(qtexts[q], qv + q * dims);
    {
        uint64_t s = 7;
        for (size_t q = nq_text; q < nq; q++) {
            size_t i = (size_t)(unif(&s) * nbase);
            drop_words(bodies[i], 1000003 + q, 0.70, 0, buf);
            embed(buf, qv + q * dims);
        }
    }
    snprintf(path, sizeof(path), "%s/queries.f32", wdir);
    write_file(path, qv, nq * dims * sizeof(float));

    /* exact float32 top 10 */
    snprintf(path, sizeof(path), "%s/vecs.f32", wdir);
    fd = open(path, O_RDONLY);
    const float *all =
        mmap(NULL, n * dims * sizeof(float), PROT_READ, MAP_SHARED, fd, 0);
    if (all == MAP_FAILED)
        return 1;
    gt = malloc(nq * K * sizeof(uint32_t));
    t0 = now_s();
    {
        float *sc = malloc(4096 * sizeof(float));
        for (size_t q = 0; q < nq; q++) {
            float best[K];
            uint32_t bi[K];
            int nb = 0;
            for (uint64_t r0 = 0; r0 < n; r0 += 4096) {
                uint32_t m = n - r0 < 4096 ? (uint32_t)(n - r0) : 4096;
                rag_vec_dots_f32(qv + q * dims, all + r0 * dims, m, dims, sc);
                for (uint32_t j = 0; j < m; j++) {
                    float d = sc[j];
                    if (nb == K && d <= best[K - 1])
                        continue;
                    int p = nb < K ? nb++ : K - 1;
                    while (p > 0 && best[p - 1] < d) {
                        best[p] = best[p - 1];
                        bi[p] = bi[p - 1];
                        p--;
                    }
                    best[p] = d;
                    bi[p] = (uint32_t)(r0 + j);
                }
            }
            memcpy(gt + q * K, bi, sizeof(bi));
        }
        free(sc);
    }
    printf("exact_f32_truth_s %.1f\n", now_s() - t0);
    snprintf(path, sizeof(path), "%s/gt.u32", wdir);
    write_file(path, gt, nq * K * sizeof(uint32_t));
    munmap((void *)all, n * dims * sizeof(float));
    close(fd);

    /* searches */
    snprintf(path, sizeof(path), "%s/v.idx", wdir);
    t0 = now_s();
    rag_index *ix = rag_index_open(path, err, sizeof(err));
    if (ix == NULL) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    struct stat st;
    stat(path, &st);
    printf("index_mb %.0f\nopen_s %.2f\n", st.st_size / 1e6, now_s() - t0);
    uint32_t defprobe, lists = rag_index_vec_lists(ix, &defprobe);
    printf("lists %u\ndefault_probe %u\nqueries %zu\n", lists, defprobe, nq);
    uint32_t probes[] = {UINT32_MAX, 1, 2, 4, 8, 16, 32, 64, 0};
    double *lat = malloc(nq * ROUNDS * sizeof(double));
    double *clat = malloc(nq * ROUNDS * sizeof(double));
    printf("\n%-22s %9s %9s %9s %9s %10s %12s\n", "vector leg, k=10", "CPU p50",
           "CPU p99", "wall p50", "wall p99", "recall@10", "(text/para)");
    for (size_t pi = 0; pi < sizeof(probes) / sizeof(probes[0]); pi++) {
        rag_search_opts o = {.n_probe = probes[pi]};
        size_t found[2] = {0, 0};
        if (probes[pi] != UINT32_MAX && probes[pi] != 0 && probes[pi] >= lists)
            continue;
        for (int round = -1; round < ROUNDS; round++) {
            for (size_t q = 0; q < nq; q++) {
                rag_hit h[K];
                rag_query rq = {NULL,
                                0,
                                qv + q * dims,
                                K,
                                RAG_SEARCH_VECTOR,
                                RAG_SEARCH_PER_PAGE_ANY};
                double q0 = now_s(), c0 = cpu_s();
                int got = rag_search_ex(ix, &rq, &o, h);
                double dt = (now_s() - q0) * 1e3, dc = (cpu_s() - c0) * 1e3;
                if (round >= 0) {
                    lat[round * nq + q] = dt;
                    clat[round * nq + q] = dc;
                }
                if (round == 0)
                    for (int a = 0; a < got; a++)
                        for (int b = 0; b < K; b++)
                            found[q >= nq_text] += h[a].rec == gt[q * K + b];
            }
        }
        qsort(lat, nq * ROUNDS, sizeof(double), cmp_d);
        qsort(clat, nq * ROUNDS, sizeof(double), cmp_d);
        char label[64];
        if (probes[pi] == UINT32_MAX)
            snprintf(label, sizeof(label), "exact int8 scan");
        else if (probes[pi] == 0)
            snprintf(label, sizeof(label), "lists, default (%u)", defprobe);
        else
            snprintf(label, sizeof(label), "lists, n_probe %u", probes[pi]);
        printf("%-22s %9.2f %9.2f %9.2f %9.2f %10.3f %6.3f/%.3f\n", label,
               clat[nq * ROUNDS / 2], clat[(size_t)(nq * ROUNDS * 0.99)],
               lat[nq * ROUNDS / 2], lat[(size_t)(nq * ROUNDS * 0.99)],
               (found[0] + found[1]) / (double)(nq * K),
               found[0] / (double)(nq_text * K),
               found[1] / (double)((nq - nq_text) * K));
        fflush(stdout);
    }
    rag_index_close(ix);
    return 0;
}
