/* Turns a failed remote call into one line that names the file or option to fix: libcurl's
 * words alone ("SSL certificate problem: unable to get local issuer certificate") do not say
 * which of the four settings is wrong. */
#include "remote_errors.h"

#include <stdio.h>

#include "cli.h"
#include "output.h"

/* Everything quoted from libcurl or lockboxd is escaped: it may carry a server's words. */
struct shown {
    char url[OUT_ESCAPED_MAX], url_origin[OUT_ESCAPED_MAX], detail[OUT_ESCAPED_MAX];
    char ca[OUT_ESCAPED_MAX], cert[OUT_ESCAPED_MAX], key[OUT_ESCAPED_MAX];
};

static void escape_all(const struct remote_target *t, const struct lockbox_reply *reply,
                       struct shown *s)
{
    out_escape(t->server, "", s->url, sizeof(s->url));
    out_escape(t->server_origin, "", s->url_origin, sizeof(s->url_origin));
    out_escape(reply->detail, "no details", s->detail, sizeof(s->detail));
    out_escape(t->ca.path, "", s->ca, sizeof(s->ca));
    out_escape(t->cert.path, "", s->cert, sizeof(s->cert));
    out_escape(t->key.path, "", s->key, sizeof(s->key));
}

static int report_server_certificate(const struct remote_target *t,
                                     const struct lockbox_reply *reply, const struct shown *s)
{
    switch (reply->failure) {
    case LOCKBOX_FAILURE_SERVER_UNTRUSTED:
        return cli_fail("the server certificate of %s is not signed by the CA in %s (set by %s), "
                        "so it is not your lockboxd: check the server URL and the CA (%s)",
                        s->url, s->ca, t->ca.origin, s->detail);
    case LOCKBOX_FAILURE_SERVER_CERT_DATES:
        return cli_fail("the server certificate of %s has expired or is not valid yet: its "
                        "operator must renew it (%s)",
                        s->url, s->detail);
    default:
        return cli_fail("the server certificate of %s is not issued for that host name: use the "
                        "name it was issued for in the server URL (set by %s) (%s)",
                        s->url, s->url_origin, s->detail);
    }
}

static int report_own_files(const struct remote_target *t, const struct lockbox_reply *reply,
                            const struct shown *s)
{
    if (reply->failure == LOCKBOX_FAILURE_CA_FILE)
        return cli_fail("cannot use the CA file %s (set by %s): it must hold PEM certificates (%s)",
                        s->ca, t->ca.origin, s->detail);
    return cli_fail("cannot use the client certificate %s with the key %s: both must be PEM and "
                    "the key must belong to the certificate; check --cert and --key (%s)",
                    s->cert, s->key, s->detail);
}

int remote_report_failure(const struct remote_target *t, const struct lockbox_reply *reply)
{
    struct shown s;
    char error[OUT_ESCAPED_MAX];

    escape_all(t, reply, &s);
    switch (reply->failure) {
    case LOCKBOX_FAILURE_UNREACHABLE:
        return cli_fail("cannot connect to lockboxd at %s: connection refused (is its [remote] "
                        "listener running on that address and port? server set by %s)",
                        s.url, s.url_origin);
    case LOCKBOX_FAILURE_RESOLVE:
        return cli_fail("cannot resolve the host name of %s: check the server URL (set by %s)",
                        s.url, s.url_origin);
    case LOCKBOX_FAILURE_TIMEOUT:
        return cli_fail("no answer from lockboxd at %s in time: check the server URL (set by %s) "
                        "and that no firewall drops the connection (%s)",
                        s.url, s.url_origin, s.detail);
    case LOCKBOX_FAILURE_SERVER_UNTRUSTED:
    case LOCKBOX_FAILURE_SERVER_CERT_DATES:
    case LOCKBOX_FAILURE_SERVER_NAME: return report_server_certificate(t, reply, &s);
    case LOCKBOX_FAILURE_CA_FILE:
    case LOCKBOX_FAILURE_CLIENT_CERT: return report_own_files(t, reply, &s);
    case LOCKBOX_FAILURE_HANDSHAKE_REFUSED:
        return cli_fail("lockboxd at %s refused the TLS handshake: it needs a client certificate "
                        "(--cert, --key) and TLS 1.2 or later (%s)",
                        s.url, s.detail);
    default:
        return cli_fail("%s",
                        out_escape(reply->error, "lockboxd call failed", error, sizeof(error)));
    }
}

int remote_report_certificate_refused(const struct remote_target *t,
                                      const struct lockbox_reply *reply)
{
    struct shown s;
    char message[OUT_ESCAPED_MAX];

    escape_all(t, reply, &s);
    return cli_fail("lockboxd at %s refused your client certificate %s: %s", s.url, s.cert,
                    out_escape(reply->error, "no reason given", message, sizeof(message)));
}
