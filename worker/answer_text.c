#include "answer_text.h"

#include "rag_tokens.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char rag_answer_not_covered[] = "The docs do not cover this.";

#define RAG_QUERY_TURN_BYTES 300

size_t
rag_answer_tokens(const char *s, size_t n)
{
    return rag_tokens_estimate(s, n);
}

/* Moves back from p to the start of a UTF-8 character. */
static size_t
utf8_floor(const char *s, size_t i)
{
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

size_t
rag_answer_cut(const char *s, size_t len, size_t max_bytes)
{
    size_t best = 0, word = 0;

    if (len <= max_bytes)
        return len;
    for (size_t i = 0; i < max_bytes; i++) {
        char c = s[i], nx = s[i + 1]; /* i + 1 <= max_bytes < len */

        if ((c == '.' || c == '!' || c == '?') &&
            (nx == ' ' || nx == '\n' || nx == '\t'))
            best = i + 1;
        else if (c == '\n' && nx == '\n')
            best = i;
        if (c == ' ' || c == '\n')
            word = i;
    }
    if (s[max_bytes] == ' ' || s[max_bytes] == '\n')
        word = max_bytes; /* the cut falls right before a space */
    /* a sentence end that keeps at least a third of the room */
    if (best > 0 && best >= max_bytes / 3)
        return best;
    if (word > 0)
        return word;
    return utf8_floor(s, max_bytes);
}

static int
put_cut(rag_buf *b, const char *s, size_t max_bytes)
{
    size_t len = strlen(s), cut = rag_answer_cut(s, len, max_bytes);
    int rc = rag_buf_append(b, s, cut);

    if (rc == 0 && cut < len)
        rc = rag_buf_puts(b, " …");
    return rc;
}

int
rag_answer_query(const char *title, const rag_turn *turns, size_t n,
                 size_t max_bytes, rag_buf *out)
{
    size_t last = n;
    int rc = 0;

    for (size_t i = n; i-- > 0;)
        if (!turns[i].from_bot) {
            last = i;
            break;
        }
    if (title && *title)
        rc |= put_cut(out, title, max_bytes / 4);
    if (last < n) {
        size_t room = max_bytes > out->len ? (max_bytes - out->len) / 2 : 0;

        for (int rep = 0; rep < 2 && room > 8; rep++) {
            rc |= rag_buf_putc(out, '\n');
            rc |= put_cut(out, turns[last].content, room - 4);
        }
    }
    for (size_t i = last; i-- > 0 && last < n;) {
        if (turns[i].from_bot)
            continue;
        if (out->len + 16 >= max_bytes)
            break;
        size_t room = max_bytes - out->len - 4;
        rc |= rag_buf_putc(out, '\n');
        rc |=
            put_cut(out, turns[i].content,
                    room < RAG_QUERY_TURN_BYTES ? room : RAG_QUERY_TURN_BYTES);
    }
    return rc ? -1 : 0;
}

static int
prompt_add(rag_prompt *p, const char *role, char *owned)
{
    if (owned == NULL || p->n >= RAG_PROMPT_MAX_MSGS) {
        free(owned);
        return -1;
    }
    p->owned[p->n] = owned;
    p->msgs[p->n].role = role;
    p->msgs[p->n].content = owned;
    p->n++;
    return 0;
}

void
rag_prompt_free(rag_prompt *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->owned[i]);
    memset(p, 0, sizeof(*p));
}

static char *
cut_dup(const char *s, size_t max_tokens)
{
    rag_buf b;

    rag_buf_init(&b, 0);
    if (put_cut(&b, s, max_tokens * 4) != 0) {
        rag_buf_free(&b);
        return NULL;
    }
    return rag_buf_detach(&b);
}

/* 1 when a passage comes from the guild's community answers. */
static int
any_community(const rag_passage *ps, size_t np)
{
    for (size_t i = 0; i < np; i++)
        if (ps[i].community)
            return 1;
    return 0;
}

int
rag_answer_prompt(const char *product, const char *title, const rag_turn *turns,
                  size_t n, const rag_passage *ps, size_t np,
                  const rag_prompt_limits *lim, rag_prompt *out)
{
    rag_buf sys;
    size_t used, first, keep, passage_room, base;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    rag_buf_init(&sys, 0);
    if (n == 0)
        goto done;
    if (rag_buf_printf(
            &sys,
            "You answer questions in a Discord help forum about %s, using "
            "only the numbered documentation passages below.\n"
            "- Base every statement on the passages and cite them inline "
            "with their numbers in square brackets, like [1] or [2][3].\n"
            "- Never invent features, options, commands or URLs that the "
            "passages do not show.\n"
            "- If the passages do not answer the question, or it is not "
            "about %s, reply with exactly this sentence and nothing else: "
            "%s\n"
            "- Earlier assistant messages are your own previous replies in "
            "this thread; use the whole conversation.\n"
            "- Be concise, friendly and precise. Use Markdown code blocks "
            "for commands and code.\n",
            product, product, rag_answer_not_covered) != 0)
        goto done;
    if (any_community(ps, np) &&
        rag_buf_puts(
            &sys,
            "- Passages titled \"Community answer:\" come from solved "
            "threads of this forum, not from the documentation: prefer the "
            "documentation when both apply, and say so when your answer "
            "relies on a community thread.\n") != 0)
        goto done;
    if (title && *title &&
        (rag_buf_puts(&sys, "\nThread title: ") != 0 ||
         put_cut(&sys, title, 300) != 0 || rag_buf_putc(&sys, '\n') != 0))
        goto done;

    /* The latest turn always goes in; it anchors the budget. */
    used = rag_answer_tokens(sys.data, sys.len) + 60;
    base =
        rag_answer_tokens(turns[n - 1].content, strlen(turns[n - 1].content));
    if (base > lim->turn_tokens)
        base = lim->turn_tokens;
    used += base;

    /* Passages take what is left, except a quarter kept for history. */
    passage_room =
        lim->budget_tokens > used ? (lim->budget_tokens - used) * 3 / 4 : 0;
    if (rag_buf_puts(&sys, "\nDocumentation passages:\n") != 0)
        goto done;
    for (size_t i = 0; i < np; i++) {
        size_t cap = lim->passage_tokens, t, start = sys.len;

        t = rag_answer_tokens(ps[i].body, ps[i].body_len);
        if (t > cap)
            t = cap;
        if (i > 0 && t + 30 > passage_room)
            break;
        if (rag_buf_printf(&sys, "\n[%d] %s", ps[i].n,
                           ps[i].title ? ps[i].title : "") != 0 ||
            (ps[i].heading && *ps[i].heading &&
             rag_buf_printf(&sys, " > %s", ps[i].heading) != 0) ||
            rag_buf_printf(&sys, " (%s)\n", ps[i].url ? ps[i].url : "") != 0)
            goto done;
        {
            size_t cut = rag_answer_cut(ps[i].body, ps[i].body_len, cap * 4);
            if (rag_buf_append(&sys, ps[i].body, cut) != 0 ||
                rag_buf_putc(&sys, '\n') != 0)
                goto done;
        }
        t = rag_answer_tokens(sys.data + start, sys.len - start);
        passage_room = passage_room > t ? passage_room - t : 0;
        used += t;
        out->passages_used = i + 1;
    }
    if (np == 0 && rag_buf_puts(&sys, "(none found)\n") != 0)
        goto done;

    /* Earlier turns, newest first, while the budget lasts. */
    first = n - 1;
    keep = 0;
    while (first > 0 && keep < lim->max_turns &&
           keep + 2 < RAG_PROMPT_MAX_MSGS) {
        const char *c = turns[first - 1].content;
        size_t t = rag_answer_tokens(c, strlen(c));

        if (t > lim->turn_tokens)
            t = lim->turn_tokens;
        if (used + t > lim->budget_tokens)
            break;
        used += t;
        first--;
        keep++;
    }
    out->tokens = used;
    if (prompt_add(out, "system", rag_buf_detach(&sys)) != 0)
        goto done;
    for (size_t i = first; i < n; i++) {
        const char *role = turns[i].from_bot ? "assistant" : "user";

        if (prompt_add(out, role,
                       cut_dup(turns[i].content, lim->turn_tokens)) != 0)
            goto done;
    }
    out->turns_used = n - first;
    rc = 0;
done:
    rag_buf_free(&sys);
    if (rc != 0)
        rag_prompt_free(out);
    return rc;
}

uint32_t
rag_answer_citations(const char *text, size_t np)
{
    uint32_t mask = 0;
    const char *p = text;

    if (np > 32)
        np = 32;
    while ((p = strchr(p, '[')) != NULL) {
        const char *q = p + 1;
        uint32_t m = 0;
        int ok = 0;

        for (;;) {
            char *end;
            long v;

            while (*q == ' ')
                q++;
            if (!isdigit((unsigned char)*q))
                break;
            v = strtol(q, &end, 10);
            q = end;
            if (v >= 1 && (size_t)v <= np)
                m |= 1u << (v - 1);
            while (*q == ' ')
                q++;
            if (*q == ',') {
                q++;
                continue;
            }
            if (*q == ']')
                ok = 1;
            break;
        }
        if (ok)
            mask |= m;
        p++;
    }
    return mask;
}

int
rag_answer_says_not_covered(const char *text, size_t np)
{
    static const char *const phrases[] = {"docs do not cover",
                                          "docs don't cover",
                                          "documentation does not cover",
                                          "documentation doesn't cover",
                                          "not covered by the doc",
                                          "passages do not cover",
                                          "passages don't cover",
                                          "passages do not answer",
                                          "do not contain the answer",
                                          NULL};

    if (rag_answer_citations(text, np) != 0)
        return 0;
    for (int i = 0; phrases[i]; i++)
        if (strcasestr(text, phrases[i]))
            return 1;
    return 0;
}

/* Appends body as a Markdown quote ("> " on every line). */
static int
put_quote(rag_buf *b, const char *s, size_t len)
{
    int rc = rag_buf_puts(b, "> ");

    for (size_t i = 0; i < len && rc == 0; i++) {
        if (s[i] == '\n') {
            while (i + 1 < len && s[i + 1] == '\n')
                i++; /* blank lines would end the quote */
            rc = i + 1 < len ? rag_buf_puts(b, "\n> ") : 0;
        } else {
            rc = rag_buf_putc(b, s[i]);
        }
    }
    return rc;
}

/* What follows the product's name in "Here is what the X docs say": the
 * name may already say it is documentation ("PostgreSQL 15
 * documentation", "Acme Docs", "Python manual"), and "documentation docs"
 * reads wrong. Returns "" (then the verb) or " docs". */
static const char *
docs_noun(const char *product, const char **verb)
{
    static const char *const singular[] = {"documentation", "manual", "guide",
                                           "handbook", "reference"};
    const char *sp = strrchr(product, ' ');
    const char *last = sp ? sp + 1 : product;

    *verb = "say";
    if (strcasecmp(last, "docs") == 0)
        return "";
    for (size_t i = 0; i < sizeof(singular) / sizeof(singular[0]); i++)
        if (strcasecmp(last, singular[i]) == 0) {
            *verb = "says";
            return "";
        }
    return " docs";
}

int
rag_answer_extractive(const char *product, const rag_passage *ps, size_t np,
                      size_t quote_bytes, rag_buf *out)
{
    const char *verb, *noun = docs_noun(product, &verb);
    int community = any_community(ps, np);
    int rc = 0;

    /* with community threads the subject is plural whatever the noun */
    rc |= rag_buf_printf(out, "Here is what the %s%s%s %s:\n", product, noun,
                         community ? " and solved community threads" : "",
                         community ? "say" : verb);
    for (size_t i = 0; i < np; i++) {
        const char *body = ps[i].body;
        size_t len = ps[i].body_len, cut;

        /* skip leading Markdown heading lines: the link names the section */
        while (len > 0 && body[0] == '#') {
            const char *nl = memchr(body, '\n', len);
            if (nl == NULL)
                break;
            len -= (size_t)(nl + 1 - body);
            body = nl + 1;
        }
        while (len > 0 && (body[0] == '\n' || body[0] == ' ')) {
            body++;
            len--;
        }
        cut = rag_answer_cut(body, len, quote_bytes);
        rc |= rag_buf_printf(out, "\n**[%d] %s", ps[i].n,
                             ps[i].title ? ps[i].title : "");
        if (ps[i].heading && *ps[i].heading &&
            strcmp(ps[i].heading, ps[i].title ? ps[i].title : "") != 0)
            rc |= rag_buf_printf(out, " › %s", ps[i].heading);
        rc |= rag_buf_printf(out, "** <%s>\n", ps[i].url ? ps[i].url : "");
        rc |= put_quote(out, body, cut);
        rc |= rag_buf_puts(out, cut < len ? " …\n" : "\n");
    }
    return rc ? -1 : 0;
}

int
rag_answer_abstain_text(const char *product, const char *role_id, rag_buf *out)
{
    int rc = rag_buf_printf(
        out, "I couldn't find this in the %s docs, so I won't guess.", product);

    if (role_id && *role_id)
        rc |= rag_buf_printf(out, " <@&%s> could someone help here?", role_id);
    else
        rc |= rag_buf_puts(out, " A human helper will take a look.");
    return rc ? -1 : 0;
}
