/* Parses and checks lockboxd.conf's [central] section (an agent's link to central). */
#define _GNU_SOURCE
#include "config_central.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "duration.h"

/* Parsed by libcurl, the parser that will use it: https, a host, no user info, no path (the
 * routes are central's /v1), no query. */
bool config_central_url_ok(const char *url)
{
    CURLU *parsed = curl_url();
    char *scheme = NULL, *host = NULL, *user = NULL, *path = NULL, *query = NULL;
    bool ok = false;

    if (parsed != NULL && strlen(url) <= LOCKBOX_SERVER_URL_MAX &&
        strpbrk(url, " \t\"\\") == NULL &&
        curl_url_set(parsed, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(parsed, CURLUPART_USER, &user, 0) == CURLUE_NO_USER &&
        curl_url_get(parsed, CURLUPART_QUERY, &query, 0) == CURLUE_NO_QUERY &&
        curl_url_get(parsed, CURLUPART_PATH, &path, 0) == CURLUE_OK)
        ok = strcmp(scheme, "https") == 0 && host[0] != '\0' && strcmp(path, "/") == 0;
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(parsed);
    return ok;
}

static int set_file(char *out, const char *value, const char *key, char *why, size_t why_len)
{
    if (value[0] != '/' || strlen(value) >= LOCKBOX_PATH_MAX || strstr(value, "/../") != NULL) {
        snprintf(why, why_len, "%s must be an absolute path shorter than %d bytes", key,
                 LOCKBOX_PATH_MAX);
        return -1;
    }
    snprintf(out, LOCKBOX_PATH_MAX, "%s", value);
    return 0;
}

static int set_offline(struct central_config *central, const char *key, const char *value,
                       char *why, size_t why_len)
{
    if (strcmp(key, "offline") == 0) {
        if (strcmp(value, "strict") == 0)
            central->offline = CENTRAL_OFFLINE_STRICT;
        else if (strcmp(value, "grace") == 0)
            central->offline = CENTRAL_OFFLINE_GRACE;
        else {
            snprintf(why, why_len, "offline must be strict or grace");
            return -1;
        }
        return 0;
    }
    int64_t seconds;
    if (duration_parse(value, &seconds) != 0 || seconds < CENTRAL_GRACE_MIN_SECONDS ||
        seconds > CENTRAL_GRACE_MAX_SECONDS) {
        snprintf(why, why_len, "offline_grace must be a duration from 1m to 12h (e.g. 1h)");
        return -1;
    }
    central->offline_grace_s = seconds;
    return 0;
}

int config_central_key(struct central_config *central, const char *key, const char *value,
                       char *why, size_t why_len)
{
    if (!central->present)
        central->offline_grace_s = CENTRAL_GRACE_DEFAULT_SECONDS;
    central->present = true;
    if (strcmp(key, "url") == 0) {
        if (!config_central_url_ok(value)) {
            snprintf(why, why_len, "url must be https://HOST[:PORT] (no path, user or query)");
            return -1;
        }
        snprintf(central->url, sizeof(central->url), "%s", value);
        size_t len = strlen(central->url);
        if (len > 0 && central->url[len - 1] == '/')
            central->url[len - 1] = '\0'; /* the routes add their own "/v1/..." */
        return 0;
    }
    if (strcmp(key, "certificate") == 0)
        return set_file(central->certificate, value, key, why, why_len);
    if (strcmp(key, "key") == 0)
        return set_file(central->key, value, key, why, why_len);
    if (strcmp(key, "ca") == 0)
        return set_file(central->ca, value, key, why, why_len);
    if (strcmp(key, "offline") == 0 || strcmp(key, "offline_grace") == 0)
        return set_offline(central, key, value, why, why_len);
    snprintf(why, why_len,
             "unknown key '%.40s' in [central] (url, certificate, key, ca, offline, "
             "offline_grace)",
             key);
    return -1;
}

static int check_key_file(const char *path, char *why, size_t why_len)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        snprintf(why, why_len, "[central] key %s: %s", path, strerror(errno));
        return -1;
    }
    if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        snprintf(why, why_len,
                 "[central] key %s must be owned by uid %u and not readable by group or others "
                 "(chmod 600)",
                 path, (unsigned)geteuid());
        return -1;
    }
    return 0;
}

int config_central_check(const struct central_config *central, char *why, size_t why_len)
{
    const char *missing = NULL;

    if (!central->present)
        return 0;
    if (central->url[0] == '\0')
        missing = "url (https://HOST:PORT of central)";
    else if (central->certificate[0] == '\0')
        missing = "certificate (this host's client certificate, lockbox:host/NAME)";
    else if (central->key[0] == '\0')
        missing = "key (this host's private key)";
    else if (central->ca[0] == '\0')
        missing = "ca (the CA that signed central's server certificate)";
    if (missing != NULL) {
        snprintf(why, why_len, "[central] needs %s", missing);
        return -1;
    }
    return check_key_file(central->key, why, why_len);
}

int config_central_validate(const struct lockboxd_config *config, int line, int role_line,
                            char *err, size_t err_len)
{
    char why[LOCKBOX_PATH_MAX + 200];
    bool agent = config->role == LOCKBOXD_ROLE_AGENT;

    if (line > 0 && !agent) {
        snprintf(err, err_len, "%s:%d: [central] is only for role = agent (see [daemon] role)",
                 config->path, line);
        return -1;
    }
    if (agent && !config->central.present) {
        snprintf(err, err_len,
                 "%s:%d: role = agent needs a [central] section (url, certificate, key, ca)",
                 config->path, role_line);
        return -1;
    }
    if (config_central_check(&config->central, why, sizeof(why)) != 0) {
        snprintf(err, err_len, "%s:%d: %s", config->path, line, why);
        return -1;
    }
    return 0;
}
