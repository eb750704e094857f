#!/bin/sh
# wrk against /search on the PostgreSQL docs corpus beside Postgres
# full-text search; see bench/search.pl. Usage: bench/search.sh [SECS] [CONNS]
exec perl "$(dirname "$0")/search.pl" "$@"
