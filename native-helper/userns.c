/* userns mode: run a command as root in a new user namespace.
 *
 * The child unshares CLONE_NEWUSER and waits on a pipe; the parent, still in
 * the outer namespace, writes the id maps (only it may), then lets the child
 * become uid 0 and exec. The parent stays as a tiny supervisor: it forwards
 * the usual termination signals and exits with the command's status. */
#include "userns.h"

#include "ns.h"
#include "util.h"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

struct userns_options {
  struct ns_id_map uid_map;
  struct ns_id_map gid_map;
  const char *newuidmap;
  const char *newgidmap;
  unsigned long join; /* --join PID: 0 for a new namespace */
  char **command;
};

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

/* Sync bytes on the parent -> child pipe. */
#define SYNC_MAPPED 'M'

static void parse_options(int argc, char **argv, struct userns_options *opts) {
  memset(opts, 0, sizeof *opts);
  opts->uid_map.kind = "uid";
  opts->gid_map.kind = "gid";
  int i = 1;
  for (; i < argc; i++) {
    const char *arg = argv[i];
    int remaining = argc - i - 1;
    if (strcmp(arg, "--") == 0) {
      i++;
      break;
    } else if (strcmp(arg, "--uid-map") == 0) {
      need_args(remaining, 3, arg);
      ns_id_map_add(&opts->uid_map, arg, &argv[i + 1]);
      i += 3;
    } else if (strcmp(arg, "--gid-map") == 0) {
      need_args(remaining, 3, arg);
      ns_id_map_add(&opts->gid_map, arg, &argv[i + 1]);
      i += 3;
    } else if (strcmp(arg, "--newuidmap") == 0) {
      need_args(remaining, 1, arg);
      opts->newuidmap = argv[++i];
    } else if (strcmp(arg, "--newgidmap") == 0) {
      need_args(remaining, 1, arg);
      opts->newgidmap = argv[++i];
    } else if (strcmp(arg, "--join") == 0) {
      need_args(remaining, 1, arg);
      if (!parse_ulong(argv[++i], 10, INT_MAX, &opts->join) || opts->join == 0) die("--join %s: expected a pid", argv[i]);
    } else if (arg[0] == '-') {
      die("userns: unknown option %s", arg);
    } else {
      break; /* the command starts here */
    }
  }
  if (i >= argc) die("userns: no command given (usage: userns [OPTION]... -- CMD [ARG]...)");
  opts->command = &argv[i];

  if (opts->join != 0 && (opts->uid_map.len > 0 || opts->gid_map.len > 0 || opts->newuidmap != NULL))
    die("userns: --join takes the namespace's own maps; give no --uid-map, --gid-map or --newuidmap");
  if ((opts->newuidmap == NULL) != (opts->newgidmap == NULL))
    die("userns: --newuidmap and --newgidmap go together");
  if (opts->newuidmap != NULL && (opts->newuidmap[0] != '/' || opts->newgidmap[0] != '/'))
    die("userns: --newuidmap and --newgidmap need absolute paths");

  /* No map given: root inside is the caller, as `unshare --map-root-user`. */
  const unsigned long own[2] = {geteuid(), getegid()};
  struct ns_id_map *maps[2] = {&opts->uid_map, &opts->gid_map};
  for (int m = 0; m < 2; m++) {
    struct ns_id_map *map = maps[m];
    if (map->len == 0) {
      map->ranges[0] = (struct ns_id_range){.inside = 0, .outside = own[m], .count = 1};
      map->len = 1;
    }
    /* Without the setuid tools the kernel lets us map exactly our own id. */
    if (opts->newuidmap == NULL &&
        (map->len > 1 || map->ranges[0].count != 1 || map->ranges[0].outside != own[m]))
      die("userns: without --newuidmap/--newgidmap only your own %s (%lu, count 1) can be mapped", map->kind,
          own[m]);
  }
}

static _Noreturn void exec_command(char **command) {
  execvp(command[0], command);
  int errsv = errno;
  if (errsv == ENOENT || errsv == ENOTDIR)
    die_with_status(EXIT_NOT_FOUND, 0, "%s: command not found", command[0]);
  die_with_status(EXIT_CANNOT_INVOKE, errsv, "cannot run %s", command[0]);
}

static _Noreturn void run_child(const struct userns_options *opts, int to_parent, int from_parent,
                                const sigset_t *original_mask, pid_t parent) {
  if (unshare(CLONE_NEWUSER) < 0) die_with_error("cannot create a user namespace");
  if (write_all(to_parent, "U", 1) < 0) _exit(EXIT_HELPER);
  close(to_parent);

  char byte = 0;
  ssize_t n = TEMP_FAILURE_RETRY(read(from_parent, &byte, 1));
  if (n != 1 || byte != SYNC_MAPPED) _exit(EXIT_HELPER); /* the parent has said why */
  close(from_parent);

  /* With newgidmap, setgroups stays allowed: drop the outer supplementary
   * groups, which would otherwise show up as nobody. */
  if (opts->newgidmap != NULL && setgroups(0, NULL) < 0 && errno != EPERM)
    die_with_error("setgroups in the user namespace");
  if (setresgid(0, 0, 0) < 0) die_with_error("cannot become gid 0 in the user namespace");
  if (setresuid(0, 0, 0) < 0) die_with_error("cannot become uid 0 in the user namespace");
  /* Set after the id change, which clears it; the getppid check closes the
   * window where the parent died before. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) die_with_error("prctl(PR_SET_PDEATHSIG)");
  if (getppid() != parent) _exit(EXIT_HELPER);

  if (sigprocmask(SIG_SETMASK, original_mask, NULL) < 0) die_with_error("restore the signal mask");
  exec_command(opts->command);
}

static int exit_status_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return EXIT_HELPER;
}

/* Waits for the child, forwarding signals meanwhile; returns its exit status. */
static int supervise(pid_t child, const sigset_t *waited) {
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(waited, &info);
    if (sig < 0) {
      if (errno == EINTR) continue;
      die_with_error("sigwaitinfo");
    }
    if (sig != SIGCHLD) {
      if (kill(child, sig) < 0 && errno != ESRCH) die_with_error("forward signal %d", sig);
      continue;
    }
    int status = 0;
    pid_t done = TEMP_FAILURE_RETRY(waitpid(child, &status, WNOHANG));
    if (done < 0) die_with_error("waitpid");
    if (done == child) return exit_status_of(status);
  }
}

/* --join PID: the user namespace of PID (one the caller made) instead of a
 * new one; only its processes may read a fuse-overlayfs root mounted there.
 * Nothing to supervise: the command replaces the helper. */
static _Noreturn void join_and_exec(const struct userns_options *opts) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%lu/ns/user", opts->join);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die_with_error("open %s", path);
  if (setns(fd, CLONE_NEWUSER) < 0) die_with_error("join the user namespace of pid %lu", opts->join);
  close(fd);
  if (setgroups(0, NULL) < 0 && errno != EPERM) die_with_error("setgroups in the user namespace");
  if (setresgid(0, 0, 0) < 0) die_with_error("cannot become gid 0 in the user namespace");
  if (setresuid(0, 0, 0) < 0) die_with_error("cannot become uid 0 in the user namespace");
  exec_command(opts->command);
}

void userns_main(int argc, char **argv) {
  struct userns_options opts;
  parse_options(argc, argv, &opts);
  if (opts.join != 0) join_and_exec(&opts);

  /* A SIGCHLD ignored by whoever started us would make the kernel reap the child. */
  signal(SIGCHLD, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  sigset_t waited, original_mask;
  sigemptyset(&waited);
  sigaddset(&waited, SIGCHLD);
  for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
    sigaddset(&waited, forwarded_signals[i]);
  if (sigprocmask(SIG_BLOCK, &waited, &original_mask) < 0) die_with_error("block signals");

  int child_ready[2], maps_written[2];
  if (pipe2(child_ready, O_CLOEXEC) < 0 || pipe2(maps_written, O_CLOEXEC) < 0)
    die_with_error("pipe for the user namespace child");
  pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) die_with_error("fork");
  if (child == 0) {
    close(child_ready[0]);
    close(maps_written[1]);
    run_child(&opts, child_ready[1], maps_written[0], &original_mask, parent);
  }
  close(child_ready[1]);
  close(maps_written[0]);

  char byte = 0;
  ssize_t n = TEMP_FAILURE_RETRY(read(child_ready[0], &byte, 1));
  close(child_ready[0]);
  if (n == 1) {
    char message[1024];
    bool written = opts.newuidmap != NULL
                       ? ns_write_id_maps_with_tools(opts.newuidmap, opts.newgidmap, child, &opts.uid_map, &opts.gid_map,
                                                     &original_mask, message, sizeof message)
                       : ns_write_id_maps_directly(child, &opts.uid_map, &opts.gid_map, message, sizeof message);
    if (!written) die("%s", message);
    if (write_all(maps_written[1], (char[]){SYNC_MAPPED}, 1) < 0) die_with_error("signal the child");
  }
  /* n == 0: the child failed before the maps and said why; its status is ours. */
  close(maps_written[1]);
  _exit(supervise(child, &waited));
}
