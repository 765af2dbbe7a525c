/* The journal: the one way a state change happens. It commits the request, its audit record
 * and the new chain head in one store transaction, appends the record to the audit file
 * (fsync'd) and writes the syslog line, in that order, before anyone is answered. */
#ifndef LOCKBOXD_JOURNAL_H
#define LOCKBOXD_JOURNAL_H
#include <stdbool.h>
#include <stdint.h>

#include "audit_chain.h"
#include "audit_file.h"
#include "request.h"
#include "store.h"

struct journal {
    struct store *store;
    struct audit_file file;
    uint64_t head_seq; /* last record committed in the database */
    char head_hash[LOCKBOX_HASH_HEX_LEN + 1];
    uint64_t v2_from;        /* where format 2 began in the chain, once known (audit_chain.h) */
    bool file_behind;        /* the file lacks committed records */
    char mismatch[256];      /* why the file is not the database's */
    bool foreign_file;       /* it holds lines we did not write: grant nothing */
    uint64_t file_first_seq; /* the seq the current file starts at */
    /* Several lockboxd append to the database's chain (PostgreSQL): the audit file is then a
     * mirror of it, written only by the instance that holds the mirror lock
     * (journal_mirror), never by journal_flush. */
    bool shared_chain;
    bool mirror_holder;
    bool chain_cut_logged; /* the database's chain was found shorter than seen: said once */
    /* The meta key that says where this file starts after a rotation: one per host on a
     * shared chain, whose hosts each rotate a file of their own. */
    char rotated_key[LOCKBOX_HOST_MAX + 40];
    /* Optional: called inside the transaction of every event that has a request (the
     * notification outbox), and after each commit. A failing hook rolls the event back. */
    int (*in_transaction)(void *ctx, const struct lockbox_request *req, const char *event,
                          int64_t now_ms);
    void (*after_commit)(void *ctx);
    void *hook_ctx;
    /* Group commit: records committed since the last journal_flush(), not yet synced nor in
     * the audit file. Nobody is answered while this is set (http.c defers the replies). */
    bool dirty;
    /* Some record of this round changed a request (or is not a login record): the database
     * must be fsync'd before the audit file is written. A round of login records only
     * (login.allowed, login.denied change no request) skips that fsync: the audit file's
     * fdatasync makes them durable, and after a power cut start-up adopts back any login
     * records the file holds beyond the database (journal_catch_up). */
    bool store_sync_needed;
    /* A flush skipped the database fsync: journal_sync_idle() does it once the answers are
     * out and JOURNAL_SYNC_LAG_MS have passed (a burst of logins shares one), so the database
     * trails the audit file by a few milliseconds at most. */
    bool store_unsynced;
    int64_t unsynced_since_ms; /* CLOCK_MONOTONIC */
    bool idle_sync_failing;
    char *pending; /* their audit lines, each ending in '\n' */
    size_t pending_len, pending_cap;
    char **pending_syslog; /* their syslog lines, sent once they are durable */
    size_t n_pending_syslog, pending_syslog_cap;
};

enum journal_result {
    JOURNAL_OK,
    JOURNAL_CONFLICT,     /* the request was no longer in from_state: nothing changed */
    JOURNAL_AUDIT_DOWN,   /* refused before changing anything: the audit file is failing */
    JOURNAL_STORE_FAILED, /* the transaction failed; nothing changed */
};

/* host: whose audit file this is (the daemon's configured host). */
int journal_open(struct journal *journal, struct store *store, const char *audit_path,
                 const char *host, char *err, size_t err_len);
void journal_close(struct journal *journal);

/* Records `event` and (when req is not NULL) stores req in the same transaction.
 * `grants_access` events (an approval, an allowed login) are refused while the audit file
 * is failing; the others are committed and reach the file once it works again. The record
 * is durable only after journal_flush(): no caller may be answered before that. */
enum journal_result journal_record(struct journal *journal, const struct lockbox_request *req,
                                   int from_state, const struct audit_event *event,
                                   bool grants_access, int64_t now_ms);

/* A change to rows other than a request's (a login session's), made inside the transaction
 * of the event that records it: the row and its audit record are committed together or not
 * at all. Returns 0, or -1 to roll the event back. */
struct journal_change {
    int (*apply)(void *ctx);
    void *ctx;
};

/* journal_record() for an event without a request whose rows change applies. Never grants
 * access. */
enum journal_result journal_record_change(struct journal *journal, const struct audit_event *event,
                                          const struct journal_change *change, int64_t now_ms);

/* Makes every record since the last flush durable: one fsync of the database (skipped when
 * they are all login records), then one write() and fdatasync() of the audit file, then
 * their syslog lines. Returns 0, or -1 when
 * the records are not (all) in the audit file or not durable (the answers must say so). */
int journal_flush(struct journal *journal);
#define JOURNAL_SYNC_LAG_MS 5

/* After the answers of a round are out: the database fsync that login-only rounds skipped,
 * once it is due. Returns 0, or -1 (logged once) when it fails; it is tried again after
 * another lag. journal_sync_wait_ms() says how long the loop may sleep before it is due
 * (-1: nothing to sync). */
int journal_sync_idle(struct journal *journal);
int64_t journal_sync_wait_ms(const struct journal *journal);
/* Appends committed records the file lacks (never while records are awaiting a flush).
 * Returns 0 when file and database agree; -1 otherwise. A file ahead of the database while
 * running sets journal->mismatch and file_behind (nothing is granted); only journal_open()
 * adopts login records the file holds beyond the database (a power cut after a login-only
 * round), and refuses to open when the extra records are anything else. */
int journal_catch_up(struct journal *journal);
/* What the API shows of the journal (health, the audit listing). The strings live as long
 * as the journal. */
struct journal_view {
    bool audit_ok; /* the file has every committed record */
    uint64_t head_seq;
    const char *head_hash;
    const char *file_path;
    uint64_t file_first_seq;
};
struct journal_view journal_view(const struct journal *journal);
/* Records not yet durable are held: nobody may be answered about them before the flush. */
bool journal_holds_unflushed(const struct journal *journal);
/* Shared chain: whether this instance writes the audit file, and if so, brings it up to the
 * database's head (called at least once a second while holding, and when told of changes).
 * Returns 0 when the file is complete; -1 when it could not be (logged). */
int journal_mirror(struct journal *journal, bool holder);
/* Does this instance write the audit file (always, unless the chain is shared)? */
bool journal_writes_file(const struct journal *journal);
/* SIGHUP: reopen the file after rotation; the new file continues the chain. */
int journal_reopen(struct journal *journal, char *err, size_t err_len);

#endif
