#!/bin/sh
# Vector and BM25 leg latency on one core, and int8+rescore recall@10;
# see bench/search_vectors.c. Usage: bench/search_vectors.sh [N] [DIMS] [Q]
set -e
cd "$(dirname "$0")/.."
make -s build/librag.a
out=build/bench-search-vectors
cc -std=gnu11 -D_GNU_SOURCE -O2 -g -Ilib -o "$out" bench/search_vectors.c \
    build/librag.a -lzstd -lpthread -lm
exec "$out" "$@"
