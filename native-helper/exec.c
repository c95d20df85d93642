/* exec mode: the sequence. Two processes:
 *
 *   P  the helper as started: parses, opens the target's root and
 *      namespaces, joins them (user first: it grants the rights for the
 *      others), becomes root in the user namespace, chroots into the
 *      target's root, forks; then reports on the status fd, relays the pty,
 *      forwards signals and exits with the command's status.
 *   E  P's child, the first process in the container's pid namespace (a
 *      setns'd pid namespace applies to children only): resolves --user in
 *      the container's own /etc/passwd, changes directory, sets the
 *      environment, drops privileges in run's order and execs.
 *
 * E reports failures to P over an O_CLOEXEC pipe of status.h records, so P
 * sees EOF once the command has exec'd. The steps E takes mirror run.c's
 * G (exec_command): keep them in the same order. */
#include "exec.h"

#include "caps.h"
#include "mount.h"
#include "passwd.h"
#include "pty.h"
#include "seccomp.h"
#include "status.h"
#include "util.h"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define MAX_ARGS 9000
#define ARGS_MAX_BYTES (16UL * 1024 * 1024)

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

/* Joined in this order: the user namespace first, since it gives the
 * capabilities the others need; mount before pid as runc/crun do. */
static const struct {
  const char *name;
  int type;
} namespaces[] = {
    {"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS}, {"pid", CLONE_NEWPID},       {"net", CLONE_NEWNET},
    {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS}, {"cgroup", CLONE_NEWCGROUP},
};
#define NAMESPACE_COUNT (sizeof namespaces / sizeof namespaces[0])

struct exec_options {
  pid_t target;
  const char *user;
  const char *chdir;
  bool clearenv;
  const char **setenv; /* KEY, VALUE, KEY, VALUE... */
  size_t setenv_len;
  const char *caps; /* NULL: keep all */
  bool no_new_privs;
  int seccomp_fd;
  bool tty;
  bool no_stdin; /* with tty: stdin is not the command's (-t without -i, -dt) */
  int status_fd;
  char **command;
};

struct exec_channels {
  int report[2]; /* E -> P: records */
  int tty[2];    /* E -> P: the pty master (socketpair) */
  struct seccomp_program seccomp;
  uint64_t keep_caps;
  sigset_t waited, original_mask;
};

/* ---- parsing (the same conventions as run's) --------------------------- */

static int parse_fd(const char *option, const char *text) {
  unsigned long fd;
  if (!parse_ulong(text, 10, INT_MAX, &fd)) die("%s %s: expected a file descriptor number", option, text);
  if (fcntl((int)fd, F_GETFD) < 0) die_with_error("%s %s", option, text);
  return (int)fd;
}

static const char **push(const char **list, size_t *len, const char *value) {
  list = xrealloc(list, (*len + 1) * sizeof *list);
  list[(*len)++] = value;
  return list;
}

/* Reads NUL-separated arguments from fd into a NULL-terminated array. */
static char **read_args(int fd, int *argc_out) {
  char *data = NULL;
  size_t len = 0;
  if (read_to_end(fd, ARGS_MAX_BYTES, &data, &len) < 0) die_with_error("--args: read fd %d", fd);
  close(fd);
  if (len > 0 && data[len - 1] != '\0') die("--args: the last argument has no NUL");
  int argc = 0;
  for (size_t i = 0; i < len; i++) argc += data[i] == '\0';
  if (argc > MAX_ARGS) die("--args: more than %d arguments", MAX_ARGS);
  char **argv = xcalloc((size_t)argc + 1, sizeof *argv);
  char *p = data;
  for (int i = 0; i < argc; i++, p += strlen(p) + 1) argv[i] = p;
  *argc_out = argc;
  return argv;
}

/* argv[0] is the first option; returns the index of the command. */
static int parse_options(int argc, char **argv, struct exec_options *o, bool allow_args) {
  int i = 0;
  for (; i < argc; i++) {
    const char *a = argv[i];
    int left = argc - i - 1;
#define IS(name, n) (strcmp(a, name) == 0 && (need_args(left, n, a), true))
    if (strcmp(a, "--") == 0) return i + 1;
    if (IS("--args", 1)) {
      if (!allow_args) die("--args may not appear inside --args");
      int fd = parse_fd(a, argv[++i]), n = 0;
      char **more = read_args(fd, &n);
      int command = parse_options(n, more, o, false);
      if (command < n) {
        o->command = &more[command];
        if (i + 1 < argc) die("--args: the command was given in the fd; nothing may follow --args");
        return argc;
      }
    } else if (IS("--target", 1)) {
      unsigned long pid;
      if (!parse_ulong(argv[++i], 10, INT_MAX, &pid) || pid == 0) die("--target %s: expected a process id", argv[i]);
      o->target = (pid_t)pid;
    } else if (IS("--chdir", 1)) o->chdir = argv[++i];
    else if (IS("--clearenv", 0)) o->clearenv = true;
    else if (IS("--setenv", 2)) {
      if (argv[i + 1][0] == '\0' || strchr(argv[i + 1], '=') != NULL) die("--setenv %s: not a variable name", argv[i + 1]);
      o->setenv = push(o->setenv, &o->setenv_len, argv[i + 1]);
      o->setenv = push(o->setenv, &o->setenv_len, argv[i + 2]);
      i += 2;
    } else if (IS("--user", 1)) o->user = argv[++i];
    else if (IS("--cap", 1)) o->caps = argv[++i];
    else if (IS("--no-new-privs", 0)) o->no_new_privs = true;
    else if (IS("--seccomp", 1)) o->seccomp_fd = parse_fd(a, argv[++i]);
    else if (IS("--tty", 0)) o->tty = true;
    else if (IS("--no-stdin", 0)) o->no_stdin = true;
    else if (IS("--status-fd", 1)) o->status_fd = parse_fd(a, argv[++i]);
    else if (a[0] == '-') die("exec: unknown option %s", a);
    else return i; /* the command starts here */
#undef IS
  }
  return i;
}

/* ---- P: failures and joining the container ------------------------------ */

static int status_fd = -1;

/* A failure of P itself: one line on stderr, an error event, exit 125. */
static _Noreturn void outer_fail(const char *stage, int errsv, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static _Noreturn void outer_fail(const char *stage, int errsv, const char *format, ...) {
  char message[512];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  pty_restore();
  if (status_fd < 0 && errsv != 0) fprintf(stderr, HELPER_NAME ": %s: %s\n", message, strerror(errsv));
  else if (status_fd < 0) fprintf(stderr, HELPER_NAME ": %s\n", message);
  status_error(status_fd, stage, errsv, message);
  _exit(EXIT_HELPER);
}

/* Opens every namespace of pid and its root before joining any (after
 * setns the pid's /proc entries may no longer be reachable), then joins
 * those that differ from ours and chroots into the root. */
static void join_target(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/root", (long)pid);
  cleanup_fd int root = TEMP_FAILURE_RETRY(open(path, O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root < 0) outer_fail("target", errno, "open %s", path);

  int fds[NAMESPACE_COUNT];
  for (size_t i = 0; i < NAMESPACE_COUNT; i++) {
    fds[i] = -1;
    snprintf(path, sizeof path, "/proc/%ld/ns/%s", (long)pid, namespaces[i].name);
    int fd = TEMP_FAILURE_RETRY(open(path, O_RDONLY | O_CLOEXEC));
    if (fd < 0) {
      if (errno == ENOENT && namespaces[i].type == CLONE_NEWCGROUP) continue; /* a kernel without them */
      outer_fail("target", errno, "open %s", path);
    }
    char own[64];
    snprintf(own, sizeof own, "/proc/self/ns/%s", namespaces[i].name);
    struct stat theirs, ours;
    if (fstat(fd, &theirs) < 0) outer_fail("target", errno, "stat %s", path);
    if (stat(own, &ours) == 0 && ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev) {
      close(fd); /* already there: setns into our own user namespace is EINVAL */
      continue;
    }
    fds[i] = fd;
  }
  for (size_t i = 0; i < NAMESPACE_COUNT; i++) {
    if (fds[i] < 0) continue;
    if (setns(fds[i], namespaces[i].type) < 0)
      outer_fail("namespaces", errno, "join the %s namespace of pid %ld", namespaces[i].name, (long)pid);
    close(fds[i]);
    if (namespaces[i].type == CLONE_NEWUSER) {
      /* root of the container's user namespace, as its first process is;
       * setgroups is denied there when the maps were written directly */
      if (setgroups(0, NULL) < 0 && errno != EPERM) outer_fail("namespaces", errno, "setgroups in the user namespace");
      if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
        outer_fail("namespaces", errno, "become root in the user namespace of pid %ld", (long)pid);
    }
  }
  if (fchdir(root) < 0 || chroot(".") < 0) outer_fail("namespaces", errno, "enter the root of pid %ld", (long)pid);
}

/* ---- E: the command's process ------------------------------------------- */

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void apply_environment(const struct exec_options *o, const struct container_user *user) {
  if (o->clearenv && clearenv() != 0) report_fail(EXIT_HELPER, "env", errno, "clearenv");
  bool home_given = false;
  for (size_t i = 0; i + 1 < o->setenv_len; i += 2) {
    if (setenv(o->setenv[i], o->setenv[i + 1], 1) < 0) report_fail(EXIT_HELPER, "env", errno, "setenv %s", o->setenv[i]);
    home_given |= strcmp(o->setenv[i], "HOME") == 0;
  }
  if (user != NULL && !home_given && setenv("HOME", user->home, 1) < 0)
    report_fail(EXIT_HELPER, "env", errno, "setenv HOME");
}

/* Unlike run, a missing directory is an error, not created: exec must not
 * change the container's files (podman's exec fails the same way). */
static void change_directory(const char *dir) {
  cleanup_fd int root = TEMP_FAILURE_RETRY(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  cleanup_fd int fd = root < 0 ? -1 : open_in_root(root, dir);
  if (fd < 0 || fchdir(fd) < 0) report_fail(EXIT_HELPER, "chdir", errno, "chdir %s", dir);
}

static _Noreturn void exec_child(const struct exec_options *o, struct exec_channels *ch) {
  report_fd = ch->report[1];
  close_fd(&ch->report[0]);
  close_fd(&ch->tty[0]);
  if (o->status_fd >= 0) close(o->status_fd);

  int tty_slave = o->tty ? pty_open_in_container(ch->tty[1]) : -1;
  close_fd(&ch->tty[1]);
  struct container_user user;
  if (o->user != NULL) passwd_resolve(o->user, &user);
  if (o->chdir != NULL) change_directory(o->chdir);
  apply_environment(o, o->user != NULL ? &user : NULL);

  /* as run's exec_command: identity, capabilities, no_new_privs, seccomp */
  if (tty_slave >= 0) pty_become_controlling(tty_slave);
  /* without no_new_privs the filter needs CAP_SYS_ADMIN: load it while we
   * still have it; with it, the filter is the very last step */
  if (ch->seccomp.filter != NULL && !o->no_new_privs) seccomp_load(&ch->seccomp);
  if (o->caps != NULL) caps_drop_bounding(ch->keep_caps);
  if (o->user != NULL) {
    if (setgroups(user.groups_len, user.groups) < 0 && errno != EPERM)
      report_fail(EXIT_HELPER, "user", errno, "setgroups");
    if (setresgid(user.gid, user.gid, user.gid) < 0)
      report_fail(EXIT_HELPER, "user", errno, "setgid %lu", (unsigned long)user.gid);
    if (setresuid(user.uid, user.uid, user.uid) < 0)
      report_fail(EXIT_HELPER, "user", errno, "setuid %lu", (unsigned long)user.uid);
  }
  if (o->caps != NULL) caps_set(ch->keep_caps);
  /* the command dies with P (the uid change above cleared an earlier one);
   * P's pid is outside this pid namespace, so getppid() cannot check it */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) report_fail(EXIT_HELPER, "exec", errno, "PR_SET_PDEATHSIG");
  if (o->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    report_fail(EXIT_HELPER, "no_new_privs", errno, "prctl(PR_SET_NO_NEW_PRIVS)");
  if (ch->seccomp.filter != NULL && o->no_new_privs) seccomp_load(&ch->seccomp);

  signal(SIGPIPE, SIG_DFL);
  /* nothing of ours reaches the command; the report pipe stays open until
   * exec succeeds, so a failure below can still be reported */
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) report_fail(EXIT_HELPER, "exec", errno, "close_range");
  if (sigprocmask(SIG_SETMASK, &ch->original_mask, NULL) < 0)
    report_fail(EXIT_HELPER, "exec", errno, "restore the signal mask");
  execvp(o->command[0], o->command);
  int errsv = errno;
  if (errsv == ENOENT || errsv == ENOTDIR)
    report_fail(EXIT_NOT_FOUND, "exec", errsv, "%s: command not found", o->command[0]);
  report_fail(EXIT_CANNOT_INVOKE, "exec", errsv, "cannot run %s", o->command[0]);
}

/* ---- P: supervising ------------------------------------------------------ */

static void copy_out(int from, int to, bool *open) {
  char buf[8192];
  ssize_t n = TEMP_FAILURE_RETRY(read(from, buf, sizeof buf));
  if (n <= 0) {
    *open = false;
    return;
  }
  if (write_all(to, buf, (size_t)n) < 0) *open = false;
}

/* Waits for E, forwarding signals and relaying the pty; returns E's wait status. */
static int supervise(struct exec_channels *ch, pid_t child, int master, bool no_stdin) {
  int sfd = signalfd(-1, &ch->waited, SFD_CLOEXEC);
  if (sfd < 0) outer_fail("supervise", errno, "signalfd");
  /* no_stdin: nothing to relay, and no end-of-file to send (a shell waits, as podman's -t) */
  bool in_open = master >= 0 && !no_stdin, out_open = master >= 0;
  int status = 0;
  for (;;) {
    struct pollfd fds[3] = {{sfd, POLLIN, 0}, {in_open ? STDIN_FILENO : -1, POLLIN, 0}, {out_open ? master : -1, POLLIN, 0}};
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      outer_fail("supervise", errno, "poll");
    }
    if (fds[1].revents) {
      copy_out(STDIN_FILENO, master, &in_open);
      /* stdin ended: the terminal's end-of-file to the command */
      if (!in_open) (void)write_all(master, "\x04", 1);
    }
    if (fds[2].revents) copy_out(master, STDOUT_FILENO, &out_open);
    if (!(fds[0].revents & POLLIN)) continue;
    struct signalfd_siginfo info;
    if (TEMP_FAILURE_RETRY(read(sfd, &info, sizeof info)) != sizeof info) continue;
    int sig = (int)info.ssi_signo;
    if (sig == SIGWINCH && master >= 0) pty_copy_size(master); /* the kernel signals the command */
    else if (sig != SIGCHLD) kill(child, sig);
    else if (waitpid(child, &status, WNOHANG) == child) break;
  }
  /* the command's last output is still in the pty */
  if (master >= 0) {
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    while (out_open) copy_out(master, STDOUT_FILENO, &out_open);
  }
  close(sfd);
  return status;
}

void exec_main(int argc, char **argv) {
  static struct exec_options o;
  memset(&o, 0, sizeof o);
  o.seccomp_fd = o.status_fd = -1;
  int command = parse_options(argc - 1, argv + 1, &o, true);
  if (o.command == NULL && command < argc - 1) o.command = &argv[1 + command];
  if (o.command == NULL || o.command[0] == NULL) die("exec: no command given (usage: exec --target PID [OPTION]... -- CMD [ARG]...)");
  if (o.target == 0) die("exec: --target PID is required");
  status_fd = o.status_fd;

  static struct exec_channels ch;
  memset(&ch, 0, sizeof ch);
  ch.report[0] = ch.report[1] = ch.tty[0] = ch.tty[1] = -1;
  if (o.caps != NULL) ch.keep_caps = caps_parse(o.caps);
  if (o.seccomp_fd >= 0) {
    const char *problem = seccomp_read(o.seccomp_fd, &ch.seccomp);
    if (problem != NULL) outer_fail("seccomp", errno, "%s", problem);
  }

  /* A SIGCHLD ignored by whoever started us would make the kernel reap E. */
  signal(SIGCHLD, SIG_DFL);
  signal(SIGPIPE, SIG_IGN); /* a gone status reader is not our death */
  sigemptyset(&ch.waited);
  sigaddset(&ch.waited, SIGCHLD);
  for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
    sigaddset(&ch.waited, forwarded_signals[i]);
  if (sigprocmask(SIG_BLOCK, &ch.waited, &ch.original_mask) < 0) outer_fail("setup", errno, "block signals");

  join_target(o.target);

  if (pipe2(ch.report, O_CLOEXEC) < 0) outer_fail("setup", errno, "pipe");
  if (o.tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch.tty) < 0) outer_fail("setup", errno, "socketpair");
  pid_t child = fork();
  if (child < 0) outer_fail("setup", errno, "fork into the container (has it exited?)");
  if (child == 0) exec_child(&o, &ch);
  close_fd(&ch.report[1]);
  close_fd(&ch.tty[1]);
  status_pid(status_fd, child);

  /* E sends the master first; -1 here means it failed and reports why */
  int master = o.tty ? pty_receive_master(ch.tty[0]) : -1;
  close_fd(&ch.tty[0]);
  struct report r;
  int failure = 0;
  while (report_read(ch.report[0], &r) == 1) {
    if (r.type != REPORT_ERROR) continue;
    /* with a status fd the caller words the error for the user, once */
    if (status_fd < 0 && r.value != 0) fprintf(stderr, HELPER_NAME ": %s: %s\n", r.message, strerror(r.value));
    else if (status_fd < 0) fprintf(stderr, HELPER_NAME ": %s\n", r.message);
    status_error(status_fd, r.stage, r.value, r.message);
    failure = r.exit_code;
  }
  close_fd(&ch.report[0]);
  /* EOF without an error: the command has been exec'd (as run's event) */
  if (failure == 0) status_started(status_fd);
  if (master >= 0 && failure == 0) {
    pty_copy_size(master);
    if (!o.no_stdin) pty_make_raw();
  }

  int status = supervise(&ch, child, master, o.no_stdin);
  pty_restore();
  if (failure != EXIT_HELPER) status_exit(status_fd, status);
  if (WIFSIGNALED(status)) _exit(128 + WTERMSIG(status));
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_HELPER);
}
