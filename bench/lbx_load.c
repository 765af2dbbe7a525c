/* lbx_load: the load driver for lockboxd benchmarks. Many connections in one epoll loop, each
 * with one request in flight; every figure is printed as a "result name=..." line.
 *
 *   lbx_load file    SOCKET USER HOST_PREFIX FIRST COUNT CONCURRENCY IDFILE
 *   lbx_load unblock SOCKET IDFILE ADMIN_UID WAITERS
 *   lbx_load hold    SOCKET IDFILE WAITERS            (prints "ready", holds until stdin EOF)
 *   lbx_load decide  SOCKET IDFILE ADMIN_UID CONCURRENCY
 *   lbx_load repeat  NAME SOCKET AS_UID COUNT METHOD PATH [BODY]
 *   lbx_load compare NAME COUNT METHOD PATH BODY|- SOCKET...   (calls interleaved over the
 *                    daemons, one result line per daemon: name=NAME@1, NAME@2, ...)
 * and on the login socket (SOCK_SEQPACKET, root only), the way pam_lockbox talks to lockboxd:
 *   lbx_load login-repeat NAME LOGIN_SOCKET COUNT MESSAGE   (a connection per call, as the module)
 *   lbx_load login-hold   LOGIN_SOCKET API_SOCKET IDFILE WAITERS   (like hold, with
 *                    {"op":"wait"} messages; lockboxd's count of waiters is read from the API)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench_http.h"
#include "bench_login.h"
#include "bench_stats.h"

#define ID_LEN 32
#define WAIT_PATH_FMT "/v1/requests/%s/wait?timeout=3600"
#define STDIN_TAG (-1)

typedef char request_id[ID_LEN + 1];

struct loop {
    int epfd;
    struct bench_conn *conns;
    int n;
};

typedef void (*reply_fn)(struct bench_conn *c, void *ctx);

static void die(const char *what)
{
    fprintf(stderr, "lbx_load: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(1);
}

static void raise_fd_limit(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return;
    lim.rlim_cur = lim.rlim_max; /* without CAP_SYS_RESOURCE the hard limit is the ceiling */
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
        fprintf(stderr, "lbx_load: cannot raise RLIMIT_NOFILE: %s\n", strerror(errno));
}

static void loop_init(struct loop *l, int n)
{
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->conns = calloc((size_t)n, sizeof(*l->conns));
    l->n = n;
    if (l->epfd < 0 || l->conns == NULL)
        die("cannot set up the event loop");
}

/* Connects slot i as uid and watches it. */
static void loop_connect(struct loop *l, int i, const char *socket_path, uid_t uid)
{
    struct bench_conn *c = &l->conns[i];
    c->index = i;
    if (bench_connect(c, socket_path, uid) != 0)
        die("cannot connect to lockboxd (raise its RLIMIT_NOFILE?)");
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl");
}

static void watch_stdin(struct loop *l)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)STDIN_TAG};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, 0, &ev) != 0)
        die("epoll_ctl stdin");
}

/* One round of epoll: completed replies go to fn. Returns 1 if stdin hit EOF, else 0. */
static int loop_once(struct loop *l, int timeout_ms, reply_fn fn, void *ctx)
{
    struct epoll_event events[256];
    int n = epoll_wait(l->epfd, events, 256, timeout_ms);
    if (n < 0 && errno != EINTR)
        die("epoll_wait");
    for (int i = 0; i < n; i++) {
        if (events[i].data.u32 == (uint32_t)STDIN_TAG) {
            char buf[256];
            if (read(0, buf, sizeof(buf)) <= 0)
                return 1;
            continue;
        }
        struct bench_conn *c = &l->conns[events[i].data.u32];
        int rc = bench_read(c);
        if (rc < 0) {
            fprintf(stderr, "lbx_load: connection %d closed by lockboxd\n", c->index);
            exit(1);
        }
        if (rc > 0)
            fn(c, ctx);
    }
    return 0;
}

static size_t load_ids(const char *path, request_id **ids)
{
    FILE *f = fopen(path, "r");
    char line[128];
    size_t count = 0, cap = 1024;

    *ids = malloc(cap * sizeof(**ids));
    if (f == NULL || *ids == NULL)
        die("cannot read the id file");
    while (fgets(line, sizeof(line), f)) {
        if (strlen(line) < ID_LEN)
            continue;
        if (count == cap && (*ids = realloc(*ids, (cap *= 2) * sizeof(**ids))) == NULL)
            die("out of memory");
        memcpy((*ids)[count], line, ID_LEN);
        (*ids)[count++][ID_LEN] = '\0';
    }
    fclose(f);
    return count;
}

static long long daemon_waiting(const char *socket_path)
{
    struct bench_conn c = {0};
    long long waiting = -1;
    if (bench_connect(&c, socket_path, (uid_t)-1) == 0 &&
        bench_roundtrip(&c, "GET", "/v1/health", NULL) == 0)
        waiting = bench_json_int(&c, "waiting");
    bench_close(&c);
    return waiting;
}

static void unexpected_reply(struct bench_conn *c, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "lbx_load: waiter %d answered early (%d): %.200s\n", c->index, c->status,
            c->body ? c->body : "");
    exit(1);
}

/* Connects slots [0, n) and parks each in a long-poll on ids[i]; returns once lockboxd reports
 * all of them suspended. */
static void open_waiters(struct loop *l, const char *socket_path, request_id *ids, int n)
{
    char path[128];
    for (int i = 0; i < n; i++) {
        loop_connect(l, i, socket_path, (uid_t)-1);
        snprintf(path, sizeof(path), WAIT_PATH_FMT, ids[i]);
        if (bench_send(&l->conns[i], "GET", path, NULL) != 0)
            die("cannot send a wait");
    }
    int64_t deadline = bench_now_ns() + 120LL * 1000000000;
    while (daemon_waiting(socket_path) < n) {
        if (bench_now_ns() > deadline)
            die("lockboxd did not report every waiter suspended within 120 s");
        loop_once(l, 20, unexpected_reply, NULL);
    }
}

struct file_ctx {
    struct loop *loop;
    const char *user, *prefix;
    int next, end;
    FILE *out;
    struct bench_samples samples;
};

static void send_file(struct file_ctx *fc, struct bench_conn *c)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"reason\":\"benchmark\",\"user\":\"%s\",\"host\":\"%s%d\",\"service\":\"bench\"}",
             fc->user, fc->prefix, fc->next++);
    if (bench_send(c, "POST", "/v1/requests", body) != 0)
        die("cannot send a request");
}

static void on_filed(struct bench_conn *c, void *ctx)
{
    struct file_ctx *fc = ctx;
    char id[64];
    if ((c->status != 201 && c->status != 200) || bench_json_string(c, "id", id, sizeof(id)) != 0) {
        fprintf(stderr, "lbx_load: filing failed (%d): %.300s\n", c->status, c->body);
        exit(1);
    }
    fprintf(fc->out, "%s\n", id);
    bench_samples_add(&fc->samples, c->done_ns - c->sent_ns);
    c->sent_ns = 0;
    if (fc->next < fc->end)
        send_file(fc, c);
}

static int cmd_file(char **argv)
{
    struct loop l;
    int first = atoi(argv[3]), count = atoi(argv[4]), conc = atoi(argv[5]);
    struct file_ctx fc = {&l, argv[1], argv[2], first, first + count, fopen(argv[6], "a"), {0}};

    if (fc.out == NULL || count <= 0 || conc <= 0)
        die("bad arguments for file");
    loop_init(&l, conc);
    int64_t start = bench_now_ns();
    for (int i = 0; i < conc && fc.next < fc.end; i++) {
        loop_connect(&l, i, argv[0], (uid_t)-1);
        send_file(&fc, &l.conns[i]);
    }
    while (fc.samples.count < (size_t)count)
        loop_once(&l, 1000, on_filed, &fc);
    double secs = (double)(bench_now_ns() - start) / 1e9;
    char extra[64];
    snprintf(extra, sizeof(extra), "per_s=%.0f", (double)count / secs);
    bench_samples_print(&fc.samples, "file", extra);
    fclose(fc.out);
    return 0;
}

struct unblock_ctx {
    int approver; /* slot of the approver connection */
    int target;   /* waiter slot we expect back */
    int got_answer, got_return;
};

static void on_unblock(struct bench_conn *c, void *ctx)
{
    struct unblock_ctx *u = ctx;
    if (c->index == u->approver) {
        if (c->status != 200) {
            fprintf(stderr, "lbx_load: approve failed (%d): %.300s\n", c->status, c->body);
            exit(1);
        }
        u->got_answer = 1;
    } else if (c->index == u->target && c->body && strstr(c->body, "\"approved\"")) {
        u->got_return = 1;
    } else {
        unexpected_reply(c, NULL);
    }
}

static int cmd_unblock(char **argv)
{
    request_id *ids;
    struct loop l;
    int n = atoi(argv[3]);
    uid_t admin = (uid_t)atol(argv[2]);
    struct bench_samples unblock = {0}, approve = {0};
    char path[128], name[64];

    if ((int)load_ids(argv[1], &ids) < n || n <= 0)
        die("not enough ids for the waiters");
    loop_init(&l, n + 1);
    open_waiters(&l, argv[0], ids, n);
    loop_connect(&l, n, argv[0], admin);
    struct bench_conn *approver = &l.conns[n];
    for (int i = 0; i < n; i++) {
        struct unblock_ctx u = {n, i, 0, 0};
        snprintf(path, sizeof(path), "/v1/requests/%s/approve", ids[i]);
        if (bench_send(approver, "POST", path, "{\"comment\":\"bench\"}") != 0)
            die("cannot send an approval");
        while (!u.got_answer || !u.got_return)
            loop_once(&l, 10000, on_unblock, &u);
        bench_samples_add(&unblock, l.conns[i].done_ns - approver->done_ns);
        bench_samples_add(&approve, approver->done_ns - approver->sent_ns);
    }
    snprintf(name, sizeof(name), "unblock_%d", n);
    bench_samples_print(&unblock, name, NULL);
    snprintf(name, sizeof(name), "approve_rtt_%d", n);
    bench_samples_print(&approve, name, NULL);
    return 0;
}

static int cmd_hold(char **argv)
{
    request_id *ids;
    struct loop l;
    int n = atoi(argv[2]);

    if ((int)load_ids(argv[1], &ids) < n || n <= 0)
        die("not enough ids for the waiters");
    loop_init(&l, n);
    int64_t start = bench_now_ns();
    open_waiters(&l, argv[0], ids, n);
    printf("ready waiters=%d open_s=%.2f\n", n, (double)(bench_now_ns() - start) / 1e9);
    fflush(stdout);
    watch_stdin(&l);
    while (!loop_once(&l, -1, unexpected_reply, NULL)) {
    }
    printf("result name=hold waiters=%d early=0\n", n);
    return 0;
}

struct decide_ctx {
    request_id *ids;
    size_t next, total, done;
    struct bench_samples samples;
};

static void send_approve(struct decide_ctx *d, struct bench_conn *c)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/requests/%s/approve", d->ids[d->next++]);
    if (bench_send(c, "POST", path, "{\"comment\":\"bench\"}") != 0)
        die("cannot send an approval");
}

static void on_decided(struct bench_conn *c, void *ctx)
{
    struct decide_ctx *d = ctx;
    if (c->status != 200) {
        fprintf(stderr, "lbx_load: approve failed (%d): %.300s\n", c->status, c->body);
        exit(1);
    }
    bench_samples_add(&d->samples, c->done_ns - c->sent_ns);
    d->done++;
    if (d->next < d->total)
        send_approve(d, c);
}

static int cmd_decide(char **argv)
{
    struct decide_ctx d = {0};
    struct loop l;
    uid_t admin = (uid_t)atol(argv[2]);
    int conc = atoi(argv[3]);
    char extra[64], name[64];

    d.total = load_ids(argv[1], &d.ids);
    if (d.total == 0 || conc <= 0)
        die("bad arguments for decide");
    loop_init(&l, conc);
    int64_t start = bench_now_ns();
    for (int i = 0; i < conc && d.next < d.total; i++) {
        loop_connect(&l, i, argv[0], admin);
        send_approve(&d, &l.conns[i]);
    }
    while (d.done < d.total)
        loop_once(&l, 10000, on_decided, &d);
    double secs = (double)(bench_now_ns() - start) / 1e9;
    snprintf(extra, sizeof(extra), "concurrency=%d per_s=%.0f", conc, (double)d.total / secs);
    snprintf(name, sizeof(name), "decide_c%d", conc);
    bench_samples_print(&d.samples, name, extra);
    return 0;
}

static int cmd_repeat(int argc, char **argv)
{
    struct bench_conn c = {0};
    struct bench_samples samples = {0};
    long count = atol(argv[3]);
    const char *body = argc > 6 ? argv[6] : NULL;

    if (bench_connect(&c, argv[1], argv[2][0] == '-' ? (uid_t)-1 : (uid_t)atol(argv[2])) != 0)
        die("cannot connect to lockboxd");
    for (long i = 0; i < count; i++) {
        if (bench_roundtrip(&c, argv[4], argv[5], body) != 0 || c.status >= 300) {
            fprintf(stderr, "lbx_load: %s %s failed (%d): %.300s\n", argv[4], argv[5], c.status,
                    c.body ? c.body : "");
            return 1;
        }
        bench_samples_add(&samples, c.done_ns - c.sent_ns);
    }
    char extra[64];
    snprintf(extra, sizeof(extra), "reply_bytes=%zu", c.body_len);
    bench_samples_print(&samples, argv[0], extra);
    bench_close(&c);
    return 0;
}

static int cmd_login_repeat(char **argv)
{
    struct bench_login c = {.fd = -1};
    struct bench_samples samples = {0};
    long count = atol(argv[2]);

    for (long i = 0; i < count; i++) {
        if (bench_login_call(&c, argv[1], argv[3]) != 0 || c.status >= 300) {
            fprintf(stderr, "lbx_load: %s on %s failed (%d): %.300s\n", argv[3], argv[1], c.status,
                    c.reply_len ? c.reply : "");
            return 1;
        }
        bench_samples_add(&samples, c.done_ns - c.sent_ns);
    }
    char extra[64];
    snprintf(extra, sizeof(extra), "reply_bytes=%zu", c.reply_len);
    bench_samples_print(&samples, argv[0], extra);
    return 0;
}

/* Holds WAITERS logins waiting on the login socket until stdin closes; any answer before that
 * is an error. */
static int cmd_login_hold(char **argv)
{
    request_id *ids;
    int n = atoi(argv[3]);
    char message[128];

    if ((int)load_ids(argv[2], &ids) < n || n <= 0)
        die("not enough ids for the waiters");
    struct bench_login *conns = calloc((size_t)n, sizeof(*conns));
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (conns == NULL || epfd < 0)
        die("cannot set up the event loop");
    int64_t start = bench_now_ns();
    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        snprintf(message, sizeof(message), "{\"op\":\"wait\",\"id\":\"%s\",\"timeout\":3600}",
                 ids[i]);
        conns[i].index = i;
        if (bench_login_connect(&conns[i], argv[0]) != 0 ||
            bench_login_send(&conns[i], message) != 0)
            die("cannot send a wait on the login socket");
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0)
            die("epoll_ctl");
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)STDIN_TAG};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev) != 0)
        die("epoll_ctl stdin");
    int64_t deadline = bench_now_ns() + 120LL * 1000000000;
    int ready = 0;
    for (;;) {
        if (!ready && daemon_waiting(argv[1]) >= n) {
            printf("ready waiters=%d open_s=%.2f\n", n, (double)(bench_now_ns() - start) / 1e9);
            fflush(stdout);
            ready = 1;
        }
        if (!ready && bench_now_ns() > deadline)
            die("lockboxd did not report every login waiting within 120 s");
        struct epoll_event events[64];
        int got = epoll_wait(epfd, events, 64, ready ? -1 : 20);
        if (got < 0 && errno != EINTR)
            die("epoll_wait");
        for (int e = 0; e < got; e++) {
            if (events[e].data.u32 == (uint32_t)STDIN_TAG) {
                char buf[256];
                if (read(0, buf, sizeof(buf)) <= 0) {
                    printf("result name=login_hold waiters=%d early=0\n", n);
                    return 0;
                }
                continue;
            }
            struct bench_login *c = &conns[events[e].data.u32];
            int rc = bench_login_read(c);
            if (rc != 0) {
                fprintf(stderr, "lbx_load: login waiter %d %s: %.200s\n", c->index,
                        rc < 0 ? "closed by lockboxd" : "answered early", rc > 0 ? c->reply : "");
                exit(1);
            }
        }
    }
}

#define COMPARE_MAX 8

static int cmd_compare(int argc, char **argv)
{
    struct bench_conn conns[COMPARE_MAX] = {0};
    struct bench_samples samples[COMPARE_MAX] = {0};
    int n = argc - 5;
    long count = atol(argv[1]);
    const char *body = strcmp(argv[4], "-") == 0 ? NULL : argv[4];

    if (n < 1 || n > COMPARE_MAX)
        die("compare takes 1 to 8 sockets");
    for (int d = 0; d < n; d++) {
        if (bench_connect(&conns[d], argv[5 + d], (uid_t)-1) != 0)
            die("cannot connect to lockboxd");
    }
    for (long i = 0; i < count; i++) {
        for (int d = 0; d < n; d++) {
            struct bench_conn *c = &conns[d];
            if (bench_roundtrip(c, argv[2], argv[3], body) != 0 || c->status >= 300) {
                fprintf(stderr, "lbx_load: %s %s failed on %s (%d): %.300s\n", argv[2], argv[3],
                        argv[5 + d], c->status, c->body ? c->body : "");
                return 1;
            }
            bench_samples_add(&samples[d], c->done_ns - c->sent_ns);
        }
    }
    for (int d = 0; d < n; d++) {
        char name[128], extra[64];
        snprintf(name, sizeof(name), "%s@%d", argv[0], d + 1);
        snprintf(extra, sizeof(extra), "reply_bytes=%zu", conns[d].body_len);
        bench_samples_print(&samples[d], name, extra);
        bench_close(&conns[d]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    raise_fd_limit();
    if (argc == 9 && strcmp(argv[1], "file") == 0)
        return cmd_file(argv + 2);
    if (argc == 6 && strcmp(argv[1], "unblock") == 0)
        return cmd_unblock(argv + 2);
    if (argc == 5 && strcmp(argv[1], "hold") == 0)
        return cmd_hold(argv + 2);
    if (argc == 6 && strcmp(argv[1], "decide") == 0)
        return cmd_decide(argv + 2);
    if ((argc == 8 || argc == 9) && strcmp(argv[1], "repeat") == 0)
        return cmd_repeat(argc - 2, argv + 2);
    if (argc == 6 && strcmp(argv[1], "login-repeat") == 0)
        return cmd_login_repeat(argv + 2);
    if (argc == 6 && strcmp(argv[1], "login-hold") == 0)
        return cmd_login_hold(argv + 2);
    if (argc >= 8 && strcmp(argv[1], "compare") == 0)
        return cmd_compare(argc - 2, argv + 2);
    fprintf(stderr, "usage: see the comment at the top of bench/lbx_load.c\n");
    return 2;
}
