/* Parses and checks lockboxd.conf's [remote] section. The files themselves are read when the
 * listener starts (http_tls.c), so a start fails naming the file that is wrong. */
#include "config_remote.h"

#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

static bool is_port(const char *s)
{
    char *end;
    long port = strtol(s, &end, 10);
    return s[0] >= '0' && s[0] <= '9' && *end == '\0' && port >= 1 && port <= 65535;
}

int config_remote_parse_listen(const char *value, char *host, size_t host_len, char *port,
                               size_t port_len)
{
    const char *colon, *host_start = value;
    size_t n;

    if (value[0] == '[') { /* an IPv6 address, whose colons are not the port's */
        const char *close = strchr(value, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        host_start = value + 1;
        n = (size_t)(close - host_start);
        colon = close + 1;
    } else {
        colon = strrchr(value, ':');
        if (colon == NULL || memchr(value, ':', (size_t)(colon - value)) != NULL)
            return -1; /* an IPv6 address must be in brackets */
        n = (size_t)(colon - value);
    }
    if (n == 0 || n >= host_len || strlen(colon + 1) >= port_len || !is_port(colon + 1))
        return -1;
    memcpy(host, host_start, n);
    host[n] = '\0';
    if (!text_is_host(host, LOCKBOX_HOST_MAX))
        return -1;
    snprintf(port, port_len, "%s", colon + 1);
    return 0;
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

static int set_max_connections(struct remote_config *remote, const char *value, char *why,
                               size_t why_len)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(value, &end, 10);

    if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 ||
        n < REMOTE_CONNECTIONS_MIN || n > REMOTE_CONNECTIONS_MAX) {
        snprintf(why, why_len, "max_connections must be a number from %d to %d",
                 REMOTE_CONNECTIONS_MIN, REMOTE_CONNECTIONS_MAX);
        return -1;
    }
    remote->max_connections = (unsigned)n;
    return 0;
}

int config_remote_key(struct remote_config *remote, const char *key, const char *value, char *why,
                      size_t why_len)
{
    remote->present = true;
    if (strcmp(key, "listen") == 0) {
        if (config_remote_parse_listen(value, remote->listen_host, sizeof(remote->listen_host),
                                       remote->listen_port, sizeof(remote->listen_port)) != 0) {
            snprintf(why, why_len,
                     "listen must be HOST:PORT, e.g. 127.0.0.1:8443 or [::1]:8443 (port 1-65535)");
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "certificate") == 0)
        return set_file(remote->certificate, value, key, why, why_len);
    if (strcmp(key, "key") == 0)
        return set_file(remote->key, value, key, why, why_len);
    if (strcmp(key, "client_ca") == 0)
        return set_file(remote->client_ca, value, key, why, why_len);
    if (strcmp(key, "crl") == 0)
        return set_file(remote->crl, value, key, why, why_len);
    if (strcmp(key, "max_connections") == 0)
        return set_max_connections(remote, value, why, why_len);
    snprintf(why, why_len,
             "unknown key '%.40s' in [remote] (listen, certificate, key, client_ca, crl, "
             "max_connections)",
             key);
    return -1;
}

int config_remote_check(const struct remote_config *remote, char *why, size_t why_len)
{
    const char *missing = NULL;

    if (!remote->present)
        return 0;
    if (remote->listen_host[0] == '\0')
        missing = "listen (HOST:PORT)";
    else if (remote->certificate[0] == '\0')
        missing = "certificate (the server's PEM certificate)";
    else if (remote->key[0] == '\0')
        missing = "key (the server's PEM private key)";
    else if (remote->client_ca[0] == '\0')
        missing = "client_ca (the CA whose client certificates are accepted)";
    if (missing == NULL)
        return 0;
    snprintf(why, why_len, "[remote] needs %s", missing);
    return -1;
}
