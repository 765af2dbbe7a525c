/* One delivery attempt of a notification: a signed webhook POST, or a command that reads the
 * JSON on stdin, run as an unprivileged user with an empty environment and a time limit. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lockbox_limits.h"
#include "notify.h"

static int sign_body(const char *secret, const char *body, char out[2 * 32 + 1])
{
    unsigned char mac[64];
    size_t mac_len = 0;

    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, strlen(secret),
                  (const unsigned char *)body, strlen(body), mac, sizeof(mac), &mac_len) == NULL ||
        mac_len != 32)
        return -1;
    for (size_t i = 0; i < mac_len; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
    return 0;
}

static size_t discard_reply(char *data, size_t size, size_t count, void *ctx)
{
    (void)data;
    (void)ctx;
    return size * count;
}

/* libcurl calls this about once a second, also while it waits on a slow receiver. */
static int give_up_when_cancelled(void *cancel, curl_off_t dltotal, curl_off_t dlnow,
                                  curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return cancel != NULL && atomic_load((const atomic_bool *)cancel) ? 1 : 0;
}

int notify_deliver_webhook(const struct tenant_config *tenant, const char *notification_id,
                           const char *event, const char *body, const atomic_bool *cancel,
                           char *err, size_t err_len)
{
    char signature[65], header[3][160];
    struct curl_slist *headers = NULL;
    long status = 0;
    int rc = -1;

    if (sign_body(tenant->notify_secret, body, signature) != 0) {
        snprintf(err, err_len, "cannot sign the body");
        return -1;
    }
    snprintf(header[0], sizeof(header[0]), "X-Lockbox-Signature: sha256=%s", signature);
    snprintf(header[1], sizeof(header[1]), "X-Lockbox-Delivery: %s", notification_id);
    snprintf(header[2], sizeof(header[2]), "X-Lockbox-Event: %s", event);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    for (int i = 0; i < 3 && headers; i++)
        headers = curl_slist_append(headers, header[i]);
    CURL *curl = curl_easy_init();
    if (curl == NULL || headers == NULL) {
        snprintf(err, err_len, "cannot set up libcurl");
        goto out;
    }
    /* The URL was checked at start-up (https, or http on loopback); the handle still refuses
     * redirects, proxies from the environment and anything but http(s). */
    curl_easy_setopt(curl, CURLOPT_URL, tenant->notify_url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)LOCKBOX_NOTIFY_TIMEOUT_SECONDS);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, give_up_when_cancelled);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, (void *)cancel);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_reply);
    CURLcode res = curl_easy_perform(curl);
    if (res != CURLE_OK) {
        snprintf(err, err_len, "%s", curl_easy_strerror(res));
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        snprintf(err, err_len, "the receiver answered HTTP %ld", status);
        goto out;
    }
    rc = 0;
out:
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return rc;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void exec_as(const struct passwd *pw, int stdin_fd, const char *command)
{
    static char *const empty_env[] = {NULL};
    struct sigaction default_action;
    sigset_t none;

    /* The daemon blocks its signals and ignores SIGPIPE; the command starts with neither. */
    memset(&default_action, 0, sizeof(default_action));
    default_action.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &default_action, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Its own process group, so a timeout ends everything the command started. */
    setpgid(0, 0);
    int devnull = open("/dev/null", O_RDWR);

    if (devnull < 0 || dup2(stdin_fd, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
        _exit(126);
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
        _exit(126);
    if (chdir("/") != 0)
        _exit(126);
    char *argv[] = {"/bin/sh", "-c", (char *)command, NULL};
    execve("/bin/sh", argv, empty_env);
    _exit(127);
}

static int wait_child(pid_t pid, char *err, size_t err_len)
{
    int status = 0, pidfd = pidfd_open(pid, 0);

    if (pidfd >= 0) {
        struct pollfd pfd = {pidfd, POLLIN, 0};
        if (poll(&pfd, 1, LOCKBOX_NOTIFY_TIMEOUT_SECONDS * 1000) == 0) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            snprintf(err, err_len, "the command took longer than %d s and was killed",
                     LOCKBOX_NOTIFY_TIMEOUT_SECONDS);
        }
        close(pidfd);
    } else {
        kill(pid, SIGKILL);
    }
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    if (err[0] != '\0')
        return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, err_len, "the command exited with %d",
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return -1;
    }
    return 0;
}

int notify_deliver_command(const struct tenant_config *tenant, const char *body, char *err,
                           size_t err_len)
{
    struct passwd pw_buf, *pw = NULL;
    char buf[4096];
    int pipe_fds[2];

    err[0] = '\0';
    if (getpwnam_r(tenant->notify_user, &pw_buf, buf, sizeof(buf), &pw) != 0 || pw == NULL) {
        snprintf(err, err_len, "notify_user %s does not exist", tenant->notify_user);
        return -1;
    }
    if (pw->pw_uid == 0 || pw->pw_gid == 0) {
        snprintf(err, err_len, "notify_user %s is privileged (uid or gid 0); refusing",
                 tenant->notify_user);
        return -1;
    }
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        snprintf(err, err_len, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0)
        exec_as(pw, pipe_fds[0], tenant->notify_command);
    close(pipe_fds[0]);
    if (pid < 0) {
        close(pipe_fds[1]);
        snprintf(err, err_len, "fork: %s", strerror(errno));
        return -1;
    }
    /* The body is small (< 64 KiB pipe buffer), so this write cannot block on a stuck child. */
    size_t len = strlen(body);
    ssize_t written = write(pipe_fds[1], body, len);
    close(pipe_fds[1]);
    if (written != (ssize_t)len && err[0] == '\0')
        snprintf(err, err_len, "could not hand the whole body to the command");
    return wait_child(pid, err, err_len);
}
