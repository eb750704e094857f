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
    char exe[PATH_MAX], cand[PATH_MAX + 16];
    const char *env = getenv("RAG_SQL_DIR");
    ssize_t n;

    if (env && *env) {
        snprintf(out, outlen, "%s", env);
        return out;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        snprintf(cand, sizeof(cand), "%s/../sql", dirname(exe));
        if (is_dir(cand)) {
            snprintf(out, outlen, "%s", cand);
            return out;
        }
    }
    snprintf(out, outlen, "%s", "/usr/share/ngx_rag/sql");
    return out;
}
