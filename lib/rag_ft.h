/*
 * rag_ft — the semantic leg that needs no network: word and subword
 * vectors trained on the collection itself by fastText (skipgram; the
 * worker trains them, worker/ft_train.h), stored with the index
 * generation (FTMODEL section), and texts embedded in-process the SIF way
 * (Arora, Liang and Ma 2017): the average of the text's word vectors,
 * each weighted a / (a + p(w)) with p(w) the word's frequency in the
 * training corpus, minus its projection on the first principal component
 * of the collection's chunk vectors, L2-normalised.
 *
 * Word vectors are fastText's own: a word of the vocabulary has the mean
 * of its input row and its character n-grams' rows (precomputed when the
 * model is built, in fastText's order of addition, so it equals what
 * `fasttext print-word-vectors` prints); any other word the mean of its
 * n-grams' rows, hashed exactly as fastText hashes them (FNV-1a over the
 * bytes, each sign-extended as fastText's int8_t cast does, modulo the
 * bucket count), so unseen words and typos still get vectors.
 *
 * Text is cut into tokens by rag_ft_tokens, the same function that makes
 * the training text, so queries, chunks and training agree.
 *
 * The model (the FTMODEL section's bytes, rag_ft_fmt below) is read in
 * place: a rag_ft_model is a validated view, owns nothing, and lives as
 * long as the memory it views. Everything here is pure computation,
 * thread-safe on a shared model.
 */
#ifndef RAG_FT_H
#define RAG_FT_H

#include <stddef.h>
#include <stdint.h>

#define RAG_FT_MAX_DIM 1024
#define RAG_FT_MAX_NGRAM 16 /* maxn bound (fastText's default is 6) */
#define RAG_FT_TOKEN_MAX 64 /* bytes of one token; longer ones skipped */
#define RAG_FT_SIF_A 1e-3   /* SIF's a */
/* n-grams of a token of RAG_FT_TOKEN_MAX bytes, with '<' and '>' */
#define RAG_FT_MAX_NGRAMS ((RAG_FT_TOKEN_MAX + 2) * RAG_FT_MAX_NGRAM)

/* ---- tokens ------------------------------------------------------------
 * Words of ASCII letters and digits, '_' and any non-ASCII UTF-8
 * sequence, lowercased (ASCII); everything else separates, and Markdown
 * link targets ("](...)") are skipped. Tokens longer than
 * RAG_FT_TOKEN_MAX bytes are skipped (hashes, base64). */
typedef int (*rag_ft_token_cb)(void *ud, const char *tok, size_t len);

/* Calls cb for each token in order (tok is only valid during the call;
 * non-zero from cb stops the walk). Returns the number of tokens, or -1
 * when cb stopped it. */
long rag_ft_tokens(const char *text, size_t len, rag_ft_token_cb cb, void *ud);

/* ---- fastText's hashing ------------------------------------------------ */

/* fastText's Dictionary::hash: FNV-1a 32 over the bytes, each byte
 * sign-extended first (bytes >= 0x80 mix in as 0xffffffxx). */
uint32_t rag_ft_hash(const char *s, size_t n);

/* fastText's character n-grams of a word: over "<" word ">", every run
 * of minn..maxn UTF-8 characters (not starting inside a character),
 * each given as its bucket (hash % nbuckets), in fastText's order
 * (Dictionary::computeSubwords). Writes at most max and returns how
 * many there are (RAG_FT_MAX_NGRAMS is enough for a token). */
size_t rag_ft_ngrams(const char *word, size_t n, uint32_t minn, uint32_t maxn,
                     uint32_t nbuckets, uint32_t *out, size_t max);

/* ---- the model ----------------------------------------------------------
 * FTMODEL layout, every integer little-endian, offsets from its start:
 *   0  u32 dim             4  u32 nwords         8  u32 nbuckets
 *  12  u32 minn           16  u32 maxn          20  u32 flags = 0
 *  24  u64 ntokens: tokens of the training corpus (word frequencies are
 *      count / ntokens)
 *  32  f64 SIF a
 *  40  u64 records of the corpus the model was made for  48  u64 its
 *      tokens of words outside the vocabulary (rare words), for the
 *      re-training rule (the corpus: all of the collection's text; the
 *      model may have been trained on every k-th record of it)
 *  56  u64 generation the model was trained for
 *  64  u32 epoch  68 u32 ws  72 u32 neg  76 u32 minCount  80 u32 seed
 *  84  u32 training wall time, ms   88 u64 trained at, Unix seconds
 *  96  u64 bytes of word text
 * 104  u32 tokenizer: RAG_FT_TOKENIZER, the rag_ft_tokens rules the
 *      vocabulary (and every vector made with the model) was cut with
 * 108  u32 zero  112 u64 tokens of that corpus  120..127 zero
 * 128  words: nwords x 16: u32 text offset, u32 text length (1..
 *      RAG_FT_TOKEN_MAX), u64 count (>= 1); sorted by text (bytes,
 *      shorter first), strictly increasing
 *      word text, padded with zeros to a multiple of 64 bytes
 *      word vectors: nwords x dim f32 (fastText's, see above)
 *      bucket rows: nbuckets x dim f32 (the subword input matrix)
 * The section's length is exactly that. */
#define RAG_FT_HDR 128
#define RAG_FT_TOKENIZER 1
#define RAG_FT_WORD_SZ 16

typedef struct {
    uint32_t dim, nwords, nbuckets, minn, maxn;
    uint64_t ntokens;
    double sif_a;
    uint64_t train_docs, train_oov, train_generation, trained_at;
    uint64_t corpus_tokens;
    uint32_t epoch, ws, neg, min_count, seed, train_ms;
    const unsigned char *words; /* nwords x RAG_FT_WORD_SZ */
    const char *text;
    const float *wvec; /* nwords x dim */
    const float *bvec; /* nbuckets x dim */
} rag_ft_model;

/* Validates len bytes at p (4-byte aligned) as an FTMODEL and fills m.
 * 0, or -1 with err; -2 when it is sound but cut by other tokenizer
 * rules than this build's (unusable here, not corrupt). Every value is
 * checked (sizes, order, finite floats): afterwards nothing is
 * re-validated. */
int rag_ft_model_open(rag_ft_model *m, const void *p, size_t len, char *err,
                      size_t errlen);

/* The vocabulary index of a word, or -1. */
long rag_ft_word_id(const rag_ft_model *m, const char *w, size_t n);

/* fastText's vector of any word into out (dim floats): the vocabulary's
 * for a known word, else the mean of its n-grams' rows. 0, or -1 when
 * the word has neither (then out is zero). */
int rag_ft_word_vector(const rag_ft_model *m, const char *w, size_t n,
                       float *out);

/* SIF weight of a word: a / (a + count / ntokens); 1 for a word outside
 * the vocabulary. */
double rag_ft_sif_weight(const rag_ft_model *m, long id);

/* The SIF average (before principal-component removal) of the tokens of
 * parts[0..nparts) (e.g. title, heading path, body) into out (dim
 * floats). Returns the number of tokens that had a vector (0: out is
 * zero). */
size_t rag_ft_sif(const rag_ft_model *m, const char *const *parts,
                  const size_t *lens, size_t nparts, float *out);

/* v -= (v . pc) pc, then L2-normalise (pc unit length or NULL: no
 * removal). Returns 0, or -1 when nothing is left (v is then zero). */
int rag_ft_finish(const float *pc, float *v, uint32_t dim);

/* A query's (or any text's) unit vector: rag_ft_sif then rag_ft_finish.
 * 0, or -1 when no token had a vector. */
int rag_ft_embed(const rag_ft_model *m, const float *pc, const char *text,
                 size_t len, float *out);

/* The vocabulary's nearest neighbours of word w (itself excluded): up to
 * k word ids with their cosines into ids/cos, best first, each with a
 * cosine of at least min_cos and a corpus count of at least min_count.
 * A full scan of the vocabulary (nwords x dim). Returns how many. */
size_t rag_ft_neighbours(const rag_ft_model *m, const char *w, size_t n,
                         size_t k, double min_cos, uint64_t min_count,
                         long *ids, double *cos);

/* Word id's text (not NUL-terminated) and its length. */
const char *rag_ft_word_text(const rag_ft_model *m, long id, size_t *len);

/* ---- building a model (the worker, tests) ------------------------------ */

/* The first principal component (uncentred, as SIF's reference code) of
 * the vectors whose outer products were summed into cov (dim x dim,
 * double, row-major): deterministic power iteration, result unit length
 * in pc. 0, or -1 when cov is zero. */
int rag_ft_first_pc(const double *cov, uint32_t dim, float *pc);

#endif
