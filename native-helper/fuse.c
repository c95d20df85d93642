#include "fuse.h"

#include "status.h"
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>

#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif

/* How long the daemon may take to mount, and to go when told. */
#define MOUNT_WAIT_NS (10L * 1000 * 1000 * 1000)
#define STOP_WAIT_NS (5L * 1000 * 1000 * 1000)

/* lowerdir=TOP:...:BOTTOM,upperdir=U,workdir=W. It goes to fuse-overlayfs
 * as one argument (up to 128 KiB), never to mount(2), so the page limit of
 * the kernel overlay's options does not apply; the lowers are relative to
 * --overlay-layers-dir all the same (the daemon starts there). */
static char *overlay_option(const struct run_options *o) {
  size_t size = sizeof "lowerdir=,upperdir=,workdir=" + strlen(o->upper) + strlen(o->work);
  for (size_t i = 0; i < o->lowers_len; i++) size += strlen(o->lowers[i]) + 1;
  char *data = xmalloc(size);
  size_t used = (size_t)snprintf(data, size, "lowerdir=");
  for (size_t i = o->lowers_len; i-- > 0;)
    used += (size_t)snprintf(data + used, size - used, "%s%s", o->lowers[i], i ? ":" : "");
  snprintf(data + used, size - used, ",upperdir=%s,workdir=%s", o->upper, o->work);
  return data;
}

static _Noreturn void exec_daemon(const struct run_options *o, const sigset_t *mask, int out, pid_t parent, char *data) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent) _exit(EXIT_HELPER);
  /* a session of its own: the caller's ^C is the container's, not the daemon's */
  (void)setsid();
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0)
    _exit(EXIT_HELPER);
  if (o->layers_dir != NULL && chdir(o->layers_dir) < 0) {
    dprintf(STDERR_FILENO, "chdir %s: %s\n", o->layers_dir, strerror(errno));
    _exit(EXIT_HELPER);
  }
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) _exit(EXIT_HELPER);
  signal(SIGPIPE, SIG_DFL);
  sigprocmask(SIG_SETMASK, mask, NULL);
  char *argv[] = {(char *)o->fuse_overlayfs, "-f", "-o", data, (char *)o->merged, NULL};
  char *envp[] = {NULL};
  execve(o->fuse_overlayfs, argv, envp);
  dprintf(STDERR_FILENO, "cannot run %s: %s\n", o->fuse_overlayfs, strerror(errno));
  _exit(EXIT_CANNOT_INVOKE);
}

/* The last line the daemon wrote, for the error message. */
static void last_line(int fd, char *line, size_t size) {
  char buf[512];
  off_t end = lseek(fd, 0, SEEK_END);
  off_t from = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
  ssize_t n = pread(fd, buf, sizeof buf - 1, from);
  buf[n > 0 ? n : 0] = '\0';
  size_t len = strlen(buf);
  while (len > 0 && buf[len - 1] == '\n') buf[--len] = '\0';
  char *start = strrchr(buf, '\n');
  snprintf(line, size, "%s", start != NULL ? start + 1 : len > 0 ? buf : "no output");
}

static void pause_a_little(struct timespec *step, long *waited) {
  nanosleep(step, NULL);
  *waited += step->tv_nsec;
  if (step->tv_nsec < 10 * 1000 * 1000) step->tv_nsec *= 2;
}

pid_t fuse_overlay_start(const struct run_options *o, const sigset_t *mask) {
  /* its output: kept in memory, never a pipe that could fill or break */
  cleanup_fd int out = memfd_create("fuse-overlayfs", MFD_CLOEXEC);
  if (out < 0) report_fail(EXIT_HELPER, "mount", errno, "memfd_create");
  cleanup_free char *data = overlay_option(o);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) report_fail(EXIT_HELPER, "mount", errno, "fork fuse-overlayfs");
  if (pid == 0) exec_daemon(o, mask, out, parent, data);

  struct timespec step = {0, 100 * 1000};
  for (long waited = 0;; pause_a_little(&step, &waited)) {
    struct statfs st;
    if (statfs(o->merged, &st) == 0 && st.f_type == FUSE_SUPER_MAGIC) return pid;
    int status = 0;
    bool gone = waitpid(pid, &status, WNOHANG) == pid;
    if (!gone && waited < MOUNT_WAIT_NS) continue;
    if (!gone) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
    }
    char line[320];
    last_line(out, line, sizeof line);
    if (!gone) report_fail(EXIT_HELPER, "mount", 0, "fuse-overlayfs did not mount the root at %s within 10s: %s", o->merged, line);
    report_fail(EXIT_HELPER, "mount", 0, "fuse-overlayfs could not mount the root at %s (status %d): %s", o->merged,
                WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), line);
  }
}

void fuse_overlay_stop(pid_t pid) {
  kill(pid, SIGTERM);
  struct timespec step = {0, 100 * 1000};
  for (long waited = 0; waitpid(pid, NULL, WNOHANG) != pid; pause_a_little(&step, &waited)) {
    if (waited >= STOP_WAIT_NS) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      break;
    }
  }
}
