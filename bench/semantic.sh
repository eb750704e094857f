#!/bin/sh
# The in-process semantic leg on a collection's index: training time and
# peak memory, model and index size, query embedding and search latency;
# see bench/semantic.c. Usage: bench/semantic.sh IN.idx OUT.idx [options]
set -e
cd "$(dirname "$0")/.."
make -s build/bench/semantic
exec build/bench/semantic "$@"
