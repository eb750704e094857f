#include "rag_charset.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */
#define META_PRESCAN 1024

/* Length of the valid UTF-8 sequence at s (1-4), or 0 with *skip set to
 * the length of its maximal invalid subpart (>= 1). */
static size_t
utf8_seq(const unsigned char *s, size_t n, size_t *skip)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t need, i;

    *skip = 1;
    if (c >= 0x01 && c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* beyond U+10FFFF */
    } else {
        return 0; /* NUL, continuation byte, C0/C1, F5..FF */
    }
    for (i = 1; i < need; i++) {
        if (i >= n || s[i] < (i == 1 ? lo : 0x80) ||
            s[i] > (i == 1 ? hi : 0xbf)) {
            *skip = i;
            return 0;
        }
    }
    return need;
}

long
rag_utf8_repair(const char *str, size_t n, rag_buf *out)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, start = 0, len, skip;
    long bad = 0;

    while (i < n) {
        if (s[i] >= 0x01 && s[i] < 0x80) {
            i++;
            continue;
        }
        if ((len = utf8_seq(s + i, n - i, &skip)) != 0) {
            i += len;
            continue;
        }
        if (rag_buf_append(out, str + start, i - start) != 0 ||
            rag_buf_append(out, REPLACEMENT, 3) != 0)
            return -1;
        bad++;
        i += skip;
        start = i;
    }
    if (rag_buf_append(out, str + start, n - start) != 0)
        return -1;
    return bad;
}

int
rag_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, len, skip;

    while (i < n) {
        if (s[i] >= 0x01 && s[i] < 0x80) {
            i++;
            continue;
        }
        if ((len = utf8_seq(s + i, n - i, &skip)) == 0)
            return 0;
        i += len;
    }
    return 1;
}

/* Copies a charset label starting at p (optionally quoted) into out. */
static void
copy_label(const char *p, const char *end, char *out, size_t outlen)
{
    size_t n = 0;

    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p < end && (*p == '"' || *p == '\''))
        p++;
    while (p < end && n + 1 < outlen &&
           (isalnum((unsigned char)*p) || strchr("-_.:()", *p)))
        out[n++] = *p++;
    out[n] = '\0';
}

void
rag_charset_from_content_type(const char *ctype, char *out, size_t outlen)
{
    const char *p = ctype, *end;

    out[0] = '\0';
    if (ctype == NULL || outlen == 0)
        return;
    end = ctype + strlen(ctype);
    while ((p = strchr(p, ';')) != NULL) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "charset", 7) == 0) {
            p += 7;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == '=') {
                copy_label(p + 1, end, out, outlen);
                return;
            }
        }
    }
}

/* The charset a <meta> in the first bytes declares (simplified HTML5
 * prescan: every "<meta" tag, its "charset=" attribute or the charset
 * parameter inside http-equiv's content), "" if none. */
static void
meta_charset(const char *html, size_t len, char *out, size_t outlen)
{
    size_t n = len < META_PRESCAN ? len : META_PRESCAN;
    const char *end = html + n, *p = html;

    out[0] = '\0';
    while (p + 5 < end) {
        const char *tag = memchr(p, '<', (size_t)(end - p)), *te, *q;
        if (tag == NULL || tag + 5 >= end)
            return;
        p = tag + 1;
        if (strncasecmp(p, "meta", 4) != 0 ||
            !(isspace((unsigned char)p[4]) || p[4] == '/'))
            continue;
        te = memchr(p, '>', (size_t)(end - p));
        if (te == NULL)
            te = end;
        for (q = p + 4; q + 7 < te; q++) {
            if (strncasecmp(q, "charset", 7) != 0)
                continue;
            const char *v = q + 7;
            while (v < te && (*v == ' ' || *v == '\t'))
                v++;
            if (v < te && *v == '=') {
                copy_label(v + 1, te, out, outlen);
                if (out[0])
                    return;
            }
        }
        p = te;
    }
}

/* The iconv name for a web label (WHATWG differences), "" = UTF-8. */
static void
iconv_name(const char *label, char *out, size_t outlen, int from_meta)
{
    static const char *const cp1252[] = {
        "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1",      "l1",
        "us-ascii",   "ascii",     "cp1252",     "x-cp1252",    "windows-1252",
        "cp819",      "ibm819",    "iso-ir-100", "csisolatin1", NULL};

    out[0] = '\0';
    if (label == NULL || *label == '\0' || strcasecmp(label, "utf-8") == 0 ||
        strcasecmp(label, "utf8") == 0 ||
        strcasecmp(label, "unicode-1-1-utf-8") == 0)
        return;
    for (int i = 0; cp1252[i]; i++)
        if (strcasecmp(label, cp1252[i]) == 0) {
            snprintf(out, outlen, "WINDOWS-1252");
            return;
        }
    /* a UTF-16 page is recognised by its BOM; a <meta> saying so is
     * wrong by definition (it was readable as ASCII) */
    if (from_meta && strncasecmp(label, "utf-16", 6) == 0)
        return;
    snprintf(out, outlen, "%s", label);
}

/* Converts with iconv; invalid or unmappable input becomes U+FFFD. */
static long
convert(iconv_t cd, const char *in, size_t inlen, rag_buf *out)
{
    char tmp[16384];
    char *ip = (char *)in;
    size_t il = inlen;
    long bad = 0;

    while (il > 0) {
        char *op = tmp;
        size_t ol = sizeof(tmp);
        size_t r = iconv(cd, &ip, &il, &op, &ol);
        int e = errno;
        /* whatever iconv produced is valid UTF-8, NULs aside */
        if (op > tmp && rag_utf8_repair(tmp, (size_t)(op - tmp), out) < 0)
            return -1;
        if (r != (size_t)-1)
            continue;
        if (e == E2BIG)
            continue;
        if (e != EILSEQ && e != EINVAL)
            return -1;
        /* invalid, unmappable or truncated input: one U+FFFD per byte */
        if (rag_buf_append(out, REPLACEMENT, 3) != 0)
            return -1;
        bad++;
        ip++;
        il--;
        iconv(cd, NULL, NULL, NULL, NULL); /* reset shift state */
    }
    {
        char *op = tmp;
        size_t ol = sizeof(tmp);
        iconv(cd, NULL, NULL, &op, &ol); /* flush */
        if (op > tmp && rag_utf8_repair(tmp, (size_t)(op - tmp), out) < 0)
            return -1;
    }
    return bad;
}

long
rag_charset_decode_html(const char *html, size_t len, const char *http_charset,
                        rag_buf *out, char *used, size_t usedlen)
{
    const unsigned char *u = (const unsigned char *)html;
    char label[64] = "", name[64];
    int from_meta = 0;
    iconv_t cd;
    long r;

    if (len >= 3 && u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf) {
        html += 3;
        len -= 3;
        snprintf(label, sizeof(label), "UTF-8");
    } else if (len >= 2 && u[0] == 0xff && u[1] == 0xfe) {
        snprintf(label, sizeof(label), "UTF-16LE");
        html += 2;
        len -= 2;
    } else if (len >= 2 && u[0] == 0xfe && u[1] == 0xff) {
        snprintf(label, sizeof(label), "UTF-16BE");
        html += 2;
        len -= 2;
    } else if (http_charset && *http_charset) {
        snprintf(label, sizeof(label), "%s", http_charset);
    } else {
        meta_charset(html, len, label, sizeof(label));
        from_meta = 1;
    }
    iconv_name(label, name, sizeof(name), from_meta);
    if (name[0] && (cd = iconv_open("UTF-8", name)) != (iconv_t)-1) {
        if (used && usedlen)
            snprintf(used, usedlen, "%s", name);
        r = convert(cd, html, len, out);
        iconv_close(cd);
        return r;
    }
    if (used && usedlen)
        snprintf(used, usedlen, "UTF-8");
    return rag_utf8_repair(html, len, out);
}
