/*
 * bench_corpus.h — what bench/search_scale.c and bench/vectors.c share:
 * clocks, the corpus TSV of bench/search_corpus.c, and the deterministic
 * copies with words dropped that make a million records out of it.
 * Header-only (static inline: a bench may use only some): each bench
 * is one program.
 */
#ifndef BENCH_CORPUS_H
#define BENCH_CORPUS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* this thread's CPU time: on a shared, loaded machine the wall clock
 * also counts the time other processes had the core */
static inline double
cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline int
cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline uint64_t
mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct {
    char *f[4]; /* url, title, heading path, body */
} bench_chunk;

static inline char *
unescape(char *s)
{
    char *o = s, *r = s;
    while (*r) {
        if (*r == '\\' && r[1]) {
            r++;
            *o++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r;
            r++;
        } else {
            *o++ = *r++;
        }
    }
    *o = '\0';
    return s;
}

/* The corpus TSV: url, title, heading path, body per line. */
static inline bench_chunk *
load_corpus(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, lcap = 0;
    bench_chunk *v = NULL;
    ssize_t len;

    *n = 0;
    if (f == NULL)
        return NULL;
    while ((len = getline(&line, &lcap, f)) > 0) {
        char *p = line, *t[4] = {NULL, NULL, NULL, NULL};
        if (line[len - 1] == '\n')
            line[len - 1] = '\0';
        for (int i = 0; i < 4 && p; i++) {
            t[i] = p;
            p = strchr(p, '\t');
            if (p)
                *p++ = '\0';
        }
        if (t[3] == NULL)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 4096;
            v = realloc(v, cap * sizeof(bench_chunk));
        }
        for (int i = 0; i < 4; i++)
            v[*n].f[i] = strdup(unescape(t[i]));
        (*n)++;
    }
    free(line);
    fclose(f);
    return v;
}

/* body with each whitespace-separated word dropped with probability drop
 * (a draw per word from seed); line breaks are kept when keep_lines,
 * else become spaces. out has room for strlen(body) + 2 bytes. */
static inline size_t
drop_words(const char *body, uint64_t seed, double drop, int keep_lines,
           char *out)
{
    uint64_t s = mix(seed);
    const char *p = body;
    size_t o = 0;

    while (*p) {
        const char *w = p;
        while (*p && *p != ' ' && *p != '\n')
            p++;
        size_t wl = (size_t)(p - w);
        s = mix(s);
        if (wl && (double)(s >> 11) / 9007199254740992.0 >= drop) {
            memcpy(out + o, w, wl);
            o += wl;
            out[o++] = ' ';
        }
        if (keep_lines && *p == '\n' && o && out[o - 1] == ' ')
            out[o - 1] = '\n';
        if (*p)
            p++;
    }
    out[o] = '\0';
    return o;
}

/* Copy c of chunk i: the chunk itself for c = 0, else 30 % of its words
 * dropped. */
static inline size_t
make_copy(const char *body, uint64_t c, uint64_t i, int keep_lines, char *out)
{
    if (c == 0) {
        size_t l = strlen(body);
        memcpy(out, body, l + 1);
        return l;
    }
    return drop_words(body, c * 0x9e3779b97f4a7c15ull + i + 1, 0.30, keep_lines,
                      out);
}

#endif
