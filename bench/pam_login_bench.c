/* pam_login_bench: N logins (pam_start_confdir + pam_acct_mgmt + pam_end) through the real
 * libpam for each named service, interleaved round-robin so that the machine's noise hits every
 * stack alike. Each login must succeed; one "result name=pam_SERVICE" line per service.
 *
 *   pam_login_bench [--keep-loaded MODULE] CONFDIR USER COUNT SERVICE...
 *
 * libpam loads every module of a stack at pam_start and unloads it at pam_end, the way each new
 * sshd connection process does. --keep-loaded pins MODULE (and its libraries) in memory first,
 * so the figures show the module's own work without the dynamic loader's.
 */
#include <dlfcn.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_stats.h"

#define MAX_SERVICES 8
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

int main(int argc, char **argv)
{
    struct bench_samples samples[MAX_SERVICES];
    if (argc > 2 && strcmp(argv[1], "--keep-loaded") == 0) {
        if (dlopen(argv[2], RTLD_NOW | RTLD_NODELETE) == NULL) {
            fprintf(stderr, "pam_login_bench: %s\n", dlerror());
            return 1;
        }
        argc -= 2;
        argv += 2;
    }
    int n_services = argc - 4;
    if (argc < 5 || n_services > MAX_SERVICES) {
        fprintf(stderr, "usage: pam_login_bench [--keep-loaded MODULE] CONFDIR USER COUNT SERVICE...\n");
        return 2;
    }
    const char *confdir = argv[1], *user = argv[2];
    long count = atol(argv[3]);
    memset(samples, 0, sizeof(samples));
    for (long i = -WARMUP; i < count; i++) {
        for (int s = 0; s < n_services; s++) {
            long long start = now_ns();
            int rc = login(confdir, argv[4 + s], user);
            long long took = now_ns() - start;
            if (rc != PAM_SUCCESS) {
                fprintf(stderr, "pam_login_bench: %s: login %ld failed: %s\n", argv[4 + s], i,
                        pam_strerror(NULL, rc));
                return 1;
            }
            if (i >= 0)
                bench_samples_add(&samples[s], took);
        }
    }
    for (int s = 0; s < n_services; s++) {
        char name[96];
        snprintf(name, sizeof(name), "pam_%s", argv[4 + s]);
        bench_samples_print(&samples[s], name, NULL);
        bench_samples_free(&samples[s]);
    }
    return 0;
}
