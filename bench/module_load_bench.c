/* module_load_bench: what loading a PAM module costs a login before the module does anything.
 * Each round dlopen(RTLD_NOW)s and dlcloses every named library once, round-robin, the way
 * libpam loads a stack's modules at pam_start and unloads them at pam_end. One
 * "result name=load_NAME" line (open + close) and one "name=open_NAME" line (dlopen alone) per
 * library.
 *
 *   module_load_bench [--same-process] [--preload LIB]... COUNT NAME=PATH...
 *
 * By default every open+close runs in a new child process that has never loaded the library,
 * as in each new sshd connection (sshd re-executes itself), su or sudo: some libraries stay
 * mapped after dlclose (libcrypto, libssl and p11-kit do), so a loop in one process would
 * measure them only once. --same-process runs the loop in this process instead.
 * --preload pins a library first, as the host program's own libraries are: what the host
 * already holds is not loaded again. Each result says how many objects the library brought in
 * (objects=) and how many stayed mapped after its dlclose (left_mapped=).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_stats.h"

#define MAX_LIBRARIES 8
#define WARMUP 20

struct library {
    const char *name, *path;
    struct bench_samples load, open;
    int objects;     /* shared objects mapped while it is open, beyond the process's own */
    int left_mapped; /* of those, still mapped after its dlclose */
};

/* One open + close, as measured. */
struct sample {
    long long open_ns, load_ns;
    int objects_open, objects_after;
};

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int count_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)info;
    (void)size;
    (*(int *)data)++;
    return 0;
}

static int loaded_objects(void)
{
    int n = 0;
    dl_iterate_phdr(count_object, &n);
    return n;
}

/* Opens and closes path once, here. Returns 0 or -1. */
static int measure_here(const char *path, struct sample *s)
{
    long long start = now_ns();
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    long long opened = now_ns();
    if (handle == NULL) {
        fprintf(stderr, "module_load_bench: %s\n", dlerror());
        return -1;
    }
    s->open_ns = opened - start;
    s->objects_open = loaded_objects(); /* after the clock: not part of the cost */
    long long closing = now_ns();
    dlclose(handle);
    s->load_ns = s->open_ns + (now_ns() - closing);
    s->objects_after = loaded_objects();
    return 0;
}

/* The same in a new child process, which reports through a pipe. Returns 0 or -1. */
static int measure_in_child(const char *path, struct sample *s)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        int ok = measure_here(path, s) == 0 && write(fds[1], s, sizeof(*s)) == (ssize_t)sizeof(*s);
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], s, sizeof(*s));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return got == (ssize_t)sizeof(*s) && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int parse_libraries(int argc, char **argv, struct library *libs)
{
    int n = 0;
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL || n == MAX_LIBRARIES)
            return -1;
        *eq = '\0';
        memset(&libs[n], 0, sizeof(libs[n]));
        libs[n].name = argv[i];
        libs[n].path = eq + 1;
        n++;
    }
    return n;
}

int main(int argc, char **argv)
{
    struct library libs[MAX_LIBRARIES];
    int same_process = 0, arg = 1;

    for (; arg < argc && strncmp(argv[arg], "--", 2) == 0; arg++) {
        if (strcmp(argv[arg], "--same-process") == 0) {
            same_process = 1;
        } else if (strcmp(argv[arg], "--preload") == 0 && arg + 1 < argc) {
            arg++;
            if (dlopen(argv[arg], RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE) == NULL) {
                fprintf(stderr, "module_load_bench: --preload %s\n", dlerror());
                return 1;
            }
        } else {
            break;
        }
    }
    int n = arg + 1 < argc ? parse_libraries(argc - arg - 1, argv + arg + 1, libs) : -1;
    long count = arg < argc ? atol(argv[arg]) : 0;
    if (n <= 0 || count <= 0) {
        fprintf(stderr, "usage: module_load_bench [--same-process] [--preload LIB]... COUNT "
                        "NAME=PATH...\n");
        return 2;
    }
    int base = loaded_objects();
    for (long round = -WARMUP; round < count; round++) {
        for (int i = 0; i < n; i++) {
            struct sample s;
            int rc = same_process ? measure_here(libs[i].path, &s)
                                  : measure_in_child(libs[i].path, &s);
            if (rc != 0) {
                fprintf(stderr, "module_load_bench: %s: cannot measure a load\n", libs[i].path);
                return 1;
            }
            if (round == -WARMUP) { /* the first load: what a new process maps */
                libs[i].objects = s.objects_open - base;
                libs[i].left_mapped = s.objects_after - base;
            }
            if (round >= 0) {
                bench_samples_add(&libs[i].load, s.load_ns);
                bench_samples_add(&libs[i].open, s.open_ns);
            }
        }
    }
    for (int i = 0; i < n; i++) {
        char name[96], extra[128];
        snprintf(extra, sizeof(extra), "objects=%d left_mapped=%d host_objects=%d fresh=%d",
                 libs[i].objects, libs[i].left_mapped, base, !same_process);
        snprintf(name, sizeof(name), "load_%s", libs[i].name);
        bench_samples_print(&libs[i].load, name, extra);
        snprintf(name, sizeof(name), "open_%s", libs[i].name);
        bench_samples_print(&libs[i].open, name, NULL);
        bench_samples_free(&libs[i].load);
        bench_samples_free(&libs[i].open);
    }
    return 0;
}
