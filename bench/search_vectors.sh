#!/bin/sh
# Vector and BM25 leg latency on one core, and int8+rescore recall@10;
# see bench/search_vectors.c. Usage: bench/search_vectors.sh [N] [DIMS] [Q]
set -e
cd "$(dirname "$0")/.."
make -s build/bench/search_vectors
exec build/bench/search_vectors "$@"
