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

#endif
