/*
 * rag_conf — configuration for the daemons: a "key = value" file plus
 * environment overrides.
 *
 * Lookup order for key "llm_api_key": environment RAG_LLM_API_KEY, then
 * the file, then the caller's default. A key ending in "_file" names a
 * file whose first line is the value (for secrets: "discord_token_file").
 * rag_conf_get("discord_token") checks discord_token, then
 * discord_token_file. Values are never logged.
 *
 * The rag_conf owns every string it returns; they live until
 * rag_conf_free().
 */
#ifndef RAG_CONF_H
#define RAG_CONF_H

#include <stddef.h>
#include <stdio.h>

typedef struct rag_conf rag_conf;

/* path may be NULL (environment only). Returns NULL and fills err on a
 * missing or malformed file. */
rag_conf *rag_conf_load(const char *path, char *err, size_t errlen);
void rag_conf_free(rag_conf *c);

const char *rag_conf_get(rag_conf *c, const char *key, const char *def);
long rag_conf_int(rag_conf *c, const char *key, long def);
double rag_conf_double(rag_conf *c, const char *key, double def);
int rag_conf_bool(rag_conf *c, const char *key, int def);

/* Default database connection string when none is configured:
 * RAG_DATABASE_URL, else PGHOST/PGPORT/... (libpq's own defaults). */
const char *rag_conf_database(rag_conf *c);

/* --- config tables -------------------------------------------------------
 * Every key a program reads is declared once, in a table of key, type,
 * default, validator and doc line (as nginx's ngx_command_t or Redis's
 * config table do). A component declares a section of keys beside the
 * code that uses them; a program's table lists its sections
 * (worker/conf_tables.c). The program checks its table when the file is
 * (re)loaded, so a bad value is an error naming the key, never a silent
 * fallback; the accessors below then read a key through its section, so
 * its default is written nowhere else. README's tables are checked
 * against these by t/91-conf-tables.t. */

typedef enum {
    RAG_CONF_STR,
    RAG_CONF_INT, /* a whole number in [min, max] */
    RAG_CONF_NUM, /* a decimal number in [min, max] */
    RAG_CONF_BOOL /* on/off, yes/no, true/false, 1/0 */
} rag_conf_type;

typedef struct {
    const char *key;
    rag_conf_type type;
    const char *def; /* as a file would spell it; NULL: unset */
    double min, max; /* RAG_CONF_INT, RAG_CONF_NUM */
    /* RAG_CONF_STR: NULL when value is fine, else why not. May be NULL. */
    const char *(*check)(const char *value);
    const char *doc; /* one line */
} rag_conf_key;

typedef struct {
    const char *name;         /* "queue", "llm", ... */
    const rag_conf_key *keys; /* ended by an entry with key NULL */
} rag_conf_section;

typedef struct {
    const char *name;                        /* "rag-worker" */
    const rag_conf_section *const *sections; /* NULL-ended */
} rag_conf_program;

/* Checks every key of prog's sections that is set (file or environment):
 * it parses as its type, lies in range and passes its check. 0, or -1
 * with err naming the first bad key, its value and what is allowed. */
int rag_conf_check(rag_conf *c, const rag_conf_program *prog, char *err,
                   size_t errlen);

/* A key of sec: its value, else the table's default. A key missing from
 * sec is a programming error: logged, and the type's zero returned
 * (t/91-conf-tables.t checks every call's key is in its section). A
 * value that does not parse or is out of range — possible only when the
 * program did not rag_conf_check — reads as the default. */
const char *rag_conf_str(rag_conf *c, const rag_conf_section *sec,
                         const char *key);
long rag_conf_long(rag_conf *c, const rag_conf_section *sec, const char *key);
double rag_conf_num(rag_conf *c, const rag_conf_section *sec, const char *key);
int rag_conf_on(rag_conf *c, const rag_conf_section *sec, const char *key);

/* Loads path (NULL: environment only) and checks it against prog's
 * table. NULL with err filled ("FILE: key = value: why") when the file
 * is unreadable or a value is bad. The caller frees with rag_conf_free. */
rag_conf *rag_conf_load_program(const char *path, const rag_conf_program *prog,
                                char *err, size_t errlen);

/* log_level, the key every program's own section has, and setting the
 * log level from it. */
const char *rag_conf_check_log_level(const char *value);
#define RAG_CONF_LOG_LEVEL(def)                                                \
    {                                                                          \
        "log_level", RAG_CONF_STR, def, 0, 0, rag_conf_check_log_level,        \
            "`debug`, `info`, `warn`, `error` (one structured line per event)" \
    }
void rag_conf_apply_log_level(rag_conf *c, const rag_conf_section *sec);

/* Writes sec's keys as a Markdown table ("key | default | meaning") under
 * its name, the form README.md uses. */
void rag_conf_print(FILE *out, const rag_conf_section *sec);

/* The keys every daemon reads: database_url, index_dir. */
extern const rag_conf_section rag_conf_common;

#endif
