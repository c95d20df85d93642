#include "init.h"

#include "util.h"

#include <sys/wait.h>

void init_reap(pid_t command, const sigset_t *waited) {
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(waited, &info);
    if (sig < 0) {
      if (errno == EINTR) continue;
      die_with_error("init: sigwaitinfo");
    }
    if (sig != SIGCHLD) {
      if (sig != SIGCHLD && kill(command, sig) < 0 && errno != ESRCH) die_with_error("init: forward signal %d", sig);
      continue;
    }
    /* every orphan in the namespace is ours to reap; the command's status is the result */
    for (;;) {
      int status = 0;
      pid_t done = waitpid(-1, &status, WNOHANG);
      if (done <= 0) break;
      if (done != command) continue;
      /* pid 1 cannot die of a signal it sends itself: report it the shell's way */
      _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
  }
}
