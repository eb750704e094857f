/*
 * rag_ivf — spherical k-means (see rag_ivf.h).
 *
 * Lloyd iterations on a sample: assign each point to the centroid with
 * the largest dot product, replace each centroid by the normalised mean
 * of its points. Initial centroids are distinct random sample points; a
 * centroid left empty takes the point its own centroid fits worst, so
 * no list stays empty while points are spread.
 */
#include "rag_ivf.h"

#include "rag_vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
rng_next(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint32_t
rag_ivf_assign(const float *cent, uint32_t k, uint32_t dims, const float *v,
               float *scratch)
{
    uint32_t best = 0;

    rag_vec_dots_f32(v, cent, k, dims, scratch);
    for (uint32_t j = 1; j < k; j++)
        if (scratch[j] > scratch[best])
            best = j;
    return best;
}

static void
normalise(float *c, uint32_t dims)
{
    double n = 0;

    for (uint32_t i = 0; i < dims; i++)
        n += (double)c[i] * c[i];
    if (n > 0) {
        n = sqrt(n);
        for (uint32_t i = 0; i < dims; i++)
            c[i] = (float)(c[i] / n);
    }
}

int
rag_ivf_train(const float *sample, size_t n, uint32_t dims, uint32_t k,
              int iters, uint64_t seed, float *cent)
{
    uint32_t *assign = malloc(n * sizeof(uint32_t));
    float *fit = malloc(n * sizeof(float));
    float *scratch = malloc((size_t)k * sizeof(float));
    double *sum = malloc((size_t)k * dims * sizeof(double));
    size_t *cnt = malloc((size_t)k * sizeof(size_t));
    size_t *pick = malloc(n * sizeof(size_t));
    int rc = -1;

    if (!assign || !fit || !scratch || !sum || !cnt || !pick || k == 0 || n < k)
        goto out;
    /* k distinct sample points: a partial Fisher-Yates shuffle */
    for (size_t i = 0; i < n; i++)
        pick[i] = i;
    for (uint32_t j = 0; j < k; j++) {
        size_t r = j + (size_t)(rng_next(&seed) % (n - j)), t = pick[j];
        pick[j] = pick[r];
        pick[r] = t;
        memcpy(cent + (size_t)j * dims, sample + pick[j] * dims,
               dims * sizeof(float));
    }
    for (int it = 0; it < iters; it++) {
        memset(sum, 0, (size_t)k * dims * sizeof(double));
        memset(cnt, 0, (size_t)k * sizeof(size_t));
        for (size_t i = 0; i < n; i++) {
            const float *v = sample + i * dims;
            uint32_t c = rag_ivf_assign(cent, k, dims, v, scratch);
            double *s = sum + (size_t)c * dims;
            assign[i] = c;
            fit[i] = scratch[c];
            cnt[c]++;
            for (uint32_t d = 0; d < dims; d++)
                s[d] += v[d];
        }
        for (uint32_t j = 0; j < k; j++) {
            float *c = cent + (size_t)j * dims;
            if (cnt[j] == 0) {
                /* the worst-fitting point of a list with several */
                size_t worst = n;
                for (size_t i = 0; i < n; i++)
                    if (cnt[assign[i]] > 1 &&
                        (worst == n || fit[i] < fit[worst]))
                        worst = i;
                if (worst == n)
                    continue;
                cnt[assign[worst]]--;
                assign[worst] = j;
                fit[worst] = 1;
                cnt[j] = 1;
                memcpy(c, sample + worst * dims, dims * sizeof(float));
                continue;
            }
            for (uint32_t d = 0; d < dims; d++)
                c[d] = (float)(sum[(size_t)j * dims + d] / (double)cnt[j]);
            normalise(c, dims);
        }
    }
    rc = 0;
out:
    free(assign);
    free(fit);
    free(scratch);
    free(sum);
    free(cnt);
    free(pick);
    return rc;
}

uint32_t
rag_ivf_default_lists(uint64_t n)
{
    double l = sqrt((double)n) / 4;
    if (l < 16)
        l = 16;
    if (l > 4096)
        l = 4096;
    return (uint32_t)l;
}

uint32_t
rag_ivf_default_probe(uint32_t n_lists, uint64_t n_vec)
{
    uint64_t p = n_lists / 5,
             floor_ = n_vec ? (32768 * (uint64_t)n_lists + n_vec - 1) / n_vec
                            : n_lists;
    if (p < floor_)
        p = floor_;
    return p < 1 ? 1 : p > n_lists ? n_lists : (uint32_t)p;
}
