/* Validation of caller-supplied text and escaping for every place text is shown or logged:
 * syslog, the audit file (via JSON) and terminals. Nothing a user typed may start a new line,
 * forge a field or drive a terminal. */
#ifndef LOCKBOX_TEXT_H
#define LOCKBOX_TEXT_H
#include <stdbool.h>
#include <stddef.h>

/* Returns true for well-formed UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF). */
bool text_is_utf8(const char *s, size_t len);
/* Free text (reason, comment): 1..max bytes, UTF-8, no C0, DEL or C1 control characters. */
bool text_is_clean(const char *s, size_t max);
/* A name (user, tenant, service): 1..max bytes of [A-Za-z0-9._-], not starting with '-'. */
bool text_is_name(const char *s, size_t max);
/* A host or remote host: 1..max bytes of [A-Za-z0-9._:%-] (DNS names, IPv4/IPv6 literals). */
bool text_is_host(const char *s, size_t max);

/* A request or session id: exactly LOCKBOX_ID_HEX_LEN lowercase hex characters (len bytes
 * of s; use strlen for a C string). */
bool text_is_request_id(const char *s, size_t len);

/* One syslog key=value value: bare when it is plain, else double-quoted with \" \\ and
 * \xNN for control bytes, DEL, C1 and invalid UTF-8. Always NUL-terminates; truncates with
 * "..." when out is too small. Returns out. */
char *text_escape_log(const char *in, char *out, size_t out_len);
/* For a terminal: the same byte escapes, without quotes. */
char *text_escape_terminal(const char *in, char *out, size_t out_len);

#endif
