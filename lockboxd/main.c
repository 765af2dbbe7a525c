/* lockboxd: start-up, the single-threaded event loop (epoll over MHD, signals and clock
 * changes), expiry scheduling and clean shutdown. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <unistd.h>

#include "activation.h"
#include "agent.h"
#include "config.h"
#include "event_source.h"
#include "http.h"
#include "login_socket.h"
#include "journal.h"
#include "notify.h"
#include "sessions.h"
#include "lockbox_limits.h"
#include "readiness.h"
#include "host_feed.h"
#include "peers.h"
#include "random_id.h"
#include "routes.h"
#include "service.h"
#include "service_grants.h"
#include "store.h"
#include "text.h"
#include "waiters.h"

struct lockboxd {
    struct lockboxd_config config;
    struct store *store;
    struct journal journal;
    struct service service;
    struct routes routes; /* what the HTTP API's calls mean */
    struct http_server http;
    struct http_server remote; /* [remote]: the TLS listener (remote.mhd NULL without one) */
    const char *admin_groups[LOCKBOX_ADMIN_GROUPS_MAX]; /* the admin lists' @groups, for it */
    size_t n_admin_groups;
    struct login_server login;
    struct waiters waiters; /* long-polls of both doors */
    struct notifier *notifier;
    struct sessions sessions;
    struct peers peers;  /* the other lockboxd on a shared database */
    struct agent *agent; /* role = agent: the link to central */
    char instance[LOCKBOX_ID_HEX_LEN + 1];
    int epoll_fd, signal_fd, clock_fd;
    struct event_source signal_source, clock_source;
    bool stopping; /* a stop signal came: flush and leave after this batch */
    bool reopen;   /* SIGHUP came: reopen the audit file after this round's flush */
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: lockboxd [-c FILE] [-f] [--check-config] [--version]\n"
            "Holds Lockbox access requests, expires them, and records every decision.\n\n"
            "  -c, --config FILE   configuration file (default %s)\n"
            "  -f, --foreground    also copy log lines to stderr (lockboxd never forks)\n"
            "      --check-config  validate the configuration and exit (0 valid, 1 not)\n"
            "      --version       print the version and exit\n"
            "  -h, --help          this help\n",
            LOCKBOX_DEFAULT_CONFIG);
}

/* The modes the package's units give these directories (StateDirectoryMode and friends),
 * for when lockboxd makes them itself: its umask would make them 0700, and then nobody but
 * root could reach the API socket. */
#define SOCKET_DIR_MODE 0755
#define LOG_DIR_MODE 0750
#define STATE_DIR_MODE 0700

/* State directories must be root-owned and not writable by others: whoever can write
 * there can replace the database, the audit file or the socket. A missing one is made with
 * mode (the first role to make a directory that serves several decides). */
static int check_directory(const char *file_path, mode_t mode, char *err, size_t err_len)
{
    char dir[LOCKBOX_PATH_MAX];
    struct stat st;

    snprintf(dir, sizeof(dir), "%s", file_path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return -1;
    *(slash == dir ? slash + 1 : slash) = '\0';
    if (stat(dir, &st) != 0 && errno == ENOENT) {
        if (mkdir(dir, mode) != 0 || chmod(dir, mode) != 0) {
            snprintf(err, err_len, "%s: cannot create: %s", dir, strerror(errno));
            return -1;
        }
        char shown[2 * LOCKBOX_PATH_MAX];
        syslog(LOG_NOTICE, "event=daemon.created_directory path=%s mode=%04o",
               text_escape_log(dir, shown, sizeof(shown)), (unsigned)mode);
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "%s: not a directory", dir);
        return -1;
    }
    if (st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
        snprintf(err, err_len, "%s must be owned by uid %u and not group/world-writable", dir,
                 (unsigned)geteuid());
        return -1;
    }
    return 0;
}

static void wake_waiters(void *ctx, const char *request_id)
{
    waiters_wake(ctx, request_id);
}

/* role=central: a host's suspended feed calls wait under a key of their host's. */
static void wake_host_feed(void *ctx, const char *host)
{
    char key[LOCKBOX_ID_HEX_LEN + 1];

    host_feed_waiter_key(host, key);
    waiters_wake(ctx, key);
}

static int open_state(struct lockboxd *d, char *err, size_t err_len)
{
    const struct lockboxd_config *c = &d->config;

    /* Sockets first: a directory shared with them must stay reachable. */
    if (check_directory(c->socket, SOCKET_DIR_MODE, err, err_len) != 0 ||
        check_directory(c->pam_socket, SOCKET_DIR_MODE, err, err_len) != 0 ||
        check_directory(c->audit_log, LOG_DIR_MODE, err, err_len) != 0 ||
        check_directory(c->database, STATE_DIR_MODE, err, err_len) != 0)
        return -1;
    if (waiters_init(&d->waiters) != 0) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    struct store_config store_config;
    config_store(c, &store_config);
    /* Names this process among the lockboxd sharing a database: it hears only the others. */
    if (random_id(d->instance) != 0) {
        snprintf(err, err_len, "cannot draw a random instance id");
        return -1;
    }
    d->instance[16] = '\0';
    store_config.instance = d->instance;
    d->store = store_open(&store_config, err, err_len);
    if (d->store == NULL)
        return -1;
    if (journal_open(&d->journal, d->store, c->audit_log, c->host, err, err_len) != 0) {
        size_t used = strlen(err);
        if (used < err_len)
            snprintf(err + used, err_len - used, " (database %.200s, audit file %.200s)",
                     c->database, c->audit_log);
        return -1;
    }
    d->notifier = notifier_start(c, d->store, err, err_len);
    if (d->notifier == NULL)
        return -1;
    d->journal.in_transaction = notifier_enqueue;
    d->journal.after_commit = notifier_kick;
    d->journal.hook_ctx = d->notifier;
    if (sessions_init(&d->sessions, c, d->store, &d->journal, err, err_len) != 0)
        return -1;
    d->service = (struct service){&d->config,   d->store,    &d->journal,  INT64_MAX,
                                  wake_waiters, &d->waiters, d->notifier,  &d->sessions,
                                  NULL,         NULL,        {NULL, 0, 0}, NULL};
    if (c->role == LOCKBOXD_ROLE_AGENT) {
        d->agent = agent_start(&d->service, err, err_len);
        if (d->agent == NULL)
            return -1;
        d->service.agent = d->agent;
    }
    if (d->config.role == LOCKBOXD_ROLE_CENTRAL)
        d->service.on_host_changed = wake_host_feed;
    return peers_open(&d->peers, &store_config, &d->service, &d->journal, &d->waiters,
                      service_read_clock, err, err_len);
}

/* A timer that fires when someone sets the wall clock, so deadlines are re-read at once. */
static int arm_clock_watch(int fd)
{
    struct itimerspec far = {.it_value = {.tv_sec = INT32_MAX}};
    return timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &far, NULL);
}

/* Before any thread starts, so that the notification sender inherits the mask. */
static int block_signals(sigset_t *mask)
{
    sigemptyset(mask);
    sigaddset(mask, SIGTERM);
    sigaddset(mask, SIGINT);
    sigaddset(mask, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    return sigprocmask(SIG_BLOCK, mask, NULL);
}

static void on_signal_event(struct event_source *source, uint32_t events);
static void on_clock_event(struct event_source *source, uint32_t events);

static int setup_loop(struct lockboxd *d)
{
    sigset_t mask;

    if (block_signals(&mask) != 0)
        return -1;
    d->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    d->clock_fd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
    d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (d->signal_fd < 0 || d->clock_fd < 0 || d->epoll_fd < 0 || arm_clock_watch(d->clock_fd) != 0)
        return -1;
    d->signal_source.on_event = on_signal_event;
    d->clock_source.on_event = on_clock_event;
    if (event_source_watch(d->epoll_fd, d->signal_fd, EPOLLIN, &d->signal_source) != 0 ||
        event_source_watch(d->epoll_fd, d->clock_fd, EPOLLIN, &d->clock_source) != 0 ||
        http_attach(&d->http, d->epoll_fd) != 0 ||
        (d->remote.mhd != NULL && http_attach(&d->remote, d->epoll_fd) != 0) ||
        login_socket_attach(&d->login, d->epoll_fd) != 0 ||
        peers_attach(&d->peers, d->epoll_fd) != 0 ||
        (d->agent != NULL && agent_attach(d->agent, d->epoll_fd) != 0))
        return -1;
    return 0;
}

static void on_signal_event(struct event_source *source, uint32_t events)
{
    struct lockboxd *d = EVENT_SOURCE_OWNER(source, struct lockboxd, signal_source);
    struct signalfd_siginfo info;
    (void)events;

    while (read(d->signal_fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
        if (info.ssi_signo == SIGHUP) {
            d->reopen = true;
        } else {
            syslog(LOG_NOTICE, "event=daemon.stopping signal=%u", info.ssi_signo);
            d->stopping = true;
            return;
        }
    }
}

/* After the round's flush, never inside the batch: journal_reopen() flushes what is pending
 * first, and a failure of that flush must reach the replies held for it as a 503. Only
 * flush_round() tells them; a later flush finds nothing left and would release them as
 * durable. */
static void reopen_audit_file(struct lockboxd *d)
{
    char err[512];

    d->reopen = false;
    if (journal_reopen(&d->journal, err, sizeof(err)) != 0)
        syslog(LOG_CRIT, "event=audit.reopen_failed msg=\"%s\"", err);
    else
        syslog(LOG_NOTICE, "event=audit.reopened file=%s", d->journal.file.path);
    /* Key rotation: a key marked revoked grants nothing from now on, cached or not. */
    config_reload_approver_keys(&d->config);
    service_grants_keys_changed(&d->service);
    if (d->remote.mhd == NULL)
        return;
    /* The same signal a CA's new CRL is announced with: revocation without a restart. */
    if (http_tls_reload_trust(&d->remote, &d->config.remote, err, sizeof(err)) != 0)
        syslog(LOG_ERR,
               "event=remote.trust_reload_failed msg=\"%s; the client CA and CRL read before "
               "stay in use\"",
               err);
    else
        syslog(LOG_NOTICE, "event=remote.trust_reloaded client_ca=%s crl=%s",
               d->config.remote.client_ca, d->config.remote.crl[0] ? d->config.remote.crl : "-");
}

/* The sooner of timeout (ms, -1: none) and a boot-clock deadline (INT64_MAX: none). */
static int64_t sooner(int64_t timeout, int64_t deadline_boot_ms, int64_t now_boot_ms)
{
    if (deadline_boot_ms == INT64_MAX)
        return timeout;
    int64_t left = deadline_boot_ms - now_boot_ms;
    if (left < 0)
        left = 0;
    return timeout < 0 || left < timeout ? left : timeout;
}

static int compute_timeout(struct lockboxd *d, int64_t now_boot_ms)
{
    int64_t timeout = http_next_timeout_ms(&d->http);
    if (d->remote.mhd != NULL) {
        int64_t remote = http_next_timeout_ms(&d->remote);
        if (remote >= 0 && (timeout < 0 || remote < timeout))
            timeout = remote;
    }
    timeout = sooner(timeout, waiters_next_deadline(&d->waiters), now_boot_ms);
    timeout = sooner(timeout, d->service.next_deadline_boot_ms, now_boot_ms);
    timeout = sooner(timeout, sessions_next_deadline(&d->sessions), now_boot_ms);
    timeout = sooner(timeout, peers_next_deadline(&d->peers), now_boot_ms);
    int64_t sync_wait = journal_sync_wait_ms(&d->journal);
    if (sync_wait >= 0 && (timeout < 0 || sync_wait < timeout))
        timeout = sync_wait;
    if (d->journal.file_behind && (timeout < 0 || timeout > 5000))
        timeout = 5000; /* retry the audit file while it is failing */
    if (d->agent != NULL) {
        int64_t tick = agent_next_tick_ms(d->agent);
        if (timeout < 0 || tick < timeout)
            timeout = tick;
    }
    return timeout < 0 ? -1 : timeout > INT32_MAX ? INT32_MAX : (int)timeout;
}

/* Group commit: everything recorded in this round of the loop becomes durable together
 * (one database fsync, one audit write and fsync), then the replies held for it go out. */
static void flush_round(struct lockboxd *d)
{
    /* Resumed connections are answered by the next MHD run, which may take in new work that
     * records and defers again: go round until nothing is held. */
    for (int rounds = 0; rounds < 64; rounds++) {
        int rc = journal_flush(&d->journal);
        login_socket_release_held(&d->login, rc == 0);
        size_t released = http_release_deferred(&d->http, rc == 0);
        if (d->remote.mhd != NULL)
            released += http_release_deferred(&d->remote, rc == 0);
        if (released == 0)
            return;
        http_poll_once(&d->http);
        if (d->remote.mhd != NULL)
            http_poll_once(&d->remote);
    }
}

static void on_clock_event(struct event_source *source, uint32_t events)
{
    struct lockboxd *d = EVENT_SOURCE_OWNER(source, struct lockboxd, clock_source);
    uint64_t ticks;
    (void)events;

    if (read(d->clock_fd, &ticks, sizeof(ticks)) < 0 && errno == ECANCELED)
        syslog(LOG_NOTICE, "event=clock.changed msg=\"rechecking deadlines\"");
    arm_clock_watch(d->clock_fd);
    d->service.next_deadline_boot_ms = 0;
}

static void run_loop(struct lockboxd *d)
{
    struct lockbox_clock now;
    struct epoll_event events[8];

    for (;;) {
        /* The answers of the last round are out: now, once due, the database fsync that
         * rounds of login records only left for later (see journal.h, store_unsynced). */
        journal_sync_idle(&d->journal);
        service_read_clock(&now);
        int n = epoll_wait(d->epoll_fd, events, 8, compute_timeout(d, now.boot_ms));
        if (n < 0 && errno != EINTR) {
            syslog(LOG_CRIT, "event=daemon.error msg=\"epoll_wait: %s\"", strerror(errno));
            return;
        }
        for (int i = 0; i < n && !d->stopping; i++) {
            struct event_source *source = events[i].data.ptr;
            source->on_event(source, events[i].events);
        }
        if (d->stopping) {
            flush_round(d);
            return;
        }
        service_read_clock(&now);
        if (d->journal.file_behind)
            journal_catch_up(&d->journal);
        if (d->service.next_deadline_boot_ms <= now.boot_ms)
            service_expire_due(&d->service, &now);
        if (sessions_next_deadline(&d->sessions) <= now.boot_ms)
            sessions_run_deadlines(&d->sessions, &now);
        if (peers_next_deadline(&d->peers) <= now.boot_ms)
            peers_tick(&d->peers, &now);
        waiters_expire(&d->waiters, now.boot_ms);
        if (d->agent != NULL)
            agent_tick(d->agent);
        http_run(&d->http);
        if (d->remote.mhd != NULL)
            http_run(&d->remote);
        flush_round(d);
        if (d->reopen)
            reopen_audit_file(d);
    }
}

static int parse_options(int argc, char **argv, const char **config_path, int *check_only,
                         int *foreground)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'}, {"foreground", no_argument, NULL, 'f'},
        {"check-config", no_argument, NULL, 'C'}, {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    int opt;

    while ((opt = getopt_long(argc, argv, "c:fh", options, NULL)) != -1) {
        switch (opt) {
        case 'c': *config_path = optarg; break;
        case 'f': *foreground = 1; break;
        case 'C': *check_only = 1; break;
        case 'V': printf("lockboxd %s\n", LOCKBOX_VERSION); exit(0);
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "lockboxd: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* Every waiting login holds a connection: use all the descriptors the hard limit allows. */
static void raise_descriptor_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

/* Both doors: on the sockets systemd passed (socket activation), else on sockets of our own. */
static int start_doors(struct lockboxd *d, int activated, char *err, size_t err_len)
{
    int http_fd = activation_find(activated, d->config.socket, SOCK_STREAM);
    int login_fd = activation_find(activated, d->config.pam_socket, SOCK_SEQPACKET);
    int claimed[2] = {http_fd, login_fd};

    activation_close_unclaimed(activated, claimed, 2);
    d->login.listen_fd = -1;
    if (login_socket_start(&d->login, &d->service, &d->waiters, d->config.pam_socket, login_fd, err,
                           err_len) != 0)
        return -1;
    d->routes = (struct routes){&d->service, &d->waiters};
    struct http_handler handler = routes_handler(&d->routes);
    struct http_limits limits = {d->config.max_calls_per_user, d->config.max_connections_per_user};
    if (http_start(&d->http, &handler, &limits, &d->waiters, d->config.socket, http_fd, err,
                   err_len) != 0)
        return -1;
    if (!d->config.remote.present)
        return 0;
    d->n_admin_groups = config_admin_groups(&d->config, d->admin_groups, LOCKBOX_ADMIN_GROUPS_MAX);
    return http_start_remote(&d->remote, &handler, &limits, &d->waiters, &d->config.remote,
                             d->admin_groups, d->n_admin_groups, err, err_len);
}

/* Answers every waiting call and every held reply, then closes both doors. */
static void stop_doors(struct lockboxd *d)
{
    if (d->waiters.buckets != NULL)
        waiters_expire(&d->waiters, INT64_MAX);
    if (d->journal.store != NULL)
        flush_round(d);
    login_socket_stop(&d->login);
    http_stop(&d->http, d->config.socket);
    http_stop(&d->remote, NULL);
}

int main(int argc, char **argv)
{
    static struct lockboxd d;
    const char *config_path = LOCKBOX_DEFAULT_CONFIG;
    int check_only = 0, foreground = 0, rc = 1;
    char err[1024];

    d.login.listen_fd = -1;
    d.login.spare_fd = -1;
    /* Before anything opens a descriptor: the passed ones are 3 and up, and a descriptor of
     * our own (syslog's) must never be taken for one of them. */
    int activated = activation_take();
    if (parse_options(argc, argv, &config_path, &check_only, &foreground) != 0)
        return 2;
    if (activated < 0) {
        fprintf(stderr, "lockboxd: socket activation: LISTEN_PID/LISTEN_FDS are malformed or "
                        "name descriptors that are not sockets\n");
        return 1;
    }
    if (config_load(config_path, &d.config, err, sizeof(err)) != 0) {
        fprintf(stderr, "lockboxd: %s\n", err);
        return 1;
    }
    if (check_only) {
        printf("%s: OK (tenant %s, %u tenant(s), socket %s)\n", config_path, d.config.tenant,
               d.config.n_tenants, d.config.socket);
        config_free(&d.config);
        return 0;
    }
    openlog("lockboxd", LOG_PID | LOG_NDELAY | (foreground ? LOG_PERROR : 0), LOG_AUTHPRIV);
    readiness_init();
    raise_descriptor_limit();
    umask(077);
    sigset_t blocked;
    if (block_signals(&blocked) != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "lockboxd: cannot initialise signals or libcurl\n");
        goto out;
    }
    if (open_state(&d, err, sizeof(err)) != 0 ||
        start_doors(&d, activated, err, sizeof(err)) != 0) {
        fprintf(stderr, "lockboxd: %s\n", err);
        syslog(LOG_CRIT, "event=daemon.failed msg=\"%s\"", err);
        goto out;
    }
    if (setup_loop(&d) != 0) {
        fprintf(stderr, "lockboxd: cannot set up the event loop: %s\n", strerror(errno));
        goto out;
    }
    struct lockbox_clock now;
    service_read_clock(&now);
    service_schedule_all(&d.service, &now);
    sessions_attach(&d.sessions, d.epoll_fd, service_read_clock, &now);
    if (journal_flush(&d.journal) != 0)
        syslog(LOG_CRIT, "event=daemon.degraded msg=\"start-up records are not durable or not in "
                         "the audit file yet\"");
    syslog(LOG_NOTICE,
           "event=daemon.started version=%s tenant=%s socket=%s pam_socket=%s "
           "activated=%s audit_seq=%llu",
           LOCKBOX_VERSION, d.config.tenant, d.config.socket, d.config.pam_socket,
           activated > 0 ? "yes" : "no", (unsigned long long)d.journal.head_seq);
    readiness_notify("READY=1\nSTATUS=serving logins and the API");
    run_loop(&d);
    readiness_notify("STOPPING=1");
    rc = 0;
out:
    agent_stop(d.agent); /* its answers would have nowhere to go */
    d.service.agent = NULL;
    stop_doors(&d);
    peers_close(&d.peers);
    notifier_stop(d.notifier);
    sessions_free(&d.sessions);
    host_reports_free(&d.service.host_reports);
    service_grants_free(&d.service);
    journal_close(&d.journal);
    store_close(d.store);
    waiters_free(&d.waiters);
    config_free(&d.config);
    curl_global_cleanup();
    closelog();
    return rc;
}
