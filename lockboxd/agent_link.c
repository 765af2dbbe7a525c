/* The agent's two threads. "link" long-polls central's feed for this host, forever, on one
 * kept-alive connection; "calls" forwards filings one at a time. Neither touches the store:
 * each answer is checked (agent_feed.c) and queued for the main loop (agent_post). */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent_internal.h"

#define FEED_WAIT_SECONDS 25
#define CALL_TIMEOUT_SECONDS 10
#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS 5000

struct reply_buffer {
    char *data;
    size_t len;
    bool too_long;
};

static size_t collect_reply(char *chunk, size_t size, size_t n, void *ctx)
{
    struct reply_buffer *buf = ctx;
    size_t len = size * n;

    if (buf->len + len > AGENT_ANSWER_MAX) {
        buf->too_long = true;
        return 0; /* libcurl stops the transfer */
    }
    char *grown = realloc(buf->data, buf->len + len + 1);
    if (grown == NULL)
        return 0;
    memcpy(grown + buf->len, chunk, len);
    buf->len += len;
    grown[buf->len] = '\0';
    buf->data = grown;
    return len;
}

static bool is_stopping(struct agent *agent)
{
    pthread_mutex_lock(&agent->lock);
    bool stopping = agent->stopping;
    pthread_mutex_unlock(&agent->lock);
    return stopping;
}

/* libcurl calls this often during a transfer, a long-poll's wait included: a stop does not
 * wait for central's answer. */
static int abandon_when_stopping(void *ctx, curl_off_t dltotal, curl_off_t dlnow,
                                 curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return is_stopping(ctx) ? 1 : 0;
}

/* What every call to central is: https only, central's CA pinned (no system CAs), this host's
 * certificate, TLS 1.2 or later, no redirects, no proxy, no signals. */
static CURL *open_handle(struct agent *agent, struct reply_buffer *buf)
{
    const struct central_config *c = agent->central;
    CURL *curl = curl_easy_init();

    if (curl == NULL)
        return NULL;
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(curl, CURLOPT_CAINFO, c->ca);
    curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(curl, CURLOPT_SSLCERT, c->certificate);
    curl_easy_setopt(curl, CURLOPT_SSLKEY, c->key);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, abandon_when_stopping);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, agent);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_reply);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, buf);
    return curl;
}

/* Performs the call set up on curl; the reply lands in buf. Returns the HTTP status, or 0
 * with why when no answer came. */
static long perform(CURL *curl, struct reply_buffer *buf, char *why, size_t why_len)
{
    char detail[CURL_ERROR_SIZE] = "";
    long status = 0;

    free(buf->data);
    *buf = (struct reply_buffer){NULL, 0, false};
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
    CURLcode res = curl_easy_perform(curl);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
    if (res != CURLE_OK) {
        snprintf(why, why_len, "%s%s%s",
                 buf->too_long ? "the answer is too long" : curl_easy_strerror(res),
                 detail[0] ? ": " : "", detail);
        return 0;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

void agent_post(struct agent *agent, struct agent_message *msg)
{
    uint64_t one = 1;

    msg->next = NULL;
    pthread_mutex_lock(&agent->lock);
    if (agent->inbox_tail != NULL)
        agent->inbox_tail->next = msg;
    else
        agent->inbox = msg;
    agent->inbox_tail = msg;
    pthread_mutex_unlock(&agent->lock);
    /* EAGAIN: the counter is at its maximum, and the main loop is woken anyway. */
    (void)!write(agent->event_fd, &one, sizeof(one));
}

void agent_message_free(struct agent_message *msg)
{
    if (msg == NULL)
        return;
    feed_answer_free(&msg->answer);
    free(msg->known_sent);
    free(msg->body);
    free(msg);
}

/* Sleeps ms unless a stop comes first. */
static void pause_ms(struct agent *agent, long ms)
{
    struct timespec until;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&agent->lock);
    while (!agent->stopping &&
           pthread_cond_timedwait(&agent->wake, &agent->lock, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&agent->lock);
}

/* The feed's URL: since= lets central hold the call until something changes; known= the ids
 * whose final state the mirror must learn. Returns a malloc'd string, NULL on failure. */
static char *feed_url(struct agent *agent, char *since, char **known_out)
{
    char *url = NULL;

    pthread_mutex_lock(&agent->lock);
    *known_out = strdup(agent->held ? agent->held : "");
    char *known = strdup(agent->known ? agent->known : "");
    char *live = strdup(agent->live ? agent->live : "");
    bool resync = agent->resync;
    agent->resync = false;
    pthread_mutex_unlock(&agent->lock);
    if (resync) {
        since[0] = '\0';                     /* the whole state again, at once */
        pause_ms(agent, BACKOFF_MAX_MS / 5); /* whatever failed may need a moment */
    }
    if (*known_out == NULL || known == NULL || live == NULL) {
        free(known);
        free(live);
        return NULL;
    }
    /* The version is central's opaque string: escaped, so no character of it is read as
     * part of the query's syntax. */
    char *escaped = curl_easy_escape(NULL, since, 0);
    if (escaped == NULL ||
        asprintf(&url, "%s/v1/hosts/self/requests?wait=%d%s%s%s%s&live=%s", agent->central->url,
                 FEED_WAIT_SECONDS, since[0] ? "&since=" : "", escaped, known[0] ? "&known=" : "",
                 known, live) < 0)
        url = NULL;
    curl_free(escaped);
    free(known);
    free(live);
    return url;
}

/* One poll. Returns the message for the main loop (NULL: out of memory); since becomes the
 * answer's version, or "" after a failure so that the next poll is answered at once. */
static struct agent_message *poll_once(struct agent *agent, CURL *curl, struct reply_buffer *buf,
                                       char *since, size_t since_len)
{
    const struct lockboxd_config *config = agent->svc->config;
    struct agent_message *msg = calloc(1, sizeof(*msg));
    char *url = msg ? feed_url(agent, since, &msg->known_sent) : NULL;

    if (url == NULL) {
        agent_message_free(msg);
        return NULL;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)FEED_WAIT_SECONDS + 10);
    long status = perform(curl, buf, msg->why, sizeof(msg->why));
    free(url);
    msg->kind = AGENT_FEED_FAILED;
    if (status >= 400 || (status != 0 && status != 200))
        snprintf(msg->why, sizeof(msg->why), "HTTP %ld: %.200s", status,
                 buf->data ? buf->data : "");
    else if (status == 200 &&
             feed_answer_parse(buf->data, buf->len, config->host, config->tenant, &msg->answer,
                               &msg->identity_mismatch, msg->why, sizeof(msg->why)) != 0)
        msg->bad_answer = true;
    else if (status == 200)
        msg->kind = AGENT_FEED;
    snprintf(since, since_len, "%s", msg->kind == AGENT_FEED ? msg->answer.version : "");
    return msg;
}

static void *run_link(void *ctx)
{
    struct agent *agent = ctx;
    struct reply_buffer buf = {NULL, 0, false};
    char since[AGENT_VERSION_MAX + 1] = "";
    long backoff = BACKOFF_FIRST_MS;
    CURL *curl = open_handle(agent, &buf);

    pthread_setname_np(pthread_self(), "link");
    while (curl != NULL && !is_stopping(agent)) {
        struct agent_message *msg = poll_once(agent, curl, &buf, since, sizeof(since));
        bool failed = msg == NULL || msg->kind != AGENT_FEED;
        if (msg != NULL && !is_stopping(agent))
            agent_post(agent, msg);
        else
            agent_message_free(msg);
        if (!failed) {
            backoff = BACKOFF_FIRST_MS;
            continue;
        }
        pause_ms(agent, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    free(buf.data);
    curl_easy_cleanup(curl);
    return NULL;
}

static struct agent_job *next_job(struct agent *agent)
{
    pthread_mutex_lock(&agent->lock);
    while (!agent->stopping && agent->jobs == NULL)
        pthread_cond_wait(&agent->wake, &agent->lock);
    struct agent_job *job = agent->stopping ? NULL : agent->jobs;
    if (job != NULL) {
        agent->jobs = job->next;
        if (agent->jobs == NULL)
            agent->jobs_tail = NULL;
    }
    pthread_mutex_unlock(&agent->lock);
    return job;
}

static void *run_calls(void *ctx)
{
    struct agent *agent = ctx;
    struct reply_buffer buf = {NULL, 0, false};
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    CURL *curl = headers ? open_handle(agent, &buf) : NULL;
    char url[LOCKBOX_SERVER_URL_MAX + 32];
    struct agent_job *job;

    pthread_setname_np(pthread_self(), "calls");
    snprintf(url, sizeof(url), "%s/v1/requests", agent->central->url);
    while (curl != NULL && (job = next_job(agent)) != NULL) {
        struct agent_message *msg = calloc(1, sizeof(*msg));
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, job->body);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)CALL_TIMEOUT_SECONDS);
        if (msg != NULL) {
            msg->kind = AGENT_FILED;
            msg->job_id = job->id;
            msg->http_status = perform(curl, &buf, msg->why, sizeof(msg->why));
            msg->body = buf.data;
            msg->body_len = buf.len;
            buf = (struct reply_buffer){NULL, 0, false};
            agent_post(agent, msg);
        }
        free(job->body);
        free(job);
    }
    free(buf.data);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return NULL;
}

int agent_link_start(struct agent *agent, char *err, size_t err_len)
{
    if (pthread_create(&agent->link_thread, NULL, run_link, agent) != 0) {
        snprintf(err, err_len, "cannot start the link thread");
        return -1;
    }
    agent->link_started = true;
    if (pthread_create(&agent->calls_thread, NULL, run_calls, agent) != 0) {
        snprintf(err, err_len, "cannot start the calls thread");
        return -1;
    }
    agent->calls_started = true;
    return 0;
}

void agent_link_stop(struct agent *agent)
{
    pthread_mutex_lock(&agent->lock);
    agent->stopping = true;
    pthread_cond_broadcast(&agent->wake);
    pthread_mutex_unlock(&agent->lock);
    if (agent->link_started)
        pthread_join(agent->link_thread, NULL);
    if (agent->calls_started)
        pthread_join(agent->calls_thread, NULL);
    agent->link_started = agent->calls_started = false;
}
