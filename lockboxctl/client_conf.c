/* Reads client.conf with inih: four keys, no sections, paths with ~ expanded. */
#include "client_conf.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct parse_state {
    struct client_conf *conf;
    const char *home;
    char error[320];
};

int client_conf_home(char *out, size_t out_len)
{
    const char *home = getenv("HOME");

    if (home == NULL || home[0] != '/') {
        struct passwd *pw = getpwuid(getuid());
        home = pw != NULL ? pw->pw_dir : NULL;
    }
    if (home == NULL || home[0] != '/')
        return -1;
    return (size_t)snprintf(out, out_len, "%s", home) < out_len ? 0 : -1;
}

int client_conf_path(const char *home, char *out, size_t out_len)
{
    return (size_t)snprintf(out, out_len, "%s/.config/lockbox/client.conf", home) < out_len ? 0
                                                                                            : -1;
}

int client_conf_expand_path(const char *value, const char *home, char *out, size_t out_len,
                            char *err, size_t err_len)
{
    int n;

    if (value[0] == '~' && (value[1] == '/' || value[1] == '\0')) {
        if (home == NULL || home[0] != '/') {
            snprintf(err, err_len, "cannot expand ~ in %s: no home directory", value);
            return -1;
        }
        n = snprintf(out, out_len, "%s%s", home, value + 1);
    } else if (value[0] == '/') {
        n = snprintf(out, out_len, "%s", value);
    } else {
        snprintf(err, err_len, "%s must be an absolute path or start with ~/", value);
        return -1;
    }
    if (n < 0 || (size_t)n >= out_len) {
        snprintf(err, err_len, "path too long (at most %zu bytes)", out_len - 1);
        return -1;
    }
    return 0;
}

/* Each key once: a second value would silently win, and this file decides whom we trust. */
static int check_new_value(const char *field, const char *key, const char *value,
                           struct parse_state *st)
{
    if (field[0] != '\0')
        snprintf(st->error, sizeof(st->error), "%s is set twice", key);
    else if (value[0] == '\0')
        snprintf(st->error, sizeof(st->error), "%s has no value", key);
    else
        return 1;
    return 0;
}

static int set_server(struct parse_state *st, const char *value)
{
    char *field = st->conf->server;

    if (!check_new_value(field, "server", value, st))
        return 0;
    if (strlen(value) > LOCKBOX_SERVER_URL_MAX) {
        snprintf(st->error, sizeof(st->error), "server is longer than %d bytes",
                 LOCKBOX_SERVER_URL_MAX);
        return 0;
    }
    memcpy(field, value, strlen(value) + 1);
    return 1;
}

static int set_path(struct parse_state *st, char *field, size_t field_len, const char *key,
                    const char *value)
{
    char why[256];

    if (!check_new_value(field, key, value, st))
        return 0;
    if (client_conf_expand_path(value, st->home, field, field_len, why, sizeof(why)) != 0) {
        field[0] = '\0';
        snprintf(st->error, sizeof(st->error), "%s: %s", key, why);
        return 0;
    }
    return 1;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    struct parse_state *st = user;
    struct client_conf *c = st->conf;

    if (section[0] != '\0') {
        snprintf(st->error, sizeof(st->error),
                 "client.conf has no sections; put server, certificate, key and ca at the top");
        return 0;
    }
    if (strcmp(name, "server") == 0)
        return set_server(st, value);
    if (strcmp(name, "certificate") == 0)
        return set_path(st, c->certificate, sizeof(c->certificate), name, value);
    if (strcmp(name, "key") == 0)
        return set_path(st, c->key, sizeof(c->key), name, value);
    if (strcmp(name, "ca") == 0)
        return set_path(st, c->ca, sizeof(c->ca), name, value);
    snprintf(st->error, sizeof(st->error),
             "unknown key '%.64s' (known: server, certificate, key, ca)", name);
    return 0;
}

static int check_ownership(int fd, const char *path, char *err, size_t err_len)
{
    struct stat st;

    if (fstat(fd, &st) != 0) {
        snprintf(err, err_len, "%s: cannot stat: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s: not a regular file", path);
        return -1;
    }
    if (st.st_uid != getuid() && st.st_uid != 0) {
        snprintf(err, err_len,
                 "%s belongs to uid %u, not to you: refusing a file someone else controls "
                 "(it chooses the server and CA you trust)",
                 path, (unsigned)st.st_uid);
        return -1;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        snprintf(err, err_len,
                 "%s is writable by group or others (mode %04o): anyone who can write it chooses "
                 "the server and CA you trust (chmod go-w %s)",
                 path, (unsigned)(st.st_mode & 07777), path);
        return -1;
    }
    return 0;
}

/* A HOME that is someone else's (kept across su or sudo) holds no settings of ours: a
 * client.conf there that we may not read is as good as none, not an error for local use. */
static bool own_home(const char *home)
{
    struct stat st;

    return home != NULL && stat(home, &st) == 0 && st.st_uid == getuid();
}

int client_conf_load(const char *path, const char *home, struct client_conf *conf, bool *found,
                     char *err, size_t err_len)
{
    struct parse_state st = {conf, home, ""};

    memset(conf, 0, sizeof(*conf));
    snprintf(conf->path, sizeof(conf->path), "%s", path);
    *found = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || (errno == EACCES && !own_home(home))))
        return 0;
    if (fd < 0) {
        snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    *found = true;
    if (check_ownership(fd, path, err, err_len) != 0) {
        close(fd);
        return -1;
    }
    FILE *file = fdopen(fd, "r");
    if (file == NULL) {
        snprintf(err, err_len, "%s: cannot read: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    int line = ini_parse_file(file, on_entry, &st);
    fclose(file);
    if (line > 0)
        snprintf(err, err_len, "%s:%d: %s", path, line,
                 st.error[0] ? st.error : "syntax error (expected key = value)");
    else if (line < 0)
        snprintf(err, err_len, "%s: cannot read", path);
    return line == 0 ? 0 : -1;
}
