/* fsops mode: the file system operations Node has no call for (mknod, fifos,
 * xattrs), done below a root directory that the paths cannot leave.
 *
 * Every path is relative to ROOT. Its parent directory is resolved with
 * openat2(RESOLVE_IN_ROOT), so a symlink in the tree resolves as if ROOT
 * were "/" and can never reach the host; where openat2 is missing, a walk
 * one component at a time refuses symlinks altogether. The last component
 * is then acted on with an *at() call that does not follow it. */
#include "fsops.h"

#include "util.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

/* stdin is a list of operations for one layer; bound it all the same. */
#define FSOPS_MAX_INPUT (256UL * 1024 * 1024)
#define XATTR_MAX_VALUE 65536

/* Details for a failure message beyond errno's text. */
static const char *failure_detail;

static bool use_openat2 = true;

static int open_in_root_openat2(int root, const char *path) {
  struct open_how how = {
      .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  return (int)TEMP_FAILURE_RETRY(syscall(SYS_openat2, root, path, &how, sizeof how));
}

/* The fallback walk: each component opened O_NOFOLLOW and checked to be a
 * real directory; a symlink anywhere is refused with ELOOP. */
static int open_in_root_walk(int root, const char *path) {
  cleanup_free char *copy = xstrdup(path);
  int dir = TEMP_FAILURE_RETRY(openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (dir < 0) return -1;
  char *save = NULL;
  for (char *name = strtok_r(copy, "/", &save); name; name = strtok_r(NULL, "/", &save)) {
    if (strcmp(name, ".") == 0) continue;
    int next = TEMP_FAILURE_RETRY(openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
    int errsv = errno;
    close(dir);
    if (next < 0) {
      errno = errsv;
      return -1;
    }
    struct stat st;
    if (fstat(next, &st) < 0) {
      errsv = errno;
      close(next);
      errno = errsv;
      return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
      errsv = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
      close(next);
      errno = errsv;
      return -1;
    }
    dir = next;
  }
  return dir;
}

/* Opens the directory `path` (relative, checked) below root as an O_PATH fd. */
static int open_dir_in_root(int root, const char *path) {
  if (use_openat2) {
    int fd = open_in_root_openat2(root, path);
    if (fd >= 0 || errno != ENOSYS) return fd;
    use_openat2 = false;
  }
  return open_in_root_walk(root, path);
}

/* A target: the parent directory's fd and the last component's name, or
 * name "." for ROOT itself. Absolute paths and ".." are refused. */
struct target {
  int parent;
  char *name;
};

static void target_close(struct target *t) {
  if (t->parent >= 0) close(t->parent);
  free(t->name);
  t->parent = -1;
  t->name = NULL;
}

static int resolve_target(int root, const char *path, struct target *out) {
  out->parent = -1;
  out->name = NULL;
  if (path[0] == '\0' || path[0] == '/') {
    failure_detail = "paths must be relative to the root";
    errno = EINVAL;
    return -1;
  }
  for (const char *p = path; *p;) {
    size_t len = strcspn(p, "/");
    if (len == 2 && p[0] == '.' && p[1] == '.') {
      failure_detail = "paths may not contain ..";
      errno = EINVAL;
      return -1;
    }
    p += len;
    p += strspn(p, "/");
  }
  cleanup_free char *copy = xstrdup(path);
  size_t len = strlen(copy);
  while (len > 1 && copy[len - 1] == '/') copy[--len] = '\0';
  char *slash = strrchr(copy, '/');
  const char *dir = ".";
  char *name = copy;
  if (slash != NULL) {
    *slash = '\0';
    dir = copy;
    name = slash + 1;
  }
  int parent = open_dir_in_root(root, dir);
  if (parent < 0) return -1;
  out->parent = parent;
  out->name = xstrdup(name);
  return 0;
}

static bool is_root_name(const char *name) {
  return strcmp(name, ".") == 0;
}

static int do_whiteout(const struct target *t) {
  if (is_root_name(t->name)) return errno = EEXIST, -1;
  /* char device 0:0 is what overlayfs reads as a whiteout; Linux 5.8+
   * lets unprivileged users make exactly this one device */
  return mknodat(t->parent, t->name, S_IFCHR | 0000, makedev(0, 0));
}

static int do_fifo(const struct target *t, const char *mode_text) {
  unsigned long mode = 0;
  if (!parse_ulong(mode_text, 8, 07777, &mode)) {
    failure_detail = "the mode must be octal, at most 7777";
    return errno = EINVAL, -1;
  }
  if (is_root_name(t->name)) return errno = EEXIST, -1;
  return mknodat(t->parent, t->name, S_IFIFO | (mode_t)mode, 0);
}

/* Opens a regular file or directory for fsetxattr without following a
 * symlink, and without side effects on anything else (a fifo or device
 * opened for reading could block or poke a driver). */
static int open_for_xattr(const struct target *t) {
  cleanup_fd int probe = TEMP_FAILURE_RETRY(openat(t->parent, t->name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (probe < 0) return -1;
  struct stat before;
  if (fstat(probe, &before) < 0) return -1;
  if (S_ISLNK(before.st_mode)) {
    failure_detail = "is a symbolic link; xattrs are set only on regular files and directories";
    return errno = ELOOP, -1;
  }
  if (!S_ISREG(before.st_mode) && !S_ISDIR(before.st_mode)) {
    failure_detail = "not a regular file or directory";
    return errno = EINVAL, -1;
  }
  int fd = TEMP_FAILURE_RETRY(
      openat(t->parent, t->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (fd < 0) return -1;
  struct stat after;
  if (fstat(fd, &after) < 0 || after.st_dev != before.st_dev || after.st_ino != before.st_ino) {
    close(fd);
    failure_detail = "changed while it was being opened";
    return errno = EAGAIN, -1;
  }
  return fd;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int do_xattr(const struct target *t, const char *name, const char *hex) {
  size_t hex_len = strlen(hex);
  if (name[0] == '\0' || hex_len % 2 != 0 || hex_len / 2 > XATTR_MAX_VALUE) {
    failure_detail = "expected a name and a hex value of even length";
    return errno = EINVAL, -1;
  }
  cleanup_free unsigned char *value = xmalloc(hex_len / 2);
  for (size_t i = 0; i < hex_len / 2; i++) {
    int high = hex_digit(hex[2 * i]), low = hex_digit(hex[2 * i + 1]);
    if (high < 0 || low < 0) {
      failure_detail = "the value is not hex";
      return errno = EINVAL, -1;
    }
    value[i] = (unsigned char)(high << 4 | low);
  }
  cleanup_fd int fd = open_for_xattr(t);
  if (fd < 0) return -1;
  return fsetxattr(fd, name, value, hex_len / 2, 0);
}

static int do_opaque(const struct target *t) {
  cleanup_fd int fd = TEMP_FAILURE_RETRY(
      openat(t->parent, t->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd < 0) return -1;
  /* the user.* form: overlayfs mounted with userxattr in a user namespace */
  return fsetxattr(fd, "user.overlay.opaque", "y", 1, 0);
}

/* The next NUL-terminated field of the input, or NULL at its end. */
static const char *next_field(const char **cursor, const char *end) {
  const char *start = *cursor;
  if (start >= end) return NULL;
  const char *nul = memchr(start, '\0', (size_t)(end - start));
  if (nul == NULL) return NULL;
  *cursor = nul + 1;
  return start;
}

struct fsop_kind {
  const char *name;
  int arity; /* fields after the operation's name, the path included */
};

static const struct fsop_kind kinds[] = {
    {"whiteout", 1},
    {"opaque", 1},
    {"xattr", 3},
    {"fifo", 2},
};

static _Noreturn void fail(const char *op, const char *path, const char *extra, int errsv) {
  fprintf(stderr, HELPER_NAME ": fsops: %s%s%s%s%s: %s\n", op, path[0] ? " " : "", path, extra ? " " : "",
          extra ? extra : "",
          failure_detail ? failure_detail : strerror(errsv));
  _exit(1);
}

void fsops_main(int argc, char **argv) {
  if (argc != 2) die("usage: fsops ROOT (operations on stdin)");
  const char *root_path = argv[1];
  /* modes are given exactly; the caller's umask must not change them */
  umask(0);
  if (getenv("TSBOX_HELPER_NO_OPENAT2") != NULL) use_openat2 = false; /* tests the fallback walk */

  cleanup_fd int root = TEMP_FAILURE_RETRY(open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root < 0) fail("open", root_path, NULL, errno);
  cleanup_free char *input = NULL;
  size_t input_len = 0;
  if (read_to_end(STDIN_FILENO, FSOPS_MAX_INPUT, &input, &input_len) < 0) fail("read", "stdin", NULL, errno);

  const char *cursor = input, *end = input + input_len;
  while (cursor < end) {
    const char *op = next_field(&cursor, end);
    if (op == NULL) fail("read", "stdin", NULL, (failure_detail = "the last field has no NUL", EINVAL));
    const struct fsop_kind *kind = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
      if (strcmp(op, kinds[i].name) == 0) kind = &kinds[i];
    if (kind == NULL) fail(op, "", NULL, (failure_detail = "unknown operation", EINVAL));
    const char *args[3] = {NULL, NULL, NULL};
    for (int i = 0; i < kind->arity; i++)
      if ((args[i] = next_field(&cursor, end)) == NULL)
        fail(op, i > 0 ? args[0] : "", NULL, (failure_detail = "missing arguments", EINVAL));
    const char *path = args[0];

    struct target t;
    if (resolve_target(root, path, &t) < 0) fail(op, path, NULL, errno);
    int rc;
    if (strcmp(op, "whiteout") == 0) rc = do_whiteout(&t);
    else if (strcmp(op, "opaque") == 0) rc = do_opaque(&t);
    else if (strcmp(op, "xattr") == 0) rc = do_xattr(&t, args[1], args[2]);
    else rc = do_fifo(&t, args[1]);
    int errsv = errno;
    target_close(&t);
    if (rc < 0) fail(op, path, strcmp(op, "xattr") == 0 ? args[1] : NULL, errsv);
  }
  _exit(0);
}
