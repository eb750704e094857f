#include "rag_url.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Copies s[0..n) into out with percent-encoding of bytes that may not
 * appear raw in a URL (space, controls, quotes, non-ASCII). */
static int
copy_enc(char *out, size_t outlen, size_t *pos, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = *pos;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' ||
            c == '\\' || c == '^' || c == '`' || c == '{' || c == '|' ||
            c == '}') {
            if (o + 3 >= outlen)
                return -1;
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            if (o + 1 >= outlen)
                return -1;
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    *pos = o;
    return 0;
}

/* RFC 3986 5.2.4 over the path part only (query untouched). */
static void
remove_dots(char *path)
{
    char in[RAG_URL_MAX], out[RAG_URL_MAX], query[RAG_URL_MAX] = "";
    char *q = strchr(path, '?'), *p;
    size_t o = 0;

    if (q) {
        snprintf(query, sizeof(query), "%s", q);
        *q = '\0';
    }
    snprintf(in, sizeof(in), "%s", path);
    p = in;
    while (*p) {
        if (strncmp(p, "../", 3) == 0) {
            p += 3;
        } else if (strncmp(p, "./", 2) == 0) {
            p += 2;
        } else if (strncmp(p, "/./", 3) == 0) {
            p += 2;
        } else if (strcmp(p, "/.") == 0) {
            p[1] = '\0'; /* "/." -> "/" */
        } else if (strncmp(p, "/../", 4) == 0 || strcmp(p, "/..") == 0) {
            if (p[3] == '\0') {
                p += 2;
                p[0] = '/'; /* "/.." -> "/" */
            } else {
                p += 3;
            }
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else if (strcmp(p, ".") == 0 || strcmp(p, "..") == 0) {
            break;
        } else {
            char *slash = strchr(p + (*p == '/'), '/');
            size_t n = slash ? (size_t)(slash - p) : strlen(p);
            if (o + n >= sizeof(out))
                break;
            memcpy(out + o, p, n);
            o += n;
            p += n;
        }
    }
    out[o] = '\0';
    snprintf(path, RAG_URL_MAX, "%s%s%s", o && out[0] == '/' ? "" : "/", out,
             query);
}

static int
default_port(const char *scheme)
{
    return strcmp(scheme, "https") == 0 ? 443 : 80;
}

int
rag_url_parse(const char *s, rag_url *u)
{
    const char *p, *auth, *auth_end, *h, *h_end;
    size_t n, pos = 0;

    memset(u, 0, sizeof(*u));
    if (s == NULL)
        return -1;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    p = strstr(s, "://");
    if (p == NULL || p == s || (size_t)(p - s) >= sizeof(u->scheme))
        return -1;
    for (n = 0; s + n < p; n++)
        u->scheme[n] = (char)tolower((unsigned char)s[n]);
    u->scheme[n] = '\0';
    if (strcmp(u->scheme, "http") != 0 && strcmp(u->scheme, "https") != 0)
        return -1;
    auth = p + 3;
    auth_end = auth + strcspn(auth, "/?#");
    /* userinfo is refused: "http://good@evil/" confuses people and
     * filters; documentation sites never need it */
    if (memchr(auth, '@', (size_t)(auth_end - auth)))
        return -1;
    if (*auth == '[') {
        h = auth + 1;
        h_end = memchr(h, ']', (size_t)(auth_end - h));
        if (h_end == NULL)
            return -1;
        u->ipv6 = 1;
        p = h_end + 1;
    } else {
        h = auth;
        h_end = memchr(h, ':', (size_t)(auth_end - h));
        if (h_end == NULL)
            h_end = auth_end;
        p = h_end;
    }
    n = (size_t)(h_end - h);
    if (n == 0 || n >= sizeof(u->host))
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c <= 0x20 || c == '%' || c == '\\' || c >= 0x7f)
            return -1;
        u->host[i] = (char)tolower(c);
    }
    u->host[n] = '\0';
    while (n > 0 && u->host[n - 1] == '.' && !u->ipv6)
        u->host[--n] = '\0'; /* "example.org." == "example.org" */
    if (n == 0)
        return -1;
    u->port = default_port(u->scheme);
    if (p < auth_end) {
        if (*p != ':')
            return -1;
        p++;
        if (p < auth_end) {
            long port = 0;
            for (; p < auth_end; p++) {
                if (!isdigit((unsigned char)*p))
                    return -1;
                port = port * 10 + (*p - '0');
                if (port > 65535)
                    return -1;
            }
            if (port == 0)
                return -1;
            u->port = (int)port;
        }
    }
    p = auth_end;
    n = strcspn(p, "#");
    if (*p != '/') {
        u->path[0] = '/';
        pos = 1;
    }
    if (copy_enc(u->path, sizeof(u->path), &pos, p, n) != 0)
        return -1;
    /* trailing whitespace from sloppy hrefs was encoded: trim it */
    while (pos >= 3 && strcmp(u->path + pos - 3, "%20") == 0) {
        pos -= 3;
        u->path[pos] = '\0';
    }
    remove_dots(u->path);
    if (p[n] == '#') {
        pos = 0;
        const char *f = p + n + 1;
        size_t fl = strlen(f);
        while (fl && isspace((unsigned char)f[fl - 1]))
            fl--;
        if (copy_enc(u->frag, sizeof(u->frag), &pos, f, fl) != 0)
            return -1;
    }
    return 0;
}

int
rag_url_format(const rag_url *u, int with_frag, char *out, size_t outlen)
{
    char port[16] = "";
    int n;

    if (u->port != default_port(u->scheme))
        snprintf(port, sizeof(port), ":%d", u->port);
    n = snprintf(out, outlen, "%s://%s%s%s%s%s%s", u->scheme,
                 u->ipv6 ? "[" : "", u->host, u->ipv6 ? "]" : "", port, u->path,
                 with_frag && u->frag[0] ? "#" : "");
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    if (with_frag && u->frag[0]) {
        size_t fl = strlen(u->frag);
        if ((size_t)n + fl >= outlen)
            return -1;
        memcpy(out + n, u->frag, fl + 1);
    }
    return 0;
}

int
rag_url_normalize(const char *in, char *out, size_t outlen)
{
    rag_url u;

    if (rag_url_parse(in, &u) != 0)
        return -1;
    return rag_url_format(&u, 0, out, outlen);
}

static int
has_scheme(const char *ref)
{
    const char *p = ref;

    if (!isalpha((unsigned char)*p))
        return 0;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    return *p == ':';
}

int
rag_url_resolve(const char *base, const char *ref, int keep_frag, char *out,
                size_t outlen)
{
    rag_url b, r;
    char tmp[RAG_URL_MAX * 2];
    size_t pos = 0;

    if (rag_url_parse(base, &b) != 0 || ref == NULL)
        return -1;
    while (*ref == ' ' || *ref == '\t' || *ref == '\n' || *ref == '\r')
        ref++;
    if (has_scheme(ref)) {
        /* already absolute: used as is, never glued onto the base (the
         * original scraper produced "https://docs.x/https://x/app") */
        if (rag_url_parse(ref, &r) != 0)
            return -1;
        return rag_url_format(&r, keep_frag, out, outlen);
    }
    if (ref[0] == '/' && ref[1] == '/') {
        if (snprintf(tmp, sizeof(tmp), "%s:%s", b.scheme, ref) >=
            (int)sizeof(tmp))
            return -1;
        if (rag_url_parse(tmp, &r) != 0)
            return -1;
        return rag_url_format(&r, keep_frag, out, outlen);
    }
    r = b;
    r.frag[0] = '\0';
    if (ref[0] == '\0')
        return rag_url_format(&r, 0, out, outlen);
    if (ref[0] == '#') {
        pos = 0;
        size_t fl = strlen(ref + 1);
        while (fl && isspace((unsigned char)ref[fl]))
            fl--;
        if (copy_enc(r.frag, sizeof(r.frag), &pos, ref + 1, fl) != 0)
            return -1;
        return rag_url_format(&r, keep_frag, out, outlen);
    }
    if (ref[0] == '?') {
        char *q = strchr(r.path, '?');
        if (q)
            *q = '\0';
        pos = strlen(r.path);
    } else if (ref[0] == '/') {
        pos = 0;
    } else {
        char *q = strchr(r.path, '?');
        if (q)
            *q = '\0';
        char *slash = strrchr(r.path, '/');
        pos = slash ? (size_t)(slash - r.path) + 1 : 0;
    }
    r.path[pos] = '\0';
    size_t n = strcspn(ref, "#");
    if (copy_enc(r.path, sizeof(r.path), &pos, ref, n) != 0)
        return -1;
    while (pos >= 3 && strcmp(r.path + pos - 3, "%20") == 0) {
        pos -= 3;
        r.path[pos] = '\0';
    }
    remove_dots(r.path);
    if (ref[n] == '#') {
        pos = 0;
        const char *f = ref + n + 1;
        size_t fl = strlen(f);
        while (fl && isspace((unsigned char)f[fl - 1]))
            fl--;
        if (copy_enc(r.frag, sizeof(r.frag), &pos, f, fl) != 0)
            return -1;
    }
    return rag_url_format(&r, keep_frag, out, outlen);
}

int
rag_url_same_site(const char *a, const char *b)
{
    rag_url ua, ub;

    if (rag_url_parse(a, &ua) != 0 || rag_url_parse(b, &ub) != 0)
        return 0;
    return strcmp(ua.scheme, ub.scheme) == 0 && strcmp(ua.host, ub.host) == 0 &&
           ua.port == ub.port;
}

int
rag_url_has_prefix(const char *url, const char *prefix)
{
    char a[RAG_URL_MAX], b[RAG_URL_MAX];
    size_t n;

    if (rag_url_normalize(url, a, sizeof(a)) != 0 ||
        rag_url_normalize(prefix, b, sizeof(b)) != 0)
        return 0;
    n = strlen(b);
    return strncmp(a, b, n) == 0;
}

static int
v4_private(uint32_t a)
{
    uint8_t o1 = (uint8_t)(a >> 24), o2 = (uint8_t)(a >> 16);
    uint8_t o3 = (uint8_t)(a >> 8);

    return o1 == 0 ||                              /* this network */
           o1 == 10 ||                             /* RFC 1918 */
           o1 == 127 ||                            /* loopback */
           (o1 == 100 && (o2 & 0xc0) == 64) ||     /* CGNAT */
           (o1 == 169 && o2 == 254) ||             /* link-local */
           (o1 == 172 && (o2 & 0xf0) == 16) ||     /* RFC 1918 */
           (o1 == 192 && o2 == 0 && o3 == 0) ||    /* IETF protocol */
           (o1 == 192 && o2 == 0 && o3 == 2) ||    /* TEST-NET-1 */
           (o1 == 192 && o2 == 168) ||             /* RFC 1918 */
           (o1 == 198 && (o2 & 0xfe) == 18) ||     /* benchmarking */
           (o1 == 198 && o2 == 51 && o3 == 100) || /* TEST-NET-2 */
           (o1 == 203 && o2 == 0 && o3 == 113) ||  /* TEST-NET-3 */
           o1 >= 224; /* multicast, reserved, broadcast */
}

int
rag_addr_is_private(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        return v4_private(ntohl(s4->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        const uint8_t *b = s6->sin6_addr.s6_addr;
        static const uint8_t zero[16];
        uint32_t v4;

        if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
            return 1; /* :: and ::1 */
        if (b[0] == 0xff)
            return 1; /* multicast */
        if ((b[0] & 0xfe) == 0xfc)
            return 1; /* unique local fc00::/7 */
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
            return 1; /* link-local fe80::/10 */
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
            return 1; /* deprecated site-local fec0::/10 */
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
            return 1; /* documentation 2001:db8::/32 */
        /* IPv4 embedded: mapped ::ffff:a.b.c.d, compatible ::a.b.c.d,
         * NAT64 64:ff9b::/96 — judge the IPv4 address inside */
        if ((memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff) ||
            memcmp(b, zero, 12) == 0 ||
            (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
             memcmp(b + 4, zero, 8) == 0)) {
            v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
                 (uint32_t)b[14] << 8 | b[15];
            return v4_private(v4);
        }
        if (b[0] == 0x20 && b[1] == 0x02) { /* 6to4 2002:V4ADDR::/48 */
            v4 = (uint32_t)b[2] << 24 | (uint32_t)b[3] << 16 |
                 (uint32_t)b[4] << 8 | b[5];
            return v4_private(v4);
        }
        return 0;
    }
    return 1; /* unknown families are never fetched */
}

int
rag_url_vet(const rag_url *u, int allow_private, char *resolve,
            size_t resolvelen, char *addr, size_t addrlen, char *err,
            size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    char buf[INET6_ADDRSTRLEN], chosen[INET6_ADDRSTRLEN] = "";
    int rc = -1, g, n;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    g = getaddrinfo(u->host, NULL, &hints, &res);
    if (g != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", u->host,
                 gai_strerror(g));
        goto done;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        const void *a =
            ai->ai_family == AF_INET
                ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)
                      ->sin6_addr;
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        if (inet_ntop(ai->ai_family, a, buf, sizeof(buf)) == NULL)
            continue;
        if (!allow_private && rag_addr_is_private(ai->ai_addr)) {
            snprintf(err, errlen,
                     "refusing %s: it resolves to a private or reserved "
                     "address (%s); use --allow-private to permit",
                     u->host, buf);
            goto done;
        }
        if (chosen[0] == '\0')
            snprintf(chosen, sizeof(chosen), "%s", buf);
    }
    if (chosen[0] == '\0') {
        snprintf(err, errlen, "no usable address for %s", u->host);
        goto done;
    }
    n = strchr(chosen, ':') ? snprintf(resolve, resolvelen, "%s:%d:[%s]",
                                       u->host, u->port, chosen)
                            : snprintf(resolve, resolvelen, "%s:%d:%s", u->host,
                                       u->port, chosen);
    if (n < 0 || (size_t)n >= resolvelen) {
        snprintf(err, errlen, "host name too long");
        goto done;
    }
    snprintf(addr, addrlen, "%s", chosen);
    rc = 0;
done:
    if (res)
        freeaddrinfo(res);
    return rc;
}
