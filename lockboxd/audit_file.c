/* The audit file on disk. Lines are never rewritten; only a torn tail of our own is cut. */
#define _GNU_SOURCE
#include "audit_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_chain.h"

/* Reads the last complete line; trims a torn tail. */
static int read_last_record(struct audit_file *file, char *err, size_t err_len)
{
    struct stat st;
    size_t window = LOCKBOX_AUDIT_LINE_MAX + 2;
    char *buf = NULL;
    int rc = -1;

    file->has_last = false;
    if (fstat(file->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s: not a regular file", file->path);
        return -1;
    }
    file->size = st.st_size;
    if (st.st_size == 0)
        return 0;
    off_t start = st.st_size > (off_t)window ? st.st_size - (off_t)window : 0;
    size_t len = (size_t)(st.st_size - start);
    buf = malloc(len + 1);
    if (buf == NULL || pread(file->fd, buf, len, start) != (ssize_t)len) {
        snprintf(err, err_len, "%s: cannot read: %s", file->path, strerror(errno));
        goto out;
    }
    size_t end = len;
    while (end > 0 && buf[end - 1] != '\n')
        end--;
    if (end < len && ftruncate(file->fd, start + (off_t)end) != 0) {
        snprintf(err, err_len, "%s: cannot cut a torn last line: %s", file->path, strerror(errno));
        goto out;
    }
    file->size = start + (off_t)end;
    if (end == 0) {
        rc = start == 0 ? 0 : -1;
        if (rc != 0)
            snprintf(err, err_len, "%s: last line is longer than %d bytes", file->path,
                     LOCKBOX_AUDIT_LINE_MAX);
        goto out;
    }
    size_t line_end = end - 1, line_start = line_end;
    while (line_start > 0 && buf[line_start - 1] != '\n')
        line_start--;
    char prev[LOCKBOX_HASH_HEX_LEN + 1];
    if (audit_line_fields(buf + line_start, line_end - line_start, &file->last_seq, prev) != 0 ||
        audit_record_hash(buf + line_start, line_end - line_start, file->last_hash) != 0) {
        snprintf(err, err_len, "%s: the last line is not an audit record", file->path);
        goto out;
    }
    file->has_last = true;
    rc = 0;
out:
    free(buf);
    return rc;
}

int audit_file_each_after(const struct audit_file *file, uint64_t after, audit_file_line_fn fn,
                          void *ctx, char *err, size_t err_len)
{
    /* A duplicate shares the file offset, which O_APPEND writes ignore. */
    int fd = fcntl(file->fd, F_DUPFD_CLOEXEC, 0);
    FILE *in = fd >= 0 && lseek(fd, 0, SEEK_SET) == 0 ? fdopen(fd, "r") : NULL;
    char *line = NULL;
    size_t cap = 0;
    unsigned long lineno = 0;
    bool in_tail = false;
    ssize_t len;
    int rc = 0;

    if (in == NULL) {
        snprintf(err, err_len, "%s: cannot read: %s", file->path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    while (rc == 0 && (len = getline(&line, &cap, in)) > 0) {
        uint64_t seq;
        char prev[LOCKBOX_HASH_HEX_LEN + 1];
        lineno++;
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        bool is_record = len <= LOCKBOX_AUDIT_LINE_MAX &&
                         audit_line_fields(line, (size_t)len, &seq, prev) == 0;
        if (!is_record && in_tail) {
            snprintf(err, err_len, "%s:%lu: not an audit record", file->path, lineno);
            rc = -1;
        } else if (is_record && (in_tail || seq > after)) { /* in the tail, every record counts */
            in_tail = true;
            rc = fn(ctx, line, (size_t)len, seq);
        }
    }
    if (rc == 0 && ferror(in)) {
        snprintf(err, err_len, "%s: cannot read: %s", file->path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(in);
    return rc;
}

int audit_file_open(struct audit_file *file, const char *path, char *err, size_t err_len)
{
    file->fd = -1;
    snprintf(file->path, sizeof(file->path), "%s", path);
    file->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (file->fd < 0) {
        snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (read_last_record(file, err, err_len) != 0) {
        audit_file_close(file);
        return -1;
    }
    return 0;
}

int audit_file_append_many(struct audit_file *file, const char *records, size_t len,
                           uint64_t last_seq, const char *last_hash)
{
    struct stat st;

    if (file->fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (fstat(file->fd, &st) != 0)
        return -1;
    /* The room first: with the disk full, a write() could put half a record in the file, for
     * readers to see until it is cut back. Reserved, it cannot run out halfway. */
    if (fallocate(file->fd, FALLOC_FL_KEEP_SIZE, st.st_size, (off_t)len) != 0 &&
        errno != EOPNOTSUPP && errno != ENOSYS)
        return -1;
    /* One write(): a reader never sees half a record from us. */
    errno = 0;
    ssize_t written = write(file->fd, records, len);
    if (written != (ssize_t)len || fdatasync(file->fd) != 0) {
        int saved = errno ? errno : EIO;
        if (ftruncate(file->fd, st.st_size) != 0) {
            /* Could not undo; the torn tail is cut at the next open. */
        }
        errno = saved;
        return -1;
    }
    file->has_last = true;
    file->last_seq = last_seq;
    file->size = st.st_size + (off_t)len;
    snprintf(file->last_hash, sizeof(file->last_hash), "%s", last_hash);
    return 0;
}

enum audit_file_end audit_file_check_end(struct audit_file *file, char *err, size_t err_len)
{
    struct stat st;

    if (file->fd < 0 || fstat(file->fd, &st) != 0) {
        snprintf(err, err_len, "%s: cannot stat: %s", file->path, strerror(errno));
        return AUDIT_FILE_UNREADABLE;
    }
    if (st.st_size == file->size)
        return AUDIT_FILE_AS_LEFT;
    return read_last_record(file, err, err_len) == 0 ? AUDIT_FILE_CHANGED : AUDIT_FILE_UNREADABLE;
}

int audit_file_append(struct audit_file *file, const char *line, uint64_t seq, const char *hash)
{
    size_t len = strlen(line);
    char *record = malloc(len + 1);

    if (record == NULL)
        return -1;
    memcpy(record, line, len);
    record[len] = '\n';
    int rc = audit_file_append_many(file, record, len + 1, seq, hash);
    free(record);
    return rc;
}

int audit_file_reopen(struct audit_file *file, char *err, size_t err_len)
{
    char path[LOCKBOX_PATH_MAX];

    snprintf(path, sizeof(path), "%s", file->path);
    audit_file_close(file);
    return audit_file_open(file, path, err, err_len);
}

void audit_file_close(struct audit_file *file)
{
    if (file->fd >= 0)
        close(file->fd);
    file->fd = -1;
}
