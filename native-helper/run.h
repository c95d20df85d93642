/* run mode: run a command in new user, mount and pid namespaces (and
 * optionally ipc, uts, net, cgroup) on an overlay or a plain root.
 * docs/internals.md "The helper's run mode" is the contract. */
#ifndef TSBOX_RUN_H
#define TSBOX_RUN_H

#include "monitor.h"
#include "ns.h"

#include <stdbool.h>
#include <stddef.h>

enum run_op_kind {
  OP_BIND,
  OP_RO_BIND,
  OP_TMPFS,
  OP_PROC,
  OP_DEV,
  OP_SYS,
  OP_FILE,
  OP_MASK,
  OP_RO,
};

/* One setup step, executed in argv order inside the new root. */
struct run_op {
  enum run_op_kind kind;
  const char *source; /* bind source, tmpfs options */
  const char *dest;   /* inside the container */
  int fd;             /* --file */
};

struct run_options {
  struct ns_id_map uid_map;
  struct ns_id_map gid_map;
  const char *newuidmap;
  const char *newgidmap;
  int unshare_flags; /* CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP */
  const char *layers_dir;
  const char **lowers; /* bottom layer first */
  size_t lowers_len;
  const char *upper, *work, *merged; /* --overlay */
  const char *rootfs;                /* --rootfs DIR (merged is MERGED) */
  const char *fuse_overlayfs;        /* --fuse-overlayfs[-fallback] PATH: the daemon (fuse.h) */
  bool fuse_fallback;                /* the kernel's overlay first, fuse-overlayfs when it refuses */
  bool read_only;
  struct run_op *ops;
  size_t ops_len;
  const char *hostname;
  const char *chdir;
  bool clearenv;
  const char **setenv; /* KEY, VALUE, KEY, VALUE... */
  size_t setenv_len;   /* strings, twice the pairs */
  const char *user;
  const char *caps; /* NULL: keep all */
  bool no_new_privs;
  int seccomp_fd;
  bool init;
  bool tty;
  bool no_stdin; /* with tty: stdin is not the command's (-t without -i) */
  int status_fd;
  int sync_fd;
  const char **remove_after_exit;
  size_t remove_len;
  struct monitor_options monitor; /* --log-file, --attach-socket, --exit-file... (monitor.h) */
  char **command;
};

/* `tsbox-helper run [--args FD] OPTION... -- CMD [ARG...]`; argv[0] is "run". */
_Noreturn void run_main(int argc, char **argv);

#endif
