#include "rag_tokens.h"

#ifndef LETTERS_ONE
#define LETTERS_ONE 7
#endif
#ifndef LETTERS_PER
#define LETTERS_PER 4
#endif
#ifndef PUNCT_PER
#define PUNCT_PER 2
#endif

static int
is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int
is_punct(unsigned char c)
{
    return c > ' ' && c < 0x7f && !is_alpha(c) && !is_digit(c);
}

/* Decodes one UTF-8 sequence at s (n > 0 bytes left); returns its length
 * (1 for invalid bytes) and the code point in *cp. */
static size_t
utf8_next(const unsigned char *s, size_t n, unsigned *cp)
{
    size_t len, i;
    unsigned c = s[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xe0) == 0xc0) {
        len = 2;
        c &= 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        c &= 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4;
        c &= 0x07;
    } else {
        *cp = 0xfffd;
        return 1;
    }
    if (len > n) {
        *cp = 0xfffd;
        return 1;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = 0xfffd;
            return 1;
        }
        c = c << 6 | (s[i] & 0x3f);
    }
    *cp = c;
    return len;
}

static int
is_cjk(unsigned cp)
{
    return (cp >= 0x2e80 && cp <= 0x9fff) || (cp >= 0xac00 && cp <= 0xd7af) ||
           (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xff00 && cp <= 0xffef) ||
           cp >= 0x1f000;
}

size_t
rag_tokens_estimate(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, t = 0, j, run;
    unsigned cp;

    while (i < n) {
        unsigned char c = s[i];
        if (c == '\n' || c == '\r') {
            while (i < n && (s[i] == '\n' || s[i] == '\r'))
                i++;
            t++;
        } else if (c == ' ' || c == '\t') {
            for (j = i; j < n && (s[j] == ' ' || s[j] == '\t'); j++)
                ;
            run = j - i;
            /* one space joins the following word or punctuation */
            if (j < n && s[j] != '\n' && s[j] != '\r')
                run--;
            t += (run + 3) / 4;
            i = j;
        } else if (is_alpha(c)) {
            for (j = i; j < n && is_alpha(s[j]); j++)
                ;
            run = j - i;
            t += run <= LETTERS_ONE
                     ? 1
                     : 1 + (run - LETTERS_ONE + LETTERS_PER - 1) / LETTERS_PER;
            i = j;
        } else if (is_digit(c)) {
            for (j = i; j < n && is_digit(s[j]); j++)
                ;
            t += (j - i + 2) / 3;
            i = j;
        } else if (is_punct(c)) {
            for (j = i; j < n && is_punct(s[j]); j++)
                ;
            /* one non-letter may lead a word ("_init", ".html", "(x"):
             * cl100k's pre-tokenizer puts it in the word's piece */
            if (j < n && is_alpha(s[j]))
                t += (j - i - 1 + PUNCT_PER - 1) / PUNCT_PER;
            else
                t += (j - i + PUNCT_PER - 1) / PUNCT_PER;
            /* cl100k keeps the newlines after punctuation in its token */
            while (j < n && (s[j] == '\n' || s[j] == '\r'))
                j++;
            i = j;
        } else if (c < 0x80) {
            i++; /* other control characters */
            t++;
        } else {
            /* a run of non-ASCII letters: CJK and symbols cost one token
             * per code point, other scripts about one per 2 bytes */
            size_t bytes = 0;
            j = i;
            while (j < n && s[j] >= 0x80) {
                size_t l = utf8_next(s + j, n - j, &cp);
                if (is_cjk(cp) || cp == 0xfffd)
                    t++;
                else
                    bytes += l;
                j += l;
            }
            t += (bytes + 3) / 4;
            i = j;
        }
    }
    return t;
}
