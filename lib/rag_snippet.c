/*
 * rag_snippet — see rag_snippet.h. Finding the match: one pass over the
 * body looking at bytes that can begin a query term's key (its leading
 * bytes, ASCII case-folded); a key that matches there is confirmed by
 * running rag_terms over the word around it only. Then Markdown is
 * stripped from a bounded window (half the snippet's size before the
 * match, or from the start when markup leaves too little of that, and
 * the snippet's size after it), and the snippet is cut from that.
 */
#include "rag_snippet.h"

#include "rag_terms.h"

#include <string.h>

_Static_assert(RAG_SNIPPET_TERM_MAX == RAG_TERM_MAX,
               "rag_snippet_query holds rag_terms terms");

#define VERIFY_REACH 64 /* bytes either side of a key hit */
#define LEAD 1          /* rag_snippet_query.lead flags */
#define LOWD 2
#define MARK 4 /* ']' or '`': a link target or fence may follow */

static const char ell[] = "\xe2\x80\xa6"; /* U+2026 */
#define ELL (sizeof(ell) - 1)

static int
is_lower_digit(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Bytes a key may hold: what rag_terms puts in an ASCII term. */
static int
is_key_byte(unsigned char c)
{
    return is_lower_digit(c) || c == '_' || c == '.' || c == '-';
}

/* Bytes of a word or identifier, any case (non-ASCII counts). */
static int
is_word_byte(unsigned char c)
{
    return c >= 0x80 || is_key_byte(c) || (c >= 'A' && c <= 'Z');
}

static int
is_cont(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

/* ---- the query ---------------------------------------------------------- */

static int
add_term(void *ud, const char *t, size_t n, size_t off, size_t len)
{
    rag_snippet_query *sq = ud;
    size_t i, k;

    (void)off;
    (void)len;
    for (i = 0; i < sq->n; i++)
        if (sq->len[i] == n && memcmp(sq->term[i], t, n) == 0)
            return 0;
    if (sq->n == RAG_SNIPPET_MAX_TERMS)
        return 1;
    memcpy(sq->term[sq->n], t, n);
    sq->len[sq->n] = (unsigned char)n;

    for (k = 0; k < n && is_key_byte((unsigned char)t[k]); k++)
        ;
    if (k < n && t[k] == ' ') {
        k = 0; /* a phrase ("create index"): its words are terms too */
    } else if (k == n) {
        if (n > 3)
            k = n - 1; /* a stem may have changed its last byte */
    } else if (k < 3) {
        k = 0; /* no ASCII lead to search for */
        sq->scan = 1;
    }
    sq->keylen[sq->n] = (unsigned char)k;
    if (k) {
        unsigned char c = (unsigned char)t[0];
        sq->lead[c] |= LEAD;
        if (c >= 'a' && c <= 'z')
            sq->lead[c - 32] |= LEAD;
    }
    sq->n++;
    return 0;
}

void
rag_snippet_query_init(rag_snippet_query *sq, const char *query,
                       size_t query_len)
{
    for (int c = 0; c < 256; c++)
        sq->lead[c] = is_lower_digit((unsigned char)c) ? LOWD : 0;
    sq->lead[']'] = sq->lead['`'] = MARK;
    sq->n = 0;
    sq->scan = 0;
    if (query != NULL && query_len > 0)
        rag_terms_each(query, query_len, add_term, sq);
}

/* ---- finding the first match -------------------------------------------- */

typedef struct {
    const rag_snippet_query *sq;
    size_t lo, hi; /* a term's source must cover [lo, hi) */
    size_t off;
    int found;
} match_ctx;

static int
match_cb(void *ud, const char *t, size_t n, size_t off, size_t len)
{
    match_ctx *m = ud;
    const rag_snippet_query *sq = m->sq;

    if (off > m->lo || off + len < m->hi)
        return 0;
    for (size_t i = 0; i < sq->n; i++) {
        if (sq->len[i] == n && memcmp(sq->term[i], t, n) == 0) {
            m->off = off;
            m->found = 1;
            return 1;
        }
    }
    return 0;
}

/* Is there a query term whose source word covers body[at]? Tokenises
 * only the word (or identifier) around it. */
static int
verify(const rag_snippet_query *sq, const char *body, size_t n, size_t at,
       size_t *moff)
{
    const unsigned char *s = (const unsigned char *)body;
    size_t a = at, b = at;
    match_ctx m = {sq, 0, 0, 0, 0};

    while (a > 0 && at - a < VERIFY_REACH && is_word_byte(s[a - 1]))
        a--;
    while (b < n && b - at < VERIFY_REACH && is_word_byte(s[b]))
        b++;
    m.lo = at - a;
    m.hi = at - a + 1;
    rag_terms_each(body + a, b - a, match_cb, &m);
    if (m.found)
        *moff = a + m.off;
    return m.found;
}

static int
key_at(const char *key, size_t k, const unsigned char *s, size_t n, size_t i)
{
    if (n - i < k)
        return 0;
    for (size_t j = 0; j < k; j++) {
        unsigned char c = s[i + j];
        if (c >= 'A' && c <= 'Z')
            c |= 0x20;
        if (c != (unsigned char)key[j])
            return 0;
    }
    return 1;
}

/* At s[i] (']' or '`'): the last byte of what strip_md drops there (a
 * link target "](...)", a fence's "```lang" line), or i. */
static size_t
skip_hidden(const char *s, size_t n, size_t i)
{
    size_t j;

    if (s[i] == ']' && i + 1 < n && s[i + 1] == '(') {
        for (j = i + 2; j < n && s[j] != ')' && s[j] != '\n' && j - i < 2048;
             j++)
            ;
        return j < n && s[j] == ')' ? j : i;
    }
    if (s[i] == '`' && n - i >= 3 && s[i + 1] == '`' && s[i + 2] == '`') {
        for (j = i; j < n && s[j] != '\n'; j++)
            ;
        return j - 1;
    }
    return i;
}

/* Offset of the first query term in body; 0 when none. */
static size_t
first_match(const rag_snippet_query *sq, const char *body, size_t n)
{
    const unsigned char *s = (const unsigned char *)body;
    size_t moff;

    if (sq->n == 0)
        return 0;
    if (sq->scan) {
        match_ctx m = {sq, (size_t)-1, 0, 0, 0};
        rag_terms_each(body, n < RAG_SNIPPET_SCAN ? n : RAG_SNIPPET_SCAN,
                       match_cb, &m);
        return m.found ? m.off : 0;
    }
    unsigned prev = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i], f = sq->lead[c], lc;
        if (f & MARK) {
            /* what the snippet will not show: a link's target, a code
             * fence's language tag */
            i = skip_hidden(body, n, i);
            prev = 0;
            continue;
        }
        /* a key's first byte, not inside a lower-case word (where no
         * term begins) */
        if (!(f & LEAD) || (f & prev & LOWD)) {
            prev = f;
            continue;
        }
        prev = f;
        lc = c >= 'A' && c <= 'Z' ? c | 0x20 : c;
        for (size_t t = 0; t < sq->n; t++) {
            if (sq->keylen[t] && (unsigned char)sq->term[t][0] == lc &&
                key_at(sq->term[t], sq->keylen[t], s, n, i) &&
                verify(sq, body, n, i, &moff))
                return moff;
        }
    }
    return 0;
}

/* ---- Markdown to plain text, over a window ------------------------------ */

/* Bytes strip_md copies as they are when not at a line's start: not
 * white space, not a Markdown mark it drops or looks at. */
static int
is_plain(unsigned char c)
{
    static const unsigned char special[256] = {
        [' '] = 1, ['\n'] = 1, ['\t'] = 1, ['\r'] = 1, ['*'] = 1,
        ['`'] = 1, ['|'] = 1,  ['!'] = 1,  ['['] = 1,  [']'] = 1,
    };
    return !special[c];
}

/* Only blanks between the line's start and s[i]? (Looks back at most
 * 256 bytes: further is not a Markdown marker's indentation.) */
static int
at_line_start(const char *s, size_t i)
{
    size_t j = i;

    while (j > 0 && i - j < 256 && (s[j - 1] == ' ' || s[j - 1] == '\t'))
        j--;
    return j == 0 || s[j - 1] == '\n';
}

typedef struct {
    size_t from;     /* first body byte */
    size_t mark;     /* body offset whose plain offset is wanted */
    size_t after;    /* stop this many plain bytes past the mark */
    size_t cap;      /* out has room for cap + 5 bytes */
    size_t mark_out; /* result: plain offset of the mark */
    int at_end;      /* result: the whole rest of the body was read */
} strip_win;

/* Markdown to plain text, lightly: fences, heading/quote/list markers,
 * emphasis and code backticks, link targets and table pipes go; runs of
 * white space become one space. Reads s[w->from..n) until w->after plain
 * bytes past the mark (or cap) are written; line starts are judged on
 * the whole body. Returns the plain length (out is NUL terminated). */
static size_t
strip_md(const char *s, size_t n, strip_win *w, char *out)
{
    size_t i = w->from, o = 0;
    int space = 1, marked = 0, bol = at_line_start(s, i);

    while (i < n) {
        if (!bol && is_plain((unsigned char)s[i])) {
            /* fast path: a run of bytes the loop below would copy as
             * they are (or collapse, white space), up to the mark or
             * the output limit, where the loop below takes over again */
            size_t stop_i = marked ? n : w->mark < n ? w->mark : n;
            size_t stop_o = marked && w->mark_out + w->after < w->cap
                                ? w->mark_out + w->after
                                : w->cap;
            if (i < stop_i && o < stop_o) {
                /* (blanks other than a newline: one space for a run) */
                while (i < stop_i && o < stop_o) {
                    unsigned char x = (unsigned char)s[i];
                    if (is_plain(x)) {
                        out[o++] = (char)x;
                        space = 0;
                    } else if (x == ' ' || x == '\t' || x == '\r') {
                        if (!space)
                            out[o++] = ' ';
                        space = 1;
                    } else {
                        break;
                    }
                    i++;
                }
                if (i >= n)
                    break;
            }
        }
        char c = s[i];
        if (!marked && i >= w->mark) {
            w->mark_out = o;
            marked = 1;
        }
        if ((o >= w->cap || (marked && o >= w->mark_out + w->after)) &&
            !is_cont((unsigned char)c))
            break; /* (never inside a character) */
        if (bol && c != ' ' && c != '\t') {
            bol = 0;
            if (n - i >= 3 && (memcmp(s + i, "```", 3) == 0 ||
                               memcmp(s + i, "~~~", 3) == 0)) {
                while (i < n && s[i] != '\n')
                    i++; /* fence line with its language tag */
                continue;
            }
            if (c == '#' || c == '>') {
                while (i < n && (s[i] == '#' || s[i] == '>'))
                    i++;
                continue;
            }
            if ((c == '-' || c == '*' || c == '+') && i + 1 < n &&
                s[i + 1] == ' ') {
                i += 2;
                continue;
            }
        }
        if (c == '\n')
            bol = 1;
        if (c == '*' || c == '`' || c == '|' ||
            (c == '!' && i + 1 < n && s[i + 1] == '[') || c == '[') {
            c = c == '|' ? ' ' : 0;
        } else if (c == ']' && i + 1 < n && s[i + 1] == '(') {
            size_t j = i + 2;
            while (j < n && s[j] != ')' && s[j] != '\n' && j - i < 2048)
                j++;
            i = j < n && s[j] == ')' ? j + 1 : i + 1;
            continue;
        } else if (c == ']') {
            c = 0;
        }
        if (c == 0) {
            i++;
            continue;
        }
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
            if (!space)
                out[o++] = ' ';
            space = 1;
        } else {
            out[o++] = c;
            space = 0;
        }
        i++;
    }
    if (!marked)
        w->mark_out = o;
    w->at_end = i >= n;
    if (w->at_end)
        while (o > 0 && out[o - 1] == ' ')
            o--;
    out[o] = '\0';
    return o;
}

/* ---- the snippet -------------------------------------------------------- */

size_t
rag_snippet_make(const rag_snippet_query *sq, const char *body, size_t body_len,
                 char *out, size_t outlen)
{
    char plain[9 * RAG_SNIPPET_MAX + 64];
    size_t moff, plen, max, start, end, o = 0, room, off;
    strip_win w;
    int cut_before, cut_after;

    if (out == NULL || outlen == 0)
        return 0;
    out[0] = '\0';
    if (body == NULL || body_len == 0)
        return 0;
    max = outlen - 1 < RAG_SNIPPET_MAX ? outlen - 1 : RAG_SNIPPET_MAX;

    moff = first_match(sq, body, body_len);
    w.from = moff > max / 2 + 64 ? moff - max / 2 - 64 : 0;
    while (w.from < moff && is_cont((unsigned char)body[w.from]))
        w.from++;
    w.mark = moff;
    w.after = max + 8;
    w.cap = sizeof(plain) - 8;
    plen = strip_md(body, body_len, &w, plain);
    if (w.from > 0 && (w.mark_out < max / 4 + 24 || (w.at_end && plen < max))) {
        /* too little text before the match (markup-dense, or the body
         * ends soon after it): perhaps all of the body fits; strip from
         * the start, or from further back */
        if (w.mark_out < max / 4 + 24)
            w.from = moff <= 8 * max ? 0 : moff - 3 * max;
        else
            w.from = moff <= 2 * max ? 0 : moff - 2 * max;
        while (w.from < moff && is_cont((unsigned char)body[w.from]))
            w.from++;
        plen = strip_md(body, body_len, &w, plain);
    }
    off = w.mark_out;
    cut_before = w.from > 0;
    cut_after = !w.at_end;

    if (!cut_before && !cut_after && plen <= max) {
        memcpy(out, plain, plen);
        out[plen] = '\0';
        return plen;
    }
    room = max > 2 * ELL + 8 ? max - 2 * ELL : max;
    start = off > room / 4 ? off - room / 4 : 0;
    if (plen > room && start > plen - room)
        start = plen - room;
    if (start > 0 || cut_before) {
        /* begin at a word: after the next space within 24 bytes (the
         * match begins one) */
        for (size_t j = start; j < start + 24 && j < plen && j < off; j++)
            if (j > 0 && plain[j - 1] == ' ') {
                start = j;
                break;
            }
        while (start < plen && is_cont((unsigned char)plain[start]))
            start++;
    }
    end = start + room;
    if (end > plen)
        end = plen;
    if (end < plen) {
        size_t e = end;
        while (e > start + room / 2 && plain[e] != ' ')
            e--;
        if (plain[e] == ' ')
            end = e;
        while (end > start && is_cont((unsigned char)plain[end]))
            end--;
    }
    if ((start > 0 || cut_before) && room < max) {
        memcpy(out + o, ell, ELL);
        o += ELL;
    }
    memcpy(out + o, plain + start, end - start);
    o += end - start;
    if ((end < plen || cut_after) && room < max) {
        while (o > 0 && out[o - 1] == ' ')
            o--;
        memcpy(out + o, ell, ELL);
        o += ELL;
    }
    out[o] = '\0';
    return o;
}

size_t
rag_snippet(const char *body, size_t body_len, const char *query,
            size_t query_len, char *out, size_t outlen)
{
    rag_snippet_query sq;

    rag_snippet_query_init(&sq, query, query_len);
    return rag_snippet_make(&sq, body, body_len, out, outlen);
}
