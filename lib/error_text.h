/* Writing a failure's message into the caller's buffer, for the pure parsers that return -1
 * with "what is wrong" (err, err_len). */
#ifndef LOCKBOX_ERROR_TEXT_H
#define LOCKBOX_ERROR_TEXT_H
#include <stddef.h>

/* Formats the message into err and returns -1, so that `return error_text(...)` fails. */
int error_text(char *err, size_t err_len, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#endif
