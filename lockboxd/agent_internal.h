/* What agent.c (the main loop's side) and agent_link.c (the threads) share. Everything under
 * `lock` is touched by both; the rest of struct agent belongs to the main loop alone. */
#ifndef LOCKBOXD_AGENT_INTERNAL_H
#define LOCKBOXD_AGENT_INTERNAL_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent.h"
#include "agent_feed.h"
#include "event_source.h"

enum agent_message_kind {
    AGENT_FEED,        /* a feed answer, validated */
    AGENT_FEED_FAILED, /* a poll that failed: connect, TLS, HTTP >= 400, a bad answer */
    AGENT_FILED,       /* central's answer to a forwarded filing (any status) */
};

struct agent_message {
    enum agent_message_kind kind;
    struct feed_answer answer; /* AGENT_FEED */
    char *known_sent;          /* AGENT_FEED: every id the mirror held live when the poll left */
    bool bad_answer;           /* AGENT_FEED_FAILED: central answered, but not acceptably */
    bool identity_mismatch;    /* ... naming another host or tenant */
    char why[300];
    uint64_t job_id;  /* AGENT_FILED */
    long http_status; /* AGENT_FILED: 0 when no answer came */
    char *body;       /* AGENT_FILED: central's answer */
    size_t body_len;
    struct agent_message *next;
};

struct agent_job {
    uint64_t id;
    char *body; /* the JSON to POST */
    struct agent_job *next;
};

struct agent {
    struct service *svc;
    const struct central_config *central;
    int event_fd;
    struct event_source source;
    pthread_t link_thread, calls_thread;
    bool link_started, calls_started;

    pthread_mutex_t lock;
    pthread_cond_t wake; /* jobs queued, or stopping */
    bool stopping;
    struct agent_message *inbox, *inbox_tail;
    struct agent_job *jobs, *jobs_tail;
    char *known; /* "ID,ID,...": known=, at most AGENT_KNOWN_MAX of what the mirror holds live */
    char *held;  /* all of it: an id the answer leaves out has ended at central */
    char *live;  /* "ID:N,...": the sessions open under each (live=, for show at central) */
    bool resync; /* an answer could not be applied whole: ask again without since= */

    /* The main loop's alone. */
    uint64_t next_job_id;
    struct agent_filing *filings;
    bool link_up;
    bool outage_logged; /* central.unreachable said for this outage */
    bool ever_down;     /* reconnected is said only after an outage */
    char last_failure[300];
    int64_t last_sync_wall_ms;
    int64_t published_ms;       /* CLOCK_MONOTONIC: when known/held/live were last published */
    uint64_t published_changes; /* sessions_changes() then: a session change publishes at once */
};

/* agent_link.c: the threads. */
int agent_link_start(struct agent *agent, char *err, size_t err_len);
void agent_link_stop(struct agent *agent);
/* From a thread: queue msg for the main loop and wake it. */
void agent_post(struct agent *agent, struct agent_message *msg);
void agent_message_free(struct agent_message *msg);

#endif
