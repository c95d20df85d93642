/* tsbox-helper: what Node cannot do itself (it is multi-threaded) — create
 * user namespaces, write id maps, make device nodes — in one small,
 * single-threaded program driven by argv. One mode per invocation. */
#include "exec.h"
#include "fsops.h"
#include "run.h"
#include "userns.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

#ifndef TSBOX_HELPER_VERSION
#define TSBOX_HELPER_VERSION "unknown"
#endif

static const char usage_text[] =
    "usage: " HELPER_NAME " MODE [ARG]...\n"
    "  userns [--uid-map IN OUT COUNT]... [--gid-map IN OUT COUNT]...\n"
    "         [--newuidmap PATH --newgidmap PATH] -- CMD [ARG]...\n"
    "                    run CMD as root in a new user namespace\n"
    "  fsops ROOT        do the NUL-separated operations on stdin below ROOT:\n"
    "                    whiteout PATH | opaque PATH | xattr PATH NAME HEXVALUE | fifo PATH MODE\n"
    "  run [OPTION]... -- CMD [ARG]...\n"
    "                    run CMD in a container (docs/internals.md, \"Running containers\")\n"
    "                    as its monitor with --log-file PATH, --attach-socket PATH, --stdin-pipe,\n"
    "                    --exit-file PATH, --exit-command PATH [--exit-arg ARG]..., --detach\n"
    "                    (docs/internals.md, \"The monitor\")\n"
    "  exec --target PID [OPTION]... -- CMD [ARG]...\n"
    "                    run CMD in the running container of PID (docs/internals.md, \"The helper's exec mode\")\n"
    "  --version         print the version\n";

struct mode {
  const char *name;
  void (*main)(int argc, char **argv); /* does not return */
};

static const struct mode modes[] = {
    {"userns", userns_main},
    {"fsops", fsops_main},
    {"run", run_main},
    {"exec", exec_main},
};

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage_text, stderr);
    return EXIT_HELPER;
  }
  const char *mode = argv[1];
  if (strcmp(mode, "--version") == 0) {
    printf(HELPER_NAME " version " TSBOX_HELPER_VERSION "\n");
    return 0;
  }
  if (strcmp(mode, "--help") == 0) {
    fputs(usage_text, stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
    if (strcmp(mode, modes[i].name) == 0) modes[i].main(argc - 1, argv + 1);
  die("unknown mode %s (try --help)", mode);
}
