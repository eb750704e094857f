/*
 * rag_vec — the vector kernels shared by the index writer (quantising,
 * k-means) and the search (int8 scan, centroid ranking): portable C,
 * with AVX2 (+FMA) versions picked once per process when the CPU has
 * them. Stateless, thread-safe.
 */
#ifndef RAG_VEC_H
#define RAG_VEC_H

#include <stdint.h>

typedef int32_t (*rag_vec_dot_i8_fn)(const int8_t *a, const int8_t *b,
                                     uint32_t n);

/* The exact int8 dot product (int32: no overflow for n <= 8192). */
rag_vec_dot_i8_fn rag_vec_dot_i8_impl(void);

/* out[j] = exact int8 dot(q, rows[j]) for j < nrows (rows: nrows x n
 * int8, contiguous): the vector scan's kernel, AVX-512 VNNI when the
 * CPU has it (the same integers as rag_vec_dot_i8_impl's). */
void rag_vec_dots_i8(const int8_t *q, const int8_t *rows, uint32_t nrows,
                     uint32_t n, int32_t *out);

/* Float dot product with float accumulation (order and FMA differ by
 * CPU: for ranking candidates, never for reported scores). */
float rag_vec_dot_f32(const float *a, const float *b, uint32_t n);

/* out[j] = dot(v, rows[j]) for j < nrows (rows: nrows x n floats). */
void rag_vec_dots_f32(const float *v, const float *rows, uint32_t nrows,
                      uint32_t n, float *out);

/* The exact dot product in double, in index order (rescoring). */
double rag_vec_dot_f64(const float *a, const float *b, uint32_t n);

/* L2-normalises v into unit and quantises unit into q (q ~ unit /
 * scale, |q| <= 127). Returns the scale, or 0 when v is zero or not
 * finite (unit and q are then all zero). */
float rag_vec_quantize(const float *v, uint32_t n, float *unit, int8_t *q);

/* The quantising step alone, for a vector already of unit length.
 * Returns the scale, or 0 when unit is all zero. */
float rag_vec_quantize_unit(const float *unit, uint32_t n, int8_t *q);

/* 4-bit codes, for the first pass over large indexes' lists: a unit
 * vector of n dimensions in (n + 1) / 2 bytes, value = (code - 8) *
 * scale with code in 1..15. Dimensions go in blocks of 128 (the last
 * block m = n % 128 dimensions): with h = (m + 1) / 2 (64 for a full
 * block), byte j of a block holds its dimension j in the low nibble and
 * its dimension h + j in the high one (8, i.e. zero, past n). */
#define RAG_VEC_Q4_BYTES(n) (((size_t)(n) + 1) / 2)

/* Quantises unit into q4 (RAG_VEC_Q4_BYTES(n) bytes). Returns the
 * scale, or 0 when unit is all zero (q4 is then all 8s). */
float rag_vec_quantize_q4(const float *unit, uint32_t n, uint8_t *q4);

/* The q4 kernels, for tests to compare: each gives the same integers.
 * (No AVX-512 one: a VNNI version measured no faster than AVX2's, the
 * scan being bound by memory bandwidth.) */
typedef enum { RAG_VEC_SCALAR, RAG_VEC_AVX2 } rag_vec_isa;

/* out[j] = exact sum over i of q[i] * (code_i(rows[j]) - 8) for j <
 * nrows (rows: nrows x RAG_VEC_Q4_BYTES(n), contiguous), with the best
 * kernel this CPU has. */
void rag_vec_dots_q4(const int8_t *q, const uint8_t *rows, uint32_t nrows,
                     uint32_t n, int32_t *out);

/* The same with a given kernel: -1 (out untouched) when this CPU or
 * build does not have it. */
int rag_vec_dots_q4_isa(rag_vec_isa isa, const int8_t *q, const uint8_t *rows,
                        uint32_t nrows, uint32_t n, int32_t *out);

#endif
