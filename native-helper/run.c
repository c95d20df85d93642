/* run mode: the sequence. Three processes (four with --init):
 *
 *   P  the helper as started: parses, writes the id maps, reports on the
 *      status fd, relays the pty, forwards signals to C, exits with the
 *      container's status.
 *   C  unshares the user namespace, becomes root there, unshares the pid
 *      namespace, forks G, forwards signals to it, waits for it, removes
 *      --remove-after-exit dirs, hands G's wait status to P.
 *   G  pid 1 of the new pid namespace: unshares mount (+ipc, uts, net,
 *      cgroup), builds the root, pivots, resolves --user, sets hostname,
 *      cwd, env; reports ready; waits for the go byte; with --init forks the
 *      command and reaps; else drops privileges and execs the command.
 *
 * C and G report to P over one pipe of fixed-size records (status.h); it
 * is O_CLOEXEC, so P sees EOF once the command has exec'd. */
#include "run.h"

#include "caps.h"
#include "fuse.h"
#include "init.h"
#include "monitor.h"
#include "mount.h"
#include "ns.h"
#include "passwd.h"
#include "pty.h"
#include "seccomp.h"
#include "status.h"
#include "util.h"

#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* bubblewrap's bound: --args lists are long, not unbounded */
#define MAX_ARGS 9000
#define ARGS_MAX_BYTES (16UL * 1024 * 1024)

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

/* The channels between the processes; each end is closed where unused. */
struct run_channels {
  int report[2];  /* C, G -> P: records */
  int maps[2];    /* P -> C: the maps are written */
  int go[2];      /* P -> G: start the command */
  int result[2];  /* C -> P: G's wait status */
  int tty[2];     /* G -> P: the pty master (socketpair) */
  struct monitor monitor; /* the container's streams when P captures them */
  struct seccomp_program seccomp;
  sigset_t waited, original_mask;
};

/* ---- parsing ---------------------------------------------------------- */

static int parse_fd(const char *option, const char *text) {
  unsigned long fd;
  if (!parse_ulong(text, 10, INT_MAX, &fd)) die("%s %s: expected a file descriptor number", option, text);
  if (fcntl((int)fd, F_GETFD) < 0) die_with_error("%s %s", option, text);
  return (int)fd;
}

static void add_op(struct run_options *o, enum run_op_kind kind, const char *source, const char *dest, int fd) {
  o->ops = xrealloc(o->ops, (o->ops_len + 1) * sizeof *o->ops);
  o->ops[o->ops_len++] = (struct run_op){.kind = kind, .source = source, .dest = dest, .fd = fd};
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
static int parse_options(int argc, char **argv, struct run_options *o, bool allow_args) {
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
    } else if (IS("--uid-map", 3)) ns_id_map_add(&o->uid_map, a, &argv[i + 1]), i += 3;
    else if (IS("--gid-map", 3)) ns_id_map_add(&o->gid_map, a, &argv[i + 1]), i += 3;
    else if (IS("--newuidmap", 1)) o->newuidmap = argv[++i];
    else if (IS("--newgidmap", 1)) o->newgidmap = argv[++i];
    else if (IS("--unshare-net", 0)) o->unshare_flags |= CLONE_NEWNET;
    else if (IS("--unshare-ipc", 0)) o->unshare_flags |= CLONE_NEWIPC;
    else if (IS("--unshare-uts", 0)) o->unshare_flags |= CLONE_NEWUTS;
    else if (IS("--unshare-cgroup", 0)) o->unshare_flags |= CLONE_NEWCGROUP;
    else if (IS("--overlay-layers-dir", 1)) o->layers_dir = argv[++i];
    else if (IS("--overlay-lower", 1)) o->lowers = push(o->lowers, &o->lowers_len, argv[++i]);
    else if (IS("--overlay", 3)) o->upper = argv[i + 1], o->work = argv[i + 2], o->merged = argv[i + 3], i += 3;
    else if (IS("--fuse-overlayfs", 1)) o->fuse_overlayfs = argv[++i], o->fuse_fallback = false;
    else if (IS("--fuse-overlayfs-fallback", 1)) o->fuse_overlayfs = argv[++i], o->fuse_fallback = true;
    else if (IS("--rootfs", 2)) o->rootfs = argv[i + 1], o->merged = argv[i + 2], i += 2;
    else if (IS("--read-only", 0)) o->read_only = true;
    else if (IS("--bind", 2)) add_op(o, OP_BIND, argv[i + 1], argv[i + 2], -1), i += 2;
    else if (IS("--ro-bind", 2)) add_op(o, OP_RO_BIND, argv[i + 1], argv[i + 2], -1), i += 2;
    else if (IS("--tmpfs", 2)) add_op(o, OP_TMPFS, strcmp(argv[i + 2], "-") == 0 ? NULL : argv[i + 2], argv[i + 1], -1), i += 2;
    else if (IS("--proc", 1)) add_op(o, OP_PROC, NULL, argv[++i], -1);
    else if (IS("--dev", 1)) add_op(o, OP_DEV, NULL, argv[++i], -1);
    else if (IS("--sys", 1)) add_op(o, OP_SYS, NULL, argv[++i], -1);
    else if (IS("--file", 2)) add_op(o, OP_FILE, NULL, argv[i + 2], parse_fd(a, argv[i + 1])), i += 2;
    else if (IS("--mask", 1)) add_op(o, OP_MASK, NULL, argv[++i], -1);
    else if (IS("--ro", 1)) add_op(o, OP_RO, NULL, argv[++i], -1);
    else if (IS("--hostname", 1)) o->hostname = argv[++i];
    else if (IS("--chdir", 1)) o->chdir = argv[++i];
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
    else if (IS("--init", 0)) o->init = true;
    else if (IS("--tty", 0)) o->tty = true;
    else if (IS("--no-stdin", 0)) o->no_stdin = true;
    else if (IS("--status-fd", 1)) o->status_fd = parse_fd(a, argv[++i]);
    else if (IS("--sync-fd", 1)) o->sync_fd = parse_fd(a, argv[++i]);
    else if (IS("--remove-after-exit", 1)) o->remove_after_exit = push(o->remove_after_exit, &o->remove_len, argv[++i]);
    else if (IS("--log-file", 1)) o->monitor.log_file = argv[++i];
    else if (IS("--stdin-pipe", 0)) o->monitor.stdin_pipe = true;
    else if (IS("--attach-socket", 1)) o->monitor.attach_socket = argv[++i];
    else if (IS("--exit-file", 1)) o->monitor.exit_file = argv[++i];
    else if (IS("--exit-command", 1)) o->monitor.exit_command = argv[++i];
    else if (IS("--exit-arg", 1)) o->monitor.exit_args = push(o->monitor.exit_args, &o->monitor.exit_args_len, argv[++i]);
    else if (IS("--detach", 0)) o->monitor.detach = true;
    else if (a[0] == '-') die("run: unknown option %s", a);
    else return i; /* the command starts here */
#undef IS
  }
  return i;
}

static void check_options(struct run_options *o) {
  if (o->command == NULL || o->command[0] == NULL) die("run: no command given (usage: run [OPTION]... -- CMD [ARG]...)");
  if ((o->rootfs != NULL) == (o->upper != NULL)) die("run: give exactly one of --overlay and --rootfs");
  if (o->upper != NULL && o->lowers_len == 0) die("run: --overlay needs at least one --overlay-lower");
  if (o->rootfs != NULL && o->lowers_len > 0) die("run: --overlay-lower goes with --overlay, not --rootfs");
  if (o->fuse_overlayfs != NULL && (o->upper == NULL || o->fuse_overlayfs[0] != '/'))
    die("run: --fuse-overlayfs%s takes an absolute path and goes with --overlay", o->fuse_fallback ? "-fallback" : "");
  const char *paths[] = {o->upper, o->work};
  for (size_t i = 0; i < 2; i++)
    if (paths[i] != NULL && (paths[i][0] != '/' || strpbrk(paths[i], ",:\\") != NULL))
      die("--overlay: %s: paths must be absolute, without , : or \\", paths[i]);
  for (size_t i = 0; i < o->lowers_len; i++)
    if (o->lowers[i][0] == '\0' || strpbrk(o->lowers[i], ",:\\") != NULL)
      die("--overlay-lower %s: a layer path may not contain , : or \\", o->lowers[i]);
  if (o->tty && !isatty(STDIN_FILENO) && !isatty(STDOUT_FILENO)) {
    /* fine: relayed all the same, e.g. under a test */
  }
  if ((o->newuidmap == NULL) != (o->newgidmap == NULL)) die("run: --newuidmap and --newgidmap go together");
  if (o->monitor.exit_args_len > 0 && o->monitor.exit_command == NULL) die("run: --exit-arg goes with --exit-command");
  const unsigned long own[2] = {geteuid(), getegid()};
  struct ns_id_map *maps[2] = {&o->uid_map, &o->gid_map};
  for (int m = 0; m < 2; m++) {
    if (maps[m]->len == 0) {
      maps[m]->ranges[0] = (struct ns_id_range){.inside = 0, .outside = own[m], .count = 1};
      maps[m]->len = 1;
    }
    if (o->newuidmap == NULL &&
        (maps[m]->len > 1 || maps[m]->ranges[0].count != 1 || maps[m]->ranges[0].outside != own[m]))
      die("run: without --newuidmap/--newgidmap only your own %s (%lu, count 1) can be mapped", maps[m]->kind, own[m]);
  }
}

/* ---- G: the container's first process ---------------------------------- */

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void apply_environment(const struct run_options *o, const struct container_user *user) {
  if (o->clearenv && clearenv() != 0) report_fail(EXIT_HELPER, "env", errno, "clearenv");
  bool home_given = false;
  for (size_t i = 0; i + 1 < o->setenv_len; i += 2) {
    if (setenv(o->setenv[i], o->setenv[i + 1], 1) < 0) report_fail(EXIT_HELPER, "env", errno, "setenv %s", o->setenv[i]);
    home_given |= strcmp(o->setenv[i], "HOME") == 0;
  }
  if (user != NULL && !home_given && setenv("HOME", user->home, 1) < 0)
    report_fail(EXIT_HELPER, "env", errno, "setenv HOME");
}

static void change_directory(const char *dir) {
  cleanup_fd int root = TEMP_FAILURE_RETRY(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  cleanup_fd int fd = root < 0 ? -1 : ensure_in_root(root, dir, true);
  if (fd < 0 || fchdir(fd) < 0) report_fail(EXIT_HELPER, "chdir", errno, "chdir %s", dir);
}

/* The last steps, in the process that execs: identity, capabilities,
 * no_new_privs, seccomp, then exec. */
/* What the command runs without: the bounding set, the user and groups, the
 * capabilities, no_new_privs, the seccomp filter. With --init, pid 1 drops
 * them too, so that the reaper keeps nothing the command lacks (as podman's
 * catatonit, which is the container's process as any other). */
static void drop_privileges(const struct run_options *o, struct run_channels *ch, const struct container_user *user,
                            bool init) {
  uint64_t keep = o->caps != NULL ? caps_parse(o->caps) : 0;
  /* Without no_new_privs the filter needs CAP_SYS_ADMIN: load it while we
   * still have it. With it, the filter is the very last step. */
  if (ch->seccomp.filter != NULL && !o->no_new_privs) seccomp_load(&ch->seccomp);
  if (o->caps != NULL) caps_drop_bounding(keep);
  if (user != NULL) {
    if (setgroups(user->groups_len, user->groups) < 0 && errno != EPERM)
      report_fail(EXIT_HELPER, "user", errno, "setgroups");
    if (setresgid(user->gid, user->gid, user->gid) < 0)
      report_fail(EXIT_HELPER, "user", errno, "setgid %lu", (unsigned long)user->gid);
    if (setresuid(user->uid, user->uid, user->uid) < 0)
      report_fail(EXIT_HELPER, "user", errno, "setuid %lu", (unsigned long)user->uid);
  }
  if (o->caps != NULL) caps_set(keep);
  /* execve leaves a user other than root no capabilities (there is no ambient
   * set); pid 1 does not exec, so it gives them up itself */
  if (init && user != NULL && user->uid != 0) caps_set(0);
  if (o->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    report_fail(EXIT_HELPER, "no_new_privs", errno, "prctl(PR_SET_NO_NEW_PRIVS)");
  if (ch->seccomp.filter != NULL && o->no_new_privs) seccomp_load(&ch->seccomp);
}

static _Noreturn void exec_command(const struct run_options *o, struct run_channels *ch, const struct container_user *user,
                                   int tty_slave) {
  if (tty_slave >= 0) pty_become_controlling(tty_slave);
  drop_privileges(o, ch, user, false);

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

static _Noreturn void run_container(const struct run_options *o, struct run_channels *ch) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) report_fail(EXIT_HELPER, "namespaces", errno, "PR_SET_PDEATHSIG");
  if (unshare(CLONE_NEWNS | o->unshare_flags) < 0) report_fail(EXIT_HELPER, "namespaces", errno, "unshare the namespaces");
  if ((o->unshare_flags & CLONE_NEWNET) && ns_loopback_up() < 0)
    report_fail(EXIT_HELPER, "network", errno, "bring up the loopback interface");
  report_send(REPORT_NAMESPACES, 0);

  int root = mount_root(o);
  mount_run_ops(root, o);
  mount_pivot(root);
  close(root);

  int tty_slave = o->tty ? pty_open_in_container(ch->tty[1]) : -1;
  close_fd(&ch->tty[1]);
  struct container_user user;
  if (o->user != NULL) passwd_resolve(o->user, &user);
  if (o->hostname != NULL && sethostname(o->hostname, strlen(o->hostname)) < 0)
    report_fail(EXIT_HELPER, "hostname", errno, "set the hostname%s",
                o->unshare_flags & CLONE_NEWUTS ? "" : " (it needs --unshare-uts)");
  if (o->chdir != NULL) change_directory(o->chdir);
  apply_environment(o, o->user != NULL ? &user : NULL);

  report_send(REPORT_READY, 0);
  char byte = 0;
  if (TEMP_FAILURE_RETRY(read(ch->go[0], &byte, 1)) != 1) _exit(EXIT_HELPER); /* P said why */
  close_fd(&ch->go[0]);

  if (o->init) {
    pid_t command = fork();
    if (command < 0) report_fail(EXIT_HELPER, "init", errno, "fork the command");
    if (command > 0) {
      if (tty_slave >= 0) close(tty_slave);
      drop_privileges(o, ch, o->user != NULL ? &user : NULL, true);
      close_fd(&report_fd);
      init_reap(command, &ch->waited);
    }
  }
  exec_command(o, ch, o->user != NULL ? &user : NULL, tty_slave);
}

/* ---- C: the user namespace's first process ---------------------------- */

/* With --fuse-overlayfs[-fallback]: the root is mounted here, in a mount
 * namespace of C's own that G's is copied from, so that the fuse-overlayfs
 * daemon, started before the pid namespace, is none of the container's
 * processes. Returns the daemon's pid, or -1 when the kernel's overlay
 * did it (--fuse-overlayfs-fallback). */
static pid_t mount_root_early(const struct run_options *o, const sigset_t *mask) {
  if (unshare(CLONE_NEWNS) < 0) report_fail(EXIT_HELPER, "namespaces", errno, "unshare the mount namespace");
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    report_fail(EXIT_HELPER, "mount", errno, "make the mounts private");
  if (o->fuse_fallback) {
    if (mount_overlay(o) == 0) return -1;
    int errsv = errno;
    if (errsv != EPERM && errsv != EINVAL && errsv != ENODEV)
      report_fail(EXIT_HELPER, "mount", errsv, "mount the overlay at %s", o->merged);
    report_send(REPORT_FALLBACK, errsv);
  }
  return fuse_overlay_start(o, mask);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st, (void)type, (void)ftw;
  if (remove(path) < 0 && errno != ENOENT) fprintf(stderr, HELPER_NAME ": remove %s: %s\n", path, strerror(errno));
  return 0;
}

static _Noreturn void run_namespace_root(const struct run_options *o, struct run_channels *ch, pid_t parent) {
  report_fd = ch->report[1];
  /* capturing: the container's pipes (or /dev/null) become our 0 1 2, for G to inherit */
  monitor_enter_child(&ch->monitor);
  close_fd(&ch->report[0]);
  close_fd(&ch->maps[1]);
  close_fd(&ch->go[1]);
  close_fd(&ch->result[0]);
  close_fd(&ch->tty[0]);
  if (o->status_fd >= 0) close(o->status_fd);
  if (o->sync_fd >= 0) close(o->sync_fd);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) report_fail(EXIT_HELPER, "userns", errno, "PR_SET_PDEATHSIG");
  if (getppid() != parent) _exit(EXIT_HELPER);

  if (unshare(CLONE_NEWUSER) < 0) report_fail(EXIT_HELPER, "userns", errno, "cannot create a user namespace");
  report_send(REPORT_UNSHARED, 0);
  char byte = 0;
  if (TEMP_FAILURE_RETRY(read(ch->maps[0], &byte, 1)) != 1) _exit(EXIT_HELPER); /* P said why */
  close_fd(&ch->maps[0]);
  if (o->newgidmap != NULL && setgroups(0, NULL) < 0 && errno != EPERM)
    report_fail(EXIT_HELPER, "userns", errno, "setgroups in the user namespace");
  if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
    report_fail(EXIT_HELPER, "userns", errno, "cannot become root in the user namespace");
  /* the id change cleared both: the parent-death signal, and (when root here
   * is not the user outside, as with keep-id) dumpability, without which the
   * network helper, running as the user, may not open /proc/PID/ns/net */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) report_fail(EXIT_HELPER, "userns", errno, "PR_SET_PDEATHSIG");
  if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) report_fail(EXIT_HELPER, "userns", errno, "PR_SET_DUMPABLE");
  pid_t daemon_pid = o->fuse_overlayfs != NULL ? mount_root_early(o, &ch->original_mask) : -1;
  if (unshare(CLONE_NEWPID) < 0) report_fail(EXIT_HELPER, "namespaces", errno, "unshare the pid namespace");

  pid_t container = fork();
  if (container < 0) report_fail(EXIT_HELPER, "namespaces", errno, "fork the container's first process");
  if (container == 0) {
    close_fd(&ch->result[1]);
    run_container(o, ch);
  }
  /* C is in P's pid namespace: this is the pid P and its caller see */
  report_send(REPORT_PID, container);
  close_fd(&report_fd);
  close_fd(&ch->go[0]);
  close_fd(&ch->tty[1]);

  int status = 0;
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&ch->waited, &info);
    if (sig < 0) continue; /* EINTR */
    if (sig != SIGCHLD) {
      kill(container, sig);
      continue;
    }
    pid_t done = waitpid(container, &status, WNOHANG);
    if (done == container) break;
  }
  if (daemon_pid > 0) fuse_overlay_stop(daemon_pid);
  /* mounted here (mount_root_early): off MERGED before --remove-after-exit removes it */
  if (o->fuse_overlayfs != NULL) (void)umount2(o->merged, MNT_DETACH);
  for (size_t i = 0; i < o->remove_len; i++)
    nftw(o->remove_after_exit[i], remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  (void)write_all(ch->result[1], &status, sizeof status);
  _exit(0);
}

/* ---- P: the helper as started ------------------------------------------ */

static int status_fd = -1;
static pid_t namespace_root = -1;
static struct monitor *monitor; /* for outer_fail: set once opened */

/* A failure of P itself: one line on stderr, an error event, exit 125. */
static _Noreturn void outer_fail(const char *stage, int errsv, const char *message) {
  pty_restore();
  if (status_fd < 0 && errsv != 0) fprintf(stderr, HELPER_NAME ": %s: %s\n", message, strerror(errsv));
  else if (status_fd < 0) fprintf(stderr, HELPER_NAME ": %s\n", message);
  status_error(status_fd, stage, errsv, message);
  if (monitor != NULL) monitor_abort(monitor);
  if (namespace_root > 0) kill(namespace_root, SIGKILL);
  _exit(EXIT_HELPER);
}

/* Writes the id maps of C's user namespace from P itself (no writer
 * process): a failure is P's, one line and an error event. */
static void write_maps(const struct run_options *o, const struct run_channels *ch, pid_t child) {
  char message[1024];
  bool written = o->newuidmap != NULL
                     ? ns_write_id_maps_with_tools(o->newuidmap, o->newgidmap, child, &o->uid_map, &o->gid_map,
                                                   &ch->original_mask, message, sizeof message)
                     : ns_write_id_maps_directly(child, &o->uid_map, &o->gid_map, message, sizeof message);
  if (!written) outer_fail("userns", 0, message);
}

static void copy_out(int from, int to, bool *open) {
  char buf[8192];
  ssize_t n = TEMP_FAILURE_RETRY(read(from, buf, sizeof buf));
  if (n <= 0) {
    *open = false;
    return;
  }
  if (write_all(to, buf, (size_t)n) < 0) *open = false;
}

/* Waits for C, forwarding signals and relaying the pty (master: relayed
 * to P's own stdin/stdout; -1 when there is none or the monitor captures). */
static void supervise(const struct run_options *o, struct run_channels *ch, int master) {
  int sfd = signalfd(-1, &ch->waited, SFD_CLOEXEC);
  if (sfd < 0) outer_fail("supervise", errno, "signalfd");
  /* --no-stdin: nothing to relay, and no end-of-file to send (a shell waits, as podman's -t) */
  bool in_open = master >= 0 && !o->no_stdin, out_open = master >= 0;
  struct monitor *m = ch->monitor.capture ? &ch->monitor : NULL;
  for (;;) {
    struct pollfd fds[3 + MONITOR_POLLFDS] = {
        {sfd, POLLIN, 0}, {in_open ? STDIN_FILENO : -1, POLLIN, 0}, {out_open ? master : -1, POLLIN, 0}};
    if (m != NULL) monitor_poll(m, &fds[3]);
    /* no timeout: an idle monitor uses no CPU */
    if (poll(fds, m != NULL ? 3 + MONITOR_POLLFDS : 3, -1) < 0) {
      if (errno == EINTR) continue;
      outer_fail("supervise", errno, "poll");
    }
    if (m != NULL) monitor_handle(m, &fds[3]);
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
    if (sig == SIGWINCH && master >= 0) {
      pty_copy_size(master);
    } else if ((sig == SIGWINCH && m != NULL && o->tty) || (sig == SIGHUP && o->monitor.detach)) {
      /* a captured pty is sized by attach clients; a detached monitor has no terminal to hang up */
    } else if (sig != SIGCHLD) {
      kill(namespace_root, sig);
    } else {
      int status = 0;
      if (waitpid(namespace_root, &status, WNOHANG) == namespace_root) break;
    }
  }
  /* the command's last output is still in the pty or the pipes */
  if (master >= 0) {
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    while (out_open) copy_out(master, STDOUT_FILENO, &out_open);
  }
  if (m != NULL) monitor_drain(m);
  close(sfd);
}

/* --detach: once the container runs, P lets go of its caller's terminal or pipes. */
static void release_stdio(void) {
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) return;
  for (int fd = 0; fd < 3; fd++) dup2(null, fd);
  close(null);
}

void run_main(int argc, char **argv) {
  static struct run_options o;
  memset(&o, 0, sizeof o);
  o.uid_map.kind = "uid";
  o.gid_map.kind = "gid";
  o.seccomp_fd = o.status_fd = o.sync_fd = -1;
  int command = parse_options(argc - 1, argv + 1, &o, true);
  if (o.command == NULL && command < argc - 1) o.command = &argv[1 + command];
  check_options(&o);
  status_fd = o.status_fd;

  static struct run_channels ch;
  memset(&ch, 0, sizeof ch);
  for (int i = 0; i < 2; i++) ch.tty[i] = -1;
  if (o.seccomp_fd >= 0) {
    const char *problem = seccomp_read(o.seccomp_fd, &ch.seccomp);
    if (problem != NULL) outer_fail("seccomp", errno, problem);
  }

  /* A SIGCHLD ignored by whoever started us would make the kernel reap C. */
  signal(SIGCHLD, SIG_DFL);
  signal(SIGPIPE, SIG_IGN); /* a gone status reader is not our death */
  sigemptyset(&ch.waited);
  sigaddset(&ch.waited, SIGCHLD);
  for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
    sigaddset(&ch.waited, forwarded_signals[i]);
  if (sigprocmask(SIG_BLOCK, &ch.waited, &ch.original_mask) < 0) outer_fail("setup", errno, "block signals");

  if (pipe2(ch.report, O_CLOEXEC) < 0 || pipe2(ch.maps, O_CLOEXEC) < 0 || pipe2(ch.go, O_CLOEXEC) < 0 ||
      pipe2(ch.result, O_CLOEXEC) < 0)
    outer_fail("setup", errno, "pipes");
  if (o.tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch.tty) < 0) outer_fail("setup", errno, "socketpair");
  /* the log, the output pipes and the attach socket: there before the pid event */
  const char *problem = monitor_open(&ch.monitor, &o.monitor, o.tty);
  monitor = &ch.monitor;
  if (problem != NULL) outer_fail("monitor", errno, problem);

  pid_t parent = getpid();
  namespace_root = fork();
  if (namespace_root < 0) outer_fail("setup", errno, "fork");
  if (namespace_root == 0) run_namespace_root(&o, &ch, parent);
  close_fd(&ch.report[1]);
  close_fd(&ch.maps[0]);
  close_fd(&ch.go[0]);
  close_fd(&ch.result[1]);
  close_fd(&ch.tty[1]);
  monitor_after_fork(&ch.monitor);

  struct report r;
  pid_t container = -1;
  bool made = false, ready = false, namespaces_sent = false;
  int failure = 0, master = -1;
  while (report_read(ch.report[0], &r) == 1) {
    if (r.type == REPORT_UNSHARED) {
      write_maps(&o, &ch, namespace_root);
      if (write_all(ch.maps[1], "M", 1) < 0) outer_fail("userns", errno, "signal the user namespace");
      close_fd(&ch.maps[1]);
    } else if (r.type == REPORT_PID || r.type == REPORT_NAMESPACES || r.type == REPORT_READY) {
      /* C sends the pid, G says its namespaces exist and then that it is
       * ready (root mounted and pivoted): "namespaces" goes out as soon as
       * there are namespaces to join, so that the caller starts the network
       * while G mounts; "pid" once G is ready */
      if (r.type == REPORT_PID) container = r.value;
      else if (r.type == REPORT_NAMESPACES) made = true;
      else ready = true;
      if (container >= 0 && made && !namespaces_sent) {
        status_namespaces(status_fd, container);
        namespaces_sent = true;
      }
      if (container < 0 || !ready) continue;
      status_pid(status_fd, container);
      if (o.tty) {
        master = pty_receive_master(ch.tty[0]);
        if (master < 0) outer_fail("tty", errno, "receive the pty master");
        if (ch.monitor.capture) {
          /* the monitor holds the pty; P's own terminal is left alone */
          monitor_set_master(&ch.monitor, master);
          master = -1;
        } else {
          pty_copy_size(master);
          if (!o.no_stdin) pty_make_raw();
        }
      }
      if (o.sync_fd >= 0) {
        char byte = 0;
        ssize_t n = TEMP_FAILURE_RETRY(read(o.sync_fd, &byte, 1));
        if (n != 1) outer_fail("sync", n < 0 ? errno : 0, "the sync fd closed before the start byte");
        close_fd(&o.sync_fd);
      }
      if (write_all(ch.go[1], "G", 1) < 0) outer_fail("start", errno, "start the command");
      close_fd(&ch.go[1]);
    } else if (r.type == REPORT_FALLBACK) {
      status_overlay_fallback(status_fd, r.value);
    } else if (r.type == REPORT_ERROR) {
      pty_restore();
      /* with a status fd the caller words the error for the user, once */
      if (status_fd < 0 && r.value != 0) fprintf(stderr, HELPER_NAME ": %s: %s\n", r.message, strerror(r.value));
      else if (status_fd < 0) fprintf(stderr, HELPER_NAME ": %s\n", r.message);
      status_error(status_fd, r.stage, r.value, r.message);
      failure = r.exit_code;
    }
  }
  close_fd(&ch.report[0]);
  close_fd(&ch.go[1]);
  close_fd(&ch.tty[0]);
  if (failure == 0 && container > 0 && ready) status_started(status_fd);
  if (o.monitor.detach) release_stdio();

  supervise(&o, &ch, master);
  pty_restore();
  int status = 0, code;
  if (TEMP_FAILURE_RETRY(read(ch.result[0], &status, sizeof status)) != sizeof status) {
    code = failure ? failure : EXIT_HELPER; /* C failed and said why */
  } else {
    if (failure != EXIT_HELPER) status_exit(status_fd, status);
    code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_HELPER;
  }
  monitor_finish(&ch.monitor, code, &ch.original_mask);
  _exit(code);
}
