/* Output helpers: escaping, colour, relative times, widths and JSON for lockboxctl. */
#include "output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "duration.h"
#include "lockbox_limits.h"
#include "request_json.h"
#include "text.h"

#define DEFAULT_COLUMNS 120
#define COLUMNS_MIN 20 /* a $COLUMNS outside these is ignored */
#define COLUMNS_MAX 10000

const char *out_escape(const char *in, const char *empty, char *out, size_t out_len)
{
    if (in == NULL || in[0] == '\0') {
        snprintf(out, out_len, "%s", empty);
        return out;
    }
    return text_escape_terminal(in, out, out_len);
}

int64_t out_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void out_relative(int64_t then_ms, int64_t now_ms, char *out, size_t out_len)
{
    char span[32];

    if (then_ms <= 0) {
        snprintf(out, out_len, "-");
        return;
    }
    duration_format(out_span_seconds(then_ms, now_ms), span, sizeof(span));
    if (then_ms > now_ms)
        snprintf(out, out_len, "in %s", span);
    else
        snprintf(out, out_len, "%s ago", span);
}

int64_t out_span_seconds(int64_t then_ms, int64_t now_ms)
{
    int64_t span_ms = then_ms > now_ms ? then_ms - now_ms : now_ms - then_ms;

    /* Whole minutes above one ("11h59m", not "11h59m58s": people read minutes), rounded to
     * the nearest: a 30-minute grant read a moment later is "in 30m", not "in 29m". */
    if (span_ms >= 59500)
        return (span_ms + 30000) / 60000 * 60;
    return (span_ms + 500) / 1000;
}

int out_terminal_columns(void)
{
    struct winsize ws;
    const char *from_env = getenv("COLUMNS");
    char *end;

    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    /* As ls(1) does: a pipe into a pager or a script's capture can say how wide it is. */
    if (from_env != NULL && from_env[0] != '\0') {
        long columns = strtol(from_env, &end, 10);
        if (*end == '\0' && columns >= COLUMNS_MIN && columns <= COLUMNS_MAX)
            return (int)columns;
    }
    return DEFAULT_COLUMNS;
}

bool out_want_color(void)
{
    return isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
}

const char *out_state_color(enum request_state state, bool color)
{
    if (!color)
        return "";
    switch (state) {
    case REQUEST_PENDING: return "\033[33m";  /* yellow: needs someone */
    case REQUEST_APPROVED: return "\033[32m"; /* green: access is open */
    case REQUEST_DENIED: return "\033[31m";
    case REQUEST_REVOKED: return "\033[35m";
    case REQUEST_EXPIRED: return "\033[2m";
    }
    return "";
}

const char *out_color_reset(bool color)
{
    return color ? "\033[0m" : "";
}

static bool is_continuation_byte(unsigned char byte)
{
    return (byte & 0xc0) == 0x80;
}

size_t out_width(const char *text)
{
    size_t width = 0;

    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        width += !is_continuation_byte(*p);
    return width;
}

void out_fit(const char *text, size_t columns, char *out, size_t out_len)
{
    size_t len = strlen(text);

    if (out_len == 0)
        return;
    if (out_width(text) <= columns && len < out_len) {
        memcpy(out, text, len + 1);
        return;
    }
    size_t keep_columns = columns > 3 ? columns - 3 : 0, used = 0, i = 0;
    while (i < len) {
        size_t next = i + 1;
        while (next < len && is_continuation_byte((unsigned char)text[next]))
            next++;
        if (used + 1 > keep_columns || next + 4 > out_len)
            break;
        used++;
        i = next;
    }
    memcpy(out, text, i);
    snprintf(out + i, out_len - i, "%s", columns >= 3 ? "..." : "");
}

void out_pad(const char *text, size_t columns)
{
    size_t width = out_width(text);

    fputs(text, stdout);
    for (; width < columns; width++)
        putchar(' ');
}

json_object *out_request_json(const struct lockbox_request *req)
{
    json_object *obj = request_to_json(req);

    /* The CLI's contract (docs/DESIGN.md, "The request object") lists the fields scripts may rely
     * on; who filed a request is shown by `show` but is not part of it. */
    if (obj != NULL)
        json_object_object_del(obj, "requested_by");
    return obj;
}

/* json-c writes C0 controls as \u00XX, which is safe; it writes DEL, C1 (U+0080..U+009F,
 * which some terminals obey) and invalid UTF-8 as they are. Only those strings change (shown
 * as text_escape_terminal shows them). Hidden characters are escaped when printing. */
static bool json_needs_escape(const char *text, size_t len)
{
    if (strlen(text) != len || !text_is_utf8(text, len))
        return true;
    for (size_t i = 0; i < len; i++) {
        unsigned char byte = (unsigned char)text[i];
        if (byte == 0x7f || (byte == 0xc2 && i + 1 < len && (unsigned char)text[i + 1] <= 0x9f))
            return true;
    }
    return false;
}

static json_object *sanitized_string(json_object *value)
{
    const char *text = json_object_get_string(value);
    size_t len = (size_t)json_object_get_string_len(value);
    char escaped[OUT_ESCAPED_MAX];

    if (!json_needs_escape(text, len))
        return NULL;
    /* An embedded NUL ends what text_escape_terminal sees: the value shows as cut. */
    text_escape_terminal(text, escaped, sizeof(escaped));
    return json_object_new_string(escaped);
}

void out_sanitize_json(json_object *obj)
{
    if (json_object_is_type(obj, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(obj); i++) {
            json_object *item = json_object_array_get_idx(obj, i);
            json_object *clean = json_object_is_type(item, json_type_string)
                                     ? sanitized_string(item)
                                     : NULL;
            if (clean != NULL)
                json_object_array_put_idx(obj, i, clean);
            else
                out_sanitize_json(item);
        }
        return;
    }
    if (!json_object_is_type(obj, json_type_object))
        return;
    json_object_object_foreach(obj, key, value)
    {
        json_object *clean = json_object_is_type(value, json_type_string) ? sanitized_string(value)
                                                                          : NULL;
        if (clean != NULL)
            json_object_object_add(obj, key, clean); /* replaces and puts the old value */
        else
            out_sanitize_json(value);
    }
}

/* json-c writes hidden characters (bidi controls, zero width ones: text.h) raw; a terminal
 * showing the JSON would obey them. Written as \u202e, they parse back to the same text. */
static void print_json_text(const char *text)
{
    char *escaped = text_escape_json_hidden(text);

    if (escaped == NULL) {
        fputs("lockboxctl: out of memory writing JSON\n", stderr);
        return;
    }
    puts(escaped);
    free(escaped);
}

void out_print_json(json_object *obj)
{
    out_sanitize_json(obj);
    print_json_text(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
                                                            JSON_C_TO_STRING_SPACED |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
}

void out_print_json_line(json_object *obj)
{
    out_sanitize_json(obj);
    print_json_text(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
}

void out_print_json_exact(const char *line)
{
    print_json_text(line);
}
