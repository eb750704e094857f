#!/usr/bin/env bash
# The README's first command: on a fresh Debian 12 machine (as root),
# after `sh .ci/deps.sh`, build everything and run the whole path on the
# embedded defaults — a local PostgreSQL cluster, the PostgreSQL 15 manual
# shipped by Debian as the docs corpus, nginx with the module, and
# offline extractive answers (no API key):
#
#   1. crawl + convert + chunk + index the manual (rag-ingest),
#   2. ask a question from the command line (rag-ask),
#   3. search through nginx (/search),
#   4. post a "forum question" the way rag-bot stores one and let
#      rag-worker answer it from the queue, exactly once.
#
# Servers are left running for exploration; `make demo-stop` stops them.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=${RAG_DEMO_DIR:-$ROOT/demo-run}
PORT=${RAG_DEMO_PORT:-8080}
DOCS_PORT=${RAG_DEMO_DOCS_PORT:-8081}
DOCS=${RAG_DEMO_DOCS:-/usr/share/doc/postgresql-doc-15/html}
QUESTION=${RAG_DEMO_QUESTION:-How do I build an index without locking out writes to the table?}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
B=$ROOT/build

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

[ -d "$DOCS" ] || { echo "demo: $DOCS missing (apt-get install postgresql-doc-15)" >&2; exit 1; }

say "build"
make -C "$ROOT" -s all

mkdir -p "$RUN"
chmod 0755 "$RUN"

say "PostgreSQL (throwaway cluster in $RUN/pg, Unix socket only)"
if [ ! -f "$RUN/pg/data/PG_VERSION" ]; then
    mkdir -p "$RUN/pg"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$RUN/pg"
    as_pg "$PGBIN/initdb" -D "$RUN/pg/data" -A trust -U postgres -E UTF8 >/dev/null
    cat >> "$RUN/pg/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$RUN/pg'
port = 55432
CONF
fi
if ! as_pg "$PGBIN/pg_ctl" -D "$RUN/pg/data" status >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$RUN/pg/data" -l "$RUN/pg/log" -w start >/dev/null
fi
export RAG_DATABASE_URL="host=$RUN/pg port=55432 dbname=rag user=postgres"
"$PGBIN/psql" -X -q -h "$RUN/pg" -p 55432 -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'rag'" | grep -q 1 ||
    "$PGBIN/createdb" -h "$RUN/pg" -p 55432 -U postgres rag
"$B/rag-admin" migrate

export RAG_INDEX_DIR="$RUN/index"
mkdir -p "$RAG_INDEX_DIR"
chmod 0755 "$RAG_INDEX_DIR"

say "nginx with ngx_rag_module on 127.0.0.1:$PORT (docs served on :$DOCS_PORT)"
mkdir -p "$RUN/nginx/logs" "$RUN/nginx/tmp"
cat > "$RUN/nginx/nginx.conf" <<CONF
load_module $B/nginx/ngx_rag_module.so;
worker_processes 2;
error_log $RUN/nginx/logs/error.log warn;
pid $RUN/nginx/nginx.pid;
$( [ "$(id -u)" -eq 0 ] && echo 'user root root;' )
thread_pool rag threads=8;
events { worker_connections 256; }
http {
    access_log $RUN/nginx/logs/access.log;
    client_body_temp_path $RUN/nginx/tmp;
    rag_database "$RAG_DATABASE_URL";
    rag_thread_pool rag;
    rag_index_dir $RAG_INDEX_DIR;
    server {
        listen 127.0.0.1:$PORT;
        location = /rag/health { rag_health; }
        location = /rag/metrics { rag_metrics; }
        location = /search { rag_search; }
    }
    server {
        listen 127.0.0.1:$DOCS_PORT;
        root $DOCS;
        index index.html;
    }
}
CONF
if [ -f "$RUN/nginx/nginx.pid" ] && kill -0 "$(cat "$RUN/nginx/nginx.pid")" 2>/dev/null; then
    nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -s reload
else
    nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf"
fi
sleep 0.5
curl -fsS "http://127.0.0.1:$PORT/rag/health"; echo

say "ingest the PostgreSQL manual (crawl http://127.0.0.1:$DOCS_PORT/, incremental)"
"$B/rag-admin" collection-add postgresql "PostgreSQL 15 documentation" >/dev/null
"$B/rag-ingest" --collection postgresql --site "http://127.0.0.1:$DOCS_PORT/" \
    --allow-private --delay 0

say "ask from the command line (offline extractive answer)"
echo "Q: $QUESTION"
"$B/rag-ask" --collection postgresql "$QUESTION"

say "search through nginx"
curl -fsS "http://127.0.0.1:$PORT/search?collection=postgresql&k=3&q=$(printf %s "$QUESTION" | sed 's/ /+/g;s/?//g')" |
    head -c 1500; echo

say "a forum question answered by rag-worker from the queue"
T=demo-$(date +%s)
"$PGBIN/psql" -X -q -h "$RUN/pg" -p 55432 -U postgres -d rag -v ON_ERROR_STOP=1 \
    -v t="$T" -v q="$QUESTION" <<'SQL'
INSERT INTO threads (thread_id, title, collection, author_id)
    VALUES (:'t', 'Index without downtime?', 'postgresql', 'demo-user');
INSERT INTO messages (thread_id, message_id, author_id, content, first_message)
    VALUES (:'t', :'t' || '-1', 'demo-user', :'q', true);
SQL
"$B/rag-worker" > "$RUN/worker.log" 2>&1 &
WPID=$!
for _ in $(seq 1 100); do
    n=$("$PGBIN/psql" -X -h "$RUN/pg" -p 55432 -U postgres -d rag -tAc \
        "SELECT count(*) FROM messages WHERE thread_id = '$T' AND from_bot")
    [ "$n" != 0 ] && break
    sleep 0.2
done
kill -TERM "$WPID"; wait "$WPID" || true
"$PGBIN/psql" -X -h "$RUN/pg" -p 55432 -U postgres -d rag -tAc \
    "SELECT content || E'\n\nsources: ' || coalesce(sources::text, '') FROM messages
     WHERE thread_id = '$T' AND from_bot"
echo "(replies for this question: $n — rag-bot would now deliver it to Discord)"

say "running: nginx http://127.0.0.1:$PORT (/rag/health, /search, /rag/metrics); stop with: make demo-stop"
