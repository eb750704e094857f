#include "rag_paths.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
is_dir(const char *p)
{
    struct stat st;

    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *
rag_sql_dir(char *out, size_t outlen)
{
    static const char *const rel[] = {"../sql", "../share/ngx-rag/sql"};
    char exe[PATH_MAX], cand[PATH_MAX + 32];
    const char *env = getenv("RAG_SQL_DIR"), *dir;
    ssize_t n;

    if (env && *env) {
        snprintf(out, outlen, "%s", env);
        return out;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        dir = dirname(exe);
        for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
            snprintf(cand, sizeof(cand), "%s/%s", dir, rel[i]);
            if (is_dir(cand)) {
                /* /usr/bin/../share/ngx-rag/sql -> /usr/share/ngx-rag/sql */
                if (realpath(cand, exe) != NULL)
                    snprintf(out, outlen, "%s", exe);
                else
                    snprintf(out, outlen, "%s", cand);
                return out;
            }
        }
    }
    snprintf(out, outlen, "%s", "/usr/share/ngx-rag/sql");
    return out;
}
