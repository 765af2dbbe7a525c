/* Everything lockboxctl shows: escaping of daemon strings, colour, relative times, the
 * terminal's width and JSON output. No string from lockboxd reaches stdout or stderr raw. */
#ifndef LOCKBOXCTL_OUTPUT_H
#define LOCKBOXCTL_OUTPUT_H
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"

/* Big enough for any escaped field: every byte of a LOCKBOX_TEXT_MAX text may become \xNN
 * (a hidden character's two or three bytes become \uXXXX, less than that). */
#define OUT_ESCAPED_MAX (4 * 1024 + 8)

/* text_escape_terminal() into a caller's buffer; NULL or "" gives `empty`. Returns out. */
const char *out_escape(const char *in, const char *empty, char *out, size_t out_len);

/* Wall clock now, in milliseconds since the epoch. */
int64_t out_now_ms(void);
/* "5m ago" for a past moment, "in 11h59m" for a future one, "-" for 0. Minutes are the
 * finest unit shown above one minute; every unit is rounded to the nearest. */
void out_relative(int64_t then_ms, int64_t now_ms, char *out, size_t out_len);
/* The seconds between two moments as out_relative shows them (whole minutes above one). */
int64_t out_span_seconds(int64_t then_ms, int64_t now_ms);

/* The width of stdout's terminal; when stdout is not a terminal, $COLUMNS, else 120. */
int out_terminal_columns(void);
/* Should stdout be coloured: a terminal, and NO_COLOR not set (https://no-color.org). */
bool out_want_color(void);
/* The colour of a state in tables, and the code that ends it ("" when color is false). */
const char *out_state_color(enum request_state state, bool color);
const char *out_color_reset(bool color);

/* Display width of escaped text, counted in code points (escaped text is valid UTF-8). */
size_t out_width(const char *text);
/* Copies at most `columns` code points of text into out, ending a cut with "...". */
void out_fit(const char *text, size_t columns, char *out, size_t out_len);
/* Prints text and pads it with spaces to `columns`. */
void out_pad(const char *text, size_t columns);

/* A request as the contract's JSON object (docs/DESIGN.md, "The request object": fields in order).
 * Caller puts it. */
json_object *out_request_json(const struct lockbox_request *req);
/* Replaces every string in obj that holds control bytes, DEL, C1 or invalid UTF-8 by its
 * escaped form: json-c escapes only C0, and a terminal may act on the rest. */
void out_sanitize_json(json_object *obj);
/* Prints obj (sanitised, hidden characters as \uXXXX) on stdout, followed by a newline. */
void out_print_json(json_object *obj);
/* The same on one line (JSON Lines output). */
void out_print_json_line(json_object *obj);
/* A line of JSON text as it is, but for hidden characters (as \uXXXX), and a newline. */
void out_print_json_exact(const char *line);

#endif
