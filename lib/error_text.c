/* See error_text.h. */
#include "error_text.h"

#include <stdarg.h>
#include <stdio.h>

int error_text(char *err, size_t err_len, const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    vsnprintf(err, err_len, format, ap);
    va_end(ap);
    return -1;
}
