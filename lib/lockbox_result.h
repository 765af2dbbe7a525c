/* How functions in lockboxd and lib/ report how they went: one convention, so that 1 never
 * means "found" in one place and "failed" in another.
 *
 *  - A function that can only succeed or fail returns int: 0 on success, -1 on failure. What
 *    failed is logged, or written to the err buffer the caller passed (never both silently
 *    dropped).
 *  - A function that looks something up, where "nothing there" is an answer and not an
 *    error, returns enum lockbox_result: LOCKBOX_OK (found, out parameters filled),
 *    LOCKBOX_NOT_FOUND, or LOCKBOX_ERROR.
 *  - Subsystems with more outcomes than that name them in their own enum (journal.h's
 *    enum journal_result, routes.h's enum route_lookup, request.h's enum request_verdict),
 *    with 0 for success.
 *  - A function that computes a value returns it, and says in its header what stands for
 *    "none" (-1 for a count or a duration, INT64_MAX for a deadline).
 *  - Predicates return bool. No function returns a negative errno; errno itself is left as
 *    the failing call set it when the caller may want it (audit_file.c). */
#ifndef LOCKBOX_LOCKBOX_RESULT_H
#define LOCKBOX_LOCKBOX_RESULT_H

enum lockbox_result {
    LOCKBOX_ERROR = -1,
    LOCKBOX_OK = 0,
    LOCKBOX_NOT_FOUND = 1,
};

#endif
