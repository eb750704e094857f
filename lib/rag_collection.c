#include "rag_collection.h"

#include <stdio.h>
#include <string.h>

int
rag_collection_name_ok(const char *name)
{
    size_t n = 0;

    if (name == NULL)
        return 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n >= 1 && n <= 64 && strstr(name, "..") == NULL &&
           strcmp(name, ".") != 0;
}

int
rag_index_path(char *out, size_t outlen, const char *index_dir,
               const char *collection)
{
    int n;

    if (!rag_collection_name_ok(collection) || index_dir == NULL ||
        *index_dir == '\0')
        return -1;
    n = snprintf(out, outlen, "%s/%s.idx", index_dir, collection);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

const char *
rag_index_dir_check(const char *dir)
{
    if (*dir == '\0')
        return "must not be empty";
    if (strlen(dir) > 3000)
        return "too long";
    return NULL;
}
