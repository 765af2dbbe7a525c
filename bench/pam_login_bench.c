/* pam_login_bench: N logins (pam_start_confdir + pam_acct_mgmt + pam_end) through the real
 * libpam for each named service, interleaved round-robin so that the machine's noise hits every
 * stack alike. Each login must succeed; one "result name=pam_SERVICE" line per service.
 *
 *   pam_login_bench [--keep-loaded MODULE]... [--fsync-probe FILE] CONFDIR USER COUNT SERVICE...
 *
 * libpam loads every module of a stack at pam_start and unloads it at pam_end, the way each new
 * sshd connection process does. --keep-loaded (repeatable) pins MODULE (and its libraries) in
 * memory first, so the figures show the module's own work without the dynamic loader's.
 * --fsync-probe adds one more entry to each round, "result name=pam_fdatasync": a 341-byte append
 * to FILE and its fdatasync, the price of one durable write on that disk at the same moments and
 * at the same pace as the logins (a journal commit's cost depends on what else is pending).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_stats.h"

#define MAX_SERVICES 9 /* eight stacks and the fdatasync probe */
#define PROBE_NAME "fdatasync"
#define WARMUP 20

static int no_conversation(int n, const struct pam_message **msg, struct pam_response **resp,
                           void *data)
{
    (void)n;
    (void)msg;
    (void)resp;
    (void)data;
    return PAM_CONV_ERR; /* the fast path never asks */
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One login; returns its PAM result. */
static int login(const char *confdir, const char *service, const char *user)
{
    struct pam_conv conv = {no_conversation, NULL};
    pam_handle_t *pamh = NULL;
    int rc = pam_start_confdir(service, user, &conv, confdir, &pamh);
    if (rc != PAM_SUCCESS)
        return rc;
    rc = pam_acct_mgmt(pamh, PAM_SILENT);
    pam_end(pamh, rc);
    return rc;
}

/* One append + fdatasync; returns PAM_SUCCESS or PAM_SYSTEM_ERR. */
static int durable_write(int fd)
{
    static char line[341]; /* the size of a login.allowed record */
    if (line[0] == '\0') {
        memset(line, 'x', sizeof(line) - 1);
        line[sizeof(line) - 1] = '\n';
    }
    return write(fd, line, sizeof(line)) == (ssize_t)sizeof(line) && fdatasync(fd) == 0
               ? PAM_SUCCESS
               : PAM_SYSTEM_ERR;
}

int main(int argc, char **argv)
{
    struct bench_samples samples[MAX_SERVICES];
    const char *names[MAX_SERVICES];
    int probe_fd = -1, arg = 1;

    for (; arg + 1 < argc && strncmp(argv[arg], "--", 2) == 0; arg += 2) {
        if (strcmp(argv[arg], "--keep-loaded") == 0) {
            if (dlopen(argv[arg + 1], RTLD_NOW | RTLD_NODELETE) == NULL) {
                fprintf(stderr, "pam_login_bench: %s\n", dlerror());
                return 1;
            }
        } else if (strcmp(argv[arg], "--fsync-probe") == 0) {
            probe_fd = open(argv[arg + 1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
            if (probe_fd < 0) {
                perror(argv[arg + 1]);
                return 1;
            }
        } else {
            break;
        }
    }
    int n_services = argc - arg - 3;
    int n = n_services + (probe_fd >= 0);
    if (n_services < 1 || n > MAX_SERVICES) {
        fprintf(stderr, "usage: pam_login_bench [--keep-loaded MODULE]... [--fsync-probe FILE] "
                        "CONFDIR USER COUNT SERVICE...\n");
        return 2;
    }
    const char *confdir = argv[arg], *user = argv[arg + 1];
    long count = atol(argv[arg + 2]);
    for (int s = 0; s < n_services; s++)
        names[s] = argv[arg + 3 + s];
    if (probe_fd >= 0)
        names[n_services] = PROBE_NAME;
    memset(samples, 0, sizeof(samples));
    for (long i = -WARMUP; i < count; i++) {
        for (int k = 0; k < n; k++) {
            /* Each round starts one stack later: none always runs right after pam_exec's
             * fork and exec, or after a durable write. */
            int s = (int)((i + WARMUP + k) % n);
            long long start = now_ns();
            int rc = s == n_services ? durable_write(probe_fd) : login(confdir, names[s], user);
            long long took = now_ns() - start;
            if (rc != PAM_SUCCESS) {
                fprintf(stderr, "pam_login_bench: %s: login %ld failed: %s\n", names[s], i,
                        pam_strerror(NULL, rc));
                return 1;
            }
            if (i >= 0)
                bench_samples_add(&samples[s], took);
        }
    }
    for (int s = 0; s < n; s++) {
        char name[96];
        snprintf(name, sizeof(name), "pam_%s", names[s]);
        bench_samples_print(&samples[s], name, NULL);
        bench_samples_free(&samples[s]);
    }
    if (probe_fd >= 0)
        close(probe_fd);
    return 0;
}
