#include "mount.h"

#include "status.h"
#include "util.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>

/* mount(2) copies at most one page of options. */
#define MOUNT_DATA_MAX 4095

static bool have_openat2 = true;

/* The walk used without openat2: one component at a time, O_NOFOLLOW,
 * refusing any symlink (ELOOP) and clamping ".." at the root. */
static int walk_in_root(int root, const char *path) {
  cleanup_free char *copy = xstrdup(path);
  int fd = TEMP_FAILURE_RETRY(openat(root, ".", O_PATH | O_CLOEXEC));
  if (fd < 0) return -1;
  char *save = NULL;
  for (char *name = strtok_r(copy, "/", &save); name; name = strtok_r(NULL, "/", &save)) {
    if (strcmp(name, ".") == 0) continue;
    if (strcmp(name, "..") == 0) {
      errno = EXDEV; /* the fallback keeps it simple: no ".." at all */
      close(fd);
      return -1;
    }
    int next = TEMP_FAILURE_RETRY(openat(fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
    int errsv = errno;
    close(fd);
    if (next < 0) return errno = errsv, -1;
    struct stat st;
    if (fstat(next, &st) < 0 || S_ISLNK(st.st_mode)) {
      close(next);
      return errno = ELOOP, -1;
    }
    fd = next;
  }
  return fd;
}

int open_in_root(int root, const char *path) {
  if (have_openat2) {
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int)TEMP_FAILURE_RETRY(syscall(SYS_openat2, root, path, &how, sizeof how));
    if (fd >= 0 || errno != ENOSYS) return fd;
    have_openat2 = false;
  }
  return walk_in_root(root, path);
}

/* Symlinks met while creating are followed inside the root, as the kernel
 * would: at most this many. */
#define MAX_SYMLINKS 40

static int ensure_in_root_depth(int root, const char *path, bool want_dir, int depth) {
  int fd = open_in_root(root, path);
  if (fd >= 0 || errno != ENOENT) return fd;
  if (depth > MAX_SYMLINKS) return errno = ELOOP, -1;
  cleanup_free char *copy = xstrdup(path);
  size_t len = strlen(copy);
  while (len > 1 && copy[len - 1] == '/') copy[--len] = '\0';
  char *slash = strrchr(copy, '/');
  const char *name = copy;
  const char *parent_path = ".";
  if (slash != NULL) {
    *slash = '\0';
    name = slash + 1;
    parent_path = copy[0] ? copy : "/";
  }
  cleanup_fd int parent = ensure_in_root_depth(root, parent_path, true, depth);
  if (parent < 0) return -1;
  /* a dangling symlink: create its target, resolved in the root too */
  char target[PATH_MAX];
  ssize_t n = readlinkat(parent, name, target, sizeof target - 1);
  if (n > 0) {
    target[n] = '\0';
    cleanup_free char *next = xmalloc(strlen(parent_path) + (size_t)n + 2);
    sprintf(next, "%s/%s", target[0] == '/' ? "" : parent_path, target);
    return ensure_in_root_depth(root, next, want_dir, depth + 1);
  }
  /* the parent is an O_PATH fd resolved in the root; *at calls on it do not
   * follow the last component */
  if (want_dir) {
    if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST) return -1;
  } else {
    int file = TEMP_FAILURE_RETRY(openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (file < 0 && errno != EEXIST) return -1;
    if (file >= 0) close(file);
  }
  return open_in_root(root, path);
}

int ensure_in_root(int root, const char *path, bool want_dir) {
  return ensure_in_root_depth(root, path, want_dir, 0);
}

static const char *fd_path(int fd, char buf[32]) {
  snprintf(buf, 32, "/proc/self/fd/%d", fd);
  return buf;
}

static int set_read_only(int fd, bool recursive) {
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
  return (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr);
}

static bool is_dir_fd(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Binds source (an fd) onto dest (an fd), re-resolves dest and checks that
 * what is there now is the source: a swapped symlink would show. Returns
 * the fd of the new mount. */
static int bind_checked(int root, int source, int dest, const char *dest_path, bool read_only) {
  char from[32], to[32];
  if (mount(fd_path(source, from), fd_path(dest, to), NULL, MS_BIND | MS_REC, NULL) < 0)
    report_fail(EXIT_HELPER, "mount", errno, "bind mount on %s", dest_path);
  int now = open_in_root(root, dest_path);
  if (now < 0) report_fail(EXIT_HELPER, "mount", errno, "reopen %s after mounting", dest_path);
  struct stat a, b;
  if (fstat(source, &a) < 0 || fstat(now, &b) < 0) report_fail(EXIT_HELPER, "mount", errno, "stat %s", dest_path);
  if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
    report_fail(EXIT_HELPER, "mount", EXDEV, "%s changed while it was being mounted", dest_path);
  if (read_only && set_read_only(now, true) < 0)
    report_fail(EXIT_HELPER, "mount", errno, "make %s read-only", dest_path);
  return now;
}

static int open_source(const char *path) {
  int fd = TEMP_FAILURE_RETRY(open(path, O_PATH | O_CLOEXEC));
  if (fd < 0) report_fail(EXIT_HELPER, "mount", errno, "open bind source %s", path);
  return fd;
}

static void mount_fs_on(int dest, const char *dest_path, const char *type, unsigned long flags, const char *data) {
  char to[32];
  if (mount(type, fd_path(dest, to), type, flags, data) < 0)
    report_fail(EXIT_HELPER, "mount", errno, "mount %s on %s", type, dest_path);
}

static void op_bind(int root, const struct run_op *op) {
  cleanup_fd int source = open_source(op->source);
  cleanup_fd int dest = ensure_in_root(root, op->dest, is_dir_fd(source));
  if (dest < 0) report_fail(EXIT_HELPER, "mount", errno, "create mount point %s", op->dest);
  cleanup_fd int mounted = bind_checked(root, source, dest, op->dest, op->kind == OP_RO_BIND);
}

static void op_dev(int root, const struct run_op *op, int unshare_flags) {
  cleanup_fd int dest = ensure_in_root(root, op->dest, true);
  if (dest < 0) report_fail(EXIT_HELPER, "mount", errno, "create mount point %s", op->dest);
  mount_fs_on(dest, op->dest, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k");
  /* the fresh tmpfs is ours alone: names in it need no in-root resolution */
  cleanup_fd int dev = open_in_root(root, op->dest);
  if (dev < 0) report_fail(EXIT_HELPER, "mount", errno, "reopen %s", op->dest);
  static const char *const devices[] = {"null", "zero", "full", "random", "urandom", "tty"};
  for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
    char host[32];
    snprintf(host, sizeof host, "/dev/%s", devices[i]);
    int file = TEMP_FAILURE_RETRY(openat(dev, devices[i], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666));
    if (file < 0) report_fail(EXIT_HELPER, "mount", errno, "create %s/%s", op->dest, devices[i]);
    close(file);
    cleanup_fd int target = TEMP_FAILURE_RETRY(openat(dev, devices[i], O_PATH | O_NOFOLLOW | O_CLOEXEC));
    cleanup_fd int source = open_source(host);
    char from[32], to[32];
    if (target < 0 || mount(fd_path(source, from), fd_path(target, to), NULL, MS_BIND, NULL) < 0)
      report_fail(EXIT_HELPER, "mount", errno, "bind %s into %s", host, op->dest);
  }
  struct {
    const char *name, *type, *data;
    unsigned long flags;
    bool optional;
  } const filesystems[] = {
      {"pts", "devpts", "newinstance,ptmxmode=0666,mode=620", MS_NOSUID | MS_NOEXEC, false},
      {"shm", "tmpfs", "mode=1777,size=65536k", MS_NOSUID | MS_NODEV | MS_NOEXEC, false},
      /* mqueue needs an ipc namespace of our own */
      {"mqueue", "mqueue", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, !(unshare_flags & CLONE_NEWIPC)},
  };
  for (size_t i = 0; i < sizeof filesystems / sizeof filesystems[0]; i++) {
    if (mkdirat(dev, filesystems[i].name, 0755) < 0)
      report_fail(EXIT_HELPER, "mount", errno, "mkdir %s/%s", op->dest, filesystems[i].name);
    cleanup_fd int target = TEMP_FAILURE_RETRY(openat(dev, filesystems[i].name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
    char to[32];
    if (target < 0 ||
        mount(filesystems[i].type, fd_path(target, to), filesystems[i].type, filesystems[i].flags,
              filesystems[i].data) < 0) {
      if (filesystems[i].optional) continue;
      report_fail(EXIT_HELPER, "mount", errno, "mount %s on %s/%s", filesystems[i].type, op->dest,
                  filesystems[i].name);
    }
  }
  static const char *const links[][2] = {
      {"ptmx", "pts/ptmx"},           {"fd", "/proc/self/fd"},          {"stdin", "/proc/self/fd/0"},
      {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
  };
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
    if (symlinkat(links[i][1], dev, links[i][0]) < 0)
      report_fail(EXIT_HELPER, "mount", errno, "symlink %s/%s", op->dest, links[i][0]);
}

static void op_file(int root, const struct run_op *op) {
  cleanup_fd int created = ensure_in_root(root, op->dest, false);
  if (created < 0) report_fail(EXIT_HELPER, "mount", errno, "create %s", op->dest);
  struct stat st;
  if (fstat(created, &st) < 0 || !S_ISREG(st.st_mode))
    report_fail(EXIT_HELPER, "mount", EINVAL, "%s is not a regular file", op->dest);
  /* reopen the very inode for writing through its O_PATH fd */
  char path[32];
  cleanup_fd int file = TEMP_FAILURE_RETRY(open(fd_path(created, path), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (file < 0) report_fail(EXIT_HELPER, "mount", errno, "open %s", op->dest);
  char buf[8192];
  for (;;) {
    ssize_t n = TEMP_FAILURE_RETRY(read(op->fd, buf, sizeof buf));
    if (n < 0) report_fail(EXIT_HELPER, "mount", errno, "read the content of %s", op->dest);
    if (n == 0) break;
    if (write_all(file, buf, (size_t)n) < 0) report_fail(EXIT_HELPER, "mount", errno, "write %s", op->dest);
  }
  close(op->fd);
}

/* --mask and --ro: absent paths are fine. */
static int open_existing(int root, const char *path) {
  int fd = open_in_root(root, path);
  if (fd < 0 && errno != ENOENT) report_fail(EXIT_HELPER, "mount", errno, "resolve %s", path);
  return fd;
}

static void op_mask(int root, const struct run_op *op) {
  cleanup_fd int dest = open_existing(root, op->dest);
  if (dest < 0) return;
  if (is_dir_fd(dest)) {
    mount_fs_on(dest, op->dest, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755");
    return;
  }
  cleanup_fd int null = open_source("/dev/null");
  cleanup_fd int mounted = bind_checked(root, null, dest, op->dest, false);
}

static void op_ro(int root, const struct run_op *op) {
  cleanup_fd int dest = open_existing(root, op->dest);
  if (dest < 0) return;
  cleanup_fd int mounted = bind_checked(root, dest, dest, op->dest, true);
}

static void run_op(int root, const struct run_op *op, int unshare_flags) {
  switch (op->kind) {
  case OP_BIND:
  case OP_RO_BIND: op_bind(root, op); return;
  case OP_DEV: op_dev(root, op, unshare_flags); return;
  case OP_FILE: op_file(root, op); return;
  case OP_MASK: op_mask(root, op); return;
  case OP_RO: op_ro(root, op); return;
  default: break;
  }
  cleanup_fd int dest = ensure_in_root(root, op->dest, true);
  if (dest < 0) report_fail(EXIT_HELPER, "mount", errno, "create mount point %s", op->dest);
  if (op->kind == OP_TMPFS) {
    mount_fs_on(dest, op->dest, "tmpfs", MS_NOSUID | MS_NODEV, op->source);
  } else if (op->kind == OP_PROC) {
    mount_fs_on(dest, op->dest, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  } else if (unshare_flags & CLONE_NEWNET) { /* OP_SYS: sysfs wants a network namespace of ours */
    mount_fs_on(dest, op->dest, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  } else {
    cleanup_fd int sys = open_source("/sys");
    cleanup_fd int mounted = bind_checked(root, sys, dest, op->dest, true);
  }
}

void mount_run_ops(int root, const struct run_options *opts) {
  for (size_t i = 0; i < opts->ops_len; i++) run_op(root, &opts->ops[i], opts->unshare_flags);
  if (opts->read_only && set_read_only(root, false) < 0)
    report_fail(EXIT_HELPER, "mount", errno, "make the root read-only");
}

/* lowerdir=TOP:...:BOTTOM,upperdir=U,workdir=W,userxattr */
static void overlay_data(const struct run_options *opts, char *data, size_t size) {
  size_t used = (size_t)snprintf(data, size, "lowerdir=");
  for (size_t i = opts->lowers_len; i-- > 0;)
    used += (size_t)snprintf(data + used, used < size ? size - used : 0, "%s%s", opts->lowers[i], i ? ":" : "");
  used += (size_t)snprintf(data + used, used < size ? size - used : 0, ",upperdir=%s,workdir=%s,userxattr",
                           opts->upper, opts->work);
  if (used >= size)
    report_fail(EXIT_HELPER, "mount", E2BIG,
                "the overlay options take %zu bytes, more than one page (use --overlay-layers-dir)", used);
}

int mount_overlay(const struct run_options *opts) {
  char data[MOUNT_DATA_MAX + 1];
  overlay_data(opts, data, sizeof data);
  if (opts->layers_dir != NULL && chdir(opts->layers_dir) < 0)
    report_fail(EXIT_HELPER, "mount", errno, "chdir %s", opts->layers_dir);
  int result = mount("overlay", opts->merged, "overlay", 0, data);
  int errsv = errno;
  if (chdir("/") < 0) report_fail(EXIT_HELPER, "mount", errno, "chdir /");
  errno = errsv;
  return result;
}

int mount_root(const struct run_options *opts) {
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    report_fail(EXIT_HELPER, "mount", errno, "make the mounts private");
  if (opts->rootfs != NULL) {
    if (mount(opts->rootfs, opts->merged, NULL, MS_BIND | MS_REC, NULL) < 0)
      report_fail(EXIT_HELPER, "mount", errno, "bind the root %s at %s", opts->rootfs, opts->merged);
  } else if (opts->fuse_overlayfs == NULL) {
    if (mount_overlay(opts) < 0) report_fail(EXIT_HELPER, "mount", errno, "mount the overlay at %s", opts->merged);
  } /* else the namespace's first process mounted it (run.c, fuse.c): our mount namespace is a copy of its */
  int root = TEMP_FAILURE_RETRY(open(opts->merged, O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root < 0) report_fail(EXIT_HELPER, "mount", errno, "open the root %s", opts->merged);
  return root;
}

void mount_pivot(int root) {
  /* fd style: the old root is stacked under the new one, then detached */
  if (fchdir(root) < 0) report_fail(EXIT_HELPER, "pivot_root", errno, "chdir into the root");
  if (syscall(SYS_pivot_root, ".", ".") < 0) report_fail(EXIT_HELPER, "pivot_root", errno, "pivot_root");
  if (umount2(".", MNT_DETACH) < 0) report_fail(EXIT_HELPER, "pivot_root", errno, "detach the old root");
  if (chdir("/") < 0) report_fail(EXIT_HELPER, "pivot_root", errno, "chdir /");
}
