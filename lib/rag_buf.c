#include "rag_buf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAG_BUF_DEFAULT_MAX (64u * 1024 * 1024)

void
rag_buf_init(rag_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : RAG_BUF_DEFAULT_MAX;
}

void
rag_buf_free(rag_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void
rag_buf_reset(rag_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int
rag_buf_reserve(rag_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (extra > b->max || b->len > b->max - extra)
        return -1;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    p = realloc(b->data, cap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int
rag_buf_append(rag_buf *b, const void *p, size_t n)
{
    if (rag_buf_reserve(b, n) != 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int
rag_buf_puts(rag_buf *b, const char *s)
{
    return rag_buf_append(b, s, strlen(s));
}

int
rag_buf_putc(rag_buf *b, char c)
{
    return rag_buf_append(b, &c, 1);
}

int
rag_buf_vprintf(rag_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    size_t room;
    int n;

    /* one formatting pass when the text fits the room there is (most
     * calls: formatting a double costs as much as the rest) */
    if (b->cap == 0 && rag_buf_reserve(b, 0) != 0)
        return -1;
    room = b->cap - b->len;
    va_copy(cp, ap);
    n = vsnprintf(b->data + b->len, room, fmt, cp);
    va_end(cp);
    if (n < 0) {
        b->data[b->len] = '\0';
        return -1;
    }
    if ((size_t)n >= room || (size_t)n > b->max - b->len) {
        if (rag_buf_reserve(b, (size_t)n) != 0) {
            b->data[b->len] = '\0';
            return -1;
        }
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    }
    b->len += (size_t)n;
    return 0;
}

int
rag_buf_printf(rag_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = rag_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid. */
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
    size_t len, i;
    unsigned cp;

    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Bytes a JSON string holds as they are: ASCII from the space up (DEL
 * included) but '"' and '\\'. */
static const unsigned char json_plain[128] = {
    [' '] = 1, ['!'] = 1, ['#' ... '['] = 1, [']' ... 0x7f] = 1,
};

/* rag_buf_json_str when the worst case (6 bytes a byte: "\u00XX") fits:
 * written straight into the reserved storage, one table look-up a byte,
 * no append call a run (/search writes ~4 KB of strings a request). */
static void
json_str_reserved(rag_buf *b, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *o = b->data + b->len;
    size_t i = 0, l;

    *o++ = '"';
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80 && json_plain[c]) {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c >= 0x80) {
            l = utf8_seq_len(p + i, n - i);
            if (l == 0) {
                memcpy(o, "\xef\xbf\xbd", 3);
                o += 3;
                i++;
            } else {
                memcpy(o, p + i, l);
                o += l;
                i += l;
            }
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
            break;
        }
        i++;
    }
    *o++ = '"';
    *o = '\0';
    b->len = (size_t)(o - b->data);
}

int
rag_buf_json_str(rag_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run, l;
    char esc[8];

    if (b->len <= b->max && b->max - b->len >= 2 &&
        n <= (b->max - b->len - 2) / 6 && rag_buf_reserve(b, 6 * n + 2) == 0) {
        json_str_reserved(b, p, n);
        return 0;
    }
    if (rag_buf_putc(b, '"') != 0)
        return -1;
    while (i < n) {
        /* copy the longest run that needs no escaping in one append */
        run = i;
        while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' &&
               p[run] != '\\')
            run++;
        if (run > i && rag_buf_append(b, p + i, run - i) != 0)
            return -1;
        i = run;
        if (i >= n)
            break;
        if (p[i] >= 0x80) {
            l = utf8_seq_len(p + i, n - i);
            if (l == 0) {
                if (rag_buf_append(b, "\xef\xbf\xbd", 3) != 0)
                    return -1;
                i++;
            } else {
                if (rag_buf_append(b, p + i, l) != 0)
                    return -1;
                i += l;
            }
            continue;
        }
        switch (p[i]) {
        case '"':
            strcpy(esc, "\\\"");
            break;
        case '\\':
            strcpy(esc, "\\\\");
            break;
        case '\n':
            strcpy(esc, "\\n");
            break;
        case '\r':
            strcpy(esc, "\\r");
            break;
        case '\t':
            strcpy(esc, "\\t");
            break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
            break;
        }
        if (rag_buf_puts(b, esc) != 0)
            return -1;
        i++;
    }
    return rag_buf_putc(b, '"');
}

char *
rag_buf_detach(rag_buf *b)
{
    char *p = b->data;

    if (p == NULL)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

/* "%.6g" of a, 0 < a < 1e300, without printf (whose exact arithmetic
 * costs a few hundred ns a number): the six significant digits from one
 * scaling by an exact power of ten (one rounding, relative error below
 * 2^-52), which decides every case but one within 1e-6 of a rounding
 * tie; that one, and exponents outside [-17, 20], return 0 and the
 * caller uses printf. Else the length written to out (>= 16 bytes). */
static size_t
g6_fast(double a, char *out)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    int e = (int)floor(log10(a)), k, nd, i;
    double x, f;
    unsigned long m;
    char dg[8];
    size_t o = 0;

    for (int tries = 0;; tries++) {
        if (e < -17 || e > 20 || tries > 2)
            return 0;
        k = 5 - e; /* x = a * 10^k in [1e5, 1e6) */
        x = k >= 0 ? a * p10[k] : a / p10[-k];
        if (x < 1e5)
            e--;
        else if (x >= 1e6)
            e++;
        else
            break;
    }
    f = x - floor(x);
    if (fabs(f - 0.5) < 1e-6)
        return 0; /* too close to a tie to decide here */
    m = (unsigned long)x + (f > 0.5);
    if (m == 1000000) {
        m = 100000;
        e++;
    }
    for (i = 5; i >= 0; i--) {
        dg[i] = (char)('0' + m % 10);
        m /= 10;
    }
    for (nd = 6; nd > 1 && dg[nd - 1] == '0'; nd--)
        ; /* %g drops trailing zeros */
    if (e < -4 || e >= 6) {
        out[o++] = dg[0];
        if (nd > 1) {
            out[o++] = '.';
            for (i = 1; i < nd; i++)
                out[o++] = dg[i];
        }
        out[o++] = 'e';
        out[o++] = e < 0 ? '-' : '+';
        if (e < 0)
            e = -e;
        if (e >= 10)
            out[o++] = (char)('0' + e / 10);
        else
            out[o++] = '0';
        out[o++] = (char)('0' + e % 10);
    } else if (e >= 0) {
        for (i = 0; i <= e; i++)
            out[o++] = dg[i];
        if (nd > e + 1) {
            out[o++] = '.';
            for (i = e + 1; i < nd; i++)
                out[o++] = dg[i];
        }
    } else {
        out[o++] = '0';
        out[o++] = '.';
        for (i = 0; i < -e - 1; i++)
            out[o++] = '0';
        for (i = 0; i < nd; i++)
            out[o++] = dg[i];
    }
    return o;
}

int
rag_buf_put_g6(rag_buf *b, double v)
{
    char s[32];
    size_t n = 0;

    if (v == 0 && !signbit(v)) {
        s[n++] = '0';
    } else if (isfinite(v) && v != 0) {
        if (v < 0)
            s[n++] = '-';
        size_t g = g6_fast(fabs(v), s + n);
        n = g ? n + g : 0;
    }
    if (n == 0)
        return rag_buf_printf(b, "%.6g", v);
    return rag_buf_append(b, s, n);
}
