/*
 * rag_url — URL parsing, RFC 3986 reference resolution, normalisation,
 * scope checks for the crawler, and the SSRF guard.
 *
 * All functions write into caller buffers (bounded by outlen, always
 * NUL-terminated on success) and return 0, or -1 when the input is not a
 * usable absolute http(s) URL or does not fit. Nothing is allocated.
 *
 * Normal form (rag_url_normalize): lowercase scheme and host, no default
 * port (:80 for http, :443 for https), dot segments removed, empty path
 * becomes "/", fragment dropped (kept by rag_url_resolve when asked, for
 * Markdown links to "page#section").
 */
#ifndef RAG_URL_H
#define RAG_URL_H

#include <stddef.h>
#include <sys/socket.h>

#define RAG_URL_MAX 2048

typedef struct {
    char scheme[16];        /* "http" | "https" (lowercase) */
    char host[256];         /* lowercase; IPv6 literal without brackets */
    int port;               /* explicit or default */
    int ipv6;               /* host is an IPv6 literal */
    char path[RAG_URL_MAX]; /* path + "?query", starts with "/" */
    char frag[512];         /* without '#', "" if none */
} rag_url;

/* Parses an absolute http(s) URL. */
int rag_url_parse(const char *s, rag_url *u);

/* Writes u back as text; with_frag adds "#frag" when present. */
int rag_url_format(const rag_url *u, int with_frag, char *out, size_t outlen);

/* Normal form of an absolute URL (see above). */
int rag_url_normalize(const char *in, char *out, size_t outlen);

/* Resolves ref (absolute, scheme-relative, absolute-path, relative, or
 * "#frag" / "?q") against an absolute base. keep_frag: keep ref's
 * fragment. Non-http(s) references (mailto:, javascript:, data:) fail. */
int rag_url_resolve(const char *base, const char *ref, int keep_frag, char *out,
                    size_t outlen);

/* 1 when a and b have the same scheme, host and port. */
int rag_url_same_site(const char *a, const char *b);

/* 1 when url (normalised) starts with prefix (normalised, compared
 * byte-wise), e.g. prefix "https://x.org/docs/". */
int rag_url_has_prefix(const char *url, const char *prefix);

/* 1 when the address is loopback, private (RFC 1918, CGNAT 100.64/10),
 * link-local, unique-local (fc00::/7), multicast, unspecified, reserved
 * (0/8, 240/4, broadcast, benchmarking 198.18/15, documentation nets)
 * or an IPv4-mapped/compatible/NAT64/6to4 form of one of those. */
int rag_addr_is_private(const struct sockaddr *sa);

/* SSRF guard: resolves u's host and picks the address curl must use.
 * Fails (with err) when any resolved address is private and
 * allow_private is 0 (any, so a mixed answer cannot be used to reach an
 * internal host). On success writes "host:port:address" into resolve
 * (for CURLOPT_RESOLVE, which pins curl to the vetted address so a
 * second DNS answer cannot rebind it) and the numeric address into
 * addr. */
int rag_url_vet(const rag_url *u, int allow_private, char *resolve,
                size_t resolvelen, char *addr, size_t addrlen, char *err,
                size_t errlen);

#endif
