/* Fuzzes validation and escaping (lib/text.c). What reaches syslog or a terminal must hold no
 * control byte, DEL, C1, hidden character or invalid UTF-8, fit its buffer, and a quoted log
 * value must not end early (no unescaped quote inside), whatever the input and the buffer
 * size. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lockbox_limits.h"
#include "text.h"

/* No hidden character (text.h): escaping them changes nothing. */
static int has_no_hidden(const char *s)
{
    char *escaped = text_escape_json_hidden(s);
    FUZZ_CHECK(escaped != NULL);
    int same = strcmp(escaped, s) == 0;
    free(escaped);
    return same;
}

/* Valid UTF-8 with no C0, DEL, C1 or hidden character (an empty string counts). */
static int is_safe(const char *s)
{
    return (s[0] == '\0' || text_is_clean(s, strlen(s))) && has_no_hidden(s);
}

static void check_log_value(const char *out, size_t cap)
{
    size_t len = strlen(out);
    FUZZ_CHECK(len < cap);
    FUZZ_CHECK(is_safe(out));
    if (len == 0)
        return;
    if (out[0] != '"') {
        /* Bare values are plain: nothing that could start another key=value field. */
        FUZZ_CHECK(strpbrk(out, " \"=\\") == NULL);
        return;
    }
    FUZZ_CHECK(len >= 2 && out[len - 1] == '"');
    for (size_t i = 1; i + 1 < len; i++) {
        if (out[i] == '\\') {
            i++; /* the escaped byte */
            FUZZ_CHECK(i + 1 < len);
            continue;
        }
        FUZZ_CHECK(out[i] != '"');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4 * LOCKBOX_TEXT_MAX)
        return 0;
    /* The first byte picks the output buffer size, so truncation paths run too. */
    size_t cap = data[0] < 200 ? data[0] : (size_t)data[0] * 40;
    char *in = fuzz_cstring(data + 1, size - 1);
    char *out = malloc(cap ? cap : 1);
    size_t len = strlen(in);

    FUZZ_CHECK(out != NULL);
    bool utf8 = text_is_utf8(in, len);
    if (text_is_clean(in, LOCKBOX_TEXT_MAX))
        FUZZ_CHECK(utf8 && len >= 1 && len <= LOCKBOX_TEXT_MAX);
    if (text_is_name(in, LOCKBOX_NAME_MAX))
        FUZZ_CHECK(text_is_host(in, LOCKBOX_NAME_MAX) && in[0] != '-');
    if (text_is_host(in, LOCKBOX_HOST_MAX))
        FUZZ_CHECK(text_is_clean(in, LOCKBOX_HOST_MAX) && strpbrk(in, " \"=\\/") == NULL);
    if (cap > 0) {
        memset(out, 'X', cap);
        text_escape_log(in, out, cap);
        check_log_value(out, cap);
        memset(out, 'X', cap);
        text_escape_terminal(in, out, cap);
        FUZZ_CHECK(strlen(out) < cap && is_safe(out));
        /* A clean value that fits is shown unchanged apart from backslashes and hidden
         * characters. */
        if (text_is_clean(in, LOCKBOX_TEXT_MAX) && strchr(in, '\\') == NULL && len < cap &&
            has_no_hidden(in))
            FUZZ_CHECK(strcmp(out, in) == 0);
        /* JSON escaping leaves none, and escaping twice changes nothing more. */
        char *json = text_escape_json_hidden(in);
        FUZZ_CHECK(json != NULL && strlen(json) >= len && has_no_hidden(json));
        free(json);
    } else {
        text_escape_log(in, NULL, 0); /* nothing written, nothing read */
        text_escape_terminal(in, NULL, 0);
    }
    free(out);
    free(in);
    return 0;
}
