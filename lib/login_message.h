/* The login socket's framing (docs/API.md, "The login socket"): one JSON object per
 * SOCK_SEQPACKET message, each way, at most LOCKBOX_LOGIN_MESSAGE_MAX bytes. Shared by the PAM
 * module (which sends requests and reads replies) and lockboxd (which does the reverse), so
 * both sides agree on what a well-formed message is. */
#ifndef LOCKBOX_LOGIN_MESSAGE_H
#define LOCKBOX_LOGIN_MESSAGE_H
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lockbox_limits.h"

/* The operations of the login socket, as the "op" member names them. */
#define LOGIN_OP_CHECK "check"
#define LOGIN_OP_FILE "file"
#define LOGIN_OP_WAIT "wait"
#define LOGIN_OP_DESCRIBE "describe"
#define LOGIN_OP_SESSION_OPEN "session_open"
#define LOGIN_OP_SESSION_CLOSE "session_close"

/* Parses one received message: exactly one JSON object, valid UTF-8, no trailing bytes, no
 * NUL (raw or escaped), no duplicate key at any depth, at most LOCKBOX_LOGIN_MESSAGE_MAX bytes.
 * Returns the
 * object (the caller puts it), or NULL with err set. */
json_object *login_message_parse(const char *data, size_t len, char *err, size_t err_len);

/* Serialises obj into buf. Returns the length, or -1 when it does not fit in buf_len bytes
 * (never more than LOCKBOX_LOGIN_MESSAGE_MAX). */
ssize_t login_message_format(json_object *obj, char *buf, size_t buf_len);

/* The members of a reply: "status" (an HTTP-like code, 200/201 for success), and for
 * failures "error" and "message". Returns the status, or -1 when it is missing or not an
 * integer from 100 to 599. */
int login_message_status(json_object *reply);

/* Does a string in this JSON text hold an escaped NUL (\u0000)? json-c cuts keys and values
 * short there, so "user\u0000x" would pass for the member "user". */
bool login_message_escapes_nul(const char *data, size_t len);

/* The number of top-level members as written in data (json-c keeps only the last of
 * duplicate keys; comparing this with what it kept finds them). */
size_t login_message_count_members(const char *data, size_t len);

#endif
