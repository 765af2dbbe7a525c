/* role = agent: the host's link to central (docs/DESIGN.md, "Fleet mode"). Two threads talk
 * to central (agent_link.c): "link" follows the host's feed, "calls" forwards filings. Their
 * answers reach the main loop through a queue and an eventfd; only the main loop changes
 * state, through service_mirror() and the journal (agent.c). */
#ifndef LOCKBOXD_AGENT_H
#define LOCKBOXD_AGENT_H
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "service.h"

struct agent;

/* A filing forwarded to central, embedded in whoever waits for it (a login connection).
 * on_done runs on the main loop once: r->status 200/201 with req mirrored, or an error. */
struct agent_filing {
    void (*on_done)(struct agent_filing *filing, const struct service_result *r,
                    const struct lockbox_request *req);
    uint64_t job_id;
    bool queued;
    struct agent_filing *next;
};

/* Reads the last sync from the store and starts both threads. NULL with err on failure. */
struct agent *agent_start(struct service *svc, char *err, size_t err_len);
int agent_attach(struct agent *agent, int epoll_fd);
/* Stops the threads (an HTTP call under way is abandoned) and frees the agent. */
void agent_stop(struct agent *agent);

/* Forwards a login's filing to central (root's: the module speaks for its logins). 0, or -1
 * (on_done will not run). */
int agent_file(struct agent *agent, struct agent_filing *filing, const struct file_input *in);
/* The waiting side went away: on_done will not run. */
void agent_file_cancel(struct agent *agent, struct agent_filing *filing);

/* Publishes what the next feed call reports (the ids held, the sessions open under them):
 * at once when sessions opened or closed, else every AGENT_PUBLISH_MS. */
#define AGENT_PUBLISH_MS 5000
void agent_tick(struct agent *agent);
int64_t agent_next_tick_ms(const struct agent *agent);

/* May a login be admitted from the mirror now (offline = strict | grace)? */
bool agent_may_admit(const struct agent *agent, const struct lockbox_clock *now);
const char *agent_central_url(const struct agent *agent);
/* /v1/health's "central" object. */
json_object *agent_health(const struct agent *agent);

#endif
