/* decide_login() through a fake decision_io: a scripted daemon, person and clock. Checks the
 * rules that make the flow safe (failmode only on the very first call, the wait loop's cap, the
 * monotonic deadline) and what the person is told in each case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "decision.h"

#define MAX_SCRIPT 8
#define MAX_TOLD 8

/* What the fake daemon answers, call by call; the last entry repeats. */
struct fake {
    enum api_status check_status[MAX_SCRIPT];
    bool check_allowed[MAX_SCRIPT];
    enum request_state check_state[MAX_SCRIPT]; /* the request a refused check names */
    int n_checks, checks;

    enum api_status file_status;
    int files;
    char filed_reason[LOCKBOX_TEXT_MAX + 1];

    enum api_status wait_status[MAX_SCRIPT];
    enum request_state wait_state[MAX_SCRIPT];
    int n_waits, waits;
    bool wait_advances_clock; /* each wait call takes its whole timeout */

    const char *answers[MAX_SCRIPT]; /* NULL: the conversation fails */
    int n_answers, asks;
    char questions[MAX_SCRIPT][512];

    char told[MAX_TOLD][512];
    bool told_error[MAX_TOLD];
    int n_told;

    int64_t now_ms;
};

static struct lockbox_request sample_request(enum request_state state)
{
    struct lockbox_request r;

    memset(&r, 0, sizeof(r));
    snprintf(r.id, sizeof(r.id), "5eb395d07c1e4f0a9b2c3d4e5f607182");
    snprintf(r.tenant, sizeof(r.tenant), "contoso");
    snprintf(r.host, sizeof(r.host), "db01");
    snprintf(r.user, sizeof(r.user), "eng1");
    snprintf(r.decided_by, sizeof(r.decided_by), "alice");
    snprintf(r.comment, sizeof(r.comment), "INC-4711 ok");
    r.state = state;
    r.expires_at = 1798761600000LL; /* 2027-01-01T00:00:00Z */
    return r;
}

static int pick(int i, int n)
{
    return i < n ? i : n - 1;
}

static enum api_status fake_check(void *ctx, bool final, struct check_reply *out, char *err,
                                  size_t err_len)
{
    struct fake *f = ctx;
    int i = pick(f->checks++, f->n_checks);

    (void) final;
    snprintf(err, err_len, "scripted failure");
    memset(out, 0, sizeof(*out));
    if (f->check_status[i] != API_OK)
        return f->check_status[i];
    out->allowed = f->check_allowed[i];
    out->has_request = out->allowed || f->check_state[i] != REQUEST_EXPIRED;
    out->request = sample_request(out->allowed ? REQUEST_APPROVED : f->check_state[i]);
    return API_OK;
}

static enum api_status fake_file(void *ctx, const char *reason, struct lockbox_request *out,
                                 char *err, size_t err_len)
{
    struct fake *f = ctx;

    f->files++;
    snprintf(f->filed_reason, sizeof(f->filed_reason), "%s", reason);
    snprintf(err, err_len, "scripted failure");
    *out = sample_request(REQUEST_PENDING);
    return f->file_status;
}

static enum api_status fake_wait(void *ctx, const char *id, int timeout_s,
                                 struct lockbox_request *out, char *err, size_t err_len)
{
    struct fake *f = ctx;
    int i = pick(f->waits++, f->n_waits);

    assert_string_equal(id, "5eb395d07c1e4f0a9b2c3d4e5f607182");
    assert_true(timeout_s >= 1);
    if (f->wait_advances_clock)
        f->now_ms += timeout_s * 1000LL;
    snprintf(err, err_len, "scripted failure");
    *out = sample_request(f->wait_state[i]);
    return f->wait_status[i];
}

static int fake_describe(void *ctx, char *tenant, size_t tenant_len, char *host, size_t host_len)
{
    (void)ctx;
    snprintf(tenant, tenant_len, "contoso");
    snprintf(host, host_len, "db01");
    return 0;
}

static int fake_ask(void *ctx, const char *question, char *answer, size_t answer_len,
                    bool *too_long)
{
    struct fake *f = ctx;
    int i = f->asks++;

    *too_long = false;
    if (i < MAX_SCRIPT)
        snprintf(f->questions[i], sizeof(f->questions[i]), "%s", question);
    if (i >= f->n_answers || f->answers[i] == NULL)
        return -1;
    snprintf(answer, answer_len, "%s", f->answers[i]);
    return 0;
}

static void fake_tell(void *ctx, bool is_error, const char *text)
{
    struct fake *f = ctx;

    assert_true(f->n_told < MAX_TOLD);
    snprintf(f->told[f->n_told], sizeof(f->told[0]), "%s", text);
    f->told_error[f->n_told++] = is_error;
}

static int64_t fake_monotonic_ms(void *ctx)
{
    return ((struct fake *)ctx)->now_ms;
}

static struct decision_io io_for(struct fake *f)
{
    struct decision_io io = {f,        fake_check, fake_file,        fake_wait, fake_describe,
                             fake_ask, fake_tell,  fake_monotonic_ms};
    return io;
}

static struct login_facts facts_for(int wait_seconds, bool may_prompt, bool text_shown_late)
{
    struct login_facts facts = {"", "su-l", "", wait_seconds, may_prompt, text_shown_late};
    return facts;
}

/* A daemon that refuses the first check (nothing approved yet), then answers waits with
 * `decided`, and allows the final check when `decided` is approved. */
static void script_one_decision(struct fake *f, enum request_state decided)
{
    f->check_status[0] = API_OK;
    f->check_state[0] = REQUEST_EXPIRED; /* no request of this person yet */
    f->check_status[1] = API_OK;
    f->check_allowed[1] = decided == REQUEST_APPROVED;
    f->check_state[1] = decided;
    f->n_checks = 2;
    f->wait_status[0] = API_OK;
    f->wait_state[0] = decided;
    f->n_waits = 1;
}

/* A zeroed fake scripted for one decision (script_one_decision). */
static struct fake one_decision(enum request_state decided)
{
    struct fake f;

    memset(&f, 0, sizeof(f));
    script_one_decision(&f, decided);
    return f;
}

static void decide(struct fake *f, const struct login_facts *facts, struct login_result *result)
{
    struct decision_io io = io_for(f);
    decide_login(facts, &io, result);
}

static void allowed_at_once_says_nothing(void **state)
{
    struct fake f = {.check_status = {API_OK}, .check_allowed = {true}, .n_checks = 1};
    struct login_facts facts = facts_for(90, true, false);
    struct login_result result;

    (void)state;
    decide(&f, &facts, &result);
    assert_int_equal(result.outcome, OUTCOME_ALLOWED);
    assert_int_equal(f.files + f.waits + f.asks + f.n_told, 0);
}

static void not_running_at_first_lets_the_caller_apply_failmode(void **state)
{
    struct fake f = {.check_status = {API_NOT_RUNNING}, .n_checks = 1};
    struct login_facts facts = facts_for(90, true, false);
    struct login_result result;

    (void)state;
    decide(&f, &facts, &result);
    assert_int_equal(result.outcome, OUTCOME_UNREACHABLE);
    assert_true(result.failmode_applies);
    assert_int_equal(f.n_told, 0); /* the caller tells, only if it refuses */
}

static void unreachable_or_impostor_at_first_never_applies_failmode(void **state)
{
    static const enum api_status statuses[] = {API_UNREACHABLE, API_MALFORMED, API_IMPOSTOR,
                                               API_REFUSED};
    (void)state;
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        struct fake f = {.check_status = {statuses[i]}, .n_checks = 1};
        struct login_facts facts = facts_for(90, true, false);
        struct login_result result;

        decide(&f, &facts, &result);
        assert_false(result.failmode_applies);
        assert_int_not_equal(result.outcome, OUTCOME_ALLOWED);
        assert_int_equal(f.n_told, 1);
        assert_true(f.told_error[0]);
    }
}

static void daemon_gone_after_the_first_call_never_applies_failmode(void **state)
{
    struct fake f = one_decision(REQUEST_PENDING);
    struct login_facts facts = facts_for(5, false, false);
    struct login_result result;

    (void)state;
    f.check_status[1] = API_NOT_RUNNING; /* lockboxd stopped while the login waited */
    f.wait_status[0] = API_NOT_RUNNING;
    decide(&f, &facts, &result);
    assert_int_equal(result.outcome, OUTCOME_UNREACHABLE);
    assert_false(result.failmode_applies);
}

static void prompted_login_asks_files_shows_the_id_waits_and_is_approved(void **state)
{
    struct fake f = one_decision(REQUEST_APPROVED);
    struct login_facts facts = facts_for(90, true, false);
    struct login_result result;

    (void)state;
    f.answers[0] = "INC-4711 disk full";
    f.answers[1] = "";
    f.n_answers = 2;
    decide(&f, &facts, &result);
    assert_int_equal(result.outcome, OUTCOME_ALLOWED);
    assert_string_equal(f.filed_reason, "INC-4711 disk full");
    assert_int_equal(f.asks, 2);
    assert_string_equal(f.questions[0], "Lockbox: access to db01 needs approval by a contoso "
                                        "admin. Justification: ");
    assert_non_null(strstr(f.questions[1], "request 5eb395d07c1e4f0a9b2c3d4e5f607182 asks a "
                                           "contoso admin"));
    assert_non_null(strstr(f.questions[1], "Press Enter to wait up to 90 seconds"));
    assert_int_equal(f.waits, 1);
    assert_int_equal(f.n_told, 1);
    assert_false(f.told_error[0]);
    assert_string_equal(f.told[0], "Lockbox: request 5eb395d07c1e4f0a9b2c3d4e5f607182 approved "
                                   "by alice (INC-4711 ok); access until 2027-01-01T00:00:00Z.");
}

static void no_answer_at_the_id_prompt_refuses_without_waiting(void **state)
{
    struct fake f = one_decision(REQUEST_APPROVED);
    struct login_facts facts = facts_for(90, true, false);
    struct login_result result;

    (void)state;
    f.answers[0] = "INC-1";
    f.n_answers = 1; /* Ctrl-C at the second prompt */
    decide(&f, &facts, &result);
    assert_int_equal(result.outcome, OUTCOME_CONVERSATION);
    assert_int_equal(f.files, 1);
    assert_int_equal(f.waits, 0);
    assert_int_equal(f.n_told, 0);
}

static void failed_justification_files_nothing(void **state)
{
    static const char *bad = "INC-1\x1b[2J";
    struct login_facts facts = facts_for(90, true, false);
    struct login_result result;

    (void)state;
    for (int round = 0; round < 2; round++) {
        struct fake f = one_decision(REQUEST_APPROVED);
        f.answers[0] = round == 0 ? NULL : bad;
        f.n_answers = 1;
        decide(&f, &facts, &result);
        assert_int_equal(result.outcome, OUTCOME_CONVERSATION);
        assert_int_equal(f.files, 0);
        assert_int_equal(f.n_told, round == 0 ? 0 : 1);
    }
}

static void sshd_hears_only_why_it_was_refused(void **state)
{
    struct fake f = one_decision(REQUEST_APPROVED);
    struct login_facts facts = facts_for(90, false, true);
    struct login_result result;

    (void)state;
    decide(&f, &facts, &result);
    assert_int_equal(result.outcome, OUTCOME_ALLOWED);
    assert_int_equal(f.n_told, 0);

    f = one_decision(REQUEST_DENIED);
    decide(&f, &facts, &result);
    assert_int_equal(result.outcome, OUTCOME_DENIED);
    assert_int_equal(f.n_told, 1);
    assert_true(f.told_error[0]);
    assert_string_equal(f.told[0], "Lockbox: request 5eb395d07c1e4f0a9b2c3d4e5f607182 was denied "
                                   "by alice: INC-4711 ok");
}

static void account_stack_elsewhere_says_the_id_before_waiting(void **state)
{
    struct fake f = one_decision(REQUEST_DENIED);
    struct login_facts facts = facts_for(300, false, false);
    struct login_result result;

    (void)state;
    decide(&f, &facts, &result);
    assert_int_equal(result.outcome, OUTCOME_DENIED);
    assert_string_equal(f.filed_reason, "login via su-l");
    assert_int_equal(f.n_told, 2);
    assert_string_equal(f.told[0], "Lockbox: request 5eb395d07c1e4f0a9b2c3d4e5f607182 asks a "
                                   "contoso admin to approve access to db01; waiting up to 300 "
                                   "seconds.");
}

static void wait_zero_files_and_refuses_without_waiting_or_prompting(void **state)
{
    struct fake f = one_decision(REQUEST_PENDING);
    struct login_facts facts = facts_for(0, true, false);
    struct login_result result;

    (void)state;
    f.answers[0] = "INC-2";
    f.n_answers = 1;
    decide(&f, &facts, &result);
    assert_int_equal(result.outcome, OUTCOME_PENDING);
    assert_int_equal(f.asks, 1); /* the justification only */
    assert_int_equal(f.waits, 0);
    assert_int_equal(f.checks, 2);
}

static void a_daemon_answering_early_cannot_make_the_wait_spin(void **state)
{
    struct fake f;
    struct login_facts facts = facts_for(10, false, false);
    struct login_result result;

    (void)state;
    memset(&f, 0, sizeof(f));
    script_one_decision(&f, REQUEST_PENDING); /* every wait returns at once, still pending */
    decide(&f, &facts, &result);
    assert_int_equal(result.outcome, OUTCOME_PENDING);
    assert_int_equal(f.waits, 11); /* one call per second of the wait, plus one */
}

static void the_wait_ends_at_the_monotonic_deadline(void **state)
{
    struct fake f = one_decision(REQUEST_PENDING);
    struct login_facts facts = facts_for(10, false, false);
    struct login_result result;

    (void)state;
    f.wait_advances_clock = true; /* the daemon holds each call for its whole timeout */
    f.now_ms = 1000000;
    decide(&f, &facts, &result);
    assert_int_equal(result.outcome, OUTCOME_PENDING);
    assert_int_equal(f.waits, 1);
    assert_int_equal(f.now_ms, 1000000 + 10000);
}

static void a_broken_wait_is_retried_once_on_a_new_connection(void **state)
{
    struct fake f = one_decision(REQUEST_APPROVED);
    struct login_facts facts = facts_for(10, false, false);
    struct login_result result;

    (void)state;
    f.wait_status[0] = API_UNREACHABLE; /* lockboxd restarted */
    f.wait_status[1] = API_OK;
    f.wait_state[1] = REQUEST_APPROVED;
    f.n_waits = 2;
    decide(&f, &facts, &result);
    assert_int_equal(result.outcome, OUTCOME_ALLOWED);
    assert_int_equal(f.waits, 2);

    f = one_decision(REQUEST_PENDING);
    f.wait_status[0] = API_UNREACHABLE; /* and again: the final check decides */
    f.check_status[1] = API_UNREACHABLE;
    decide(&f, &facts, &result);
    assert_int_equal(result.outcome, OUTCOME_UNREACHABLE);
    assert_int_equal(f.waits, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(allowed_at_once_says_nothing),
        cmocka_unit_test(not_running_at_first_lets_the_caller_apply_failmode),
        cmocka_unit_test(unreachable_or_impostor_at_first_never_applies_failmode),
        cmocka_unit_test(daemon_gone_after_the_first_call_never_applies_failmode),
        cmocka_unit_test(prompted_login_asks_files_shows_the_id_waits_and_is_approved),
        cmocka_unit_test(no_answer_at_the_id_prompt_refuses_without_waiting),
        cmocka_unit_test(failed_justification_files_nothing),
        cmocka_unit_test(sshd_hears_only_why_it_was_refused),
        cmocka_unit_test(account_stack_elsewhere_says_the_id_before_waiting),
        cmocka_unit_test(wait_zero_files_and_refuses_without_waiting_or_prompting),
        cmocka_unit_test(a_daemon_answering_early_cannot_make_the_wait_spin),
        cmocka_unit_test(the_wait_ends_at_the_monotonic_deadline),
        cmocka_unit_test(a_broken_wait_is_retried_once_on_a_new_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
