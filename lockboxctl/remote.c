/* Chooses lockboxd's door for lockboxctl and checks the TLS files before libcurl sees them,
 * so that a missing or unprotected file is named with the option that set it. */
#include "remote.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

static bool given(const char *value)
{
    return value != NULL && value[0] != '\0';
}

bool remote_needs_conf(const struct remote_inputs *in)
{
    if (in->socket_flag)
        return false;
    if (given(in->server_flag) || given(in->server_env))
        return !(given(in->cert_flag) && given(in->key_flag) && given(in->ca_flag));
    return !in->socket_env; /* client.conf may name the server */
}

/* Command line > environment > client.conf; a --socket given on the command line beats a
 * server from the environment or the file, as a --server beats LOCKBOX_SOCKET. */
static int choose_server(const struct remote_inputs *in, const char **server, const char **origin,
                         char *err, size_t err_len)
{
    const struct client_conf *conf = in->conf;

    *server = NULL;
    if (given(in->server_flag)) {
        *server = in->server_flag, *origin = "--server";
    } else if (in->socket_flag) {
        return 0;
    } else if (given(in->server_env)) {
        if (in->socket_env) {
            snprintf(err, err_len,
                     "LOCKBOX_SERVER and LOCKBOX_SOCKET are both set: unset one, "
                     "or choose with --server or --socket");
            return -1;
        }
        *server = in->server_env, *origin = "LOCKBOX_SERVER";
    } else if (!in->socket_env && conf != NULL && conf->server[0] != '\0') {
        *server = conf->server, *origin = conf->path;
    }
    return 0;
}

static int choose_file(const char *flag, const char *flag_name, const char *from_conf,
                       const char *conf_key, const struct client_conf *conf,
                       struct remote_file *out, char *err, size_t err_len)
{
    const char *path = NULL;

    if (given(flag))
        path = flag, out->origin = flag_name;
    else if (conf != NULL && from_conf[0] != '\0')
        path = from_conf, out->origin = conf->path;
    if (path == NULL) {
        snprintf(err, err_len, "remote use needs %s FILE, or %s = FILE in %s", flag_name, conf_key,
                 conf != NULL ? conf->path : "~/.config/lockbox/client.conf");
        return -1;
    }
    if (strlen(path) >= sizeof(out->path)) {
        snprintf(err, err_len, "%s: the path is longer than %zu bytes", out->origin,
                 sizeof(out->path) - 1);
        return -1;
    }
    memcpy(out->path, path, strlen(path) + 1);
    return 0;
}

int remote_choose(const struct remote_inputs *in, struct remote_target *target, char *err,
                  size_t err_len)
{
    const struct client_conf *conf = in->conf;
    const char *server, *origin = "";
    char why[256];

    memset(target, 0, sizeof(*target));
    if (choose_server(in, &server, &origin, err, err_len) != 0)
        return -1;
    if (server == NULL) {
        if (given(in->cert_flag) || given(in->key_flag) || given(in->ca_flag)) {
            snprintf(err, err_len,
                     "--cert, --key and --ca are for remote use: give --server "
                     "https://HOST:PORT too");
            return -1;
        }
        return 0;
    }
    if (lockbox_server_url_check(server, target->server, sizeof(target->server), why,
                                 sizeof(why)) != 0) {
        snprintf(err, err_len, "%s: %s", origin, why);
        return -1;
    }
    target->remote = true;
    target->server_origin = origin;
    /* The file's paths go with the file: the flags override them one by one. */
    const struct client_conf *file = conf;
    if (choose_file(in->cert_flag, "--cert", file ? file->certificate : "", "certificate", file,
                    &target->cert, err, err_len) != 0 ||
        choose_file(in->key_flag, "--key", file ? file->key : "", "key", file, &target->key, err,
                    err_len) != 0 ||
        choose_file(in->ca_flag, "--ca", file ? file->ca : "", "ca", file, &target->ca, err,
                    err_len) != 0)
        return -1;
    return 0;
}

/* What a file must not let others do: read our private key, or write the CA we pin (whoever
 * can write it chooses the server we trust, as with client.conf). */
enum file_guard { GUARD_NONE, GUARD_SECRET, GUARD_PINNED };

static int check_pinned(const struct remote_file *file, const struct stat *st, char *err,
                        size_t err_len)
{
    if (st->st_uid != getuid() && st->st_uid != 0) {
        snprintf(err, err_len,
                 "the CA file %s belongs to uid %u, not to you: refusing a CA someone else "
                 "chooses (set by %s)",
                 file->path, (unsigned)st->st_uid, file->origin);
        return -1;
    }
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        snprintf(err, err_len,
                 "the CA file %s is writable by group or others (mode %04o): anyone who can "
                 "write it chooses the server you trust (chmod go-w %s)",
                 file->path, (unsigned)(st->st_mode & 07777), file->path);
        return -1;
    }
    return 0;
}

static int check_file(const struct remote_file *file, const char *what, enum file_guard guard,
                      char *err, size_t err_len)
{
    struct stat st;
    int fd = open(file->path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, err_len, "cannot read the %s %s: %s (set by %s)", what, file->path,
                 strerror(errno), file->origin);
        return -1;
    }
    int rc = fstat(fd, &st);
    close(fd);
    if (rc != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "the %s %s is not a regular file (set by %s)", what, file->path,
                 file->origin);
        return -1;
    }
    if (guard == GUARD_PINNED)
        return check_pinned(file, &st, err, err_len);
    if (guard == GUARD_SECRET && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        snprintf(err, err_len,
                 "the %s %s is accessible by group or others (mode %04o): refusing to use it; "
                 "chmod 600 %s",
                 what, file->path, (unsigned)(st.st_mode & 07777), file->path);
        return -1;
    }
    return 0;
}

int remote_check_files(const struct remote_target *target, char *err, size_t err_len)
{
    if (check_file(&target->ca, "CA file", GUARD_PINNED, err, err_len) != 0 ||
        check_file(&target->cert, "client certificate", GUARD_NONE, err, err_len) != 0 ||
        check_file(&target->key, "client key", GUARD_SECRET, err, err_len) != 0)
        return -1;
    return 0;
}
