/*
 * test_ft — the semantic leg: fastText's hashing and n-grams, the
 * tokenizer, SIF vectors, the model read from fastText's .bin against
 * the vectors `fasttext print-word-vectors` prints (known and unseen
 * words, ASCII and UTF-8), reproducible training, the bounds on a
 * training, the re-training rule, the index sections and their
 * validation, and the in-process leg in rag_search.
 *
 * Trains small models with Debian's fasttext (.ci/deps.sh installs it).
 */
#include "rag_ft.h"
#include "rag_index.h"
#include "rag_search.h"
#include "test_rng.h"
#include "unit.h"

#include "../../worker/conf_tables.c"
#include "../../worker/ft_train.c"

#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define FT_BIN "/usr/bin/fasttext"
#define NREC 600

static char dir[] = "/tmp/test_ft_XXXXXX";

/* ---- pure parts --------------------------------------------------------- */

static uint32_t
fnv_signed(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        int8_t c = (int8_t)*s;
        h ^= (uint32_t)(int32_t)c;
        h *= 16777619u;
    }
    return h;
}

static void
test_hash(void)
{
    CHECK_INT(rag_ft_hash("", 0), 2166136261u);
    /* FNV-1a 32 of "a" is 0xe40c292c */
    CHECK_INT(rag_ft_hash("a", 1), 0xe40c292cu);
    CHECK_INT(rag_ft_hash("foobar", 6), 0xbf9cf968u);
    /* bytes >= 0x80 mix in sign-extended, as fastText's int8_t cast
     * makes them: not plain FNV-1a */
    CHECK_INT(rag_ft_hash("caf\xc3\xa9", 5), fnv_signed("caf\xc3\xa9"));
    {
        uint32_t plain = 2166136261u;
        const unsigned char *p = (const unsigned char *)"caf\xc3\xa9";
        for (int i = 0; i < 5; i++)
            plain = (plain ^ p[i]) * 16777619u;
        CHECK(plain != rag_ft_hash("caf\xc3\xa9", 5));
    }
}

static void
test_ngrams(void)
{
    uint32_t got[RAG_FT_MAX_NGRAMS], b = 2000003;
    const char *want3[] = {"<wh", "whe", "her", "ere", "re>"};
    size_t n = rag_ft_ngrams("where", 5, 3, 3, b, got, RAG_FT_MAX_NGRAMS);

    CHECK_INT(n, 5);
    for (int i = 0; i < 5; i++)
        CHECK_INT(got[i], rag_ft_hash(want3[i], 3) % b);
    /* fastText's order: by start, then by length; 3..6 over "<where>" */
    {
        const char *want[] = {"<wh",   "<whe",  "<wher",  "<where", "whe",
                              "wher",  "where", "where>", "her",    "here",
                              "here>", "ere",   "ere>",   "re>"};
        n = rag_ft_ngrams("where", 5, 3, 6, b, got, RAG_FT_MAX_NGRAMS);
        CHECK_INT(n, 14);
        for (int i = 0; i < 14; i++)
            CHECK_INT(got[i], rag_ft_hash(want[i], strlen(want[i])) % b);
    }
    /* UTF-8: characters, not bytes; never starting inside one */
    {
        const char *want[] = {"<n\xc3\xa9", "n\xc3\xa9>"};
        n = rag_ft_ngrams("n\xc3\xa9", 3, 3, 3, b, got, RAG_FT_MAX_NGRAMS);
        CHECK_INT(n, 2);
        for (int i = 0; i < 2; i++)
            CHECK_INT(got[i], rag_ft_hash(want[i], strlen(want[i])) % b);
    }
    /* a one-letter word still has "<x>" */
    CHECK_INT(rag_ft_ngrams("x", 1, 3, 6, b, got, RAG_FT_MAX_NGRAMS), 1);
    /* max bounds what is written, not what is counted */
    CHECK_INT(rag_ft_ngrams("where", 5, 3, 6, b, got, 2), 14);
    CHECK_INT(rag_ft_ngrams("where", 5, 3, 6, 0, got, 2), 0);
}

typedef struct {
    char out[1024];
    size_t n;
} tokbuf;

static int
tok_cb(void *ud, const char *t, size_t n)
{
    tokbuf *b = ud;
    if (b->n)
        b->out[b->n++] = '|';
    memcpy(b->out + b->n, t, n);
    b->n += n;
    b->out[b->n] = '\0';
    return 0;
}

static int
tok_stop(void *ud, const char *t, size_t n)
{
    (void)ud;
    (void)t;
    (void)n;
    return 1;
}

static void
test_tokens(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"Hello, World!", "hello|world"},
        {"pg_dump -Fc mydb > db.dump", "pg_dump|fc|mydb|db|dump"},
        {"see [the docs](https://x.org/a/b.html) now", "see|the|docs|now"},
        {"an [unclosed](link", "an|unclosed|link"},
        {"caf\xc3\xa9\xe2\x80\x94na\xc3\xafve\xc2\xa0X",
         "caf\xc3\xa9|na\xc3\xafve|x"},
        {"``` code ```", "code"},
        {"", ""},
        {"   ...   ", ""},
    };
    char big[200];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tokbuf b = {"", 0};
        rag_ft_tokens(cases[i].in, strlen(cases[i].in), tok_cb, &b);
        CHECK_STR(b.out, cases[i].want);
    }
    /* a token over RAG_FT_TOKEN_MAX bytes is skipped whole */
    memset(big, 'a', sizeof(big));
    memcpy(big + 64, " ok ", 4); /* 64 bytes: kept; then 131: skipped */
    big[sizeof(big) - 1] = '\0';
    {
        tokbuf b = {"", 0};
        CHECK_INT(rag_ft_tokens(big, strlen(big), tok_cb, &b), 2);
        CHECK(b.n == 67 && strcmp(b.out + 64, "|ok") == 0);
        b.n = 0;
        memset(big, 'b', sizeof(big));
        big[sizeof(big) - 1] = '\0';
        CHECK_INT(rag_ft_tokens(big, strlen(big), tok_cb, &b), 0);
    }
    CHECK_INT(rag_ft_tokens("a b", 3, tok_stop, NULL), -1);
    CHECK_INT(rag_ft_tokens(NULL, 0, tok_cb, NULL), 0);
}

static void
test_pc(void)
{
    double cov[9] = {1, 0, 0, 0, 5, 0, 0, 0, 2};
    double two[4] = {1, 1, 1, 1}; /* vectors along (1, 1) */
    double zero[4] = {0};
    float pc[3], v[3] = {3, 4, 0};

    CHECK_INT(rag_ft_first_pc(cov, 3, pc), 0);
    CHECK(fabsf(fabsf(pc[1]) - 1) < 1e-6f && fabsf(pc[0]) < 1e-6f);
    CHECK_INT(rag_ft_first_pc(two, 2, pc), 0);
    CHECK(fabsf(fabsf(pc[0]) - (float)M_SQRT1_2) < 1e-6f &&
          fabsf(pc[0] - pc[1]) < 1e-6f);
    CHECK_INT(rag_ft_first_pc(zero, 2, pc), -1);
    /* removal then unit length */
    {
        float e[3] = {0, 1, 0};
        CHECK_INT(rag_ft_finish(e, v, 3), 0);
        CHECK(fabsf(v[0] - 1) < 1e-6f && v[1] == 0 && v[2] == 0);
        float w[3] = {0, 2, 0};
        CHECK_INT(rag_ft_finish(e, w, 3), -1); /* nothing left */
        CHECK(w[1] == 0);
        float u[3] = {0, 3, 4};
        CHECK_INT(rag_ft_finish(NULL, u, 3), 0);
        CHECK(fabsf(u[1] - 0.6f) < 1e-6f && fabsf(u[2] - 0.8f) < 1e-6f);
    }
}

/* ---- a small corpus, trained with the real fasttext ---------------------- */

static test_rng rng = {88172645463325252ull};

static uint32_t
next_rand(void)
{
    return (uint32_t)(test_rng_next(&rng) >> 11);
}

static const char *syl[] = {"ka", "lo", "mi", "ne", "ru", "te",
                            "sa", "vo", "pi", "du", "ge", "zo"};

/* word w of the synthetic language (a few UTF-8 ones among them) */
static void
word_of(uint32_t w, char *out)
{
    if (w % 97 == 5) {
        strcpy(out, w % 2 ? "caf\xc3\xa9" : "na\xc3\xafve");
        return;
    }
    out[0] = '\0';
    for (int i = 0; i < 2 + (int)(w % 3); i++) {
        strcat(out, syl[w % 12]);
        w /= 12;
    }
}

/* record i: a title and a body of 40 words, Zipf-like frequencies, each
 * record drawing from its own topic of 40 words half the time */
static void
record_text(int i, char *title, char *body)
{
    char w[32];
    size_t n = 0;

    word_of((uint32_t)(i % 30) * 7 + 1, w);
    snprintf(title, 64, "Topic %s", w);
    body[0] = '\0';
    for (int k = 0; k < 40; k++) {
        uint32_t r = next_rand();
        uint32_t id = r % 2 ? (uint32_t)(i % 30) * 40 + (r >> 1) % 40
                            : (uint32_t)(1000.0 / (1 + (r >> 1) % 1000));
        word_of(id, w);
        n += (size_t)snprintf(body + n, 600 - n, "%s%s", k ? " " : "", w);
    }
}

static ft_train_conf tc;
static void *model;
static size_t model_len;
static char titles[NREC][64], bodies[NREC][600];

static int
train_corpus(uint32_t seed, void **m, size_t *len, char *binpath, char *err,
             size_t errlen)
{
    ft_corpus c;
    ft_train_conf t = tc;
    int rc;

    t.seed = seed;
    if (ft_corpus_open(&c, err, errlen) != 0)
        return -1;
    for (int i = 0; i < NREC; i++) {
        const char *parts[2] = {titles[i], bodies[i]};
        size_t lens[2] = {strlen(titles[i]), strlen(bodies[i])};
        ft_corpus_add(&c, parts, lens, 2);
    }
    rc = ft_corpus_close(&c, err, errlen);
    if (rc == 0)
        rc = ft_train(&t, &c, 7, m, len, NULL, 0, err, errlen);
    if (rc == 0 && binpath != NULL) {
        char src[400];
        snprintf(src, sizeof(src), "%s/model.bin", c.dir);
        rc = rename(src, binpath);
    }
    ft_corpus_free(&c);
    return rc;
}

/* fastText's own vectors of words[] from a .bin, as it prints them */
static int
fasttext_prints(const char *bin, const char *const *words, size_t n, float *out,
                uint32_t dim)
{
    char wpath[300], opath[300], cmd[1200], line[65536];
    FILE *f;
    size_t got = 0;

    snprintf(wpath, sizeof(wpath), "%s/words.txt", dir);
    snprintf(opath, sizeof(opath), "%s/printed.txt", dir);
    f = fopen(wpath, "w");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", words[i]);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "%s print-word-vectors %s < %s > %s", FT_BIN,
             bin, wpath, opath);
    if (system(cmd) != 0)
        return -1;
    f = fopen(opath, "r");
    while (f && got < n && fgets(line, sizeof(line), f)) {
        char *p = strchr(line, ' ');
        if (p == NULL)
            break;
        for (uint32_t d = 0; d < dim; d++)
            out[got * dim + d] = strtof(p, &p);
        got++;
    }
    if (f)
        fclose(f);
    return got == n ? 0 : -1;
}

static void
test_train_and_compare(void)
{
    char err[512], bin[300];
    rag_ft_model m;
    static const char *words[] = {
        "kalo",
        "miru",
        "kakaka",
        "caf\xc3\xa9",
        "na\xc3\xafve",
        "topic",
        "zzqxyx",
        "\xc3\xbc"
        "ber",
        "\xe6\x9d\xb1\xe4\xba\xac",
        "x",
        "kalomineru",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    size_t nw = sizeof(words) / sizeof(words[0]);
    float *theirs, ours[RAG_FT_MAX_DIM];
    int known = 0, unknown = 0;

    snprintf(bin, sizeof(bin), "%s/model.bin", dir);
    CHECK_INT(train_corpus(1, &model, &model_len, bin, err, sizeof(err)), 0);
    if (model == NULL) {
        fprintf(stderr, "training: %s\n", err);
        return;
    }
    CHECK_INT(rag_ft_model_open(&m, model, model_len, err, sizeof(err)), 0);
    CHECK_INT(m.dim, tc.dim);
    CHECK_INT(m.nbuckets, tc.bucket);
    CHECK_INT(m.epoch, tc.epoch);
    CHECK_INT(m.seed, 1);
    CHECK_INT(m.train_generation, 7);
    CHECK_INT(m.train_docs, NREC);
    CHECK_INT(m.corpus_tokens, m.ntokens); /* not thinned */
    CHECK(m.nwords > 100 && m.ntokens > NREC * 40);
    theirs = calloc(nw * m.dim, sizeof(float));
    CHECK_INT(fasttext_prints(bin, words, nw, theirs, m.dim), 0);
    for (size_t i = 0; i < nw; i++) {
        double worst = 0;
        CHECK_INT(rag_ft_word_vector(&m, words[i], strlen(words[i]), ours), 0);
        if (rag_ft_word_id(&m, words[i], strlen(words[i])) >= 0)
            known++;
        else
            unknown++;
        for (uint32_t d = 0; d < m.dim; d++) {
            /* printed with 5 significant digits */
            double t = theirs[i * m.dim + d], e = fabs(ours[d] - t);
            double tol = 6e-5 * fabs(t) + 1e-9;
            if (e / (tol / 6e-5) > worst)
                worst = e / (tol / 6e-5);
            if (e > tol) {
                fprintf(stderr, "%s[%u]: ours %.9g, fasttext %.9g\n", words[i],
                        d, ours[d], t);
                CHECK(0);
                break;
            }
        }
    }
    /* the comparison covered both kinds, and UTF-8 among the unseen */
    CHECK(known >= 4);
    CHECK(unknown >= 5);
    CHECK(rag_ft_word_id(&m, "caf\xc3\xa9", 5) >= 0);
    CHECK(rag_ft_word_id(&m,
                         "\xc3\xbc"
                         "ber",
                         5) < 0);
    free(theirs);
}

static void
test_reproducible(void)
{
    char err[512];
    void *again = NULL, *other = NULL;
    size_t alen = 0, olen = 0;

    if (model == NULL)
        return;
    CHECK_INT(train_corpus(1, &again, &alen, NULL, err, sizeof(err)), 0);
    CHECK_INT(train_corpus(2, &other, &olen, NULL, err, sizeof(err)), 0);
    /* the same corpus and seed: the same model, byte for byte, but for
     * the training's duration and date (header bytes 84..95) */
    CHECK(again != NULL && alen == model_len);
    if (again != NULL && alen == model_len) {
        CHECK(memcmp(again, model, 84) == 0);
        CHECK(memcmp((char *)again + 96, (char *)model + 96, model_len - 96) ==
              0);
    }
    /* another seed: other vectors */
    CHECK(other != NULL && olen == model_len &&
          memcmp((char *)other + 96, (char *)model + 96, model_len - 96) != 0);
    free(again);
    free(other);
}

static void
test_embed(void)
{
    rag_ft_model m;
    float v[RAG_FT_MAX_DIM], w[RAG_FT_MAX_DIM], pc[RAG_FT_MAX_DIM];
    double dot = 0, norm = 0;
    long id;

    if (model == NULL)
        return;
    rag_ft_model_open(&m, model, model_len, NULL, 0);
    /* SIF weight: a / (a + p), frequent words weigh less */
    id = rag_ft_word_id(&m, "kalo", 4);
    CHECK(id >= 0);
    {
        const unsigned char *e = m.words + (size_t)id * RAG_FT_WORD_SZ;
        double p = (double)(e[8] | e[9] << 8 | e[10] << 16) / m.ntokens;
        CHECK(fabs(rag_ft_sif_weight(&m, id) - 1e-3 / (1e-3 + p)) < 1e-12);
    }
    CHECK(rag_ft_sif_weight(&m, -1) == 1.0);
    /* one word: its own direction */
    CHECK_INT(rag_ft_embed(&m, NULL, "Kalo!", 5, v), 0);
    rag_ft_word_vector(&m, "kalo", 4, w);
    for (uint32_t d = 0; d < m.dim; d++) {
        dot += (double)v[d] * w[d];
        norm += (double)w[d] * w[d];
    }
    CHECK(fabs(dot / sqrt(norm) - 1) < 1e-5);
    /* no token: no vector */
    CHECK_INT(rag_ft_embed(&m, NULL, "?!", 2, v), -1);
    CHECK(v[0] == 0);
    /* with a component: orthogonal to it */
    memset(pc, 0, sizeof(pc));
    pc[0] = 1;
    CHECK_INT(rag_ft_embed(&m, pc, "kalo miru", 9, v), 0);
    CHECK(fabsf(v[0]) < 1e-6f);
}

/* The vocabulary's nearest neighbours: itself left out, best first, each
 * cosine exact, the bounds on closeness and count kept. */
static void
test_neighbours(void)
{
    rag_ft_model m;
    long ids[8];
    double cos[8];
    float q[RAG_FT_MAX_DIM];
    size_t got, wl;
    long self;
    const char *wt;

    if (model == NULL)
        return;
    rag_ft_model_open(&m, model, model_len, NULL, 0);
    self = rag_ft_word_id(&m, "kalo", 4);
    got = rag_ft_neighbours(&m, "kalo", 4, 8, -1, 1, ids, cos);
    CHECK_INT(got, 8);
    rag_ft_word_vector(&m, "kalo", 4, q);
    for (size_t i = 0; i < got; i++) {
        double dot = 0, a = 0, b = 0;
        const float *v = m.wvec + (size_t)ids[i] * m.dim;
        CHECK(ids[i] != self);
        if (i > 0)
            CHECK(cos[i] <= cos[i - 1]);
        for (uint32_t d = 0; d < m.dim; d++) {
            dot += (double)q[d] * v[d];
            a += (double)q[d] * q[d];
            b += (double)v[d] * v[d];
        }
        CHECK(fabs(cos[i] - dot / sqrt(a * b)) < 1e-9);
    }
    /* no word in the vocabulary is closer than the last one kept */
    for (uint32_t i = 0; i < m.nwords; i++) {
        double dot = 0, a = 0, b = 0;
        const float *v = m.wvec + (size_t)i * m.dim;
        int kept = (long)i == self;
        for (size_t j = 0; j < got; j++)
            kept |= ids[j] == (long)i;
        if (kept)
            continue;
        for (uint32_t d = 0; d < m.dim; d++) {
            dot += (double)q[d] * v[d];
            a += (double)q[d] * q[d];
            b += (double)v[d] * v[d];
        }
        CHECK(dot / sqrt(a * b) <= cos[got - 1] + 1e-12);
    }
    wt = rag_ft_word_text(&m, ids[0], &wl);
    CHECK(wl > 0 && rag_ft_word_id(&m, wt, wl) == ids[0]);
    /* a floor on closeness no word reaches; a count no word has */
    CHECK_INT(rag_ft_neighbours(&m, "kalo", 4, 8, 1.01, 1, ids, cos), 0);
    CHECK_INT(rag_ft_neighbours(&m, "kalo", 4, 8, -1, m.ntokens + 1, ids, cos),
              0);
    /* an unseen word has neighbours through its n-grams; no n-gram: none */
    CHECK(rag_ft_neighbours(&m, "kalozz", 6, 3, -1, 1, ids, cos) == 3);
    CHECK_INT(rag_ft_neighbours(&m, "kalo", 4, 0, -1, 1, ids, cos), 0);
}

/* ---- model validation --------------------------------------------------- */

static void
expect_model_reject(size_t at, uint32_t val, int want_rc)
{
    unsigned char *b;
    rag_ft_model m;
    char err[256];

    if (posix_memalign((void **)&b, 64, model_len) != 0)
        return;
    memcpy(b, model, model_len);
    b[at] = (unsigned char)val;
    b[at + 1] = (unsigned char)(val >> 8);
    b[at + 2] = (unsigned char)(val >> 16);
    b[at + 3] = (unsigned char)(val >> 24);
    CHECK_INT(rag_ft_model_open(&m, b, model_len, err, sizeof(err)), want_rc);
    free(b);
}

static void
test_model_validation(void)
{
    rag_ft_model m;
    char err[256];
    uint32_t nwords;
    size_t off_wvec;

    if (model == NULL)
        return;
    rag_ft_model_open(&m, model, model_len, NULL, 0);
    nwords = m.nwords;
    off_wvec =
        (size_t)((const unsigned char *)m.wvec - (const unsigned char *)model);
    CHECK_INT(rag_ft_model_open(&m, model, model_len - 4, err, sizeof(err)),
              -1);
    CHECK(strstr(err, "size") != NULL);
    CHECK_INT(rag_ft_model_open(&m, model, 100, err, sizeof(err)), -1);
    expect_model_reject(0, 0, -1);    /* dim 0 */
    expect_model_reject(0, 5000, -1); /* dim too big */
    expect_model_reject(8, 0, -1);    /* no buckets */
    expect_model_reject(12, 0, -1);   /* minn 0 */
    expect_model_reject(16, 40, -1);  /* maxn too big */
    expect_model_reject(20, 1, -1);   /* flags */
    expect_model_reject(108, 1, -1);  /* reserved */
    expect_model_reject(104, 2, -2);  /* other tokenizer: unusable */
    /* words out of order: swap the first two entries */
    {
        unsigned char *b;
        if (posix_memalign((void **)&b, 64, model_len) == 0) {
            memcpy(b, model, model_len);
            memcpy(b + RAG_FT_HDR, (char *)model + RAG_FT_HDR + 16, 16);
            memcpy(b + RAG_FT_HDR + 16, (char *)model + RAG_FT_HDR, 16);
            CHECK_INT(rag_ft_model_open(&m, b, model_len, err, sizeof(err)),
                      -1);
            CHECK(strstr(err, "not sorted") != NULL);
            free(b);
        }
    }
    expect_model_reject(RAG_FT_HDR + 4, 0, -1);          /* empty word */
    expect_model_reject(RAG_FT_HDR + 8, 0, -1);          /* count 0 */
    expect_model_reject(RAG_FT_HDR + 0, 0x7fffffff, -1); /* text offset */
    expect_model_reject(off_wvec, 0x7fc00000, -1);       /* NaN */
    expect_model_reject(model_len - 4, 0x7f800000, -1);  /* inf */
    (void)nwords;
}

/* ---- the bounds of a training ------------------------------------------- */

static void
write_script(const char *path, const char *body)
{
    FILE *f = fopen(path, "w");
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(path, 0755);
}

static void
test_bounds(void)
{
    char err[512], path[300];
    void *m = NULL;
    size_t len;
    ft_train_conf save = tc;

    /* no such program */
    snprintf(tc.bin, sizeof(tc.bin), "%s/no-fasttext", dir);
    CHECK_INT(train_corpus(1, &m, &len, NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "cannot run") != NULL);
    /* a failing one: its message is kept */
    snprintf(path, sizeof(path), "%s/fails.sh", dir);
    write_script(path, "echo 'Empty vocabulary. Try a smaller -minCount' >&2; "
                       "exit 1");
    snprintf(tc.bin, sizeof(tc.bin), "%s", path);
    CHECK_INT(train_corpus(1, &m, &len, NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "exit 1") != NULL &&
          strstr(err, "Empty vocabulary") != NULL);
    /* one that takes too long is killed */
    snprintf(path, sizeof(path), "%s/slow.sh", dir);
    write_script(path, "exec sleep 30");
    snprintf(tc.bin, sizeof(tc.bin), "%s", path);
    tc.max_seconds = 1;
    CHECK_INT(train_corpus(1, &m, &len, NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "killed after 1 s") != NULL);
    /* the real one over its memory limit fails, and says so */
    tc = save;
    tc.bucket = 2000000;
    tc.dim = 100;
    tc.max_memory_mb = 200;
    CHECK_INT(train_corpus(1, &m, &len, NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "fasttext_max_memory_mb") != NULL);
    fprintf(stderr, "  over the memory limit: %s\n", err);
    /* a model that is not there: the .bin reader's errors */
    {
        rag_ft_model prov;
        memset(&prov, 0, sizeof(prov));
        snprintf(path, sizeof(path), "%s/fails.sh", dir);
        CHECK_INT(ft_model_from_bin(path, &prov, &m, &len, err, sizeof(err)),
                  -1);
        CHECK(strstr(err, "not a fastText model") != NULL);
        snprintf(path, sizeof(path), "%s/none.bin", dir);
        CHECK_INT(ft_model_from_bin(path, &prov, &m, &len, err, sizeof(err)),
                  -1);
    }
    tc = save;
    CHECK(m == NULL);
}

/* ---- a .bin that is not what fastText 0.9 writes ------------------------ */

/* Writes src to dst with four bytes at off replaced by v (off < 0: none)
 * and cut to cut bytes (cut < 0: whole). */
static int
damaged_copy(const unsigned char *src, size_t n, const char *dst, long off,
             uint32_t v, long cut)
{
    unsigned char *b = malloc(n);
    FILE *f = fopen(dst, "w");
    size_t w = cut >= 0 && (size_t)cut < n ? (size_t)cut : n;
    int rc = -1;

    if (b != NULL && f != NULL) {
        memcpy(b, src, n);
        if (off >= 0 && (size_t)off + 4 <= n)
            memcpy(b + off, &v, 4);
        rc = fwrite(b, 1, w, f) == w ? 0 : -1;
    }
    if (f != NULL && fclose(f) != 0)
        rc = -1;
    free(b);
    return rc;
}

/* The error ft_model_from_bin gives for a damaged copy of bin. */
static const char *
damaged_err(const unsigned char *bin, size_t n, long off, uint32_t v, long cut,
            char *err, size_t errlen)
{
    char path[300];
    rag_ft_model prov;
    void *m = NULL;
    size_t len = 0;

    memset(&prov, 0, sizeof(prov));
    snprintf(path, sizeof(path), "%s/damaged.bin", dir);
    err[0] = '\0';
    if (damaged_copy(bin, n, path, off, v, cut) != 0 ||
        ft_model_from_bin(path, &prov, &m, &len, err, errlen) != -1) {
        free(m);
        return "(accepted)";
    }
    return m == NULL ? err : "(model set on error)";
}

static void
test_bin_damage(void)
{
    char err[512], path[300];
    unsigned char *bin = NULL;
    void *m = NULL;
    size_t len = 0, n = 0, at;
    int32_t size;
    uint32_t mrows;
    FILE *f;

    snprintf(path, sizeof(path), "%s/whole.bin", dir);
    CHECK_INT(train_corpus(3, &m, &len, path, err, sizeof(err)), 0);
    free(m);
    f = fopen(path, "r");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    fseek(f, 0, SEEK_END);
    n = (size_t)ftell(f);
    rewind(f);
    bin = malloc(n);
    CHECK(bin != NULL && fread(bin, 1, n, f) == n);
    fclose(f);
    /* the header: magic, version, 12 int32 args, a double, then size at 64,
     * nwords, nlabels, ntokens, prune; the dictionary starts at 92 */
    memcpy(&size, bin + 64, 4);
    at = 92;
    for (int32_t i = 0; i < size && at < n; i++)
        at += strnlen((const char *)bin + at, n - at) + 1 + 8 + 1;
    CHECK(at + 17 < n);
    if (at + 17 >= n)
        goto done;
    /* at: the quant_input flag, then the input matrix's rows and columns */
    CHECK(bin[at] == 0);
    memcpy(&mrows, bin + at + 1, 4);
    CHECK(strstr(damaged_err(bin, n, 8, 0, -1, err, sizeof(err)),
                 "unsupported fastText model (dim 0") != NULL);
    /* prune (an int64 at 84, -1): its high half cleared makes it 2^32 - 1 */
    CHECK(strstr(damaged_err(bin, n, 88, 0, -1, err, sizeof(err)),
                 "pruned 4294967295)") != NULL);
    CHECK(strstr(damaged_err(bin, n, -1, 0, 95, err, sizeof(err)),
                 "dictionary entry 0 malformed") != NULL);
    CHECK(strstr(damaged_err(bin, n, -1, 0, (long)at - 3, err, sizeof(err)),
                 "dictionary truncated") != NULL);
    CHECK(strstr(damaged_err(bin, n, (long)at, 1, -1, err, sizeof(err)),
                 "quantised models are not supported") != NULL);
    CHECK(strstr(damaged_err(bin, n, (long)at + 1, mrows + 1, -1, err,
                             sizeof(err)),
                 "does not match") != NULL);
    /* cut inside the input matrix (the output matrix follows it) */
    CHECK(strstr(
              damaged_err(bin, n, -1, 0, (long)at + 17 + 100, err, sizeof(err)),
              "input matrix truncated") != NULL);
    /* the undamaged copy still loads */
    CHECK(strcmp(damaged_err(bin, n, -1, 0, -1, err, sizeof(err)),
                 "(accepted)") == 0);
done:
    free(bin);
}

static void
test_thinned(void)
{
    char err[512];
    void *m = NULL;
    size_t len = 0;
    rag_ft_model fm;
    ft_train_conf save = tc;

    if (model == NULL)
        return;
    /* a corpus over max_tokens trains on every k-th record; the model's
     * header still describes the whole corpus */
    tc.max_tokens = NREC * 42 / 3;
    CHECK_INT(train_corpus(1, &m, &len, NULL, err, sizeof(err)), 0);
    tc = save;
    if (m == NULL)
        return;
    CHECK_INT(rag_ft_model_open(&fm, m, len, err, sizeof(err)), 0);
    CHECK_INT(fm.train_docs, NREC);
    CHECK(fm.corpus_tokens > 2 * fm.ntokens);
    CHECK(fm.train_oov > 0 && fm.train_oov < fm.corpus_tokens);
    free(m);
}

static void
test_retrain_rule(void)
{
    char buf[128];
    rag_ft_model m;
    const char *r;

    if (model == NULL)
        return;
    rag_ft_model_open(&m, model, model_len, NULL, 0);
    CHECK_STR(ft_retrain_reason(&tc, NULL, 100, 0, buf, sizeof(buf)),
              "no model");
    /* the same corpus: kept */
    CHECK(ft_retrain_reason(&tc, &m, m.corpus_tokens, m.train_oov, buf,
                            sizeof(buf)) == NULL);
    /* grew by 20 %: kept; by 30 %: trained */
    CHECK(ft_retrain_reason(&tc, &m, m.corpus_tokens * 12 / 10, m.train_oov,
                            buf, sizeof(buf)) == NULL);
    r = ft_retrain_reason(&tc, &m, m.corpus_tokens * 13 / 10, m.train_oov, buf,
                          sizeof(buf));
    CHECK(r != NULL && strstr(r, "grew 30%") != NULL);
    r = ft_retrain_reason(&tc, &m, m.corpus_tokens / 2, 0, buf, sizeof(buf));
    CHECK(r != NULL && strstr(r, "shrank 50%") != NULL);
    /* new vocabulary */
    r = ft_retrain_reason(&tc, &m, m.corpus_tokens,
                          m.train_oov + m.corpus_tokens / 20, buf, sizeof(buf));
    CHECK(r != NULL && strstr(r, "rare words") != NULL);
    /* settings */
    {
        ft_train_conf c2 = tc;
        c2.epoch++;
        CHECK_STR(ft_retrain_reason(&c2, &m, m.corpus_tokens, m.train_oov, buf,
                                    sizeof(buf)),
                  "settings changed");
        c2 = tc;
        c2.seed = 9;
        CHECK_STR(ft_retrain_reason(&c2, &m, m.corpus_tokens, m.train_oov, buf,
                                    sizeof(buf)),
                  "settings changed");
    }
}

static void
test_conf(void)
{
    ft_train_conf c;

    setenv("RAG_SEMANTIC_LEG", "fasttext", 1);
    ft_train_conf_load(&c, NULL);
    CHECK_INT(c.enabled, 1);
    setenv("RAG_SEMANTIC_LEG", "off", 1);
    setenv("RAG_FASTTEXT_EPOCH", "3", 1);
    setenv("RAG_FASTTEXT_BUCKET", "-5", 1); /* out of range: default */
    ft_train_conf_load(&c, NULL);
    CHECK_INT(c.enabled, 0);
    CHECK_INT(c.epoch, 3);
    CHECK_INT(c.bucket, 200000);
    unsetenv("RAG_SEMANTIC_LEG");
    unsetenv("RAG_FASTTEXT_EPOCH");
    unsetenv("RAG_FASTTEXT_BUCKET");
    ft_train_conf_load(&c, NULL);
    CHECK_INT(c.enabled, 0); /* off by default (README: measured) */
    CHECK_INT(c.dim, 100);
    CHECK_INT(c.epoch, 5);
    CHECK_INT(c.min_count, 2);
    CHECK_INT(c.bucket, 200000);
    CHECK_STR(c.bin, "/usr/bin/fasttext");
}

/* ---- the index and the search ------------------------------------------- */

static uint32_t
rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void
wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static void
index_fix_crc(unsigned char *b, size_t len)
{
    size_t te = 64 + (size_t)rd32(b + 36) * 32;
    wr32(b + 56, rag_crc32c(0, b + te, len - te));
    wr32(b + 60, rag_crc32c(rag_crc32c(0, b, 60), b + 64, te - 64));
}

/* offset and length of a section */
static size_t
index_sect(const unsigned char *b, const char *name, size_t *len)
{
    for (uint32_t i = 0; i < rd32(b + 36); i++) {
        const unsigned char *e = b + 64 + i * 32;
        if (strncmp((const char *)e, name, 8) == 0) {
            *len = (size_t)rd32(e + 24);
            return (size_t)rd32(e + 16);
        }
    }
    return 0;
}

static unsigned char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc((size_t)n);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void
expect_index_reject(const unsigned char *orig, size_t len, size_t at,
                    uint32_t v, const char *want)
{
    unsigned char *b = malloc(len);
    char err[256] = "";
    rag_index *ix;

    memcpy(b, orig, len);
    wr32(b + at, v);
    index_fix_crc(b, len);
    ix = rag_index_open_mem(b, len, err, sizeof(err));
    CHECK(ix == NULL);
    if (ix != NULL || strstr(err, want) == NULL)
        fprintf(stderr, "error \"%s\", want \"%s\"\n", err, want);
    rag_index_close(ix);
    free(b);
}

static void
test_index(void)
{
    char path[300], err[256], q[700];
    rag_index_writer *w;
    rag_index *ix;
    rag_hit h[10], h2[10];
    rag_query rq;
    unsigned char *b;
    size_t len = 0, off, slen;
    uint32_t nvec;

    if (model == NULL)
        return;
    snprintf(path, sizeof(path), "%s/ft.idx", dir);
    w = rag_index_writer_new(0);
    CHECK_INT(rag_index_writer_set_ft(w, model, 64), -1); /* not a model */
    CHECK(strstr(rag_index_writer_error(w), "fastText model") != NULL);
    CHECK_INT(rag_index_writer_set_ft(w, model, model_len), 0);
    for (int i = 0; i < NREC; i++) {
        char url[64];
        snprintf(url, sizeof(url), "https://d/%d", i);
        rag_index_input in = {i + 1, url, titles[i], "", bodies[i], NULL};
        CHECK_INT(rag_index_writer_add(w, &in), 0);
    }
    {
        rag_index_input in = {9999, "https://d/empty", "", "", "?! --", NULL};
        CHECK_INT(rag_index_writer_add(w, &in), 0);
    }
    CHECK_INT(rag_index_writer_write(w, path, 3, err, sizeof(err)), 0);
    rag_index_writer_free(w);
    ix = rag_index_open(path, err, sizeof(err));
    CHECK(ix != NULL);
    if (ix == NULL) {
        fprintf(stderr, "open: %s\n", err);
        return;
    }
    CHECK(rag_index_ft_model(ix) != NULL);
    CHECK(rag_index_ft_vecs(ix, &nvec) != NULL);
    CHECK_INT(nvec, NREC); /* the empty record has none */
    {
        const float *pc = rag_index_ft_pc(ix);
        double n = 0;
        for (uint32_t d = 0; d < tc.dim; d++)
            n += (double)pc[d] * pc[d];
        CHECK(fabs(n - 1) < 1e-5);
    }
    /* a record's own text as the query: itself first, cosine 1 */
    snprintf(q, sizeof(q), "%s %s", titles[42], bodies[42]);
    rq = (rag_query){q, strlen(q), NULL, 10, RAG_SEARCH_FASTTEXT, 0};
    CHECK_INT(rag_search(ix, &rq, h), 10);
    CHECK_INT(h[0].chunk_id, 43);
    CHECK(fabs(h[0].ft_cosine - 1) < 1e-5 && h[0].cosine == h[0].ft_cosine);
    CHECK_INT(h[0].ft_rank, 1);
    CHECK(h[0].bm25 == 0 && h[0].bm25_rank == 0);
    for (int i = 1; i < 10; i++)
        CHECK(h[i].ft_cosine <= h[i - 1].ft_cosine && h[i].ft_cosine > 0);
    /* hybrid: BM25 and the in-process leg fused */
    rq.mode = RAG_SEARCH_HYBRID;
    CHECK_INT(rag_search(ix, &rq, h), 10);
    CHECK_INT(h[0].chunk_id, 43);
    CHECK(h[0].bm25_rank == 1 && h[0].ft_rank == 1);
    CHECK(fabs(h[0].score - (1.0 / 61 + RAG_SEARCH_FT_WEIGHT / 61)) < 1e-12);
    /* beside BM25 the leg reorders BM25's best RAG_SEARCH_FT_RERANK */
    for (int i = 0; i < 10; i++)
        CHECK(h[i].ft_rank == 0 ||
              (h[i].bm25_rank >= 1 && h[i].bm25_rank <= RAG_SEARCH_FT_RERANK));
    /* a word no record holds: BM25 finds nothing, the leg ranks every
     * record (its character n-grams) */
    rq = (rag_query){"kalozzq", 7, NULL, 10, RAG_SEARCH_HYBRID, 0};
    CHECK_INT(rag_search(ix, &rq, h), 10);
    CHECK(h[0].bm25_rank == 0 && h[0].ft_rank == 1);
    /* the leg turned off: BM25 exactly */
    {
        rag_search_opts noft = {.ft = RAG_SEARCH_FT_OFF};
        rag_query bq = rq;
        int n1 = rag_search_ex(ix, &rq, &noft, h), n2;
        bq.mode = RAG_SEARCH_BM25;
        n2 = rag_search(ix, &bq, h2);
        CHECK_INT(n1, n2);
        for (int i = 0; i < n1 && i < n2; i++)
            CHECK(h[i].rec == h2[i].rec && h[i].score == h2[i].score &&
                  h[i].ft_rank == 0 && h[i].cosine == 0);
    }
    /* nothing the model knows in the query: BM25 alone, no leg */
    rq = (rag_query){"?", 1, NULL, 10, RAG_SEARCH_FASTTEXT, 0};
    CHECK_INT(rag_search(ix, &rq, h), 0);
    rag_index_close(ix);

    /* validation of the sections */
    b = read_file(path, &len);
    off = index_sect(b, "FTDOCS", &slen);
    CHECK(off > 0 && slen == 64 + (size_t)(NREC + 2) * tc.dim * 4);
    expect_index_reject(b, len, off, tc.dim + 1, "FTDOCS inconsistent");
    expect_index_reject(b, len, off + 4, NREC, "FTDOCS inconsistent");
    expect_index_reject(b, len, off + 12, 1, "FTDOCS inconsistent");
    expect_index_reject(b, len, off + 64 + 4 * tc.dim, 0x7fc00000,
                        "FTDOCS value invalid");
    expect_index_reject(b, len, off + 64 + 4 * tc.dim, 0x40000000,
                        "not of unit length");
    expect_index_reject(b, len, index_sect(b, "FTMODEL", &slen), 0,
                        "FTMODEL: fastText model header invalid");
    /* one without the other */
    {
        size_t e;
        for (e = 64; strncmp((char *)b + e, "FTMODEL", 8) != 0; e += 32)
            ;
        expect_index_reject(b, len, e, 0x58585446 /* "FTXX" */,
                            "one of FTMODEL and FTDOCS");
    }
    /* a model cut by other tokenizer rules: the index opens, BM25 only */
    {
        unsigned char *c = malloc(len);
        memcpy(c, b, len);
        wr32(c + index_sect(b, "FTMODEL", &slen) + 104, RAG_FT_TOKENIZER + 1);
        index_fix_crc(c, len);
        ix = rag_index_open_mem(c, len, err, sizeof(err));
        CHECK(ix != NULL);
        if (ix != NULL) {
            CHECK(rag_index_ft_model(ix) == NULL);
            snprintf(q, sizeof(q), "%s", titles[3]);
            rq = (rag_query){q, strlen(q), NULL, 10, RAG_SEARCH_FASTTEXT, 0};
            CHECK_INT(rag_search(ix, &rq, h), -1);
            rq.mode = RAG_SEARCH_HYBRID;
            CHECK(rag_search(ix, &rq, h) > 0 && h[0].ft_rank == 0);
        }
        rag_index_close(ix);
        free(c);
    }
    free(b);
}

/* The in-process leg's fusion settings (rag_search_opts): page-level RRF
 * ranks pages by their first chunk in each leg's list; the leg limited
 * to BM25's best N; query expansion by the model's neighbours. 30
 * records on 10 pages, so every leg's list holds every match. */
#define FU_REC 30
#define FU_PAGES 10

static const char *
page_url(uint32_t rec)
{
    static char u[FU_REC][32];
    snprintf(u[rec], sizeof(u[rec]), "https://d/%u#s%u", rec % FU_PAGES, rec);
    return u[rec];
}

/* 1-based page order of a leg alone (one hit per page), by page */
static void
page_ranks(const rag_index *ix, const char *q, enum rag_search_mode mode,
           int *rank)
{
    rag_hit h[FU_PAGES];
    rag_query rq = {q, strlen(q), NULL, FU_PAGES, mode, 0};
    int n = rag_search(ix, &rq, h);

    memset(rank, 0, FU_PAGES * sizeof(int));
    for (int i = 0; i < n; i++)
        if (rank[h[i].rec % FU_PAGES] == 0)
            rank[h[i].rec % FU_PAGES] = i + 1;
}

static void
test_fusion(void)
{
    char path[300], err[256], q[200];
    rag_index_writer *w;
    rag_index *ix;
    rag_hit h[FU_PAGES], h2[FU_PAGES];
    int rb[FU_PAGES], rf[FU_PAGES], n;
    double prev = 1e9;

    if (model == NULL)
        return;
    snprintf(path, sizeof(path), "%s/fu.idx", dir);
    w = rag_index_writer_new(0);
    CHECK_INT(rag_index_writer_set_ft(w, model, model_len), 0);
    for (uint32_t i = 0; i < FU_REC; i++) {
        rag_index_input in = {i + 1, page_url(i), titles[i],
                              "",    bodies[i],   NULL};
        CHECK_INT(rag_index_writer_add(w, &in), 0);
    }
    CHECK_INT(rag_index_writer_write(w, path, 1, err, sizeof(err)), 0);
    rag_index_writer_free(w);
    ix = rag_index_open(path, err, sizeof(err));
    CHECK(ix != NULL);
    if (ix == NULL)
        return;
    snprintf(q, sizeof(q), "%.*s", 40, bodies[4]);
    page_ranks(ix, q, RAG_SEARCH_BM25, rb);
    page_ranks(ix, q, RAG_SEARCH_FASTTEXT, rf);
    {
        rag_search_opts o = {0};
        rag_search_fusion f = {0};
        rag_query rq = {q, strlen(q), NULL, FU_PAGES, RAG_SEARCH_HYBRID, 0};
        f.fuse_pages = 1;
        f.ft_rerank = RAG_SEARCH_FT_SCAN;
        f.ft_weight = 0.5;
        n = rag_search_fuse(ix, &rq, &o, &f, h);
        CHECK(n > 3);
        /* pages in the order of sum w / (60 + page rank), w 1 and 0.5 */
        for (int i = 0; i < n; i++) {
            uint32_t p = h[i].rec % FU_PAGES;
            double s = (rb[p] ? 1.0 / (60 + rb[p]) : 0) +
                       (rf[p] ? 0.5 / (60 + rf[p]) : 0);
            CHECK(s > 0 && s <= prev + 1e-15);
            prev = s;
            for (int j = 0; j < i; j++)
                CHECK(h[j].rec % FU_PAGES != p); /* one hit per page */
        }
        /* weight and k are used */
        f.ft_weight = 3;
        f.rrf_k = 1;
        n = rag_search_fuse(ix, &rq, &o, &f, h2);
        {
            uint32_t p = h2[0].rec % FU_PAGES;
            double best = (rb[p] ? 1.0 / (1 + rb[p]) : 0) +
                          (rf[p] ? 3.0 / (1 + rf[p]) : 0);
            for (uint32_t x = 0; x < FU_PAGES; x++)
                CHECK((rb[x] ? 1.0 / (1 + rb[x]) : 0) +
                          (rf[x] ? 3.0 / (1 + rf[x]) : 0) <=
                      best + 1e-15);
        }
        /* chunk-level RRF asked for: the first hit's score is its own */
        f = (rag_search_fusion){0};
        f.fuse_pages = -1;
        n = rag_search_fuse(ix, &rq, &o, &f, h);
        CHECK(n > 0 &&
              fabs(h[0].score -
                   ((h[0].bm25_rank ? 1.0 / (60 + h[0].bm25_rank) : 0) +
                    (h[0].ft_rank ? RAG_SEARCH_FT_WEIGHT / (60 + h[0].ft_rank)
                                  : 0))) < 1e-15);
        /* the leg over BM25's best 3 only */
        f.ft_rerank = 3;
        rq.per_page = RAG_SEARCH_PER_PAGE_ANY;
        n = rag_search_fuse(ix, &rq, &o, &f, h);
        {
            int inft = 0;
            for (int i = 0; i < n; i++)
                if (h[i].ft_rank > 0) {
                    inft++;
                    CHECK(h[i].bm25_rank >= 1 && h[i].bm25_rank <= 3);
                }
            CHECK(inft > 0 && inft <= 3);
        }
    }
    /* expansion alone: neighbours join BM25's query, so a word of the
     * model that no record of this index holds finds records through its
     * neighbours; no vector leg (frequent words are not expanded, so the
     * query is a rarer one) */
    {
        rag_ft_model m;
        char rare[RAG_FT_TOKEN_MAX + 1] = "";
        rag_ft_model_open(&m, model, model_len, NULL, 0);
        for (uint32_t i = 0; i < m.nwords && rare[0] == '\0'; i++) {
            size_t wl;
            const char *wt = rag_ft_word_text(&m, (long)i, &wl);
            const unsigned char *e = m.words + (size_t)i * RAG_FT_WORD_SZ;
            char word[RAG_FT_TOKEN_MAX + 1];
            if (rag_ft_sif_weight(&m, (long)i) < 0.5 || e[8] < 3 || wl < 4)
                continue;
            snprintf(word, sizeof(word), "%.*s", (int)wl, wt);
            int held = 0;
            for (int r = 0; r < FU_REC && !held; r++)
                held = strstr(bodies[r], word) != NULL ||
                       strstr(titles[r], word) != NULL;
            if (!held)
                snprintf(rare, sizeof(rare), "%s", word);
        }
        CHECK(rare[0] != '\0');
        rag_search_opts o = {0};
        rag_search_fusion f = {0};
        rag_query rq = {rare,   strlen(rare),      NULL,
                        FU_REC, RAG_SEARCH_HYBRID, RAG_SEARCH_PER_PAGE_ANY};
        rag_hit all[FU_REC];
        int plain, other = 0;
        o.ft = RAG_SEARCH_FT_OFF;
        plain = rag_search_fuse(ix, &rq, &o, &f, all);
        o.ft = RAG_SEARCH_FT_AUTO;
        f.ft_expand = 5;
        f.ft_expand_cos = 0.01;
        f.ft_only_expand = 1;
        n = rag_search_fuse(ix, &rq, &o, &f, all);
        CHECK(plain == 0 && n > 0);
        for (int i = 0; i < n; i++) {
            CHECK(all[i].ft_rank == 0);
            other += strstr(bodies[all[i].rec], rare) == NULL &&
                     strstr(titles[all[i].rec], rare) == NULL;
        }
        CHECK(other == n);
    }
    rag_index_close(ix);
}

int
main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    setenv("TMPDIR", dir, 1);
    ft_train_conf_load(&tc, NULL);
    /* small and quick: the comparisons hold for any size */
    tc.dim = 24;
    tc.epoch = 3;
    tc.bucket = 20011;
    tc.max_seconds = 300;
    for (int i = 0; i < NREC; i++)
        record_text(i, titles[i], bodies[i]);
    RUN(test_hash);
    RUN(test_ngrams);
    RUN(test_tokens);
    RUN(test_pc);
    RUN(test_conf);
    if (access(FT_BIN, X_OK) != 0) {
        fprintf(stderr, "%s missing: sh .ci/deps.sh installs fasttext\n",
                FT_BIN);
        CHECK(0);
    } else {
        RUN(test_train_and_compare);
        RUN(test_reproducible);
        RUN(test_embed);
        RUN(test_neighbours);
        RUN(test_model_validation);
        RUN(test_thinned);
        RUN(test_retrain_rule);
        RUN(test_bounds);
        RUN(test_bin_damage);
        RUN(test_index);
        RUN(test_fusion);
    }
    free(model);
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
            return 1;
    }
    UNIT_DONE();
}
