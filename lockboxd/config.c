/* Parses lockboxd.conf with inih. Unknown keys, bad values and missing admins are errors with
 * file:line; nothing is silently defaulted except what the README's configuration reference lists
 * as a default. */
#define _GNU_SOURCE
#include "config.h"

#include <curl/curl.h>
#include <ini.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "duration.h"
#include "store.h"
#include "text.h"

struct parse_state {
    struct lockboxd_config *config;
    char error[256];
    int line; /* inih counts lines for us only on error; we count sections ourselves */
    unsigned section_count;
};

static void strip_inline_comment(char *value)
{
    /* inih (Debian's build) only knows ';' inline comments; the documented style is '#'. */
    for (char *p = value; *p; p++) {
        if (*p == '#' && (p == value || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            break;
        }
    }
    size_t len = strlen(value);
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        value[--len] = '\0';
}

static int set_path(char *out, const char *value, char *error, size_t error_len, const char *key)
{
    if (value[0] != '/' || strlen(value) >= LOCKBOX_PATH_MAX || strstr(value, "/../") != NULL) {
        snprintf(error, error_len, "%s must be an absolute path shorter than %d bytes", key,
                 LOCKBOX_PATH_MAX);
        return 0;
    }
    snprintf(out, LOCKBOX_PATH_MAX, "%s", value);
    return 1;
}

static int set_duration(int64_t *out, const char *value, char *error, size_t error_len,
                        const char *key)
{
    if (duration_parse(value, out) != 0) {
        snprintf(error, error_len, "%s: '%.40s' is not a duration (an integer with s, m, h or d)",
                 key, value);
        return 0;
    }
    return 1;
}

static int set_int(int *out, const char *value, long min, long max, char *error, size_t error_len,
                   const char *key)
{
    char *end;
    long v = strtol(value, &end, 10);

    if (*value == '\0' || *end != '\0' || v < min || v > max) {
        snprintf(error, error_len, "%s must be an integer from %ld to %ld", key, min, max);
        return 0;
    }
    *out = (int)v;
    return 1;
}

/* [store]: which database. The dsn is checked by libpq when the store opens (it knows its
 * syntax); here only that it is one line of plain text. */
static int store_key(struct parse_state *st, const char *key, char *value)
{
    struct lockboxd_config *c = st->config;
    size_t n = sizeof(st->error);

    if (strcmp(key, "backend") == 0) {
        if (strcmp(value, "sqlite") != 0 && strcmp(value, "postgresql") != 0) {
            snprintf(st->error, n, "backend must be sqlite or postgresql");
            return 0;
        }
        snprintf(c->store_backend, sizeof(c->store_backend), "%s", value);
        return 1;
    }
    if (strcmp(key, "dsn") == 0) {
        if (value[0] == '\0' || strlen(value) >= sizeof(c->store_dsn) ||
            !text_is_clean(value, LOCKBOX_DSN_MAX)) {
            snprintf(st->error, n,
                     "dsn must be a libpq connection string of 1-%d printable "
                     "characters",
                     LOCKBOX_DSN_MAX - 1);
            return 0;
        }
        snprintf(c->store_dsn, sizeof(c->store_dsn), "%s", value);
        return 1;
    }
    snprintf(st->error, n, "unknown key '%.40s' in [store]", key);
    return 0;
}

static int set_role(struct lockboxd_config *c, const char *value, char *error, size_t error_len)
{
    if (config_role_parse(value, &c->role) != 0) {
        snprintf(error, error_len, "role must be standalone, central or agent");
        return 0;
    }
    return 1;
}

static int daemon_key(struct parse_state *st, const char *key, char *value)
{
    struct lockboxd_config *c = st->config;
    size_t n = sizeof(st->error);

    if (strcmp(key, "socket") == 0)
        return set_path(c->socket, value, st->error, n, key);
    if (strcmp(key, "pam_socket") == 0)
        return set_path(c->pam_socket, value, st->error, n, key);
    if (strcmp(key, "database") == 0)
        return set_path(c->database, value, st->error, n, key);
    if (strcmp(key, "audit_log") == 0)
        return set_path(c->audit_log, value, st->error, n, key);
    if (strcmp(key, "request_ttl") == 0)
        return set_duration(&c->request_ttl_s, value, st->error, n, key);
    if (strcmp(key, "access_ttl") == 0) {
        /* Every approval is time-bound, 12 h at most: no configuration may stretch it. */
        if (!set_duration(&c->access_ttl_s, value, st->error, n, key))
            return 0;
        if (c->access_ttl_s > LOCKBOX_DEFAULT_TTL_SECONDS) {
            snprintf(st->error, n,
                     "access_ttl: '%.40s' is longer than 12h, the most any "
                     "approval may last",
                     value);
            return 0;
        }
        return 1;
    }
    if (strcmp(key, "tenant") == 0 || strcmp(key, "host") == 0) {
        int is_tenant = key[0] == 't';
        if (is_tenant ? !text_is_name(value, LOCKBOX_NAME_MAX)
                      : !text_is_host(value, LOCKBOX_HOST_MAX)) {
            snprintf(st->error, n, "%s: '%.40s' is not a valid name", key, value);
            return 0;
        }
        if (is_tenant)
            memcpy(c->tenant, value, strlen(value) + 1);
        else
            memcpy(c->host, value, strlen(value) + 1);
        return 1;
    }
    if (strcmp(key, "session_grace") == 0)
        return set_duration(&c->session_grace_s, value, st->error, n, key);
    if (strcmp(key, "session_warning") == 0) {
        if (strcmp(value, "0") == 0) {
            c->session_warning_s = 0;
            return 1;
        }
        return set_duration(&c->session_warning_s, value, st->error, n, key);
    }
    if (strcmp(key, "max_calls_per_user") == 0)
        return set_int(&c->max_calls_per_user, value, 1, 100000, st->error, n, key);
    if (strcmp(key, "max_connections_per_user") == 0)
        return set_int(&c->max_connections_per_user, value, 1, 100000, st->error, n, key);
    if (strcmp(key, "max_pending_per_user") == 0)
        return set_int(&c->max_pending_per_user, value, 1, 1000, st->error, n, key);
    if (strcmp(key, "role") == 0)
        return set_role(c, value, st->error, n);
    snprintf(st->error, n, "unknown key '%.40s' in [daemon]", key);
    return 0;
}

static int add_admins(struct parse_state *st, struct tenant_config *t, char *value)
{
    char *save = NULL;

    for (char *item = strtok_r(value, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ' || *item == '\t')
            item++;
        strip_inline_comment(item);
        const char *name = item[0] == '@' ? item + 1 : item;
        if (!text_is_name(name, LOCKBOX_NAME_MAX)) {
            snprintf(st->error, sizeof(st->error), "admins: '%.40s' is not a user or @group", item);
            return 0;
        }
        if (t->n_admins >= LOCKBOX_ADMINS_MAX) {
            snprintf(st->error, sizeof(st->error), "admins: more than %d entries",
                     LOCKBOX_ADMINS_MAX);
            return 0;
        }
        t->admins[t->n_admins] = strdup(item);
        if (t->admins[t->n_admins] == NULL)
            return 0;
        t->n_admins++;
    }
    return 1;
}

/* Webhooks go to https anywhere, or to plain http only on this machine's loopback. The URL is
 * parsed by libcurl (the parser that will use it), so "http://localhost:x@evil/" is seen as
 * the host it really names. User info in the URL is refused. */
static bool is_allowed_url(const char *url)
{
    CURLU *parsed = curl_url();
    char *scheme = NULL, *host = NULL, *user = NULL;
    bool ok = false;

    if (parsed != NULL && curl_url_set(parsed, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(parsed, CURLUPART_USER, &user, 0) == CURLUE_NO_USER) {
        if (strcmp(scheme, "https") == 0)
            ok = host[0] != '\0';
        else if (strcmp(scheme, "http") == 0)
            ok = strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0 ||
                 strcmp(host, "[::1]") == 0;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_url_cleanup(parsed);
    return ok;
}

static int notify_key(struct parse_state *st, struct tenant_config *t, const char *key,
                      const char *value)
{
    size_t n = sizeof(st->error);

    if (strcmp(key, "notify_url") == 0) {
        if (!is_allowed_url(value) || strlen(value) >= sizeof(t->notify_url) ||
            strpbrk(value, " \t\"") != NULL) {
            snprintf(st->error, n,
                     "notify_url must be https://..., or http:// on 127.0.0.1, "
                     "localhost or [::1]");
            return 0;
        }
        snprintf(t->notify_url, sizeof(t->notify_url), "%s", value);
        return 1;
    }
    if (strcmp(key, "notify_secret") == 0) {
        if (strlen(value) < 16 || strlen(value) > LOCKBOX_NOTIFY_SECRET_MAX) {
            snprintf(st->error, n, "notify_secret must be 16 to %d characters",
                     LOCKBOX_NOTIFY_SECRET_MAX);
            return 0;
        }
        snprintf(t->notify_secret, sizeof(t->notify_secret), "%s", value);
        return 1;
    }
    if (strcmp(key, "notify_command") == 0) {
        if (value[0] != '/' || strlen(value) >= sizeof(t->notify_command)) {
            snprintf(st->error, n, "notify_command must start with an absolute path");
            return 0;
        }
        snprintf(t->notify_command, sizeof(t->notify_command), "%s", value);
        return 1;
    }
    if (strcmp(key, "notify_user") == 0) {
        if (!text_is_name(value, LOCKBOX_NAME_MAX) || strcmp(value, "root") == 0) {
            snprintf(st->error, n, "notify_user must be an unprivileged user name");
            return 0;
        }
        memcpy(t->notify_user, value, strlen(value) + 1);
        return 1;
    }
    if (strcmp(key, "notify_before") == 0) {
        if (strcmp(value, "0") == 0) {
            t->notify_before_s = 0;
            return 1;
        }
        return set_duration(&t->notify_before_s, value, st->error, n, key);
    }
    snprintf(st->error, n, "unknown key '%.40s' in a [tenant] section", key);
    return 0;
}

static struct tenant_config *tenant_section(struct parse_state *st, const char *section)
{
    const char *name = section + strlen("tenant ");
    struct lockboxd_config *c = st->config;

    for (unsigned i = 0; i < c->n_tenants; i++) {
        if (strcmp(c->tenants[i].name, name) == 0)
            return &c->tenants[i];
    }
    if (!text_is_name(name, LOCKBOX_NAME_MAX) || c->n_tenants >= LOCKBOX_TENANTS_MAX) {
        snprintf(st->error, sizeof(st->error),
                 "[%.80s]: not a valid tenant name (or too many tenants)", section);
        return NULL;
    }
    struct tenant_config *t = &c->tenants[c->n_tenants++];
    snprintf(t->name, sizeof(t->name), "%s", name);
    snprintf(t->notify_user, sizeof(t->notify_user), "nobody");
    t->notify_before_s = LOCKBOX_NOTIFY_BEFORE_DEFAULT_SECONDS;
    return t;
}

static int on_entry(void *user, const char *section, const char *key, const char *raw_value)
{
    struct parse_state *st = user;
    char value[LOCKBOX_PATH_MAX * 4];

    if (st->error[0] != '\0')
        return 1; /* report only the first error */
    if (strlen(raw_value) >= sizeof(value)) {
        snprintf(st->error, sizeof(st->error), "value of '%.40s' is too long", key);
        return 0;
    }
    snprintf(value, sizeof(value), "%s", raw_value);
    strip_inline_comment(value);
    if (strcmp(section, "daemon") == 0)
        return daemon_key(st, key, value);
    if (strcmp(section, "store") == 0)
        return store_key(st, key, value);
    if (strcmp(section, "remote") == 0)
        return config_remote_key(&st->config->remote, key, value, st->error, sizeof(st->error)) ==
               0;
    if (strcmp(section, "central") == 0)
        return config_central_key(&st->config->central, key, value, st->error, sizeof(st->error)) ==
               0;
    if (strncmp(section, "tenant ", 7) == 0) {
        struct tenant_config *t = tenant_section(st, section);
        if (t == NULL)
            return 0;
        if (strcmp(key, "admins") == 0)
            return add_admins(st, t, value);
        if (strcmp(key, "hosts") == 0)
            return host_patterns_add(&t->hosts, value, st->error, sizeof(st->error)) == 0;
        if (strncmp(key, "notify_", 7) == 0)
            return notify_key(st, t, key, value);
        int taken = config_grants_key(&t->grants, key, value, st->error, sizeof(st->error));
        if (taken >= 0)
            return taken;
        snprintf(st->error, sizeof(st->error), "unknown key '%.40s' in [%.80s]", key, section);
        return 0;
    }
    snprintf(st->error, sizeof(st->error), "unknown section [%.80s]", section);
    return 0;
}

static void set_defaults(struct lockboxd_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->socket, sizeof(c->socket), "%s", LOCKBOX_DEFAULT_SOCKET);
    snprintf(c->pam_socket, sizeof(c->pam_socket), "%s", LOCKBOX_DEFAULT_PAM_SOCKET);
    snprintf(c->database, sizeof(c->database), "%s", LOCKBOX_DEFAULT_DATABASE);
    snprintf(c->audit_log, sizeof(c->audit_log), "%s", LOCKBOX_DEFAULT_AUDIT_LOG);
    c->request_ttl_s = LOCKBOX_DEFAULT_TTL_SECONDS;
    c->access_ttl_s = LOCKBOX_DEFAULT_TTL_SECONDS;
    c->max_pending_per_user = LOCKBOX_PENDING_PER_USER_DEFAULT;
    c->max_calls_per_user = 64;
    c->max_connections_per_user = 128;
    c->session_grace_s = 5;
    c->session_warning_s = 600;
    if (gethostname(c->host, sizeof(c->host) - 1) != 0 || !text_is_host(c->host, LOCKBOX_HOST_MAX))
        snprintf(c->host, sizeof(c->host), "localhost");
}

/* The line of "[name]" in path, 0 when absent: inih reports lines only for errors it sees,
 * and a section missing a key is found after the parse (an empty one is not seen at all). */
static int section_line(const char *path, const char *name)
{
    char line[1024], header[128];
    int number = 0, found = 0;
    FILE *file = fopen(path, "re");

    if (file == NULL)
        return 0;
    snprintf(header, sizeof(header), "[%s]", name);
    while (found == 0 && fgets(line, sizeof(line), file) != NULL) {
        number++;
        const char *p = line + strspn(line, " \t");
        if (strncmp(p, header, strlen(header)) == 0)
            found = number;
    }
    fclose(file);
    return found;
}

static int validate_remote(struct lockboxd_config *c, char *err, size_t err_len)
{
    char why[200];
    int line = section_line(c->path, "remote");

    if (line > 0)
        c->remote.present = true;
    if (config_remote_check(&c->remote, why, sizeof(why)) == 0)
        return 0;
    snprintf(err, err_len, "%s:%d: %s", c->path, line, why);
    return -1;
}

/* The line of the first "key =" in path (0 when absent), for a FILE:LINE message about a key
 * whose fault shows only after the parse. */
static int key_line(const char *path, const char *key)
{
    char line[1024];
    int number = 0, found = 0;
    size_t key_len = strlen(key);
    FILE *file = fopen(path, "re");

    if (file == NULL)
        return 0;
    while (found == 0 && fgets(line, sizeof(line), file) != NULL) {
        number++;
        const char *p = line + strspn(line, " \t");
        if (strncmp(p, key, key_len) == 0 && strchr(" \t=", p[key_len]) != NULL)
            found = number;
    }
    fclose(file);
    return found;
}

/* A central serves its hosts over the TLS listener only: without it no host could reach it. */
static int validate_role(const struct lockboxd_config *c, char *err, size_t err_len)
{
    if (c->role != LOCKBOXD_ROLE_CENTRAL || c->remote.present)
        return 0;
    snprintf(err, err_len,
             "%s:%d: role = central needs a [remote] section (hosts reach central over TLS)",
             c->path, key_line(c->path, "role"));
    return -1;
}

static int validate(struct lockboxd_config *c, char *err, size_t err_len)
{
    c->remote.central = c->role == LOCKBOXD_ROLE_CENTRAL;
    if (validate_remote(c, err, err_len) != 0 || validate_role(c, err, err_len) != 0 ||
        config_central_validate(c, section_line(c->path, "central"), key_line(c->path, "role"), err,
                                err_len) != 0)
        return -1;
    if (c->tenant[0] == '\0') {
        snprintf(err, err_len,
                 "%s: [daemon] tenant is not set (the tenant that owns this host's data)", c->path);
        return -1;
    }
    if (config_find_tenant(c, c->tenant) == NULL) {
        snprintf(err, err_len, "%s: no [tenant %s] section with its admins", c->path, c->tenant);
        return -1;
    }
    if (strcmp(c->store_backend, "postgresql") == 0 && c->store_dsn[0] == '\0') {
        snprintf(err, err_len, "%s: [store] backend = postgresql needs a dsn", c->path);
        return -1;
    }
    if (strcmp(c->socket, c->pam_socket) == 0) {
        snprintf(err, err_len,
                 "%s: [daemon] socket and pam_socket must be two different paths "
                 "(the login socket is root's alone)",
                 c->path);
        return -1;
    }
    for (unsigned i = 0; i < c->n_tenants; i++) {
        const struct tenant_config *t = &c->tenants[i];
        if (t->notify_url[0] != '\0' && t->notify_secret[0] == '\0') {
            snprintf(err, err_len,
                     "%s: [tenant %s] notify_url needs notify_secret (to sign the body)", c->path,
                     t->name);
            return -1;
        }
        if (t->notify_command[0] != '\0' && getpwnam(t->notify_user) == NULL) {
            snprintf(err, err_len, "%s: [tenant %s] notify_user '%s' does not exist", c->path,
                     t->name, t->notify_user);
            return -1;
        }
        if (config_grants_check(&c->tenants[i].grants, c->path, t->name, err, err_len) != 0)
            return -1;
        if (c->tenants[i].n_admins == 0) {
            snprintf(err, err_len, "%s: [tenant %s] has no admins (admins = user, @group)", c->path,
                     c->tenants[i].name);
            return -1;
        }
    }
    return 0;
}

/* A password in the dsn is the database's key: whoever reads it may approve any login on
 * every host of the database. Only root may read such a file (the package ships it 0644). */
static int check_password_readers(const struct lockboxd_config *c, const struct stat *st, char *err,
                                  size_t err_len)
{
    bool others_read = (st->st_mode & S_IROTH) || ((st->st_mode & S_IRGRP) && st->st_gid != 0);

    if (strcmp(c->store_backend, "postgresql") != 0 || !others_read ||
        !store_dsn_has_password(c->store_dsn))
        return 0;
    snprintf(err, err_len,
             "%s: the [store] dsn holds a password and the file is readable by others (mode "
             "%04o): chmod 600 it, or name a passfile= instead",
             c->path, (unsigned)(st->st_mode & 07777));
    return -1;
}

int config_load(const char *path, struct lockboxd_config *config, char *err, size_t err_len)
{
    struct stat st_file;
    struct parse_state st;

    set_defaults(config);
    snprintf(config->path, sizeof(config->path), "%s", path);
    memset(&st, 0, sizeof(st));
    st.config = config;
    FILE *file = fopen(path, "re");
    if (file == NULL) {
        snprintf(err, err_len, "%s: cannot open: %m", path);
        return -1;
    }
    int line = fstat(fileno(file), &st_file) != 0 ? -1 : ini_parse_file(file, on_entry, &st);
    fclose(file);
    if (line != 0 || st.error[0] != '\0') {
        if (line > 0)
            snprintf(err, err_len, "%s:%d: %s", path, line,
                     st.error[0] ? st.error : "syntax error (expected key = value or [section])");
        else
            snprintf(err, err_len, "%s: %s", path, st.error[0] ? st.error : "cannot read");
        config_free(config);
        return -1;
    }
    if (validate(config, err, err_len) != 0 ||
        check_password_readers(config, &st_file, err, err_len) != 0) {
        config_free(config);
        return -1;
    }
    return 0;
}

void config_free(struct lockboxd_config *config)
{
    for (unsigned i = 0; i < config->n_tenants; i++) {
        for (unsigned a = 0; a < config->tenants[i].n_admins; a++)
            free(config->tenants[i].admins[a]);
        config->tenants[i].n_admins = 0;
        host_patterns_free(&config->tenants[i].hosts);
        config_grants_free(&config->tenants[i].grants);
    }
    config->n_tenants = 0;
}

int config_reload_approver_keys(struct lockboxd_config *config)
{
    char err[600], shown[1200];
    int failed = 0;

    for (unsigned i = 0; i < config->n_tenants; i++) {
        struct tenant_config *t = &config->tenants[i];
        if (config_grants_reload(&t->grants, err, sizeof(err)) == 0)
            continue;
        failed++;
        syslog(LOG_ERR,
               "event=config.keys_reload_failed tenant=%s msg=\"%s; the keys read before stay "
               "in use\"",
               t->name, text_escape_log(err, shown, sizeof(shown)));
    }
    return failed;
}

void config_store(const struct lockboxd_config *config, struct store_config *out)
{
    /* Standalone: SQLite at [daemon] database; [store] backend = postgresql chooses a server. */
    out->backend = config->store_backend[0] ? config->store_backend : "sqlite";
    out->path = config->database;
    out->dsn = config->store_dsn;
    out->instance = NULL;
}

const struct tenant_config *config_find_tenant(const struct lockboxd_config *config,
                                               const char *name)
{
    for (unsigned i = 0; i < config->n_tenants; i++) {
        if (strcmp(config->tenants[i].name, name) == 0)
            return &config->tenants[i];
    }
    return NULL;
}

const struct tenant_config *config_tenant_of_host(const struct lockboxd_config *config,
                                                  const char *host)
{
    for (unsigned i = 0; i < config->n_tenants; i++) {
        if (host_patterns_match(&config->tenants[i].hosts, host))
            return &config->tenants[i];
    }
    return NULL;
}

struct lockbox_tenant_policy config_tenant_policy(const struct tenant_config *tenant)
{
    struct lockbox_tenant_policy policy = {tenant->name, (const char *const *)tenant->admins,
                                           tenant->n_admins};
    return policy;
}

struct lockbox_tenant_policy config_policy_for(const struct lockboxd_config *config,
                                               const char *name)
{
    const struct tenant_config *tenant = config_find_tenant(config, name);
    if (tenant != NULL)
        return config_tenant_policy(tenant);
    struct lockbox_tenant_policy none = {name, NULL, 0};
    return none;
}

static bool listed(const char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0)
            return true;
    }
    return false;
}

size_t config_admin_groups(const struct lockboxd_config *config, const char **out, size_t max)
{
    size_t n = 0;

    for (unsigned t = 0; t < config->n_tenants; t++) {
        const struct tenant_config *tenant = &config->tenants[t];
        for (unsigned a = 0; a < tenant->n_admins && n < max; a++) {
            const char *entry = tenant->admins[a];
            if (entry[0] == '@' && !listed(out, n, entry + 1))
                out[n++] = entry + 1;
        }
    }
    return n;
}
