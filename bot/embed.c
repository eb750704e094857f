/*
 * embed — answer splitting and Discord JSON bodies (see embed.h).
 */
#include "embed.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define FENCE_CLOSE "```"

typedef struct {
    char **v;
    long n, cap;
} parts_t;

static int
parts_push(parts_t *p, rag_buf *cur)
{
    char *s;
    size_t l = cur->len;

    /* trailing blank lines carry nothing across a split */
    while (l > 0 && cur->data[l - 1] == '\n')
        l--;
    if (l == 0) {
        rag_buf_reset(cur);
        return 0;
    }
    if (p->n == p->cap) {
        long nc = p->cap ? p->cap * 2 : 8;
        char **nv = realloc(p->v, (size_t)nc * sizeof(*nv));
        if (nv == NULL)
            return -1;
        p->v = nv;
        p->cap = nc;
    }
    s = malloc(l + 1);
    if (s == NULL)
        return -1;
    memcpy(s, cur->data, l);
    s[l] = '\0';
    p->v[p->n++] = s;
    rag_buf_reset(cur);
    return 0;
}

/* Largest prefix of s[0..n) that fits max bytes, ending on a UTF-8
 * boundary, preferring the last space. */
static size_t
cut_point(const char *s, size_t n, size_t max)
{
    size_t cut, i;

    if (n <= max)
        return n;
    cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    for (i = cut; i > cut / 2; i--)
        if (s[i - 1] == ' ')
            return i;
    return cut ? cut : max;
}

/* A fence line: optional up-to-3 spaces then ``` (or more). */
static int
is_fence(const char *line, size_t n, const char **lang, size_t *lang_len)
{
    size_t i = 0;

    while (i < n && i < 3 && line[i] == ' ')
        i++;
    if (n - i < 3 || memcmp(line + i, "```", 3) != 0)
        return 0;
    i += 3;
    while (i < n && line[i] == '`')
        i++;
    while (i < n && line[i] == ' ')
        i++;
    *lang = line + i;
    *lang_len = n - i;
    while (*lang_len &&
           ((*lang)[*lang_len - 1] == '\n' || (*lang)[*lang_len - 1] == '\r' ||
            (*lang)[*lang_len - 1] == ' '))
        (*lang_len)--;
    if (*lang_len > 32 || memchr(*lang, '`', *lang_len))
        *lang_len = 0;
    return 1;
}

long
rag_embed_split(const char *text, size_t len, size_t limit, char ***out)
{
    parts_t p = {NULL, 0, 0};
    rag_buf cur;
    char lang[40] = "";
    int in_fence = 0;
    size_t off = 0, head = 0; /* head: reopened fence at part start */

    *out = NULL;
    if (limit < 64)
        return -1;
    rag_buf_init(&cur, limit + 64);
    while (off < len) {
        const char *line = text + off, *nl = memchr(line, '\n', len - off);
        size_t ll = nl ? (size_t)(nl - line) + 1 : len - off;
        const char *lg;
        size_t lgl;
        int fence = is_fence(line, ll, &lg, &lgl);
        /* room for "```" to close a fence that is open after this line */
        int open_after = fence ? !in_fence : in_fence;
        size_t reserve = open_after ? sizeof(FENCE_CLOSE) : 0;

        off += ll;
        while (ll > 0) {
            size_t room, take;

            if (cur.len + ll + reserve <= limit) {
                rag_buf_append(&cur, line, ll);
                break;
            }
            /* a part holding only its reopened fence must take some of
             * the line, or a long line would never fit */
            room = cur.len + sizeof(FENCE_CLOSE) + 1 < limit
                       ? limit - cur.len - sizeof(FENCE_CLOSE) - 1
                       : 0;
            if (room > 0 &&
                (cur.len == head || (ll > limit / 2 && room > 16 && !fence))) {
                take = cut_point(line, ll, room);
                if (rag_buf_append(&cur, line, take) < 0)
                    goto fail;
                line += take;
                ll -= take;
            }
            if (in_fence && cur.len && cur.data[cur.len - 1] != '\n')
                rag_buf_putc(&cur, '\n');
            if (in_fence)
                rag_buf_puts(&cur, FENCE_CLOSE);
            if (parts_push(&p, &cur) < 0)
                goto fail;
            head = 0;
            if (in_fence) {
                rag_buf_printf(&cur, "```%s\n", lang);
                head = cur.len;
            }
        }
        if (fence) {
            if (!in_fence) {
                snprintf(lang, sizeof(lang), "%.*s", (int)lgl, lg);
                in_fence = 1;
            } else {
                in_fence = 0;
                lang[0] = '\0';
            }
        }
    }
    if (parts_push(&p, &cur) < 0)
        goto fail;
    rag_buf_free(&cur);
    *out = p.v;
    return p.n;
fail:
    rag_buf_free(&cur);
    rag_embed_parts_free(p.v, p.n);
    return -1;
}

void
rag_embed_parts_free(char **parts, long n)
{
    long i;

    for (i = 0; parts && i < n; i++)
        free(parts[i]);
    free(parts);
}

static const char *
obj_str(yajl_val o, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(o, path, yajl_t_string);
    return v ? YAJL_GET_STRING(v) : NULL;
}

/* Link text without the characters that end a Markdown link. */
static void
put_link_text(rag_buf *b, const char *s, size_t max)
{
    size_t i;

    for (i = 0; s[i] && i < max; i++) {
        char c = s[i];
        if (c == '[' || c == ']' || c == '\n' || c == '\r')
            c = ' ';
        rag_buf_putc(b, c);
    }
}

/* URL inside <...>: characters that would end it are escaped. */
static void
put_url(rag_buf *b, const char *s, size_t max)
{
    size_t i;

    for (i = 0; s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '<' || c == '>' || c <= ' ' || c == 0x7f)
            rag_buf_printf(b, "%%%02X", c);
        else
            rag_buf_putc(b, (char)c);
    }
}

int
rag_embed_sources_text(const char *sources_json, rag_buf *out)
{
    char errbuf[64];
    yajl_val root;
    rag_buf line;
    size_t i;

    rag_buf_reset(out);
    if (sources_json == NULL || *sources_json != '[' ||
        strlen(sources_json) > (1u << 20))
        return 0;
    root = yajl_tree_parse(sources_json, errbuf, sizeof(errbuf));
    if (root == NULL || !YAJL_IS_ARRAY(root)) {
        yajl_tree_free(root);
        return 0;
    }
    rag_buf_init(&line, 2048);
    for (i = 0; i < root->u.array.len; i++) {
        yajl_val s = root->u.array.values[i], v;
        const char *url = obj_str(s, "url"), *title = obj_str(s, "title"),
                   *heading = obj_str(s, "heading"),
                   *anchor = obj_str(s, "anchor");
        const char *np[] = {"n", NULL}, *sp[] = {"score", NULL};
        long n = (long)i + 1;
        double score = -1;

        if (!YAJL_IS_OBJECT(s) || url == NULL || strncmp(url, "http", 4))
            continue;
        v = yajl_tree_get(s, np, yajl_t_number);
        if (v && YAJL_IS_INTEGER(v))
            n = (long)YAJL_GET_INTEGER(v);
        v = yajl_tree_get(s, sp, yajl_t_number);
        if (v)
            score = YAJL_GET_DOUBLE(v);
        rag_buf_reset(&line);
        rag_buf_printf(&line, "**%ld.** [", n);
        put_link_text(&line, title && *title ? title : url, 120);
        if (heading && *heading) {
            rag_buf_puts(&line, " › ");
            put_link_text(&line, heading, 120);
        }
        rag_buf_puts(&line, "](<");
        put_url(&line, url, 800);
        if (anchor && *anchor && !strchr(url, '#')) {
            rag_buf_putc(&line, '#');
            put_url(&line, anchor, 120);
        }
        rag_buf_puts(&line, ">)");
        if (score >= 0) {
            if (score > 1)
                score = 1;
            rag_buf_printf(&line, " · %d%%", (int)(score * 100 + 0.5));
        }
        rag_buf_putc(&line, '\n');
        if (line.len > 1000 || out->len + line.len > RAG_EMBED_DESC_MAX)
            continue;
        rag_buf_append(out, line.data, line.len);
    }
    if (out->len && out->data[out->len - 1] == '\n')
        out->data[--out->len] = '\0';
    rag_buf_free(&line);
    yajl_tree_free(root);
    return 0;
}

void
rag_embed_nonce(const char *message_id, unsigned part,
                char out[RAG_NONCE_LEN + 1])
{
    static const char b36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    unsigned char md[SHA256_DIGEST_LENGTH];
    int i;

    SHA256((const unsigned char *)message_id, strlen(message_id), md);
    out[0] = b36[part % 36];
    for (i = 0; i < 12; i++)
        snprintf(out + 1 + i * 2, 3, "%02x", md[i]);
    out[RAG_NONCE_LEN] = '\0';
}

int
rag_embed_obj(rag_buf *b, const char *title, const char *desc, size_t desc_len,
              int color)
{
    int rc = rag_buf_putc(b, '{');

    if (title) {
        rc |= rag_buf_puts(b, "\"title\":");
        rc |= rag_buf_json_str(b, title, strnlen(title, RAG_EMBED_TITLE_MAX));
        rc |= rag_buf_putc(b, ',');
    }
    if (desc) {
        if (desc_len > RAG_EMBED_DESC_MAX) {
            desc_len = RAG_EMBED_DESC_MAX;
            while (desc_len && ((unsigned char)desc[desc_len] & 0xC0) == 0x80)
                desc_len--;
        }
        rc |= rag_buf_puts(b, "\"description\":");
        rc |= rag_buf_json_str(b, desc, desc_len);
        rc |= rag_buf_putc(b, ',');
    }
    rc |= rag_buf_printf(b, "\"color\":%d}", color);
    return rc ? -1 : 0;
}

int
rag_embed_simple(rag_buf *b, const char *title, const char *text, int color)
{
    int rc = rag_buf_puts(b, "{\"embeds\":[");
    rc |= rag_embed_obj(b, title, text, text ? strlen(text) : 0, color);
    rc |= rag_buf_puts(b, "]}");
    return rc ? -1 : 0;
}

/* Role mentions ("<@&123>") found in text, space-separated, at most 5:
 * mentions inside embeds notify nobody, so an abstain that asks the
 * helper role for help repeats them in the message content. */
static void
role_mentions(const char *text, rag_buf *out)
{
    const char *p = text;
    int n = 0;

    while (n < 5 && (p = strstr(p, "<@&")) != NULL) {
        size_t d = strspn(p + 3, "0123456789");
        if (d > 0 && d < 24 && p[3 + d] == '>') {
            rag_buf_printf(out, "%s%.*s", n ? " " : "", (int)(d + 4), p);
            n++;
        }
        p += 3;
    }
}

static int
msg_begin(rag_buf *m, const char *message_id, unsigned part,
          const char *content)
{
    char nonce[RAG_NONCE_LEN + 1];
    int rc;

    rag_embed_nonce(message_id, part, nonce);
    rag_buf_init(m, 64 * 1024);
    rc = rag_buf_printf(m,
                        "{\"nonce\":\"%s\",\"enforce_nonce\":true,"
                        "\"allowed_mentions\":{\"parse\":[\"users\","
                        "\"roles\"]},",
                        nonce);
    if (content && *content) {
        rc |= rag_buf_puts(m, "\"content\":");
        rc |= rag_buf_json_str(m, content, strlen(content));
        rc |= rag_buf_putc(m, ',');
    }
    rc |= rag_buf_puts(m, "\"embeds\":[");
    return rc ? -1 : 0;
}

long
rag_embed_reply_messages(const char *content, const char *sources_json,
                         const char *message_id, int abstained,
                         rag_buf **msgs_out)
{
    char **parts = NULL;
    long np, i, nm = 0;
    rag_buf *msgs = NULL, src, ping;
    size_t total = 0, len = strlen(content);
    int embeds = 0;
    const char *title = abstained ? "Not in the docs" : "Help Response";
    const char *stitle = "Sources";

    *msgs_out = NULL;
    if (len > RAG_REPLY_MAX)
        len = RAG_REPLY_MAX;
    np = rag_embed_split(content, len, RAG_EMBED_DESC_MAX, &parts);
    if (np < 0)
        return -1;
    rag_buf_init(&src, RAG_EMBED_DESC_MAX + 16);
    rag_buf_init(&ping, 256);
    rag_embed_sources_text(sources_json, &src);
    if (abstained)
        role_mentions(content, &ping);
    /* worst case one message per part plus one for sources */
    msgs = calloc((size_t)np + 2, sizeof(*msgs));
    if (msgs == NULL)
        goto fail;
    for (i = 0; i <= np; i++) {
        const char *t = i == 0 ? title : NULL, *d;
        size_t dl, need;

        if (i == np) { /* the sources embed, or an empty answer */
            if (src.len == 0 && np > 0)
                break;
            t = src.len ? stitle : title;
            d = src.len ? src.data : "(empty answer)";
        } else {
            d = parts[i];
        }
        dl = strlen(d);
        need = dl + (t ? strlen(t) : 0);
        if (nm == 0 || embeds == RAG_EMBED_PER_MSG ||
            total + need > RAG_EMBED_TOTAL_MAX) {
            if (nm > 0 && rag_buf_puts(&msgs[nm - 1], "]}") < 0)
                goto fail;
            if (msg_begin(&msgs[nm], message_id, (unsigned)nm,
                          nm == 0 ? ping.data : NULL) < 0)
                goto fail;
            nm++;
            total = 0;
            embeds = 0;
        }
        if (embeds && rag_buf_putc(&msgs[nm - 1], ',') < 0)
            goto fail;
        if (rag_embed_obj(&msgs[nm - 1], t, d, dl,
                          i == np && src.len ? RAG_COLOR_SOURCES
                          : abstained        ? RAG_COLOR_WARN
                                             : RAG_COLOR_ANSWER) < 0)
            goto fail;
        total += need;
        embeds++;
    }
    if (nm > 0 && rag_buf_puts(&msgs[nm - 1], "]}") < 0)
        goto fail;
    rag_embed_parts_free(parts, np);
    rag_buf_free(&src);
    rag_buf_free(&ping);
    *msgs_out = msgs;
    return nm;
fail:
    for (i = 0; msgs && i < nm; i++)
        rag_buf_free(&msgs[i]);
    free(msgs);
    rag_embed_parts_free(parts, np);
    rag_buf_free(&src);
    rag_buf_free(&ping);
    return -1;
}

static const char *const loading[] = {
    "🤖 Reading the docs for you, this might take a couple of minutes... "
    "beep boop",
    "🤖 Searching the documentation, hang tight... beep boop",
    "🤖 Looking through the docs for an answer... beep boop",
};

int
rag_embed_controller_json(rag_buf *b, const rag_controller *c)
{
    rag_buf t;
    int rc = 0;
    unsigned h = 0;
    const char *p;

    rag_buf_init(&t, 4096);
    if (c->answered) {
        /* an unknown id gets words, not a mention that pings nobody */
        if (c->author_id && *c->author_id)
            rc |= rag_buf_printf(&t, "<@%s> can vote", c->author_id);
        else
            rc |= rag_buf_puts(&t, "The person who asked can vote");
        rc |= rag_buf_puts(
            &t, " on **this message** with a ✅ when the question "
                "is solved.\n\nAnyone can vote ❌ if the answer is unhelpful or "
                "wrong; votes help us improve the docs.\n\nTo continue "
                "talking with the bot, reply in this thread and mention ");
        if (c->bot_id && *c->bot_id)
            rc |= rag_buf_printf(&t, "<@%s>.", c->bot_id);
        else
            rc |= rag_buf_puts(&t, "the bot.");
    } else {
        for (p = c->thread_id ? c->thread_id : ""; *p; p++)
            h = h * 31 + (unsigned char)*p;
        rc |= rag_buf_puts(&t, loading[h % 3]);
    }
    rc |= rag_buf_putc(b, '{');
    if (c->nonce)
        rc |= rag_buf_printf(b, "\"nonce\":\"%.25s\",\"enforce_nonce\":true,",
                             c->nonce);
    rc |= rag_buf_puts(b, "\"embeds\":[");
    rc |= rag_embed_obj(b, "Help Bot Thread Information", t.data, t.len,
                        RAG_COLOR_INFO);
    if (c->solved) {
        rc |= rag_buf_putc(b, ',');
        p = "This post has been marked as solved!";
        rc |= rag_embed_obj(b, NULL, p, strlen(p), RAG_COLOR_SOLVED);
    } else if (c->was_solved) {
        rc |= rag_buf_putc(b, ',');
        p = "Hmm... At one point this post was marked as solved, but it no "
            "longer is. Maybe this is out of date?";
        rc |= rag_embed_obj(b, NULL, p, strlen(p), RAG_COLOR_WARN);
    }
    if (!c->open) {
        rc |= rag_buf_putc(b, ',');
        p = "This post has been closed.";
        rc |= rag_embed_obj(b, NULL, p, strlen(p), RAG_COLOR_CLOSED);
    }
    rc |= rag_buf_puts(b, "]}");
    rag_buf_free(&t);
    return rc ? -1 : 0;
}
