/*
 * ft_train — fastText training in a bounded child process, and its .bin
 * read as an FTMODEL (see ft_train.h).
 *
 * The .bin layout (fastText 0.9.2, FastText::saveModel): i32 magic
 * 793712314, i32 version 12; Args::save: i32 dim, ws, epoch, minCount,
 * neg, wordNgrams, loss, model, bucket, minn, maxn, lrUpdateRate, f64 t;
 * Dictionary::save: i32 size, nwords, nlabels, i64 ntokens, i64
 * pruneidx_size, then per entry the word NUL-terminated, i64 count, i8
 * type, then pruneidx_size (i32, i32) pairs; u8 quant_input; the input
 * matrix (DenseMatrix::save: i64 rows, i64 cols, rows x cols f32: the
 * words' rows, then the buckets'); then the output matrix, not needed.
 */
#include "ft_train.h"
#include "conf_tables.h"

#include "rag_ft.h"
#include "rag_log.h"
#include "rag_time.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FT_MAGIC 793712314
#define FT_VERSION 12
#define FT_EOS "</s>"
#define FT_MAX_WORD 4096 /* bytes of a .bin entry we accept */
#define FT_MAX_WORDS (1u << 24)
#define LOG_TAIL 400

void
ft_train_conf_load(ft_train_conf *c, rag_conf *conf)
{
    const rag_conf_section *s = &rag_conf_fasttext;
    char err[128];
    rag_conf *env = conf ? NULL : rag_conf_load(NULL, err, sizeof(err));
    rag_conf *cf = conf ? conf : env;

    memset(c, 0, sizeof(*c));
    c->enabled = strcmp(rag_conf_str(cf, s, "semantic_leg"), "off") != 0;
    snprintf(c->bin, sizeof(c->bin), "%s", rag_conf_str(cf, s, "fasttext_bin"));
    c->dim = rag_conf_long(cf, s, "fasttext_dim");
    c->epoch = rag_conf_long(cf, s, "fasttext_epoch");
    c->min_count = rag_conf_long(cf, s, "fasttext_min_count");
    c->bucket = rag_conf_long(cf, s, "fasttext_bucket");
    c->seed = rag_conf_long(cf, s, "fasttext_seed");
    c->min_tokens = rag_conf_long(cf, s, "fasttext_min_tokens");
    c->max_tokens = rag_conf_long(cf, s, "fasttext_max_tokens");
    c->max_seconds = rag_conf_long(cf, s, "fasttext_max_seconds");
    c->max_memory_mb = rag_conf_long(cf, s, "fasttext_max_memory_mb");
    c->retrain_growth = rag_conf_num(cf, s, "fasttext_retrain_growth");
    c->retrain_oov = rag_conf_num(cf, s, "fasttext_retrain_oov");
    if (env)
        rag_conf_free(env);
}

/* ---- the corpus --------------------------------------------------------- */

int
ft_corpus_open(ft_corpus *c, char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR");

    memset(c, 0, sizeof(*c));
    if (tmp == NULL || *tmp == '\0')
        tmp = "/tmp";
    if (snprintf(c->dir, sizeof(c->dir), "%s/rag_ft.XXXXXX", tmp) >=
        (int)sizeof(c->dir)) {
        snprintf(err, errlen, "TMPDIR too long");
        c->dir[0] = '\0';
        return -1;
    }
    if (mkdtemp(c->dir) == NULL) {
        snprintf(err, errlen, "cannot create a directory in %s: %s", tmp,
                 strerror(errno));
        c->dir[0] = '\0';
        return -1;
    }
    snprintf(c->path, sizeof(c->path), "%s/corpus.txt", c->dir);
    c->f = fopen(c->path, "we");
    if (c->f == NULL) {
        snprintf(err, errlen, "%s: %s", c->path, strerror(errno));
        return -1;
    }
    return 0;
}

typedef struct {
    ft_corpus *c;
    int first;
} corpus_ctx;

static int
corpus_tok(void *ud, const char *t, size_t n)
{
    corpus_ctx *x = ud;
    ft_corpus *c = x->c;

    if ((!x->first && putc(' ', c->f) == EOF) || fwrite(t, 1, n, c->f) != n)
        c->failed = 1;
    x->first = 0;
    c->tokens++;
    if (c->ref != NULL && rag_ft_word_id(c->ref, t, n) < 0)
        c->oov++;
    return 0;
}

void
ft_corpus_add(ft_corpus *c, const char *const *parts, const size_t *lens,
              size_t nparts)
{
    corpus_ctx x = {c, 1};

    if (c->f == NULL)
        return;
    for (size_t i = 0; i < nparts; i++)
        rag_ft_tokens(parts[i], lens[i], corpus_tok, &x);
    if (putc('\n', c->f) == EOF)
        c->failed = 1;
    c->records++;
}

int
ft_corpus_close(ft_corpus *c, char *err, size_t errlen)
{
    int rc = 0;

    if (c->f == NULL)
        return c->failed ? -1 : 0;
    if (fclose(c->f) != 0 || c->failed) {
        snprintf(err, errlen, "%s: write failed", c->path);
        rc = -1;
    }
    c->f = NULL;
    c->failed = rc != 0;
    return rc;
}

void
ft_corpus_free(ft_corpus *c)
{
    DIR *d;
    struct dirent *e;
    char p[600];

    if (c->f != NULL)
        fclose(c->f);
    c->f = NULL;
    if (c->dir[0] == '\0')
        return;
    if ((d = opendir(c->dir)) != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof(p), "%s/%s", c->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(c->dir);
    c->dir[0] = '\0';
}

/* Writes every k-th line of src to dst. */
static int
thin_corpus(const char *src, const char *dst, uint64_t k, char *err,
            size_t errlen)
{
    FILE *in = fopen(src, "re"), *out = NULL;
    char *line = NULL;
    size_t cap = 0;
    uint64_t i = 0;
    int rc = -1;

    if (in == NULL || (out = fopen(dst, "we")) == NULL) {
        snprintf(err, errlen, "training corpus: %s", strerror(errno));
        goto done;
    }
    for (;;) {
        ssize_t n = getline(&line, &cap, in);
        if (n < 0)
            break;
        if (i++ % k == 0 && fwrite(line, 1, (size_t)n, out) != (size_t)n) {
            snprintf(err, errlen, "training corpus: write failed");
            goto done;
        }
    }
    if (ferror(in)) {
        snprintf(err, errlen, "training corpus: read failed");
        goto done;
    }
    rc = 0;
done:
    free(line);
    if (in)
        fclose(in);
    if (out && fclose(out) != 0 && rc == 0) {
        snprintf(err, errlen, "training corpus: write failed");
        rc = -1;
    }
    return rc;
}

/* ---- running fastText --------------------------------------------------- */

/* The last line(s) fastText wrote to its log, for an error message. */
static void
log_tail(const char *path, char *out, size_t outlen)
{
    char buf[LOG_TAIL + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    off_t end;
    ssize_t n;

    out[0] = '\0';
    if (fd < 0)
        return;
    end = lseek(fd, 0, SEEK_END);
    if (end > LOG_TAIL)
        lseek(fd, end - LOG_TAIL, SEEK_SET);
    else
        lseek(fd, 0, SEEK_SET);
    n = read(fd, buf, LOG_TAIL);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\n' || buf[i] == '\r' || buf[i] == '"')
            buf[i] = ' ';
    snprintf(out, outlen, "%s", buf);
}

/* Runs argv (argv[0] the program) with the limits; 0 on exit status 0.
 * *peak_kb gets the child's peak resident size. */
static int
run_bounded(const ft_train_conf *c, char *const *argv, const char *logpath,
            long *peak_kb, char *err, size_t errlen)
{
    struct rlimit as, core = {0, 0};
    struct rusage ru;
    long deadline = rag_time_mono_ms() + c->max_seconds * 1000;
    int logfd, nullfd, status = 0, killed = 0;
    pid_t pid, w;

    logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (logfd < 0 || nullfd < 0) {
        snprintf(err, errlen, "fasttext: %s", strerror(errno));
        if (logfd >= 0)
            close(logfd);
        if (nullfd >= 0)
            close(nullfd);
        return -1;
    }
    as.rlim_cur = as.rlim_max = (rlim_t)c->max_memory_mb << 20;
    pid = fork();
    if (pid == 0) {
        /* only async-signal-safe calls until exec: the worker has
         * threads */
        if (setrlimit(RLIMIT_AS, &as) != 0 ||
            setrlimit(RLIMIT_CORE, &core) != 0 || dup2(nullfd, 0) < 0 ||
            dup2(nullfd, 1) < 0 || dup2(logfd, 2) < 0)
            _exit(126);
        (void)!nice(10);
        execv(argv[0], argv);
        _exit(127);
    }
    close(logfd);
    close(nullfd);
    if (pid < 0) {
        snprintf(err, errlen, "fasttext: fork: %s", strerror(errno));
        return -1;
    }
    for (;;) {
        w = wait4(pid, &status, WNOHANG, &ru);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            snprintf(err, errlen, "fasttext: wait: %s", strerror(errno));
            return -1;
        }
        if (!killed && rag_time_mono_ms() > deadline) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        rag_time_sleep_ms(killed ? 10 : 100);
    }
    *peak_kb = ru.ru_maxrss;
    if (killed) {
        snprintf(err, errlen,
                 "fasttext: killed after %ld s (fasttext_max_seconds)",
                 c->max_seconds);
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char tail[LOG_TAIL + 1];
    log_tail(logpath, tail, sizeof(tail));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        snprintf(err, errlen, "fasttext: cannot run %s (install fasttext)",
                 argv[0]);
    else if (WIFEXITED(status))
        snprintf(err, errlen, "fasttext: exit %d: %s", WEXITSTATUS(status),
                 tail);
    else
        snprintf(err, errlen,
                 "fasttext: signal %d (memory over fasttext_max_memory_mb "
                 "%ld?): %s",
                 WTERMSIG(status), c->max_memory_mb, tail);
    return -1;
}

static void
put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static int
count_tok(void *ud, const char *t, size_t n)
{
    void **a = ud;
    const rag_ft_model *m = a[0];
    uint64_t *oov = a[1];

    if (rag_ft_word_id(m, t, n) < 0)
        (*oov)++;
    return 0;
}

/* A model trained on part of the corpus: its header gets the whole
 * corpus's figures (records, tokens, tokens outside the vocabulary), as
 * the re-training rule compares them with later corpora. */
static int
corpus_figures(const ft_corpus *corpus, void *model, size_t len, char *err,
               size_t errlen)
{
    rag_ft_model m;
    FILE *f = fopen(corpus->path, "re");
    char *line = NULL;
    size_t cap = 0;
    uint64_t oov = 0;
    ssize_t n;
    void *a[2] = {&m, &oov};

    if (f == NULL || rag_ft_model_open(&m, model, len, err, errlen) != 0) {
        if (f == NULL)
            snprintf(err, errlen, "%s: %s", corpus->path, strerror(errno));
        else
            fclose(f);
        return -1;
    }
    while ((n = getline(&line, &cap, f)) >= 0)
        rag_ft_tokens(line, (size_t)n, count_tok, a);
    free(line);
    fclose(f);
    put64((unsigned char *)model + 40, corpus->records);
    put64((unsigned char *)model + 48, oov);
    put64((unsigned char *)model + 112, corpus->tokens);
    return 0;
}

int
ft_train(const ft_train_conf *c, ft_corpus *corpus, uint64_t generation,
         void **model, size_t *len, char *stats, size_t statslen, char *err,
         size_t errlen)
{
    char input[320], prefix[320], bin[330], logp[330];
    char a_dim[16], a_epoch[16], a_min[16], a_bucket[16], a_seed[16];
    const char *in = corpus->path;
    uint64_t k = 1;
    long t0 = rag_time_mono_ms(), peak_kb = 0, ms;
    rag_ft_model prov;

    *model = NULL;
    *len = 0;
    if (corpus->f != NULL || corpus->failed) {
        snprintf(err, errlen, "training corpus not written");
        return -1;
    }
    if (corpus->tokens > c->max_tokens) {
        /* a bounded training: every k-th record */
        k = (corpus->tokens + c->max_tokens - 1) / c->max_tokens;
        snprintf(input, sizeof(input), "%s/train.txt", corpus->dir);
        if (thin_corpus(corpus->path, input, k, err, errlen) != 0)
            return -1;
        in = input;
    }
    snprintf(prefix, sizeof(prefix), "%s/model", corpus->dir);
    snprintf(bin, sizeof(bin), "%s.bin", prefix);
    snprintf(logp, sizeof(logp), "%s/fasttext.log", corpus->dir);
    snprintf(a_dim, sizeof(a_dim), "%u", c->dim);
    snprintf(a_epoch, sizeof(a_epoch), "%u", c->epoch);
    snprintf(a_min, sizeof(a_min), "%u", c->min_count);
    snprintf(a_bucket, sizeof(a_bucket), "%u", c->bucket);
    snprintf(a_seed, sizeof(a_seed), "%u", c->seed);
    char *const argv[] = {
        (char *)c->bin, "skipgram", "-input",  (char *)in, "-output",   prefix,
        "-dim",         a_dim,      "-epoch",  a_epoch,    "-minCount", a_min,
        "-bucket",      a_bucket,   "-thread", "1",        "-seed",     a_seed,
        "-verbose",     "0",        NULL};
    if (run_bounded(c, argv, logp, &peak_kb, err, errlen) != 0)
        return -1;
    ms = rag_time_mono_ms() - t0;
    memset(&prov, 0, sizeof(prov));
    prov.seed = c->seed;
    prov.train_generation = generation;
    prov.train_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    prov.trained_at = (uint64_t)time(NULL);
    if (ft_model_from_bin(bin, &prov, model, len, err, errlen) != 0)
        return -1;
    if (k > 1 && corpus_figures(corpus, *model, *len, err, errlen) != 0) {
        free(*model);
        *model = NULL;
        return -1;
    }
    if (stats) {
        rag_ft_model m;
        if (rag_ft_model_open(&m, *model, *len, NULL, 0) == 0)
            snprintf(stats, statslen,
                     "records=%" PRIu64 " tokens=%" PRIu64 " thinned=%" PRIu64
                     " words=%u buckets=%u dim=%u epoch=%u seconds=%.1f"
                     " peak_mb=%ld model_mb=%.1f",
                     corpus->records, corpus->tokens, k, m.nwords, m.nbuckets,
                     m.dim, m.epoch, (double)ms / 1000, peak_kb / 1024,
                     (double)*len / (1 << 20));
    }
    return 0;
}

/* ---- when to train again ----------------------------------------------- */

const char *
ft_retrain_reason(const ft_train_conf *c, const rag_ft_model *m,
                  uint64_t tokens, uint64_t oov, char *buf, size_t buflen)
{
    double then, now;

    if (m == NULL) {
        snprintf(buf, buflen, "no model");
        return buf;
    }
    if (m->dim != c->dim || m->nbuckets != c->bucket || m->epoch != c->epoch ||
        m->min_count != c->min_count || m->seed != c->seed) {
        snprintf(buf, buflen, "settings changed");
        return buf;
    }
    /* the corpus grew or shrank: word frequencies and contexts moved */
    now = (double)tokens / (double)m->corpus_tokens - 1;
    if (now > c->retrain_growth || -now > c->retrain_growth) {
        snprintf(buf, buflen, "corpus %s %.0f%%", now > 0 ? "grew" : "shrank",
                 100 * (now > 0 ? now : -now));
        return buf;
    }
    /* new vocabulary: words the model only knows by their n-grams */
    then = (double)m->train_oov / (double)m->corpus_tokens;
    now = tokens ? (double)oov / (double)tokens : 0;
    if (now - then > c->retrain_oov) {
        snprintf(buf, buflen,
                 "rare words %.1f%% of the text, %.1f%% at training", 100 * now,
                 100 * then);
        return buf;
    }
    return NULL;
}

/* ---- reading the .bin --------------------------------------------------- */

typedef struct {
    FILE *f;
    int bad;
} rd;

static void
rd_bytes(rd *r, void *p, size_t n)
{
    if (!r->bad && fread(p, 1, n, r->f) != n)
        r->bad = 1;
}

static int32_t
rd_i32(rd *r)
{
    unsigned char b[4] = {0};
    rd_bytes(r, b, 4);
    return (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 |
                     (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
}

static int64_t
rd_i64(rd *r)
{
    uint64_t lo = (uint32_t)rd_i32(r), hi = (uint32_t)rd_i32(r);
    return (int64_t)(lo | hi << 32);
}

typedef struct {
    char *w;
    uint32_t len;
    uint32_t id;
    uint64_t count;
} bword;

static int
bword_cmp(const void *a, const void *b)
{
    const bword *x = a, *y = b;
    int c = memcmp(x->w, y->w, x->len < y->len ? x->len : y->len);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

static void
st32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static void
st64(unsigned char *p, uint64_t v)
{
    st32(p, (uint32_t)v);
    st32(p + 4, (uint32_t)(v >> 32));
}

int
ft_model_from_bin(const char *path, const rag_ft_model *prov, void **model,
                  size_t *len, char *err, size_t errlen)
{
    rd r = {NULL, 0};
    bword *words = NULL;
    char *wbuf = NULL;
    float *rows = NULL;
    unsigned char *blob = NULL;
    uint32_t ng[RAG_FT_MAX_NGRAMS];
    int32_t dim, ws, epoch, mincount, neg, bucket, minn, maxn, size, nwords;
    int64_t ntokens, prune, m, n;
    uint64_t eos = 0, sum = 0, textlen = 0, off_text, off_wvec, off_bvec, end;
    uint32_t nw = 0;
    int rc = -1;

    *model = NULL;
    *len = 0;
    r.f = fopen(path, "re");
    if (r.f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (rd_i32(&r) != FT_MAGIC || rd_i32(&r) != FT_VERSION) {
        snprintf(err, errlen, "%s: not a fastText model of version %d", path,
                 FT_VERSION);
        goto done;
    }
    dim = rd_i32(&r);
    ws = rd_i32(&r);
    epoch = rd_i32(&r);
    mincount = rd_i32(&r);
    neg = rd_i32(&r);
    rd_i32(&r); /* wordNgrams */
    rd_i32(&r); /* loss */
    rd_i32(&r); /* model */
    bucket = rd_i32(&r);
    minn = rd_i32(&r);
    maxn = rd_i32(&r);
    rd_i32(&r); /* lrUpdateRate */
    rd_i64(&r); /* t (a double) */
    size = rd_i32(&r);
    nwords = rd_i32(&r);
    rd_i32(&r); /* nlabels */
    ntokens = rd_i64(&r);
    prune = rd_i64(&r);
    if (r.bad || dim < 1 || dim > RAG_FT_MAX_DIM || bucket < 1 ||
        bucket > (1 << 26) || minn < 1 || maxn < minn ||
        maxn > RAG_FT_MAX_NGRAM || nwords < 1 || size < nwords ||
        (uint32_t)size > FT_MAX_WORDS || ntokens < 1 || prune > 0) {
        snprintf(err, errlen,
                 "%s: unsupported fastText model (dim %d, "
                 "buckets %d, n-grams %d..%d, %d words, pruned %lld)",
                 path, dim, bucket, minn, maxn, nwords, (long long)prune);
        goto done;
    }
    words = calloc((size_t)nwords, sizeof(*words));
    wbuf = malloc(FT_MAX_WORD + 1);
    if (words == NULL || wbuf == NULL)
        goto oom;
    for (int32_t i = 0; i < size; i++) {
        size_t wl = 0;
        int ch;
        while ((ch = getc(r.f)) != EOF && ch != 0 && wl < FT_MAX_WORD)
            wbuf[wl++] = (char)ch;
        if (ch != 0) {
            snprintf(err, errlen, "%s: dictionary entry %d malformed", path, i);
            goto done;
        }
        int64_t cnt = rd_i64(&r);
        int type = getc(r.f);
        if (r.bad || type == EOF || cnt < 0) {
            snprintf(err, errlen, "%s: dictionary truncated", path);
            goto done;
        }
        if (i >= nwords || type != 0)
            continue; /* labels: none in a skipgram model */
        if (wl == strlen(FT_EOS) && memcmp(wbuf, FT_EOS, wl) == 0) {
            eos = (uint64_t)cnt;
            continue;
        }
        sum += (uint64_t)cnt;
        if (wl == 0 || wl > RAG_FT_TOKEN_MAX || cnt < 1)
            continue; /* never a token of ours */
        words[nw].w = malloc(wl);
        if (words[nw].w == NULL)
            goto oom;
        memcpy(words[nw].w, wbuf, wl);
        words[nw].len = (uint32_t)wl;
        words[nw].id = (uint32_t)i;
        words[nw].count = (uint64_t)cnt;
        textlen += wl;
        nw++;
    }
    if (getc(r.f) != 0) { /* quant_input */
        snprintf(err, errlen, "%s: quantised models are not supported", path);
        goto done;
    }
    m = rd_i64(&r);
    n = rd_i64(&r);
    if (r.bad || m != (int64_t)nwords + bucket || n != dim || nw == 0 ||
        (uint64_t)ntokens < eos + sum) {
        snprintf(err, errlen,
                 "%s: input matrix %lldx%lld does not match "
                 "%d words + %d buckets x %d",
                 path, (long long)m, (long long)n, nwords, bucket, dim);
        goto done;
    }
    qsort(words, nw, sizeof(*words), bword_cmp);
    for (uint32_t i = 1; i < nw; i++)
        if (bword_cmp(&words[i - 1], &words[i]) == 0) {
            snprintf(err, errlen, "%s: word listed twice", path);
            goto done;
        }

    off_text = RAG_FT_HDR + (uint64_t)nw * RAG_FT_WORD_SZ;
    off_wvec = (off_text + textlen + 63) & ~(uint64_t)63;
    off_bvec = off_wvec + (uint64_t)nw * (uint64_t)dim * 4;
    end = off_bvec + (uint64_t)bucket * (uint64_t)dim * 4;
    rows = malloc((size_t)nwords * (size_t)dim * sizeof(float));
    if (rows == NULL || posix_memalign((void **)&blob, 64, end) != 0) {
        blob = NULL;
        goto oom;
    }
    memset(blob, 0, off_wvec);
    /* the words' input rows, then the buckets' straight into place */
    rd_bytes(&r, rows, (size_t)nwords * (size_t)dim * sizeof(float));
    rd_bytes(&r, blob + off_bvec, (size_t)(end - off_bvec));
    if (r.bad) {
        snprintf(err, errlen, "%s: input matrix truncated", path);
        goto done;
    }

    st32(blob, (uint32_t)dim);
    st32(blob + 4, nw);
    st32(blob + 8, (uint32_t)bucket);
    st32(blob + 12, (uint32_t)minn);
    st32(blob + 16, (uint32_t)maxn);
    st64(blob + 24, (uint64_t)ntokens - eos);
    {
        double a = RAG_FT_SIF_A;
        memcpy(blob + 32, &a, 8);
    }
    st64(blob + 40, eos); /* one end-of-line token per record */
    st64(blob + 48, (uint64_t)ntokens - eos - sum);
    st64(blob + 112, (uint64_t)ntokens - eos);
    st64(blob + 56, prov->train_generation);
    st32(blob + 64, (uint32_t)epoch);
    st32(blob + 68, (uint32_t)ws);
    st32(blob + 72, (uint32_t)neg);
    st32(blob + 76, (uint32_t)mincount);
    st32(blob + 80, prov->seed);
    st32(blob + 84, prov->train_ms);
    st64(blob + 88, prov->trained_at);
    st64(blob + 96, textlen);
    st32(blob + 104, RAG_FT_TOKENIZER);
    {
        uint64_t to = 0;
        const float *bvec = (const float *)(blob + off_bvec);
        for (uint32_t i = 0; i < nw; i++) {
            unsigned char *e = blob + RAG_FT_HDR + (size_t)i * RAG_FT_WORD_SZ;
            float *v = (float *)(blob + off_wvec) + (size_t)i * dim;
            size_t k;
            float inv;

            st32(e, (uint32_t)to);
            st32(e + 4, words[i].len);
            st64(e + 8, words[i].count);
            memcpy(blob + off_text + to, words[i].w, words[i].len);
            to += words[i].len;
            /* FastText::getWordVector: its own row, then its n-grams',
             * float sums in that order, times (float) 1 / count */
            memcpy(v, rows + (size_t)words[i].id * dim,
                   (size_t)dim * sizeof(float));
            k = rag_ft_ngrams(words[i].w, words[i].len, (uint32_t)minn,
                              (uint32_t)maxn, (uint32_t)bucket, ng,
                              RAG_FT_MAX_NGRAMS);
            if (k > RAG_FT_MAX_NGRAMS)
                k = RAG_FT_MAX_NGRAMS;
            for (size_t j = 0; j < k; j++) {
                const float *row = bvec + (size_t)ng[j] * dim;
                for (int32_t d = 0; d < dim; d++)
                    v[d] += row[d];
            }
            inv = (float)(1.0 / (double)(k + 1));
            for (int32_t d = 0; d < dim; d++)
                v[d] *= inv;
        }
    }
    {
        rag_ft_model chk;
        if (rag_ft_model_open(&chk, blob, end, err, errlen) != 0)
            goto done;
    }
    *model = blob;
    *len = end;
    blob = NULL;
    rc = 0;
    goto done;
oom:
    snprintf(err, errlen, "%s: out of memory", path);
done:
    if (words != NULL)
        for (uint32_t i = 0; i < nw; i++)
            free(words[i].w);
    free(words);
    free(wbuf);
    free(rows);
    free(blob);
    fclose(r.f);
    return rc;
}
