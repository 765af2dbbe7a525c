/* Unit tests of lockboxd/config.c: names in lockboxd.conf (tenants, admins, host) refuse the
 * hidden characters of lib/text.h, so no tenant or admin can look like another one; a
 * database password is never left in a file others may read. */
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

#include "config.h"

/* One hidden character of each kind: bidi override, isolate, mark, zero width, separator,
 * byte order mark, soft hyphen. */
static const char *const hidden[] = {
    "\xe2\x80\xae", "\xe2\x81\xa6", "\xd8\x9c",     "\xe2\x80\x8f", "\xe2\x80\x8b",
    "\xe2\x80\x8d", "\xe2\x80\xa8", "\xef\xbb\xbf", "\xc2\xad",
};

static struct lockboxd_config config; /* large: keep it off the stack */

/* Loads a lockboxd.conf whose [daemon] tenant, tenant section, admins and host are given. */
static int load(const char *tenant, const char *section, const char *admins, const char *host,
                char *err, size_t err_len)
{
    char path[] = "/tmp/lbx-test-config-XXXXXX";
    int fd = mkstemp(path);
    FILE *file = fd >= 0 ? fdopen(fd, "w") : NULL;

    assert_non_null(file);
    fprintf(file,
            "[daemon]\nsocket = /run/lockbox/lockboxd.sock\npam_socket = /run/lockbox/pam.sock\n"
            "tenant = %s\nhost = %s\n\n[tenant %s]\nadmins = %s\n",
            tenant, host, section, admins);
    fclose(file);
    int rc = config_load(path, &config, err, err_len);
    unlink(path);
    if (rc == 0)
        config_free(&config);
    return rc;
}

static void test_plain_names_load(void **unused)
{
    char err[512] = "";

    (void)unused;
    if (load("contoso", "contoso", "alice, @ops", "db01", err, sizeof(err)) != 0)
        fail_msg("a plain configuration was refused: %s", err);
    if (load("contoso", "contoso", "alice\n\n[tenant fabrikam]\nadmins = bob", "db01", err,
             sizeof(err)) != 0)
        fail_msg("a second tenant was refused: %s", err);
}

/* The groups a remote person's membership is looked up in: every tenant's @group entries,
 * each once, without the '@'; plain names are not groups. */
static void test_admin_groups_of_all_tenants(void **unused)
{
    char path[] = "/tmp/lbx-test-config-XXXXXX", err[512] = "";
    const char *groups[8];
    int fd = mkstemp(path);
    FILE *file = fd >= 0 ? fdopen(fd, "w") : NULL;
    (void)unused;

    assert_non_null(file);
    fputs("[daemon]\ntenant = contoso\n[tenant contoso]\nadmins = alice, @ops, @dba\n"
          "[tenant fabrikam]\nadmins = @ops, bob, @fab\n",
          file);
    fclose(file);
    int rc = config_load(path, &config, err, sizeof(err));
    unlink(path);
    if (rc != 0)
        fail_msg("refused: %s", err);
    size_t n = config_admin_groups(&config, groups, 8);
    assert_int_equal(n, 3);
    assert_string_equal(groups[0], "ops");
    assert_string_equal(groups[1], "dba");
    assert_string_equal(groups[2], "fab");
    assert_int_equal(config_admin_groups(&config, groups, 2), 2); /* bounded by max */
    config_free(&config);
}

/* Loads text as a lockboxd.conf; 0, or -1 with the message in err. */
static int load_text(const char *text, char *err, size_t err_len)
{
    char path[] = "/tmp/lbx-test-config-XXXXXX";
    int fd = mkstemp(path);
    FILE *file = fd >= 0 ? fdopen(fd, "w") : NULL;

    assert_non_null(file);
    fputs(text, file);
    fclose(file);
    int rc = config_load(path, &config, err, err_len);
    unlink(path);
    /* The message names the temporary file: keep only what follows "FILE:". */
    char *after = strstr(err, path);
    if (rc != 0 && after != NULL)
        memmove(err, after + strlen(path), strlen(after + strlen(path)) + 1);
    return rc;
}

/* [daemon] role and a tenant's hosts: a host belongs to the first tenant whose list matches;
 * a central without [remote] names the line of its role. */
static void test_role_and_hosts(void **unused)
{
    char err[512] = "";
    (void)unused;

    if (load_text("[daemon]\ntenant = contoso\n[tenant contoso]\nadmins = alice\n"
                  "hosts = db01, db-*\n[tenant fabrikam]\nadmins = bob\nhosts = db-*, web?\n",
                  err, sizeof(err)) != 0)
        fail_msg("refused: %s", err);
    assert_int_equal(config.role, LOCKBOXD_ROLE_STANDALONE);
    assert_string_equal(config_tenant_of_host(&config, "db01")->name, "contoso");
    assert_string_equal(config_tenant_of_host(&config, "db-7")->name, "contoso"); /* first */
    assert_string_equal(config_tenant_of_host(&config, "web1")->name, "fabrikam");
    assert_null(config_tenant_of_host(&config, "web12"));
    config_free(&config);

    assert_int_equal(load_text("[daemon]\ntenant = contoso\n\nrole = central\n"
                               "[tenant contoso]\nadmins = alice\n",
                               err, sizeof(err)),
                     -1);
    assert_string_equal(err, ":4: role = central needs a [remote] section (hosts reach central "
                             "over TLS)");
    assert_int_equal(load_text("[daemon]\ntenant = contoso\nrole = hub\n[tenant contoso]\n"
                               "admins = alice\n",
                               err, sizeof(err)),
                     -1);
    assert_string_equal(err, ":3: role must be standalone, central or agent");
    assert_int_equal(load_text("[daemon]\ntenant = contoso\n[tenant contoso]\nadmins = alice\n"
                               "hosts = db01, db/02\n",
                               err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, ":5: hosts: 'db/02' is not a host name or pattern"));
}

static void test_hidden_characters_are_refused_in_names(void **unused)
{
    char err[512], name[32], admin[80];

    (void)unused;
    for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
        snprintf(name, sizeof(name), "con%stoso", hidden[i]);
        /* The [daemon] tenant, and a tenant section, under the hidden name. */
        assert_int_equal(load(name, "contoso", "alice", "db01", err, sizeof(err)), -1);
        assert_int_equal(load(name, name, "alice", "db01", err, sizeof(err)), -1);
        assert_int_equal(load("contoso", "contoso", "alice", "db01", err, sizeof(err)), 0);
        /* A second tenant section under a look-alike name. */
        snprintf(admin, sizeof(admin), "alice\n\n[tenant %s]\nadmins = bob", name);
        assert_int_equal(load("contoso", "contoso", admin, "db01", err, sizeof(err)), -1);
        /* An admin or admin group. */
        snprintf(admin, sizeof(admin), "al%sice", hidden[i]);
        assert_int_equal(load("contoso", "contoso", admin, "db01", err, sizeof(err)), -1);
        snprintf(admin, sizeof(admin), "alice, @o%sps", hidden[i]);
        assert_int_equal(load("contoso", "contoso", admin, "db01", err, sizeof(err)), -1);
        /* This host's name. */
        snprintf(name, sizeof(name), "db%s01", hidden[i]);
        assert_int_equal(load("contoso", "contoso", "alice", name, err, sizeof(err)), -1);
    }
}

/* Loads a plain lockboxd.conf on PostgreSQL with this dsn, the file at this mode. */
static int load_store(const char *dsn, mode_t mode, char *err, size_t err_len)
{
    char path[] = "/tmp/lbx-test-config-XXXXXX";
    int fd = mkstemp(path);
    FILE *file = fd >= 0 ? fdopen(fd, "w") : NULL;

    assert_non_null(file);
    assert_int_equal(fchmod(fd, mode), 0);
    fprintf(file,
            "[daemon]\nsocket = /run/lockbox/lockboxd.sock\npam_socket = /run/lockbox/pam.sock\n"
            "tenant = contoso\n\n[store]\nbackend = postgresql\ndsn = %s\n\n"
            "[tenant contoso]\nadmins = alice\n",
            dsn);
    fclose(file);
    err[0] = '\0';
    int rc = config_load(path, &config, err, err_len);
    unlink(path);
    if (rc == 0)
        config_free(&config);
    return rc;
}

static void test_a_dsn_password_only_in_a_file_root_alone_reads(void **unused)
{
    static const char *const with_password[] = {
        "host=db dbname=lockbox user=lockboxd password=s3cret",
        "postgresql://lockboxd:s3cret@db/lockbox",
        "postgresql://lockboxd@db/lockbox?password=s3cret",
    };
    char err[512];

    (void)unused;
    for (size_t i = 0; i < sizeof(with_password) / sizeof(with_password[0]); i++) {
        assert_int_equal(load_store(with_password[i], 0644, err, sizeof(err)), -1);
        if (strstr(err, "holds a password") == NULL || strstr(err, "s3cret") != NULL)
            fail_msg("%s: %s", with_password[i], err);
        assert_int_equal(load_store(with_password[i], 0604, err, sizeof(err)), -1);
        if (load_store(with_password[i], 0600, err, sizeof(err)) != 0)
            fail_msg("a password in a file only root reads was refused: %s", err);
    }
    /* No password of its own: the file may stay readable (the package ships it 0644). */
    if (load_store("host=db dbname=lockbox user=lockboxd passfile=/etc/lockbox/pgpass", 0644, err,
                   sizeof(err)) != 0)
        fail_msg("a dsn with a passfile was refused: %s", err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_names_load),
        cmocka_unit_test(test_hidden_characters_are_refused_in_names),
        cmocka_unit_test(test_a_dsn_password_only_in_a_file_root_alone_reads),
        cmocka_unit_test(test_admin_groups_of_all_tenants),
        cmocka_unit_test(test_role_and_hosts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
