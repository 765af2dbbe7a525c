/* Unit tests of lockboxctl/remote.c and lockboxctl/client_conf.c: which door lockboxctl takes
 * (command line > environment > client.conf), and how client.conf is read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_conf.h"
#include "remote.h"

#define SERVER_A "https://a.example:8443"
#define SERVER_B "https://b.example:8443"

static struct client_conf full_conf(void)
{
    struct client_conf conf;

    memset(&conf, 0, sizeof(conf));
    snprintf(conf.path, sizeof(conf.path), "/home/alice/.config/lockbox/client.conf");
    snprintf(conf.server, sizeof(conf.server), "%s", SERVER_B);
    snprintf(conf.certificate, sizeof(conf.certificate), "/home/alice/alice.crt");
    snprintf(conf.key, sizeof(conf.key), "/home/alice/alice.key");
    snprintf(conf.ca, sizeof(conf.ca), "/home/alice/ca.crt");
    return conf;
}

static void choose(const struct remote_inputs *in, struct remote_target *target)
{
    char err[512] = "";

    if (remote_choose(in, target, err, sizeof(err)) != 0)
        fail_msg("refused: %s", err);
}

static void test_local_by_default(void **unused)
{
    struct remote_inputs in = {0};
    struct remote_target target;

    (void)unused;
    assert_true(remote_needs_conf(&in));
    choose(&in, &target);
    assert_false(target.remote);
}

static void test_conf_alone(void **unused)
{
    struct client_conf conf = full_conf();
    struct remote_inputs in = {.conf = &conf};
    struct remote_target target;

    (void)unused;
    choose(&in, &target);
    assert_true(target.remote);
    assert_string_equal(target.server, SERVER_B);
    assert_string_equal(target.server_origin, conf.path);
    assert_string_equal(target.key.path, "/home/alice/alice.key");
    assert_string_equal(target.key.origin, conf.path);
}

static void test_flag_over_env_over_conf(void **unused)
{
    struct client_conf conf = full_conf();
    struct remote_inputs in = {.server_env = SERVER_A, .conf = &conf};
    struct remote_target target;

    (void)unused;
    choose(&in, &target);
    assert_string_equal(target.server, SERVER_A);
    assert_string_equal(target.server_origin, "LOCKBOX_SERVER");
    assert_string_equal(target.ca.path, "/home/alice/ca.crt"); /* still from the file */
    in.server_flag = "https://c.example:1";
    in.ca_flag = "/tmp/ca.pem";
    choose(&in, &target);
    assert_string_equal(target.server, "https://c.example:1");
    assert_string_equal(target.server_origin, "--server");
    assert_string_equal(target.ca.path, "/tmp/ca.pem");
    assert_string_equal(target.ca.origin, "--ca");
    assert_string_equal(target.cert.origin, conf.path);
}

static void test_socket_ranks(void **unused)
{
    struct client_conf conf = full_conf();
    struct remote_inputs in = {.socket_flag = true, .server_env = SERVER_A, .conf = &conf};
    struct remote_target target;
    char err[512] = "";

    (void)unused;
    assert_false(remote_needs_conf(&in));
    choose(&in, &target);
    assert_false(target.remote);
    /* LOCKBOX_SOCKET beats the file's server ... */
    in = (struct remote_inputs){.socket_env = true, .conf = &conf};
    assert_false(remote_needs_conf(&in));
    choose(&in, &target);
    assert_false(target.remote);
    /* ... but not --server, and both variables at once are a mistake. */
    in.server_flag = SERVER_A;
    choose(&in, &target);
    assert_true(target.remote);
    in = (struct remote_inputs){.socket_env = true, .server_env = SERVER_A, .conf = &conf};
    assert_int_equal(remote_choose(&in, &target, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "both set"));
}

static void test_needs_conf_only_for_missing_files(void **unused)
{
    struct remote_inputs in = {.server_flag = SERVER_A, .cert_flag = "c", .key_flag = "k"};

    (void)unused;
    assert_true(remote_needs_conf(&in));
    in.ca_flag = "a";
    assert_false(remote_needs_conf(&in));
}

static void test_missing_and_misplaced_settings(void **unused)
{
    struct remote_inputs in = {.server_flag = SERVER_A, .cert_flag = "c", .key_flag = "k"};
    struct remote_target target;
    char err[512] = "";

    (void)unused;
    assert_int_equal(remote_choose(&in, &target, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "--ca FILE"));
    in = (struct remote_inputs){.socket_flag = true, .cert_flag = "c"};
    assert_int_equal(remote_choose(&in, &target, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "for remote use"));
    struct client_conf conf = full_conf();
    snprintf(conf.server, sizeof(conf.server), "http://b.example");
    in = (struct remote_inputs){.conf = &conf};
    assert_int_equal(remote_choose(&in, &target, err, sizeof(err)), -1);
    assert_non_null(strstr(err, conf.path));
    assert_non_null(strstr(err, "https://"));
}

static void test_expand_path(void **unused)
{
    char out[64], err[256];

    (void)unused;
    assert_int_equal(client_conf_expand_path("~/a.crt", "/home/al", out, sizeof(out), err,
                                             sizeof(err)),
                     0);
    assert_string_equal(out, "/home/al/a.crt");
    assert_int_equal(client_conf_expand_path("~", "/home/al", out, sizeof(out), err, sizeof(err)),
                     0);
    assert_string_equal(out, "/home/al");
    assert_int_equal(client_conf_expand_path("/etc/x", NULL, out, sizeof(out), err, sizeof(err)),
                     0);
    assert_string_equal(out, "/etc/x");
    assert_int_equal(client_conf_expand_path("x/y", "/home/al", out, sizeof(out), err, sizeof(err)),
                     -1);
    assert_int_equal(client_conf_expand_path("~bob/x", "/home/al", out, sizeof(out), err,
                                             sizeof(err)),
                     -1);
    assert_int_equal(client_conf_expand_path("~/x", NULL, out, sizeof(out), err, sizeof(err)), -1);
    assert_int_equal(client_conf_expand_path("~/x", "/home/al", out, 8, err, sizeof(err)), -1);
}

static int load_text(const char *text, mode_t mode, struct client_conf *conf, bool *found,
                     char *err, size_t err_len)
{
    char path[] = "/tmp/lockbox-client-conf-XXXXXX";
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
    int rc = client_conf_load(path, "/home/al", conf, found, err, err_len);
    unlink(path);
    return rc;
}

static void test_load(void **unused)
{
    struct client_conf conf;
    bool found = false;
    char err[512] = "";

    (void)unused;
    assert_int_equal(load_text("; remote\n# settings\nserver = " SERVER_A "\n"
                               "certificate = ~/a.crt\nkey = /k\nca = ~/ca.crt\n",
                               0644, &conf, &found, err, sizeof(err)),
                     0);
    assert_true(found);
    assert_string_equal(conf.server, SERVER_A);
    assert_string_equal(conf.certificate, "/home/al/a.crt");
    assert_string_equal(conf.key, "/k");
    assert_string_equal(conf.ca, "/home/al/ca.crt");
    assert_int_equal(client_conf_load("/nonexistent/client.conf", "/h", &conf, &found, err,
                                      sizeof(err)),
                     0);
    assert_false(found);
}

static void expect_load_error(const char *text, mode_t mode, const char *why)
{
    struct client_conf conf;
    bool found = false;
    char err[512] = "";

    assert_int_equal(load_text(text, mode, &conf, &found, err, sizeof(err)), -1);
    if (strstr(err, why) == NULL)
        fail_msg("\"%s\" does not say \"%s\"", err, why);
}

static void test_load_errors(void **unused)
{
    (void)unused;
    expect_load_error("server = " SERVER_A "\n", 0664, "writable by group or others");
    expect_load_error("server = " SERVER_A "\n", 0602, "writable by group or others");
    expect_load_error("server = " SERVER_A "\nport = 1\n", 0600, ":2: unknown key 'port'");
    expect_load_error("[remote]\nserver = " SERVER_A "\n", 0600, ":2: client.conf has no");
    expect_load_error("key = /a\nkey = /b\n", 0600, ":2: key is set twice");
    expect_load_error("ca =\n", 0600, ":1: ca has no value");
    expect_load_error("ca = ca.crt\n", 0600, ":1: ca: ca.crt must be an absolute path");
    expect_load_error("just words\n", 0600, ":1: syntax error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_by_default),
        cmocka_unit_test(test_conf_alone),
        cmocka_unit_test(test_flag_over_env_over_conf),
        cmocka_unit_test(test_socket_ranks),
        cmocka_unit_test(test_needs_conf_only_for_missing_files),
        cmocka_unit_test(test_missing_and_misplaced_settings),
        cmocka_unit_test(test_expand_path),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
