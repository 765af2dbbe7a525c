/* What each agent host last said about its live sessions (role = central): the counts per
 * request it sent with its feed call (live=ID:N,...). Kept in memory only, per central
 * instance: it is an observation, not state (no audit record, no transaction), and the next
 * feed call of the host replaces it. `lockboxctl show` at central prints it. Pure. */
#ifndef LOCKBOXD_HOST_SESSIONS_H
#define LOCKBOXD_HOST_SESSIONS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lockbox_limits.h"

#define HOST_SESSIONS_MAX 200 /* counts in one feed call (as known=) */
#define HOST_SESSIONS_LIVE_MAX 100000

struct host_session_count {
    char request_id[LOCKBOX_ID_HEX_LEN + 1];
    int live;
};

struct host_report {
    char host[LOCKBOX_HOST_MAX + 1];
    int64_t at_wall_ms;
    struct host_session_count *counts;
    size_t n;
};

struct host_reports {
    struct host_report *hosts;
    size_t n, cap;
};

/* Parses live= ("ID:N,ID:N"; "" for none): at most max entries, each id well-formed, N from 1
 * to HOST_SESSIONS_LIVE_MAX, no id twice. Returns 0 with *n, or -1. */
int host_sessions_parse(const char *text, struct host_session_count *out, size_t max, size_t *n);
/* Replaces what host said before with counts (copied). Returns 0, or -1 out of memory (then
 * the host's earlier report is gone too: nothing stale is shown). */
int host_reports_set(struct host_reports *reports, const char *host, int64_t at_wall_ms,
                     const struct host_session_count *counts, size_t n);
/* The host's last report: whether it has sent one, and then the live sessions it counted for
 * request_id (0 when it listed none) and when. */
bool host_reports_get(const struct host_reports *reports, const char *host, const char *request_id,
                      int *live, int64_t *at_wall_ms);
void host_reports_free(struct host_reports *reports);

#endif
