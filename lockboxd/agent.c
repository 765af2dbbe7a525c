/* The agent's main-loop side: takes the threads' answers off the queue and applies them
 * through service_mirror(), keeps the link's state (up, down, last sync) and says so in
 * syslog once per outage, and hands forwarded filings back to whoever waits for them. */
#define _GNU_SOURCE
#include "agent.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <syslog.h>
#include <unistd.h>

#include "agent_internal.h"
#include "array_grow.h"
#include "host_sessions.h"
#include "monotonic.h"
#include "request_json.h"
#include "sessions.h"
#include "text.h"
#include "timefmt.h"

/* The meta key that keeps the last sync across restarts (offline = grace counts from it). */
#define LAST_SYNC_KEY "central_last_sync_ms"

static void on_agent_event(struct event_source *source, uint32_t events);
static void publish_known(struct agent *agent);

struct agent *agent_start(struct service *svc, char *err, size_t err_len)
{
    struct agent *agent = calloc(1, sizeof(*agent));
    pthread_condattr_t attr;

    if (agent == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    agent->svc = svc;
    agent->central = &svc->config->central;
    agent->next_job_id = 1;
    agent->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&agent->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&agent->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (store_meta_get_int(svc->store, LAST_SYNC_KEY, &agent->last_sync_wall_ms) != LOCKBOX_OK)
        agent->last_sync_wall_ms = 0;
    /* Before the first poll: its answer must report on every request held here, so a revoke
     * made while this host was down is learnt before anyone is admitted. */
    publish_known(agent);
    if (agent->event_fd < 0 || agent_link_start(agent, err, err_len) != 0) {
        if (agent->event_fd < 0)
            snprintf(err, err_len, "eventfd: %s", strerror(errno));
        agent_stop(agent);
        return NULL;
    }
    return agent;
}

int agent_attach(struct agent *agent, int epoll_fd)
{
    agent->source.on_event = on_agent_event;
    return event_source_watch(epoll_fd, agent->event_fd, EPOLLIN, &agent->source);
}

void agent_stop(struct agent *agent)
{
    if (agent == NULL)
        return;
    agent_link_stop(agent);
    while (agent->inbox != NULL) {
        struct agent_message *msg = agent->inbox;
        agent->inbox = msg->next;
        agent_message_free(msg);
    }
    while (agent->jobs != NULL) {
        struct agent_job *job = agent->jobs;
        agent->jobs = job->next;
        free(job->body);
        free(job);
    }
    free(agent->known);
    free(agent->held);
    free(agent->live);
    if (agent->event_fd >= 0)
        close(agent->event_fd);
    pthread_cond_destroy(&agent->wake);
    pthread_mutex_destroy(&agent->lock);
    free(agent);
}

bool agent_may_admit(const struct agent *agent, const struct lockbox_clock *now)
{
    return offline_may_admit(agent->link_up, agent->central->offline,
                             agent->central->offline_grace_s, agent->last_sync_wall_ms,
                             now->wall_ms);
}

const char *agent_central_url(const struct agent *agent)
{
    return agent->central->url;
}

json_object *agent_health(const struct agent *agent)
{
    json_object *obj = json_object_new_object();
    char when[TIMEFMT_LEN];

    json_object_object_add(obj, "url", json_object_new_string(agent->central->url));
    json_object_object_add(obj, "link", json_object_new_string(agent->link_up ? "up" : "down"));
    if (agent->last_sync_wall_ms > 0)
        timefmt_rfc3339(agent->last_sync_wall_ms, when);
    json_object_object_add(obj, "last_sync",
                           agent->last_sync_wall_ms > 0 ? json_object_new_string(when) : NULL);
    return obj;
}

/* --- known: the ids the feed must report on --- */

/* What the mirror holds as pending or approved, as the link thread needs it: `known`, the ids
 * named in known= (at most AGENT_KNOWN_MAX, approved ones first: their final state matters
 * most), `held`, all of them (an id the answer leaves out is no longer live at central, since
 * the feed lists every live request of the host), and `live`, the sessions open under each
 * (live=, for `show` at central). */
struct held_lists {
    const char *host;
    char *known, *held, *live;
    size_t known_len, held_len, live_len, held_cap, live_cap;
    size_t n_known;
    enum request_state pass;
    int failed;
};

static int append_text(char **text, size_t *len, size_t *cap, const char *add)
{
    size_t n = strlen(add);

    if (array_grow(text, cap, *len + n + 2, 1, 4096) != 0)
        return -1;
    if (*len > 0)
        (*text)[(*len)++] = ',';
    memcpy(*text + *len, add, n + 1);
    *len += n;
    return 0;
}

static int add_held(const struct lockbox_request *req, void *ctx)
{
    struct held_lists *lists = ctx;

    if (req->state != lists->pass || strcmp(req->host, lists->host) != 0)
        return 0;
    if (append_text(&lists->held, &lists->held_len, &lists->held_cap, req->id) != 0) {
        lists->failed = 1;
        return 1;
    }
    if (lists->n_known < AGENT_KNOWN_MAX) {
        memcpy(lists->known + lists->known_len, req->id, LOCKBOX_ID_HEX_LEN);
        lists->known_len += LOCKBOX_ID_HEX_LEN;
        lists->known[lists->known_len++] = ',';
        lists->n_known++;
    }
    return 0;
}

struct live_count {
    char id[LOCKBOX_ID_HEX_LEN + 1];
    int n;
};

struct live_counts {
    const char *host;
    struct live_count counts[HOST_SESSIONS_MAX];
    size_t n;
};

static int count_live(const struct session_row *row, void *ctx)
{
    struct live_counts *c = ctx;

    if (strcmp(row->host, c->host) != 0 || row->request_id[0] == '\0')
        return 0;
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->counts[i].id, row->request_id) == 0) {
            c->counts[i].n++;
            return 0;
        }
    }
    if (c->n < HOST_SESSIONS_MAX) {
        snprintf(c->counts[c->n].id, sizeof(c->counts[c->n].id), "%s", row->request_id);
        c->counts[c->n++].n = 1;
    }
    return 0;
}

static int live_text(struct agent *agent, struct held_lists *lists)
{
    struct live_counts c = {agent->svc->config->host, {{{0}, 0}}, 0};
    char entry[LOCKBOX_ID_HEX_LEN + 16];

    if (store_session_live_rows(agent->svc->store, count_live, &c) != 0)
        return -1;
    if (array_grow(&lists->live, &lists->live_cap, 1, 1, 256) != 0)
        return -1;
    lists->live[0] = '\0';
    for (size_t i = 0; i < c.n; i++) {
        snprintf(entry, sizeof(entry), "%s:%d", c.counts[i].id, c.counts[i].n);
        if (append_text(&lists->live, &lists->live_len, &lists->live_cap, entry) != 0)
            return -1;
    }
    return 0;
}

/* Tells the link thread what the mirror holds (and the sessions under it): central then
 * reports their final states (a revoke made while this host was cut off is learnt on
 * reconnect). */
static void publish_known(struct agent *agent)
{
    struct held_lists lists = {agent->svc->config->host, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0,
                               REQUEST_APPROVED,         0};

    agent->published_ms = monotonic_ms();
    lists.known = malloc(AGENT_KNOWN_MAX * (LOCKBOX_ID_HEX_LEN + 1) + 1);
    if (lists.known == NULL || array_grow(&lists.held, &lists.held_cap, 1, 1, 4096) != 0)
        goto out;
    lists.held[0] = '\0';
    if (store_each_live(agent->svc->store, add_held, &lists) != 0 || lists.failed)
        goto out;
    lists.pass = REQUEST_PENDING;
    if (store_each_live(agent->svc->store, add_held, &lists) != 0 || lists.failed ||
        live_text(agent, &lists) != 0)
        goto out; /* the last lists stay; the next answer or tick tries again */
    if (lists.known_len > 0)
        lists.known_len--; /* the last comma */
    lists.known[lists.known_len] = '\0';
    pthread_mutex_lock(&agent->lock);
    free(agent->known);
    free(agent->held);
    free(agent->live);
    agent->known = lists.known;
    agent->held = lists.held;
    agent->live = lists.live;
    pthread_mutex_unlock(&agent->lock);
    return;
out:
    free(lists.known);
    free(lists.held);
    free(lists.live);
}

void agent_tick(struct agent *agent)
{
    uint64_t changes = agent->svc->sessions ? sessions_changes(agent->svc->sessions) : 0;

    if (changes != agent->published_changes ||
        monotonic_ms() - agent->published_ms >= AGENT_PUBLISH_MS) {
        agent->published_changes = changes;
        publish_known(agent);
    }
}

int64_t agent_next_tick_ms(const struct agent *agent)
{
    int64_t left = agent->published_ms + AGENT_PUBLISH_MS - monotonic_ms();
    return left > 0 ? left : 0;
}

/* --- applying the feed --- */

static bool answer_lists(const struct feed_answer *answer, const char *id)
{
    for (size_t i = 0; i < answer->n_requests; i++) {
        if (strcmp(answer->requests[i].id, id) == 0)
            return true;
    }
    return false;
}

/* A request the mirror held as pending or approved when the poll left that the answer does
 * not list: the feed lists every live request of the host and the final state of those named
 * in known=, so central no longer has it live (ended while this host did not ask about it, or
 * forgotten, or never had: a request filed here before the host became an agent). Access
 * nobody at central vouches for ends. */
static int forget_unlisted(struct agent *agent, const struct agent_message *msg,
                           const struct lockbox_clock *now)
{
    char *save = NULL, *known = strdup(msg->known_sent ? msg->known_sent : "");
    int failures = 0;

    if (known == NULL)
        return 1;
    for (char *id = strtok_r(known, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
        struct lockbox_request req;
        if (answer_lists(&msg->answer, id) ||
            store_get_request(agent->svc->store, id, &req) != LOCKBOX_OK ||
            (req.state != REQUEST_PENDING && req.state != REQUEST_APPROVED))
            continue;
        syslog(LOG_WARNING,
               "event=central.forgot id=%s msg=\"central no longer lists this request: "
               "treated as revoked by central\"",
               id);
        req.state = REQUEST_REVOKED;
        req.decided_at = now->wall_ms;
        snprintf(req.decided_by, sizeof(req.decided_by), "central");
        snprintf(req.comment, sizeof(req.comment), "central no longer lists this request");
        if (service_mirror(agent->svc, &req, now).status != 200)
            failures++;
    }
    free(known);
    return failures;
}

static void link_came_up(struct agent *agent, const struct lockbox_clock *now)
{
    if (!agent->link_up && agent->outage_logged)
        syslog(LOG_NOTICE, "event=central.reconnected url=%s", agent->central->url);
    agent->link_up = true;
    agent->outage_logged = false;
    agent->last_failure[0] = '\0';
    agent->last_sync_wall_ms = now->wall_ms;
    if (store_meta_set_int(agent->svc->store, LAST_SYNC_KEY, now->wall_ms) != 0)
        syslog(LOG_ERR, "event=store.error msg=\"cannot keep the last sync with central\"");
}

static void apply_feed(struct agent *agent, const struct agent_message *msg)
{
    struct lockbox_clock now;
    int failures = 0;

    service_read_clock(&now);
    for (size_t i = 0; i < msg->answer.n_requests; i++) {
        struct service_result r = service_mirror(agent->svc, &msg->answer.requests[i], &now);
        if (r.status != 200) {
            syslog(LOG_ERR, "event=central.apply_failed id=%s msg=\"%s\"",
                   msg->answer.requests[i].id, r.message);
            failures++;
        }
    }
    failures += forget_unlisted(agent, msg, &now);
    /* Up only once everything central said is here: a check then reads the truth. A part
     * that could not be recorded (a revoke among it) leaves the link down until it is. */
    if (failures == 0) {
        link_came_up(agent, &now);
    } else {
        agent->link_up = false;
        pthread_mutex_lock(&agent->lock);
        agent->resync = true;
        pthread_mutex_unlock(&agent->lock);
    }
    publish_known(agent);
}

static void link_went_down(struct agent *agent, const struct agent_message *msg)
{
    char shown[400];

    agent->link_up = false;
    if (msg->bad_answer && strcmp(agent->last_failure, msg->why) != 0)
        syslog(msg->identity_mismatch ? LOG_CRIT : LOG_ERR,
               "event=central.bad_answer url=%s msg=%s", agent->central->url,
               text_escape_log(msg->why, shown, sizeof(shown)));
    snprintf(agent->last_failure, sizeof(agent->last_failure), "%s", msg->why);
    if (agent->outage_logged)
        return;
    agent->outage_logged = true;
    syslog(LOG_ERR, "event=central.unreachable url=%s msg=%s", agent->central->url,
           text_escape_log(msg->why, shown, sizeof(shown)));
}

/* --- forwarded filings --- */

static struct service_result filing_result(int status, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct service_result filing_result(int status, const char *error, const char *fmt, ...)
{
    struct service_result r = {status, error, "", 0, 0, 0, ""};
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r.message, sizeof(r.message), fmt, ap);
    va_end(ap);
    return r;
}

/* Central's refusal, passed on: its code is matched to ours, its message kept. */
static struct service_result central_refusal(const struct agent_message *msg)
{
    json_object *obj = msg->body ? json_tokener_parse(msg->body) : NULL;
    json_object *value;
    const char *message = obj && json_object_object_get_ex(obj, "message", &value) &&
                                  json_object_is_type(value, json_type_string)
                              ? json_object_get_string(value)
                              : "(no message)";
    long s = msg->http_status;
    const char *error = s == 403   ? "forbidden"
                        : s == 404 ? "not_found"
                        : s == 409 ? "conflict"
                        : s == 429 ? "too_many_pending"
                                   : "bad_request";
    char shown[200];
    struct service_result r =
        filing_result((int)(s == 403 || s == 404 || s == 409 || s == 429 ? s : 400), error,
                      "central refused: %s", text_escape_log(message, shown, sizeof(shown)));
    json_object_put(obj);
    return r;
}

/* What the waiting login gets: the request, mirrored here first (its audit record and the
 * waiters' key), or why not. */
static struct service_result settle_filing(struct agent *agent, const struct agent_message *msg,
                                           struct lockbox_request *req)
{
    const struct lockboxd_config *config = agent->svc->config;
    char why[300];
    struct lockbox_clock now;

    if (msg->http_status == 0 || msg->http_status >= 500)
        return filing_result(503, "central_unavailable", "central unreachable (%s): %s",
                             agent->central->url,
                             msg->http_status ? "it answered with a server error" : msg->why);
    if (msg->http_status != 200 && msg->http_status != 201)
        return central_refusal(msg);
    if (filed_answer_parse(msg->body, msg->body_len, config->host, config->tenant, req, why,
                           sizeof(why)) != 0) {
        syslog(LOG_ERR, "event=central.bad_answer url=%s msg=\"filing: %s\"", agent->central->url,
               why);
        return filing_result(503, "central_unavailable", "central's answer is not acceptable: %s",
                             why);
    }
    service_read_clock(&now);
    struct service_result r = service_mirror(agent->svc, req, &now);
    if (r.status != 200 || store_get_request(agent->svc->store, req->id, req) != LOCKBOX_OK)
        return r.status != 200 ? r : filing_result(500, "internal", "cannot read the mirror");
    r.status = (int)msg->http_status;
    return r;
}

static struct agent_filing *take_filing(struct agent *agent, uint64_t job_id)
{
    for (struct agent_filing **p = &agent->filings; *p; p = &(*p)->next) {
        if ((*p)->job_id == job_id) {
            struct agent_filing *filing = *p;
            *p = filing->next;
            filing->next = NULL;
            filing->queued = false;
            return filing;
        }
    }
    return NULL;
}

static void finish_filing(struct agent *agent, const struct agent_message *msg)
{
    struct lockbox_request req;
    /* Mirrored even when the login went away: the request exists at central either way. */
    struct service_result r = settle_filing(agent, msg, &req);
    struct agent_filing *filing = take_filing(agent, msg->job_id);

    if (filing != NULL)
        filing->on_done(filing, &r, &req);
    publish_known(agent);
}

static json_object *filing_body(const struct file_input *in)
{
    json_object *body = json_object_new_object();

    json_object_object_add(body, "user", json_object_new_string(in->user));
    json_object_object_add(body, "reason", json_object_new_string(in->reason));
    if (in->service != NULL)
        json_object_object_add(body, "service", json_object_new_string(in->service));
    if (in->rhost != NULL)
        json_object_object_add(body, "rhost", json_object_new_string(in->rhost));
    if (in->requester != NULL)
        json_object_object_add(body, "requester", json_object_new_string(in->requester));
    if (in->tenant != NULL)
        json_object_object_add(body, "tenant", json_object_new_string(in->tenant));
    return body;
}

int agent_file(struct agent *agent, struct agent_filing *filing, const struct file_input *in)
{
    struct agent_job *job = calloc(1, sizeof(*job));
    json_object *body = in->user && in->reason ? filing_body(in) : NULL;

    if (job == NULL || body == NULL ||
        (job->body = strdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN))) ==
            NULL) {
        json_object_put(body);
        free(job);
        return -1;
    }
    json_object_put(body);
    job->id = agent->next_job_id++;
    filing->job_id = job->id;
    filing->queued = true;
    filing->next = agent->filings;
    agent->filings = filing;
    pthread_mutex_lock(&agent->lock);
    if (agent->jobs_tail != NULL)
        agent->jobs_tail->next = job;
    else
        agent->jobs = job;
    agent->jobs_tail = job;
    pthread_cond_broadcast(&agent->wake);
    pthread_mutex_unlock(&agent->lock);
    return 0;
}

void agent_file_cancel(struct agent *agent, struct agent_filing *filing)
{
    if (filing->queued)
        take_filing(agent, filing->job_id);
}

/* --- the main loop's event --- */

static void on_agent_event(struct event_source *source, uint32_t events)
{
    struct agent *agent = EVENT_SOURCE_OWNER(source, struct agent, source);
    uint64_t count;
    (void)events;

    if (read(agent->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
        syslog(LOG_ERR, "event=daemon.error msg=\"agent eventfd: %s\"", strerror(errno));
    pthread_mutex_lock(&agent->lock);
    struct agent_message *msg = agent->inbox;
    agent->inbox = agent->inbox_tail = NULL;
    pthread_mutex_unlock(&agent->lock);
    while (msg != NULL) {
        struct agent_message *next = msg->next;
        if (msg->kind == AGENT_FEED)
            apply_feed(agent, msg);
        else if (msg->kind == AGENT_FEED_FAILED)
            link_went_down(agent, msg);
        else
            finish_filing(agent, msg);
        agent_message_free(msg);
        msg = next;
    }
}
