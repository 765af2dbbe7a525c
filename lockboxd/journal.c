/* Durable, audited state changes (see journal.h for the ordering guarantee). */
#define _GNU_SOURCE
#include "journal.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "text.h"
#include "array_grow.h"
#include "monotonic.h"
#include "timefmt.h"

#define META_ROTATED_AT "audit_file_starts_after_seq"

static void send_pending_syslog(struct journal *journal);
static void check_file_end(struct journal *journal);
static int sync_store_now(struct journal *journal);
static int chain_v2_from(struct journal *journal, uint64_t head_seq, uint64_t *v2_from);

struct catch_up {
    struct journal *journal;
    int failed;
    uint64_t last;
};

static int append_missing(uint64_t seq, const char *line, void *ctx)
{
    struct catch_up *cu = ctx;
    char hash[LOCKBOX_HASH_HEX_LEN + 1];

    if (audit_record_hash(line, strlen(line), hash) != 0 ||
        audit_file_append(&cu->journal->file, line, seq, hash) != 0) {
        cu->failed = errno ? errno : EIO;
        return 1;
    }
    cu->last = seq;
    return 0;
}

/* The seq the audit file has reached: its last record, or where a fresh file after
 * rotation starts. */
static uint64_t file_starts_after(struct journal *journal)
{
    int64_t rotated_at = 0;

    if (store_meta_get_int(journal->store, journal->rotated_key, &rotated_at) != LOCKBOX_OK)
        rotated_at = 0;
    return (uint64_t)rotated_at;
}

static uint64_t file_position(struct journal *journal)
{
    if (journal->file.has_last)
        return journal->file.last_seq;
    return file_starts_after(journal);
}

/* Login records change no request; they are the only ones whose database copy may be
 * lost in a power cut while the audit file keeps them (see store_sync_needed). */
static bool is_login_record(const char *event)
{
    return strcmp(event, "login.allowed") == 0 || strcmp(event, "login.denied") == 0;
}

struct adoption {
    struct journal *journal;
    uint64_t seq; /* the chain as adopted so far */
    char hash[LOCKBOX_HASH_HEX_LEN + 1];
    uint64_t v2_from; /* where format 2 began (0: not yet): no format-1 line after it */
};

static int adopt_line(void *ctx, const char *line, size_t len, uint64_t seq)
{
    struct adoption *a = ctx;
    struct journal *journal = a->journal;
    struct audit_line_info info;
    char hash[LOCKBOX_HASH_HEX_LEN + 1];

    if (audit_line_canonical(line, len, &info) != 0)
        snprintf(journal->mismatch, sizeof(journal->mismatch),
                 "record %llu is not a line lockboxd wrote", (unsigned long long)seq);
    else if (info.seq != a->seq + 1 || strcmp(info.prev_hash, a->hash) != 0)
        snprintf(journal->mismatch, sizeof(journal->mismatch),
                 "record %llu does not continue the database's chain at %llu",
                 (unsigned long long)seq, (unsigned long long)a->seq);
    else if ((a->v2_from != 0 && (info.version != 2 || info.v2_from != a->v2_from)) ||
             (a->v2_from == 0 && info.version == 2 && info.v2_from != info.seq))
        snprintf(journal->mismatch, sizeof(journal->mismatch),
                 "record %llu is not in the format the chain is in at that point",
                 (unsigned long long)seq);
    else if (!is_login_record(info.event))
        snprintf(journal->mismatch, sizeof(journal->mismatch),
                 "record %llu is not a login record, so the database lost a change",
                 (unsigned long long)seq);
    else if (audit_record_hash(line, len, hash) != 0 ||
             store_audit_insert(journal->store, seq, line, hash) != 0)
        snprintf(journal->mismatch, sizeof(journal->mismatch), "cannot store record %llu: %s",
                 (unsigned long long)seq, store_error(journal->store));
    else {
        a->seq = seq;
        memcpy(a->hash, hash, sizeof(hash));
        if (info.version == 2)
            a->v2_from = info.v2_from;
        return 0;
    }
    return 1;
}

/* The file holds records beyond the database's head. Adopt them when they are login records
 * that continue the chain (lost from the database's unsynced tail); anything else means the
 * database lost a change or the file is not ours, and the daemon must not carry on. */
static int adopt_file_tail(struct journal *journal)
{
    struct adoption a = {journal, journal->head_seq, {0}, 0};
    char err[256] = "";

    memcpy(a.hash, journal->head_hash, sizeof(a.hash));
    if (journal->head_seq > 0 && chain_v2_from(journal, journal->head_seq, &a.v2_from) != 0) {
        snprintf(journal->mismatch, sizeof(journal->mismatch),
                 "cannot read the database's last audit record");
        journal->file_behind = true;
        return -1;
    }
    if (a.v2_from > journal->head_seq)
        a.v2_from = 0; /* the chain still ends in format 1 */
    journal->mismatch[0] = '\0';
    if (store_begin(journal->store) != 0)
        snprintf(journal->mismatch, sizeof(journal->mismatch), "%s", store_error(journal->store));
    else if (audit_file_each_after(&journal->file, journal->head_seq, adopt_line, &a, err,
                                   sizeof(err)) != 0 &&
             journal->mismatch[0] == '\0')
        snprintf(journal->mismatch, sizeof(journal->mismatch), "%s", err);
    else if (journal->mismatch[0] == '\0' && a.seq != journal->file.last_seq)
        snprintf(journal->mismatch, sizeof(journal->mismatch),
                 "the file ends at record %llu but its records continue the chain only to %llu",
                 (unsigned long long)journal->file.last_seq, (unsigned long long)a.seq);
    if (journal->mismatch[0] == '\0' &&
        (store_commit(journal->store) != 0 || store_sync(journal->store, (int64_t)a.seq) != 0))
        snprintf(journal->mismatch, sizeof(journal->mismatch), "%s", store_error(journal->store));
    if (journal->mismatch[0] != '\0') {
        store_rollback(journal->store);
        syslog(LOG_CRIT,
               "event=audit.mismatch file=%s file_seq=%llu db_seq=%llu "
               "msg=\"the audit file is ahead of the database: %s\"",
               journal->file.path, (unsigned long long)file_position(journal),
               (unsigned long long)journal->head_seq, journal->mismatch);
        journal->file_behind = true; /* grant nothing: file and database disagree */
        return -1;
    }
    syslog(
        LOG_WARNING,
        "event=audit.adopted file=%s from_seq=%llu to_seq=%llu "
        "msg=\"login records the database lost (power cut) were taken back from the audit file\"",
        journal->file.path, (unsigned long long)journal->head_seq + 1, (unsigned long long)a.seq);
    journal->head_seq = a.seq;
    memcpy(journal->head_hash, a.hash, sizeof(a.hash));
    journal->file_behind = false;
    return 0;
}

/* While running, the file is never ahead of the database (records reach it only after their
 * commit); if it is, someone else wrote to it. Grant nothing, and say so once. */
/* ahead: the file holds records beyond the database's head; otherwise its last record is
 * not the database's record of that seq. */
static int refuse_foreign_file(struct journal *journal, bool ahead, uint64_t seq)
{
    if (!journal->foreign_file) {
        if (ahead)
            snprintf(journal->mismatch, sizeof(journal->mismatch),
                     "the file holds records up to %llu that lockboxd did not write",
                     (unsigned long long)seq);
        else
            snprintf(journal->mismatch, sizeof(journal->mismatch),
                     "the file's last record (seq %llu) is not the one in the database",
                     (unsigned long long)seq);
        syslog(LOG_CRIT,
               "event=audit.mismatch file=%s db_seq=%llu msg=\"%s; no approvals or "
               "logins are granted until lockboxd is restarted with a file and database "
               "that agree\"",
               journal->file.path, (unsigned long long)journal->head_seq, journal->mismatch);
    }
    /* Sticky: records committed meanwhile must not later be appended after lines that are
     * not ours, which would fork the chain. Only a restart (which checks again) clears it. */
    journal->foreign_file = true;
    journal->file_behind = true;
    return -1;
}

struct line_hash {
    uint64_t seq;
    char hash[LOCKBOX_HASH_HEX_LEN + 1];
};

static int hash_of_line(uint64_t seq, const char *line, void *ctx)
{
    struct line_hash *want = ctx;
    if (seq != want->seq || audit_record_hash(line, strlen(line), want->hash) != 0)
        want->hash[0] = '\0';
    return 1;
}

/* Is the file's last record the database's record of that seq? A file that ends in lines
 * the database does not hold (edited, replaced, foreign) must not be continued. */
static bool file_tail_is_ours(struct journal *journal)
{
    if (!journal->file.has_last || journal->file.last_seq == 0)
        return true;
    struct line_hash want = {journal->file.last_seq, {0}};
    if (store_audit_lines_after(journal->store, journal->file.last_seq - 1, 1, hash_of_line,
                                &want) != 0)
        return false;
    return want.hash[0] != '\0' && strcmp(want.hash, journal->file.last_hash) == 0;
}

/* A shared chain's mirror appends at most this many records per call (one tick of the loop),
 * so that a host that takes over the mirror with a long backlog keeps answering meanwhile;
 * the next tick goes on. */
#define MIRROR_BATCH 5000

static int catch_up(struct journal *journal, bool at_start)
{
    if (!journal_writes_file(journal))
        return 0; /* a shared chain's file is another lockboxd's to write now */
    /* Records awaiting a flush are not yet durable in the database: the file must never get
     * ahead of it by anything but login records, which start-up can adopt back. */
    if (journal->dirty)
        return -1;
    if (journal->foreign_file) {
        journal->file_behind = true;
        return -1;
    }
    uint64_t position = file_position(journal);

    if (position > journal->head_seq) {
        if (at_start)
            return adopt_file_tail(journal);
        return refuse_foreign_file(journal, true, position);
    }
    if (!file_tail_is_ours(journal))
        return refuse_foreign_file(journal, false, journal->file.last_seq);
    uint64_t from = position;
    while (position < journal->head_seq &&
           (!journal->shared_chain || position - from < MIRROR_BATCH)) {
        struct catch_up cu = {journal, 0, position};
        if (journal->file.fd < 0 ||
            store_audit_lines_after(journal->store, position, 500, append_missing, &cu) != 0 ||
            cu.failed) {
            journal->file_behind = true;
            return -1;
        }
        if (cu.last == position)
            break; /* records missing from the database itself; nothing more to append */
        position = cu.last;
    }
    if (position > from)
        syslog(LOG_WARNING,
               "event=audit.caught_up file=%s from_seq=%llu to_seq=%llu msg=\"records "
               "the database holds were written to the audit file\"",
               journal->file.path, (unsigned long long)from + 1, (unsigned long long)position);
    journal->file_behind = false;
    return 0;
}

int journal_catch_up(struct journal *journal)
{
    return catch_up(journal, false);
}

int journal_mirror(struct journal *journal, bool holder)
{
    if (!journal->shared_chain)
        return 0;
    if (holder && !journal->mirror_holder)
        syslog(LOG_NOTICE,
               "event=audit.mirror_taken file=%s msg=\"this lockboxd now writes "
               "the database's audit chain to its file\"",
               journal->file.path);
    journal->mirror_holder = holder;
    if (!holder) {
        journal->file_behind = false; /* another instance's file is the mirror */
        return 0;
    }
    if (journal->dirty)
        return 0; /* records of this round first reach syslog, at the flush */
    uint64_t seq;
    char hash[LOCKBOX_HASH_HEX_LEN + 1];
    if (store_audit_head(journal->store, &seq, hash) != 0) {
        syslog(LOG_ERR, "event=audit.mirror_failed msg=\"cannot read the chain's head: %s\"",
               store_error(journal->store));
        return -1;
    }
    /* The chain only grows: a database head behind what this lockboxd itself appended (or
     * read before) means records were removed from it. The head shown stays the longer one,
     * so a verifier finds the cut instead of a shorter chain that looks whole. */
    if (seq < journal->head_seq) {
        if (!journal->chain_cut_logged)
            syslog(LOG_CRIT,
                   "event=audit.mismatch db_seq=%llu seen_seq=%llu msg=\"the database's audit "
                   "chain ends before records this lockboxd saw: they were removed\"",
                   (unsigned long long)seq, (unsigned long long)journal->head_seq);
        journal->chain_cut_logged = true;
        return -1;
    }
    journal->head_seq = seq;
    memcpy(journal->head_hash, hash, sizeof(hash));
    check_file_end(journal);
    return catch_up(journal, false);
}

int journal_open(struct journal *journal, struct store *store, const char *audit_path,
                 const char *host, char *err, size_t err_len)
{
    memset(journal, 0, sizeof(*journal));
    journal->store = store;
    journal->file.fd = -1;
    journal->shared_chain = store_chain_is_shared(store);
    /* Each host of a shared chain rotates its own file at its own seq: one key for them all
     * would let a host whose file is behind set where another's fresh file starts (records
     * written twice, or never). */
    if (journal->shared_chain)
        snprintf(journal->rotated_key, sizeof(journal->rotated_key), "%s@%s", META_ROTATED_AT,
                 host);
    else
        snprintf(journal->rotated_key, sizeof(journal->rotated_key), "%s", META_ROTATED_AT);
    if (store_audit_head(store, &journal->head_seq, journal->head_hash) != 0) {
        snprintf(err, err_len, "cannot read the audit head from the database: %s",
                 store_error(store));
        return -1;
    }
    if (audit_file_open(&journal->file, audit_path, err, err_len) != 0)
        return -1;
    journal->file_first_seq = file_starts_after(journal) + 1;
    if (journal->shared_chain)
        return 0; /* the file is the mirror's: journal_mirror() checks and completes it */
    /* What the last run committed but never made durable (it stopped between commit and
     * flush) is about to reach the file: make it durable first, so the file never gets
     * ahead of the database by a change. */
    if (store_sync(store, (int64_t)journal->head_seq) != 0) {
        snprintf(err, err_len, "cannot sync the database: %s", store_error(store));
        return -1;
    }
    if (catch_up(journal, true) != 0) {
        if (journal->mismatch[0] != '\0')
            snprintf(err, err_len,
                     "%s does not match the database (%s); restore the database "
                     "that belongs to it, or move the file aside",
                     audit_path, journal->mismatch);
        else
            snprintf(err, err_len, "%s: cannot append committed records: %s", audit_path,
                     strerror(errno));
        return -1;
    }
    return 0;
}

void journal_close(struct journal *journal)
{
    journal_flush(journal);
    if (journal->store_unsynced && !journal->dirty)
        sync_store_now(journal);
    send_pending_syslog(journal);
    free(journal->pending);
    free(journal->pending_syslog);
    journal->pending = NULL;
    journal->pending_syslog = NULL;
    audit_file_close(&journal->file);
}

/* Formats the event's syslog line; it is sent once the record is durable. */
/* " signers=alice,bob": the names on a grant's signature lines, in order ("" without one). */
static void signer_list(const char *grant, char *out, size_t out_len)
{
    static const char mark[] = "\n\xe2\x80\x94 ";
    size_t used = 0;

    out[0] = '\0';
    for (const char *line = grant ? strstr(grant, mark) : NULL; line != NULL;
         line = strstr(line + 1, mark)) {
        const char *name = line + strlen(mark);
        int n = snprintf(out + used, out_len - used, "%s%.*s",
                         used ? "," : " signers=", (int)strcspn(name, " \n"), name);
        if (n < 0 || (size_t)n >= out_len - used)
            break;
        used += (size_t)n;
    }
}

static char *format_log_line(const struct audit_event *ev, uint64_t seq)
{
    char id[80], tenant[140], host[520], user[140], actor[140], comment[1200], reason[1200];
    char requester[140], signers[1200], shown_signers[2400];
    char *line = NULL;

    /* Names as pinned are [A-Za-z0-9._-]; escaped all the same, the line is one line. */
    signer_list(ev->grant, signers, sizeof(signers));
    if (asprintf(&line, "event=%s id=%s tenant=%s host=%s user=%s actor=%s seq=%llu%s%s%s%s%s%s%s",
                 ev->event, text_escape_log(ev->request_id, id, sizeof(id)),
                 text_escape_log(ev->tenant, tenant, sizeof(tenant)),
                 text_escape_log(ev->host, host, sizeof(host)),
                 text_escape_log(ev->user, user, sizeof(user)),
                 text_escape_log(ev->actor, actor, sizeof(actor)), (unsigned long long)seq,
                 ev->requester && ev->requester[0] ? " requester=" : "",
                 ev->requester && ev->requester[0]
                     ? text_escape_log(ev->requester, requester, sizeof(requester))
                     : "",
                 ev->reason && ev->reason[0] ? " reason=" : "",
                 ev->reason && ev->reason[0] ? text_escape_log(ev->reason, reason, sizeof(reason))
                                             : "",
                 ev->comment && ev->comment[0] ? " comment=" : "",
                 ev->comment && ev->comment[0]
                     ? text_escape_log(ev->comment, comment, sizeof(comment))
                     : "",
                 signers[0] ? text_escape_log(signers, shown_signers, sizeof(shown_signers)) : "") <
        0)
        return NULL;
    return line;
}

bool journal_writes_file(const struct journal *journal)
{
    return !journal->shared_chain || journal->mirror_holder;
}

static int keep_pending(struct journal *journal, const char *line, char *log_line)
{
    size_t len = strlen(line);

    /* A shared chain reaches the file through the mirror, in seq order, never from here. */
    if (!journal->shared_chain) {
        if (array_grow(&journal->pending, &journal->pending_cap, journal->pending_len + len + 1, 1,
                       4096) != 0)
            return -1;
        memcpy(journal->pending + journal->pending_len, line, len);
        journal->pending[journal->pending_len + len] = '\n';
        journal->pending_len += len + 1;
    }
    if (array_grow(&journal->pending_syslog, &journal->pending_syslog_cap,
                   journal->n_pending_syslog + 1, sizeof(*journal->pending_syslog), 16) != 0)
        return -1;
    journal->pending_syslog[journal->n_pending_syslog++] = log_line;
    return 0;
}

/* The reason of the last failed commit, kept before the rollback overwrites the store's. */
static char commit_error[256];

/* What one transaction appended to the chain. */
struct appended {
    uint64_t seq;
    char *line;
    char hash[LOCKBOX_HASH_HEX_LEN + 1];
};

struct head_line {
    uint64_t seq;
    int version;
    uint64_t v2_from;
};

static int read_head_line(uint64_t seq, const char *line, void *ctx)
{
    struct head_line *h = ctx;
    if (seq == h->seq) {
        h->version = audit_line_version(line, strlen(line));
        if (h->version == 2 && audit_line_v2_from(line, strlen(line), &h->v2_from) != 0)
            h->version = -1;
    }
    return 1;
}

/* Where format 2 began in this chain: the v2_from of a format-2 head, or the record about to
 * be appended when the chain is empty or still ends in format 1 (the first one this version of
 * lockboxd writes). Fixed once a format-2 record exists, so it is kept from then on. */
static int chain_v2_from(struct journal *journal, uint64_t head_seq, uint64_t *v2_from)
{
    struct head_line h = {head_seq, 0, 0};

    if (journal->v2_from != 0) {
        *v2_from = journal->v2_from;
        return 0;
    }
    if (head_seq > 0 &&
        (store_audit_lines_after(journal->store, head_seq - 1, 1, read_head_line, &h) != 0 ||
         h.version <= 0))
        return -1;
    if (h.version == 2)
        journal->v2_from = h.v2_from;
    *v2_from = h.version == 2 ? h.v2_from : head_seq + 1;
    return 0;
}

/* The record follows the head read inside the transaction, under the chain's lock: with
 * several lockboxd on one database, another may have appended since this one last did. */
static int append_to_chain(struct journal *journal, const struct audit_event *event, int64_t now_ms,
                           struct appended *out)
{
    char head_hash[LOCKBOX_HASH_HEX_LEN + 1];
    uint64_t head_seq, v2_from;

    if (store_lock_chain(journal->store) != 0 ||
        store_audit_head(journal->store, &head_seq, head_hash) != 0)
        return -1;
    out->seq = head_seq + 1;
    if (chain_v2_from(journal, head_seq, &v2_from) != 0) {
        snprintf(commit_error, sizeof(commit_error), "cannot read the audit chain's last record");
        return -1;
    }
    if (audit_line_build(out->seq, v2_from, now_ms, event, head_hash, &out->line) != 0 ||
        audit_record_hash(out->line, strlen(out->line), out->hash) != 0) {
        snprintf(commit_error, sizeof(commit_error), "cannot build the audit record");
        return -1;
    }
    return store_audit_insert(journal->store, out->seq, out->line, out->hash);
}

static enum journal_result commit_record(struct journal *journal, const struct lockbox_request *req,
                                         int from_state, const struct journal_change *change,
                                         const struct audit_event *event, int64_t now_ms,
                                         struct appended *out)
{
    enum lockbox_result put = LOCKBOX_OK;

    if (store_begin(journal->store) != 0) {
        snprintf(commit_error, sizeof(commit_error), "%s", store_error(journal->store));
        return JOURNAL_STORE_FAILED;
    }
    if ((req != NULL && (put = store_put_request(journal->store, req, from_state)) != LOCKBOX_OK) ||
        (change != NULL && change->apply(change->ctx) != 0) ||
        append_to_chain(journal, event, now_ms, out) != 0 ||
        (req != NULL && store_announce(journal->store, req->id) != 0) ||
        (req != NULL && journal->in_transaction != NULL &&
         journal->in_transaction(journal->hook_ctx, req, event->event, now_ms) != 0) ||
        store_commit(journal->store) != 0) {
        if (commit_error[0] == '\0')
            snprintf(commit_error, sizeof(commit_error), "%s", store_error(journal->store));
        store_rollback(journal->store);
        return put == LOCKBOX_NOT_FOUND ? JOURNAL_CONFLICT : JOURNAL_STORE_FAILED;
    }
    return JOURNAL_OK;
}

static enum journal_result record(struct journal *journal, const struct lockbox_request *req,
                                  int from_state, const struct journal_change *change,
                                  const struct audit_event *event, bool grants_access,
                                  int64_t now_ms)
{
    struct appended a = {0, NULL, {0}};

    if (journal->file_behind && !journal->dirty && journal_writes_file(journal))
        journal_catch_up(journal);
    if (journal->file_behind && grants_access && journal_writes_file(journal))
        return JOURNAL_AUDIT_DOWN;
    commit_error[0] = '\0';
    enum journal_result jr = commit_record(journal, req, from_state, change, event, now_ms, &a);
    if (jr != JOURNAL_OK) {
        if (jr == JOURNAL_STORE_FAILED)
            syslog(LOG_ERR, "event=store.error msg=\"cannot commit %s: %s\"", event->event,
                   commit_error);
        commit_error[0] = '\0';
        free(a.line);
        return jr;
    }
    if (a.seq > journal->head_seq) {
        journal->head_seq = a.seq;
        memcpy(journal->head_hash, a.hash, sizeof(a.hash));
    }
    journal->dirty = true;
    if (req != NULL || !is_login_record(event->event))
        journal->store_sync_needed = true;
    char *log_line = format_log_line(event, a.seq);
    if (log_line == NULL || keep_pending(journal, a.line, log_line) != 0) {
        free(log_line);
        journal->file_behind = true; /* the database has it; catch-up brings it to the file */
    }
    free(a.line);
    return JOURNAL_OK;
}

enum journal_result journal_record(struct journal *journal, const struct lockbox_request *req,
                                   int from_state, const struct audit_event *event,
                                   bool grants_access, int64_t now_ms)
{
    return record(journal, req, from_state, NULL, event, grants_access, now_ms);
}

enum journal_result journal_record_change(struct journal *journal, const struct audit_event *event,
                                          const struct journal_change *change, int64_t now_ms)
{
    return record(journal, NULL, STORE_NEW_REQUEST, change, event, false, now_ms);
}

static void send_pending_syslog(struct journal *journal)
{
    for (size_t i = 0; i < journal->n_pending_syslog; i++) {
        syslog(LOG_NOTICE, "%s", journal->pending_syslog[i]);
        free(journal->pending_syslog[i]);
    }
    journal->n_pending_syslog = 0;
}

/* Someone changed the file behind our back (a tail cut by hand, lines added): before the next
 * append, look again. What the database holds and the file lacks is written back by catch-up
 * (said loudly); anything else stops all grants there (refuse_foreign_file). */
static void check_file_end(struct journal *journal)
{
    char err[256];
    uint64_t before = file_position(journal);

    enum audit_file_end end = audit_file_check_end(&journal->file, err, sizeof(err));
    if (end == AUDIT_FILE_AS_LEFT)
        return;
    journal->file_behind = true;
    if (end == AUDIT_FILE_UNREADABLE) {
        syslog(LOG_CRIT, "event=audit.write_failed file=%s msg=\"%s\"", journal->file.path, err);
        return;
    }
    uint64_t now_at = file_position(journal);
    syslog(LOG_CRIT,
           "event=audit.file_changed file=%s expected_seq=%llu found_seq=%llu "
           "msg=\"the audit file was changed by someone else; records the database "
           "holds are written back\"",
           journal->file.path, (unsigned long long)before, (unsigned long long)now_at);
}

/* A shared chain's records were durable at COMMIT, and the mirror brings them to the file:
 * what is left is their syslog lines (each instance logs what it committed). */
static int flush_shared(struct journal *journal)
{
    journal->dirty = false;
    journal->store_sync_needed = false;
    send_pending_syslog(journal);
    if (journal->after_commit != NULL)
        journal->after_commit(journal->hook_ctx);
    return 0;
}

int journal_flush(struct journal *journal)
{
    int rc = 0;

    if (!journal->dirty)
        return 0;
    if (journal->shared_chain)
        return flush_shared(journal);
    if (journal->store_sync_needed && store_sync(journal->store, (int64_t)journal->head_seq) != 0) {
        /* Stay dirty: the next flush tries again, and nothing reaches the file before. */
        syslog(LOG_CRIT, "event=store.sync_failed msg=\"%s\"", store_error(journal->store));
        return -1;
    }
    if (journal->store_sync_needed) {
        journal->store_unsynced = false;
        journal->idle_sync_failing = false;
    } else if (!journal->store_unsynced) {
        journal->store_unsynced = true;
        journal->unsynced_since_ms = monotonic_ms();
    }
    journal->store_sync_needed = false;
    check_file_end(journal);
    if (journal->file_behind) {
        journal->dirty = false;
        rc = journal_catch_up(journal);
    } else if (journal->pending_len > 0 &&
               audit_file_append_many(&journal->file, journal->pending, journal->pending_len,
                                      journal->head_seq, journal->head_hash) != 0) {
        syslog(LOG_CRIT,
               "event=audit.write_failed file=%s seq=%llu error=\"%s\" "
               "msg=\"no approvals or logins are granted until the audit file "
               "can be written\"",
               journal->file.path, (unsigned long long)journal->head_seq, strerror(errno));
        journal->file_behind = true;
        rc = -1;
    }
    journal->dirty = false;
    journal->pending_len = 0;
    send_pending_syslog(journal);
    if (journal->after_commit != NULL)
        journal->after_commit(journal->hook_ctx);
    return rc;
}

int journal_reopen(struct journal *journal, char *err, size_t err_len)
{
    journal_flush(journal); /* what is pending belongs to the old file */
    uint64_t position = file_position(journal);

    if (audit_file_reopen(&journal->file, err, err_len) != 0) {
        journal->file_behind = true;
        return -1;
    }
    /* A fresh file after rotation: remember where it starts, so that a restart knows which
     * records the old file already holds. */
    if (!journal->file.has_last) {
        if (store_begin(journal->store) != 0 ||
            store_meta_set_int(journal->store, journal->rotated_key, (int64_t)position) != 0 ||
            store_commit(journal->store) != 0 ||
            store_sync(journal->store, (int64_t)journal->head_seq) != 0) {
            store_rollback(journal->store);
            snprintf(err, err_len, "cannot record the rotation: %s", store_error(journal->store));
            return -1;
        }
        journal->file_first_seq = position + 1;
    }
    if (journal_catch_up(journal) != 0) {
        snprintf(err, err_len, "%s",
                 journal->mismatch[0] ? journal->mismatch
                                      : "cannot bring the file up to date; retrying");
        return -1;
    }
    return 0;
}

int64_t journal_sync_wait_ms(const struct journal *journal)
{
    if (!journal->store_unsynced || journal->dirty)
        return -1; /* a pending flush syncs the database anyway; it is retried with the loop */
    int64_t left = journal->unsynced_since_ms + JOURNAL_SYNC_LAG_MS - monotonic_ms();
    return left > 0 ? left : 0;
}

static int sync_store_now(struct journal *journal)
{
    if (store_sync(journal->store, (int64_t)journal->head_seq) != 0) {
        if (!journal->idle_sync_failing)
            syslog(LOG_CRIT, "event=store.sync_failed msg=\"%s\"", store_error(journal->store));
        journal->idle_sync_failing = true;
        journal->unsynced_since_ms = monotonic_ms(); /* try again after another lag */
        return -1;
    }
    journal->store_unsynced = false;
    journal->idle_sync_failing = false;
    return 0;
}

int journal_sync_idle(struct journal *journal)
{
    if (!journal->store_unsynced || journal->dirty || journal_sync_wait_ms(journal) > 0)
        return 0;
    return sync_store_now(journal);
}

struct journal_view journal_view(const struct journal *journal)
{
    struct journal_view view = {!journal->file_behind, journal->head_seq, journal->head_hash,
                                journal->file.path, journal->file_first_seq};
    return view;
}

bool journal_holds_unflushed(const struct journal *journal)
{
    return journal->dirty;
}
