/*
 * rag_ivf — spherical k-means for the vector index's inverted lists:
 * vectors (unit length) are partitioned by their most similar centroid;
 * a search ranks the centroids against the query and scans the vectors
 * of the best n_probe lists only.
 *
 * Deterministic: the same sample, k and seed give the same centroids.
 * The caller owns every buffer. Thread-safe (no shared state).
 */
#ifndef RAG_IVF_H
#define RAG_IVF_H

#include <stddef.h>
#include <stdint.h>

/* Trains k unit-length centroids (cent: k x dims) on the n unit vectors
 * of sample (n >= k >= 1) with iters Lloyd iterations. 0, or -1 when out
 * of memory. */
int rag_ivf_train(const float *sample, size_t n, uint32_t dims, uint32_t k,
                  int iters, uint64_t seed, float *cent);

/* The centroid most similar to v (ties: the lower index); scratch holds
 * k floats. */
uint32_t rag_ivf_assign(const float *cent, uint32_t k, uint32_t dims,
                        const float *v, float *scratch);

/* The n_lists for n vectors when the writer picks: about sqrt(n) / 4
 * (measured by bench/vectors.sh), at least 16. */
uint32_t rag_ivf_default_lists(uint64_t n);

/* The n_probe stored as default for n_vec vectors in n_lists lists: a
 * fifth of the lists, and never fewer than hold ~32k vectors (cheap at
 * any size, and small sets need a larger share). bench/vectors.sh, 768-d
 * vectors made from the PostgreSQL manual, 1M vectors in 250 lists, the
 * lists scanned by their 4-bit codes and the best 256 rescored: recall@10
 * 0.948 at 32 lists, 0.967 at 48 (int8 and 40 rescored: 0.957 at 32);
 * 70k in 66 lists: 0.971 at 32 (int8). */
uint32_t rag_ivf_default_probe(uint32_t n_lists, uint64_t n_vec);

#endif
