package WorkerTest;

# Shared set-up for the rag-worker tests (t/4*-worker*.t): a small
# documentation corpus written straight into Postgres and indexed with
# the real rag-reindex, guild/thread/message helpers, and a worker
# launcher. Core Perl only.

use strict;
use warnings;
use RagTest;

our @DOCS = (
    ['https://docs.acme.test/install', 'Installing Acme', [
        ['Install > Debian', 'install-debian',
         "To install Acme Widget on Debian, run `apt install acme-widget`. "
         . "The package starts the acmed service automatically. Check it "
         . "with `systemctl status acmed`."],
        ['Install > From source', 'install-source',
         "Building from source needs a C compiler and make. Run "
         . "`./configure && make && make install` in the unpacked tarball."],
    ]],
    ['https://docs.acme.test/config', 'Configuring Acme', [
        ['Configuration > Listen port', 'listen-port',
         "The acmed daemon listens on port 7070 by default. Change it with "
         . "the `listen_port` setting in /etc/acme/acme.conf and restart "
         . "the service."],
        ['Configuration > Logging', 'logging',
         "Set `log_level = debug` in acme.conf for verbose logging. Logs go "
         . "to the journal."],
    ]],
    ['https://docs.acme.test/backup', 'Backups', [
        ['Backups > Snapshots', 'snapshots',
         "Run `acmectl snapshot create` to take a consistent snapshot of "
         . "the widget database. Snapshots are stored in /var/lib/acme/snap."],
    ]],
);

sub load_corpus {
    my ($pg, %o) = @_;
    my $coll = $o{collection} || 'acme';
    my $desc = $o{description} // 'Acme Widget';
    my $sql = "INSERT INTO collections (name, description) VALUES "
        . "('$coll', '$desc');\n";
    for my $d (@DOCS) {
        my ($url, $title, $chunks) = @$d;
        $sql .= "INSERT INTO documents (collection_id, url, title, body) "
            . "SELECT id, '$url', '$title', '' FROM collections "
            . "WHERE name = '$coll';\n";
        my $ord = 0;
        for my $c (@$chunks) {
            my ($heading, $anchor, $body) = map { (my $x = $_) =~ s/'/''/g; $x } @$c;
            $sql .= "INSERT INTO chunks (document_id, ordinal, heading_path, "
                . "anchor, body) SELECT d.id, $ord, '$heading', '$anchor', "
                . "'$body' FROM documents d JOIN collections c ON "
                . "c.id = d.collection_id WHERE c.name = '$coll' "
                . "AND d.url = '$url';\n";
            $ord++;
        }
    }
    RagTest::psql($pg, $sql);
}

# Builds <dir>/<collection>.idx with the real rag-reindex.
sub reindex {
    my ($pg, $dir, $coll) = @_;
    local $ENV{RAG_DATABASE_URL} = $pg->{conninfo};
    my $bin = RagTest::bin('rag-reindex');
    my $out = `$bin --dir $dir $coll 2>&1`;
    die "rag-reindex failed: $out" if $?;
    return $out;
}

sub guild {
    my ($pg, %o) = @_;
    my $helper = defined $o{helper_role} ? "'$o{helper_role}'" : 'NULL';
    my $thr = defined $o{threshold} ? $o{threshold} : 'NULL';
    RagTest::psql($pg, "INSERT INTO guild_config (guild_id, mod_role_id, "
        . "helper_role_id, answer_threshold) VALUES ('g1', '900', $helper, "
        . "$thr) ON CONFLICT (guild_id) DO UPDATE SET helper_role_id = "
        . "EXCLUDED.helper_role_id, answer_threshold = "
        . "EXCLUDED.answer_threshold;"
        . "INSERT INTO guild_forums VALUES ('g1', 'f1', 'acme') "
        . "ON CONFLICT DO NOTHING");
}

sub sqlq { my ($s) = @_; $s =~ s/'/''/g; return "'$s'" }

# Opens a thread with its first message (the trigger enqueues a job).
sub ask {
    my ($pg, $thread, $title, $text) = @_;
    RagTest::psql($pg, "INSERT INTO threads (thread_id, guild_id, "
        . "forum_channel_id, title, collection, author_id) VALUES ("
        . sqlq($thread) . ", 'g1', 'f1', " . sqlq($title) . ", 'acme', 'u1');"
        . "INSERT INTO messages (thread_id, message_id, author_id, content, "
        . "first_message) VALUES (" . sqlq($thread) . ", " . sqlq("$thread-m1")
        . ", 'u1', " . sqlq($text) . ", true)");
    return "$thread-m1";
}

# A follow-up that mentions the bot (enqueues a job).
sub follow_up {
    my ($pg, $thread, $mid, $text) = @_;
    RagTest::psql($pg, "INSERT INTO messages (thread_id, message_id, "
        . "author_id, content, mentions_bot, created_at) VALUES ("
        . sqlq($thread) . ", " . sqlq($mid) . ", 'u1', " . sqlq($text)
        . ", true, now() + interval '1 second')");
}

sub replies {
    my ($pg, $thread) = @_;
    my $out = RagTest::psql($pg, "SELECT count(*) FROM messages WHERE "
        . "thread_id = " . sqlq($thread) . " AND from_bot");
    return $out + 0;
}

sub reply_row {
    my ($pg, $thread, $mid) = @_;
    my $sep = "\x1f";
    my $out = RagTest::psql($pg, "SELECT concat_ws(E'\\x1f', message_id, "
        . "reply_to, processed, abstained, coalesce(sources::text, ''), "
        . "content) FROM messages WHERE thread_id = " . sqlq($thread)
        . " AND from_bot AND reply_to = " . sqlq($mid));
    return undef unless length $out;
    my @f = split /$sep/, $out, 6;
    return { message_id => $f[0], reply_to => $f[1], processed => $f[2],
        abstained => $f[3], sources => $f[4], content => $f[5] };
}

sub job_state {
    my ($pg, $thread, $mid) = @_;
    return RagTest::psql($pg, "SELECT state || ' ' || attempts FROM jobs "
        . "WHERE dedupe_key = rag_answer_dedupe_key(" . sqlq($thread) . ", "
        . sqlq($mid) . ")");
}

# Starts rag-worker with settings as RAG_* environment variables.
sub worker {
    my ($pg, %env) = @_;
    my $dir = $env{_log_dir} || RagTest::tmpdir();
    delete $env{_log_dir};
    my %e = (RAG_DATABASE_URL => $pg->{conninfo}, RAG_POLL_INTERVAL_MS => 200,
        RAG_RETRY_BASE_SECONDS => '0.01', RAG_LLM_BACKOFF_MS => 20,
        RAG_LOG_LEVEL => 'info');
    $e{"RAG_\U$_"} = $env{$_} for keys %env;
    if ($ENV{RAG_ASAN}) {
        $e{ASAN_OPTIONS} = 'detect_leaks=0:abort_on_error=0';
    }
    my $log = "$dir/worker-" . int(rand(1e9)) . ".log";
    my $pid = RagTest::spawn([RagTest::bin('rag-worker')], env => \%e,
        log => $log);
    return ($pid, $log);
}

# A closed thread in g1 with a question, a bot answer and the solver's
# note, then marked solved by its asker (the threads trigger of
# sql/007_community.sql enqueues a 'community' job). Closed, so no
# answer job is enqueued for it.
sub solved_thread {
    my ($pg, $thread, $title, $question, $answer, $note) = @_;
    my $t = sqlq($thread);
    RagTest::psql($pg, "INSERT INTO threads (thread_id, guild_id, "
        . "forum_channel_id, title, collection, author_id, open) VALUES ($t, "
        . "'g1', 'f1', " . sqlq($title) . ", 'acme', 'a-$thread', false);"
        . "INSERT INTO messages (thread_id, message_id, author_id, content, "
        . "first_message, from_bot, processed, created_at) VALUES "
        . "($t, " . sqlq("$thread-q") . ", 'a-$thread', " . sqlq($question)
        . ", true, false, false, now() - interval '3 minutes'),"
        . "($t, " . sqlq("$thread-a") . ", 'bot', " . sqlq($answer)
        . ", false, true, true, now() - interval '2 minutes'),"
        . "($t, " . sqlq("$thread-n") . ", 'a-$thread', " . sqlq($note)
        . ", false, false, false, now() - interval '1 minute');"
        . "UPDATE threads SET solved = true, solved_by = 'a-$thread', "
        . "solved_at = now() WHERE thread_id = $t");
}

1;
