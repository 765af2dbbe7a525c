/* Agents' reports of their live sessions, kept at central (see host_sessions.h). */
#include "host_sessions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "text.h"

static int parse_count(const char *text, size_t len, int *out)
{
    int n = 0;

    if (len == 0 || len > 6)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        n = n * 10 + (text[i] - '0');
    }
    if (n < 1 || n > HOST_SESSIONS_LIVE_MAX)
        return -1;
    *out = n;
    return 0;
}

static bool seen(const struct host_session_count *out, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(out[i].request_id, id) == 0)
            return true;
    }
    return false;
}

int host_sessions_parse(const char *text, struct host_session_count *out, size_t max, size_t *n)
{
    *n = 0;
    while (*text != '\0') {
        const char *colon = strchr(text, ':');
        const char *end = strchr(text, ',');
        size_t entry_len = end ? (size_t)(end - text) : strlen(text);
        if (colon == NULL || (size_t)(colon - text) != LOCKBOX_ID_HEX_LEN ||
            colon > text + entry_len || *n == max || !text_is_request_id(text, LOCKBOX_ID_HEX_LEN))
            return -1;
        struct host_session_count *c = &out[*n];
        memcpy(c->request_id, text, LOCKBOX_ID_HEX_LEN);
        c->request_id[LOCKBOX_ID_HEX_LEN] = '\0';
        if (parse_count(colon + 1, entry_len - LOCKBOX_ID_HEX_LEN - 1, &c->live) != 0 ||
            seen(out, *n, c->request_id))
            return -1;
        (*n)++;
        if (end == NULL)
            break;
        text = end + 1;
        if (*text == '\0')
            return -1; /* a trailing comma */
    }
    return 0;
}

static struct host_report *find(const struct host_reports *reports, const char *host)
{
    for (size_t i = 0; i < reports->n; i++) {
        if (strcmp(reports->hosts[i].host, host) == 0)
            return &reports->hosts[i];
    }
    return NULL;
}

int host_reports_set(struct host_reports *reports, const char *host, int64_t at_wall_ms,
                     const struct host_session_count *counts, size_t n)
{
    struct host_report *r = find(reports, host);

    if (r == NULL) {
        if (array_grow(&reports->hosts, &reports->cap, reports->n + 1, sizeof(*reports->hosts),
                       16) != 0)
            return -1;
        r = &reports->hosts[reports->n++];
        memset(r, 0, sizeof(*r));
        snprintf(r->host, sizeof(r->host), "%s", host);
    }
    free(r->counts);
    r->counts = NULL;
    r->n = 0;
    r->at_wall_ms = 0;
    if (n > 0) {
        r->counts = malloc(n * sizeof(*counts));
        if (r->counts == NULL)
            return -1;
        memcpy(r->counts, counts, n * sizeof(*counts));
    }
    r->n = n;
    r->at_wall_ms = at_wall_ms;
    return 0;
}

bool host_reports_get(const struct host_reports *reports, const char *host, const char *request_id,
                      int *live, int64_t *at_wall_ms)
{
    const struct host_report *r = find(reports, host);

    *live = 0;
    *at_wall_ms = 0;
    if (r == NULL || r->at_wall_ms == 0)
        return false;
    *at_wall_ms = r->at_wall_ms;
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->counts[i].request_id, request_id) == 0)
            *live = r->counts[i].live;
    }
    return true;
}

void host_reports_free(struct host_reports *reports)
{
    for (size_t i = 0; i < reports->n; i++)
        free(reports->hosts[i].counts);
    free(reports->hosts);
    memset(reports, 0, sizeof(*reports));
}
