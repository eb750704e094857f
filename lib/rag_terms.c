#include "rag_terms.h"

#include <libstemmer.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* An identifier longer than this many parts is cut into several. */
#define RAG_TERMS_MAX_PARTS 16

typedef struct {
    size_t off, len;
} span;

/* Decodes one UTF-8 sequence at s[0..n); returns the code point and sets
 * *adv, or returns -1 (with *adv = 1) for an invalid or truncated one. */
static int32_t
utf8_dec(const unsigned char *s, size_t n, size_t *adv)
{
    uint32_t c = s[0], cp;
    size_t need, i;

    *adv = 1;
    if (c < 0x80)
        return (int32_t)c;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        cp = c & 0x07;
    } else {
        return -1;
    }
    if (n < need + 1)
        return -1;
    for (i = 1; i <= need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *adv = need + 1;
    return (int32_t)cp;
}

static size_t
utf8_enc(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int
is_word_cp(int32_t cp)
{
    if (cp < 0)
        return 0;
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
               (cp >= '0' && cp <= '9');
    /* Non-ASCII: a letter unless in a punctuation / symbol block. */
    if (cp < 0xc0)
        return cp == 0xaa || cp == 0xb5 || cp == 0xba;
    if (cp == 0xd7 || cp == 0xf7)
        return 0;
    if ((cp >= 0x2000 && cp <= 0x2bff) || (cp >= 0x3000 && cp <= 0x303f) ||
        (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff0f) ||
        (cp >= 0xfff0 && cp <= 0xffff) || (cp >= 0x1f000 && cp <= 0x1faff))
        return 0;
    return 1;
}

static uint32_t
lower_cp(uint32_t cp)
{
    if (cp >= 'A' && cp <= 'Z')
        return cp + 32;
    if (cp < 0xc0)
        return cp;
    if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7))
        return cp + 32;
    if (cp >= 0x100 && cp <= 0x137 && (cp & 1) == 0)
        return cp + 1;
    if (cp >= 0x139 && cp <= 0x148 && (cp & 1) == 1)
        return cp + 1;
    if (cp >= 0x14a && cp <= 0x177 && (cp & 1) == 0)
        return cp + 1;
    if (cp == 0x178)
        return 0xff;
    if (cp >= 0x179 && cp <= 0x17e && (cp & 1) == 1)
        return cp + 1;
    if (cp >= 0x391 && cp <= 0x3ab && cp != 0x3a2)
        return cp + 32;
    if (cp >= 0x410 && cp <= 0x42f)
        return cp + 32;
    if (cp >= 0x400 && cp <= 0x40f)
        return cp + 80;
    return cp;
}

static int
is_connector(unsigned char c)
{
    return c == '_' || c == '.' || c == '-';
}

/* Lowercases src[0..n) into out (RAG_TERM_MAX bytes). Returns the length,
 * or 0 when the result would not fit. */
static size_t
lower_into(const char *src, size_t n, char *out)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, o = 0, adv;
    char enc[4];

    while (i < n) {
        if (s[i] < 0x80) {
            if (o >= RAG_TERM_MAX)
                return 0;
            out[o++] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
            i++;
            continue;
        }
        int32_t cp = utf8_dec(s + i, n - i, &adv);
        size_t el = utf8_enc(lower_cp((uint32_t)cp), enc);
        if (o + el > RAG_TERM_MAX)
            return 0;
        memcpy(out + o, enc, el);
        o += el;
        i += adv;
    }
    return o;
}

static const char *const stopwords[] = {
    "a",    "about", "an",    "and",   "are",   "as",   "at",    "be",
    "been", "but",   "by",    "can",   "could", "did",  "do",    "does",
    "for",  "from",  "had",   "has",   "have",  "he",   "her",   "his",
    "how",  "i",     "if",    "in",    "into",  "is",   "it",    "its",
    "me",   "my",    "of",    "on",    "or",    "our",  "she",   "so",
    "than", "that",  "the",   "their", "them",  "then", "there", "these",
    "they", "this",  "those", "to",    "was",   "we",   "were",  "what",
    "when", "where", "which", "who",   "why",   "will", "with",  "would",
    "you",  "your",
};

/* Every token is checked: the words are packed into integers (length
 * in the top byte) once, and looked up by binary search over those. */
static uint64_t stop_keys[sizeof(stopwords) / sizeof(stopwords[0])];
static pthread_once_t stop_once = PTHREAD_ONCE_INIT;

static uint64_t
stop_key(const char *w, size_t len)
{
    uint64_t k = (uint64_t)len << 56;
    for (size_t i = 0; i < len; i++)
        k |= (uint64_t)(unsigned char)w[i] << (8 * (4 - i));
    return k;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void
stop_init(void)
{
    size_t n = sizeof(stopwords) / sizeof(stopwords[0]);
    for (size_t i = 0; i < n; i++)
        stop_keys[i] = stop_key(stopwords[i], strlen(stopwords[i]));
    qsort(stop_keys, n, sizeof(uint64_t), cmp_u64);
}

int
rag_term_is_stopword(const char *w, size_t len)
{
    size_t lo = 0, hi = sizeof(stop_keys) / sizeof(stop_keys[0]);
    uint64_t k;

    if (len == 0 || len > 5)
        return 0;
    pthread_once(&stop_once, stop_init);
    k = stop_key(w, len);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (stop_keys[mid] == k)
            return 1;
        if (stop_keys[mid] < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Words that phrase a request rather than name a topic: the English
 * closed-class and conversational words a question wraps around its
 * subject ("how can I ...", "is there a way to ...", "I need something
 * that ..."). A fixed list from English grammar (modal and auxiliary
 * verbs, wh- and quantifier words, verbs of wanting, trying and asking,
 * empty nouns like "way" and "thing", discourse adverbs), written
 * before looking at any question set and the same for every corpus.
 * Words a manual uses as names are left out even when users also use
 * them to phrase questions ("get", "set", "use", "run", "make", "like",
 * "any", "some", "all", "keep", "stop", "show", "sort", "right",
 * "help", "example"): down-weighting them
 * would cost the questions about them. */
static const char *const question_words[] = {
    "able",      "actually",  "again",      "already",  "also",    "always",
    "anybody",   "anyone",    "anything",   "anyway",   "around",  "ask",
    "asking",    "basically", "best",       "better",   "cannot",  "certain",
    "correct",   "correctly", "easily",     "easy",     "else",    "even",
    "ever",      "every",     "everything", "exactly",  "fine",    "getting",
    "good",      "happen",    "happens",    "hi",       "however", "idea",
    "instead",   "just",      "kind",       "know",     "let",     "lets",
    "likely",    "lot",       "maybe",      "might",    "mine",    "much",
    "must",      "need",      "needed",     "needs",    "never",   "nothing",
    "often",     "okay",      "one",        "ones",     "please",  "possible",
    "possibly",  "pretty",    "proper",     "properly", "quite",   "rather",
    "really",    "seem",      "seems",      "should",   "simply",  "somehow",
    "someone",   "something", "still",      "stuff",    "sure",    "tell",
    "thanks",    "thing",     "things",     "tried",    "try",     "trying",
    "us",        "usually",   "very",       "want",     "wanted",  "wanting",
    "wants",     "way",       "ways",       "whether",  "wish",    "wonder",
    "wondering", "yet",
};

int
rag_term_is_question_word(const char *w, size_t len)
{
    char lw[16];
    size_t lo = 0, hi = sizeof(question_words) / sizeof(question_words[0]);

    if (len == 0 || len >= sizeof(lw))
        return 0;
    for (size_t i = 0; i < len; i++)
        lw[i] = (char)((w[i] >= 'A' && w[i] <= 'Z') ? w[i] + 32 : w[i]);
    lw[len] = '\0';
    while (lo < hi) { /* the list is sorted */
        size_t mid = (lo + hi) / 2;
        int c = strcmp(question_words[mid], lw);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

int
rag_term_is_number(const char *w, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (w[i] < '0' || w[i] > '9')
            return 0;
    return 1;
}

static int
is_vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

static int
has_vowel(const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_vowel(w[i]) || (i > 0 && w[i] == 'y'))
            return 1;
    return 0;
}

static int
ends(const char *w, size_t n, const char *suf)
{
    size_t sl = strlen(suf);
    return n >= sl && memcmp(w + n - sl, suf, sl) == 0;
}

/* consonant-vowel-consonant ending, last not w/x/y: "nam", "hop" */
static int
ends_cvc(const char *w, size_t n)
{
    if (n < 3)
        return 0;
    return !is_vowel(w[n - 3]) && is_vowel(w[n - 2]) && !is_vowel(w[n - 1]) &&
           w[n - 1] != 'w' && w[n - 1] != 'x' && w[n - 1] != 'y';
}

/* Conservative: plurals, -ed / -ing, then a final 'e', so that "index",
 * "indexes", "indexed", "indexing" all meet, as do "create", "created",
 * "creating" and "name", "named", "naming". Short words are left alone. */
size_t
rag_term_stem(char *w, size_t n)
{
    size_t i, m;

    if (n <= 3)
        return n;
    for (i = 0; i < n; i++)
        if (w[i] < 'a' || w[i] > 'z')
            return n;

    /* plurals */
    if (ends(w, n, "sses"))
        n -= 2;
    else if (ends(w, n, "ies") && n > 4) {
        n -= 2;
        w[n - 1] = 'y';
    } else if (w[n - 1] == 's' && !ends(w, n, "ss") && !ends(w, n, "us") &&
               !ends(w, n, "is"))
        n -= 1;

    /* -ed / -ing */
    m = 0;
    if (ends(w, n, "eed"))
        m = 0;
    else if (ends(w, n, "ied") && n > 4) {
        n -= 2;
        w[n - 1] = 'y';
    } else if (ends(w, n, "ed") && n - 2 >= 3 && has_vowel(w, n - 2))
        m = 2;
    else if (ends(w, n, "ing") && n - 3 >= 3 && has_vowel(w, n - 3))
        m = 3;
    if (m) {
        n -= m;
        if (w[n - 1] == w[n - 2] && !is_vowel(w[n - 1]) && w[n - 1] != 'l' &&
            w[n - 1] != 's' && w[n - 1] != 'z')
            n--; /* stopped -> stop */
        else if (n <= 4 && ends_cvc(w, n))
            w[n++] = 'e'; /* named -> name */
    }

    /* final e, so "create" meets "creat(ed)" */
    if (n >= 5 && w[n - 1] == 'e' && w[n - 2] != 'e')
        n--;
    return n;
}

struct rag_stemmer {
    struct sb_stemmer *sb;
    int english; /* the English stopwords apply */
    char language[32];
};

int
rag_stem_language_ok(const char *language)
{
    const char **l = sb_stemmer_list();

    if (language == NULL)
        return 0;
    for (; *l; l++)
        if (strcmp(*l, language) == 0)
            return 1;
    return 0;
}

void
rag_stem_languages(char *out, size_t outlen)
{
    size_t o = 0;

    if (outlen == 0)
        return;
    out[0] = '\0';
    for (const char **l = sb_stemmer_list(); *l && o < outlen; l++) {
        int n = snprintf(out + o, outlen - o, "%s%s", o ? ", " : "", *l);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

rag_stemmer *
rag_stemmer_new(const char *language, char *err, size_t errlen)
{
    rag_stemmer *st;
    char langs[512];

    if (!rag_stem_language_ok(language) || strlen(language) >= 32) {
        rag_stem_languages(langs, sizeof(langs));
        snprintf(err, errlen, "unknown stemmer language \"%.32s\" (one of: %s)",
                 language ? language : "", langs);
        return NULL;
    }
    st = calloc(1, sizeof(*st));
    if (st != NULL)
        st->sb = sb_stemmer_new(language, "UTF_8");
    if (st == NULL || st->sb == NULL) {
        free(st);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->english =
        strcmp(language, "english") == 0 || strcmp(language, "porter") == 0;
    snprintf(st->language, sizeof(st->language), "%s", language);
    return st;
}

void
rag_stemmer_free(rag_stemmer *st)
{
    if (st == NULL)
        return;
    sb_stemmer_delete(st->sb);
    free(st);
}

const char *
rag_stemmer_language(const rag_stemmer *st)
{
    return st->language;
}

typedef struct {
    rag_term_cb cb;
    void *ud;
    long count;
    rag_stemmer *st; /* NULL: the light English stemmer */
} emitter;

static int
emit(emitter *em, const char *t, size_t n, size_t off, size_t len)
{
    if (n == 0)
        return 0;
    em->count++;
    return em->cb(em->ud, t, n, off, len);
}

/* Snowball: words of letters only are stemmed (numbers and words with
 * digits are left as they are, as the light stemmer does) */
static int
has_digit(const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (w[i] >= '0' && w[i] <= '9')
            return 1;
    return 0;
}

/* A plain word: stopword filter, then stem. */
static int
emit_simple(emitter *em, char *buf, size_t n, size_t off, size_t len)
{
    if (em->st == NULL) {
        if (rag_term_is_stopword(buf, n))
            return 0;
        n = rag_term_stem(buf, n);
        return emit(em, buf, n, off, len);
    }
    if (em->st->english && rag_term_is_stopword(buf, n))
        return 0;
    if (!has_digit(buf, n)) {
        const sb_symbol *s =
            sb_stemmer_stem(em->st->sb, (const sb_symbol *)buf, (int)n);
        int sl = sb_stemmer_length(em->st->sb);
        /* NULL: out of memory in the stemmer; the word as it is */
        if (s != NULL && sl > 0 && sl <= RAG_TERM_MAX) { /* buf has room */
            memcpy(buf, s, (size_t)sl);
            n = (size_t)sl;
        }
    }
    return emit(em, buf, n, off, len);
}

static int
is_up(char c)
{
    return c >= 'A' && c <= 'Z';
}

static int
is_lo(char c)
{
    return c >= 'a' && c <= 'z';
}

/* 2+ ASCII capitals then one 's': an acronym's plural ("URLs", "IDs") */
static int
acronym_plural(const char *w, size_t n)
{
    if (n < 3 || w[n - 1] != 's')
        return 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (!is_up(w[i]))
            return 0;
    return 1;
}

/* One word (letters/digits only). Splits ASCII camelCase. */
static int
emit_word(emitter *em, const char *text, size_t off, size_t len)
{
    char buf[RAG_TERM_MAX];
    const char *w = text + off;
    size_t n = lower_into(w, len, buf), cuts[RAG_TERMS_MAX_PARTS + 1];
    size_t ncut = 0, i, start;

    if (n == 0)
        return 0;               /* too long: skipped */
    if (acronym_plural(w, len)) /* the acronym, as its singular is indexed */
        return emit_simple(em, buf, n - 1, off, len);
    for (i = 1; i < len && ncut < RAG_TERMS_MAX_PARTS - 1; i++) {
        if ((is_lo(w[i - 1]) && is_up(w[i])) ||
            (i + 1 < len && is_up(w[i - 1]) && is_up(w[i]) && is_lo(w[i + 1])))
            cuts[ncut++] = i;
    }
    if (ncut == 0)
        return emit_simple(em, buf, n, off, len);
    /* whole camelCase word, unstemmed, then its parts */
    if (emit(em, buf, n, off, len))
        return 1;
    cuts[ncut++] = len;
    start = 0;
    for (i = 0; i < ncut; i++) {
        size_t pl = cuts[i] - start;
        char pb[RAG_TERM_MAX];
        size_t pn = lower_into(w + start, pl, pb);
        if (pn && emit_simple(em, pb, pn, off + start, pl))
            return 1;
        start = cuts[i];
    }
    return 0;
}

/* The length of an English clitic at s[i..len) ("'s", "'m", "'t", "'d",
 * "'re", "'ve", "'ll", the apostrophe ASCII or U+2019) that ends there,
 * or 0. A word's clitic is no term: "I'm" gave "m", "owner's" "s". */
static size_t
clitic_len(const unsigned char *s, size_t i, size_t len, int *neg)
{
    static const char *const cl[] = {"s", "m", "t", "d", "re", "ve", "ll"};
    size_t a;

    if (i < len && s[i] == '\'')
        a = 1;
    else if (i + 2 < len && s[i] == 0xe2 && s[i + 1] == 0x80 &&
             s[i + 2] == 0x99)
        a = 3;
    else
        return 0;
    for (size_t k = 0; k < sizeof(cl) / sizeof(cl[0]); k++) {
        size_t n = strlen(cl[k]), e = i + a + n, j;
        for (j = 0; j < n && e <= len; j++)
            if ((s[i + a + j] | 0x20) != cl[k][j])
                break;
        if (j < n || e > len)
            continue;
        if (e < len && (s[e] >= 0x80 || is_word_cp(s[e]) || s[e] == '\''))
            continue; /* "rock'n'roll", "O'Reilly": not a clitic */
        *neg = k == 2;
        return a + n;
    }
    return 0;
}

/* 2+ ASCII capitals and nothing else: a SQL keyword style word */
static int
all_caps(const char *w, size_t n)
{
    if (n < 2)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_up(w[i]))
            return 0;
    return 1;
}

long
rag_terms_each(const char *text, size_t len, rag_term_cb cb, void *ud)
{
    return rag_terms_each_stem(NULL, text, len, cb, ud);
}

long
rag_terms_each_stem(rag_stemmer *st, const char *text, size_t len,
                    rag_term_cb cb, void *ud)
{
    const unsigned char *s = (const unsigned char *)text;
    emitter em = {cb, ud, 0, st};
    span parts[RAG_TERMS_MAX_PARTS];
    size_t i = 0, adv;
    char prev[RAG_TERM_MAX]; /* last upper-case word, lowercased */
    size_t prev_len = 0, prev_start = 0, prev_end = 0;

    while (i < len) {
        size_t np = 0, id_start, id_end;

        /* skip to the next word character */
        if (s[i] < 0x80) {
            if (!is_word_cp(s[i])) {
                i++;
                continue;
            }
        } else if (!is_word_cp(utf8_dec(s + i, len - i, &adv))) {
            i += adv;
            continue;
        }
        id_start = i;
        for (;;) {
            size_t ws = i;
            while (i < len) {
                if (s[i] < 0x80) {
                    if (!is_word_cp(s[i]))
                        break;
                    i++;
                } else {
                    int32_t cp = utf8_dec(s + i, len - i, &adv);
                    if (!is_word_cp(cp))
                        break;
                    i += adv;
                }
            }
            parts[np].off = ws;
            parts[np].len = i - ws;
            np++;
            /* continue the identifier over one connector followed by a
             * word character (ASCII: a cheap, good-enough test) */
            if (np < RAG_TERMS_MAX_PARTS && i + 1 < len && is_connector(s[i]) &&
                (is_word_cp(s[i + 1]) || s[i + 1] >= 0xc2)) {
                size_t a2;
                if (s[i + 1] >= 0x80 &&
                    !is_word_cp(utf8_dec(s + i + 1, len - i - 1, &a2)))
                    break;
                i++;
                continue;
            }
            break;
        }
        id_end = i;
        /* a clitic goes with its word; "n't" takes the auxiliary it
         * negates ("don't", "isn't", "won't") along */
        if (np == 1) {
            int neg = 0;
            size_t cl = clitic_len(s, i, len, &neg);
            if (cl) {
                i += cl;
                prev_len = 0;
                if (neg && (s[id_end - 1] | 0x20) == 'n')
                    continue;
            }
        }
        if (np > 1) {
            char buf[RAG_TERM_MAX];
            size_t n = lower_into(text + id_start, id_end - id_start, buf);
            if (n && emit(&em, buf, n, id_start, id_end - id_start))
                return -1;
        }
        for (size_t p = 0; p < np; p++)
            if (emit_word(&em, text, parts[p].off, parts[p].len))
                return -1;

        /* two upper-case words in a row ("CREATE INDEX", "ALTER TABLE")
         * are a SQL-style phrase: also one term, "create index" */
        if (np == 1 && all_caps(text + id_start, id_end - id_start)) {
            if (prev_len && prev_end + 1 == id_start && text[prev_end] == ' ' &&
                prev_len + 1 + (id_end - id_start) <= RAG_TERM_MAX) {
                char buf[RAG_TERM_MAX];
                size_t n = prev_len;
                memcpy(buf, prev, n);
                buf[n++] = ' ';
                n += lower_into(text + id_start, id_end - id_start, buf + n);
                if (emit(&em, buf, n, prev_start, id_end - prev_start))
                    return -1;
            }
            prev_len = lower_into(text + id_start, id_end - id_start, prev);
            prev_start = id_start;
            prev_end = id_end;
        } else {
            prev_len = 0;
        }
    }
    return em.count;
}
