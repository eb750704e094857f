#include "rag_conf.h"

#include "rag_collection.h"
#include "rag_log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAG_CONF_MAX_ENTRIES 256
#define RAG_CONF_MAX_LINE 4096

struct rag_conf {
    size_t n;
    char *keys[RAG_CONF_MAX_ENTRIES];
    char *vals[RAG_CONF_MAX_ENTRIES];
};

static char *
trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int
conf_put(rag_conf *c, const char *k, const char *v)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->keys[i], k) == 0) {
            char *nv = strdup(v);
            if (nv == NULL)
                return -1;
            free(c->vals[i]);
            c->vals[i] = nv;
            return 0;
        }
    }
    if (c->n == RAG_CONF_MAX_ENTRIES)
        return -1;
    c->keys[c->n] = strdup(k);
    c->vals[c->n] = strdup(v);
    if (c->keys[c->n] == NULL || c->vals[c->n] == NULL) {
        free(c->keys[c->n]);
        free(c->vals[c->n]);
        return -1;
    }
    c->n++;
    return 0;
}

rag_conf *
rag_conf_load(const char *path, char *err, size_t errlen)
{
    char line[RAG_CONF_MAX_LINE], *p, *eq, *k, *v;
    rag_conf *c;
    FILE *f = NULL;
    int lineno = 0;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (path == NULL)
        return c;
    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            goto fail;
        }
        p = trim(line);
        if (*p == '\0' || *p == '#')
            continue;
        eq = strchr(p, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
            goto fail;
        }
        *eq = '\0';
        k = trim(p);
        v = trim(eq + 1);
        /* allow "quoted values" so a value may keep edge spaces or '#' */
        if (v[0] == '"' && strlen(v) >= 2 && v[strlen(v) - 1] == '"') {
            v[strlen(v) - 1] = '\0';
            v++;
        }
        if (*k == '\0' || conf_put(c, k, v) != 0) {
            snprintf(err, errlen, "%s:%d: bad or too many keys", path, lineno);
            goto fail;
        }
    }
    fclose(f);
    return c;
fail:
    if (f)
        fclose(f);
    rag_conf_free(c);
    return NULL;
}

void
rag_conf_free(rag_conf *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->keys[i]);
        free(c->vals[i]);
    }
    free(c);
}

static const char *
conf_lookup(rag_conf *c, const char *key)
{
    char env[160];
    size_t i;
    const char *v;

    if (snprintf(env, sizeof(env), "RAG_%s", key) < (int)sizeof(env)) {
        for (i = 4; env[i]; i++)
            env[i] = (char)toupper((unsigned char)env[i]);
        v = getenv(env);
        if (v)
            return v;
    }
    for (i = 0; c && i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0)
            return c->vals[i];
    return NULL;
}

/* Reads the first line of a secret file into the conf under key. */
static const char *
conf_from_file(rag_conf *c, const char *key, const char *path)
{
    char line[RAG_CONF_MAX_LINE];
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return NULL;
    if (fgets(line, sizeof(line), f) == NULL)
        line[0] = '\0';
    fclose(f);
    if (conf_put(c, key, trim(line)) != 0)
        return NULL;
    return conf_lookup(c, key);
}

const char *
rag_conf_get(rag_conf *c, const char *key, const char *def)
{
    char fkey[128];
    const char *v, *path;

    v = conf_lookup(c, key);
    if (v)
        return v;
    if (snprintf(fkey, sizeof(fkey), "%s_file", key) < (int)sizeof(fkey)) {
        path = conf_lookup(c, fkey);
        if (path && c) {
            v = conf_from_file(c, key, path);
            if (v)
                return v;
        }
    }
    return def;
}

long
rag_conf_int(rag_conf *c, const char *key, long def)
{
    const char *v = rag_conf_get(c, key, NULL);
    char *end;
    long n;

    if (v == NULL || *v == '\0')
        return def;
    errno = 0;
    n = strtol(v, &end, 10);
    return (errno || *end) ? def : n;
}

double
rag_conf_double(rag_conf *c, const char *key, double def)
{
    const char *v = rag_conf_get(c, key, NULL);
    char *end;
    double d;

    if (v == NULL || *v == '\0')
        return def;
    d = strtod(v, &end);
    return *end ? def : d;
}

static int
parse_bool(const char *v, int *out)
{
    if (!strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "true") ||
        !strcasecmp(v, "on"))
        *out = 1;
    else if (!strcmp(v, "0") || !strcasecmp(v, "no") ||
             !strcasecmp(v, "false") || !strcasecmp(v, "off"))
        *out = 0;
    else
        return -1;
    return 0;
}

int
rag_conf_bool(rag_conf *c, const char *key, int def)
{
    const char *v = rag_conf_get(c, key, NULL);
    int b;

    return v && parse_bool(v, &b) == 0 ? b : def;
}

const char *
rag_conf_database(rag_conf *c)
{
    return rag_conf_get(c, "database_url", "");
}

/* --- config tables ----------------------------------------------------- */

const char *
rag_conf_check_log_level(const char *v)
{
    return rag_log_parse_level(v) < 0 ? "must be debug, info, warn or error"
                                      : NULL;
}

const rag_conf_section rag_conf_common = {
    "common",
    (const rag_conf_key[]){
        {"database_url", RAG_CONF_STR, NULL, 0, 0, NULL,
         "libpq connection string (default: libpq's `PG*` environment)"},
        {"index_dir", RAG_CONF_STR, RAG_INDEX_DIR_DEFAULT, 0, 0,
         rag_index_dir_check,
         "where `<collection>.idx` files are written and read"},
        {NULL, 0, NULL, 0, 0, NULL, NULL},
    },
};

static const rag_conf_key *
table_key(const rag_conf_section *sec, const char *key)
{
    for (const rag_conf_key *k = sec->keys; k->key; k++)
        if (strcmp(k->key, key) == 0)
            return k;
    rag_error("msg=\"config key not in its table\" section=%s key=%s",
              sec->name, key);
    return NULL;
}

/* Parses v as k's type into *num (numbers and booleans). NULL when fine,
 * else why not. */
static const char *
key_parse(const rag_conf_key *k, const char *v, double *num)
{
    char *end;
    int b;

    switch (k->type) {
    case RAG_CONF_STR:
        return k->check ? k->check(v) : NULL;
    case RAG_CONF_BOOL:
        if (parse_bool(v, &b) != 0)
            return "must be on or off";
        *num = b;
        return NULL;
    case RAG_CONF_INT:
        errno = 0;
        *num = (double)strtol(v, &end, 10);
        if (errno || end == v || *end)
            return "must be a whole number";
        break;
    case RAG_CONF_NUM:
        errno = 0;
        *num = strtod(v, &end);
        if (errno || end == v || *end || *num != *num)
            return "must be a number";
        break;
    }
    if (*num < k->min || *num > k->max)
        return "out of range";
    return NULL;
}

int
rag_conf_check(rag_conf *c, const rag_conf_program *prog, char *err,
               size_t errlen)
{
    for (size_t s = 0; prog->sections[s]; s++) {
        for (const rag_conf_key *k = prog->sections[s]->keys; k->key; k++) {
            const char *v = rag_conf_get(c, k->key, NULL), *why;
            double num;

            /* "key =" with nothing after it leaves a number unset */
            if (v == NULL || (*v == '\0' && k->type != RAG_CONF_STR))
                continue;
            if ((why = key_parse(k, v, &num)) == NULL)
                continue;
            if (k->type == RAG_CONF_INT || k->type == RAG_CONF_NUM)
                snprintf(err, errlen, "%s = \"%s\": %s (%g to %g)", k->key, v,
                         why, k->min, k->max);
            else
                snprintf(err, errlen, "%s = \"%s\": %s", k->key, v, why);
            return -1;
        }
    }
    return 0;
}

const char *
rag_conf_str(rag_conf *c, const rag_conf_section *sec, const char *key)
{
    const rag_conf_key *k = table_key(sec, key);

    return k ? rag_conf_get(c, key, k->def) : NULL;
}

/* The value of a numeric or boolean key, else its default, else 0. */
static double
key_num(rag_conf *c, const rag_conf_section *sec, const char *key)
{
    const rag_conf_key *k = table_key(sec, key);
    const char *v;
    double num = 0;

    if (k == NULL)
        return 0;
    v = rag_conf_get(c, key, NULL);
    if (v && *v && key_parse(k, v, &num) == NULL)
        return num;
    if (k->def == NULL || key_parse(k, k->def, &num) != NULL)
        return 0;
    return num;
}

long
rag_conf_long(rag_conf *c, const rag_conf_section *sec, const char *key)
{
    return (long)key_num(c, sec, key);
}

double
rag_conf_num(rag_conf *c, const rag_conf_section *sec, const char *key)
{
    return key_num(c, sec, key);
}

int
rag_conf_on(rag_conf *c, const rag_conf_section *sec, const char *key)
{
    return key_num(c, sec, key) != 0;
}

void
rag_conf_print(FILE *out, const rag_conf_section *sec)
{
    fprintf(out, "\n**%s**\n\n| key | default | meaning |\n|---|---|---|\n",
            sec->name);
    for (const rag_conf_key *k = sec->keys; k->key; k++) {
        const char *d = k->def && *k->def ? k->def : NULL;

        fprintf(out, "| `%s` | %s%s%s | %s |\n", k->key, d ? "`" : "",
                d ? d : "—", d ? "`" : "", k->doc);
    }
}

rag_conf *
rag_conf_load_program(const char *path, const rag_conf_program *prog, char *err,
                      size_t errlen)
{
    rag_conf *c = rag_conf_load(path, err, errlen);
    char why[400];

    if (c == NULL)
        return NULL;
    if (rag_conf_check(c, prog, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s: %s", path ? path : "environment", why);
        rag_conf_free(c);
        return NULL;
    }
    return c;
}

void
rag_conf_apply_log_level(rag_conf *c, const rag_conf_section *sec)
{
    int lvl = rag_log_parse_level(rag_conf_str(c, sec, "log_level"));

    if (lvl >= 0)
        rag_log_set_level((enum rag_log_level)lvl);
}
