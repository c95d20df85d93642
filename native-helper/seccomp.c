#include "seccomp.h"

#include "status.h"
#include "util.h"

#include <linux/filter.h>
#include <stdlib.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

const char *seccomp_read(int fd, struct seccomp_program *out) {
  char *data = NULL;
  size_t len = 0;
  if (read_to_end(fd, BPF_MAXINSNS * sizeof(struct sock_filter), &data, &len) < 0)
    return "read the seccomp program";
  close(fd);
  if (len == 0 || len % sizeof(struct sock_filter) != 0) {
    free(data);
    errno = EINVAL;
    return "the seccomp program is not a whole number of instructions (8 bytes each)";
  }
  out->filter = data;
  out->len = len / sizeof(struct sock_filter);
  return NULL;
}

void seccomp_load(const struct seccomp_program *program) {
  struct sock_fprog prog = {.len = (unsigned short)program->len, .filter = program->filter};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
    report_fail(EXIT_HELPER, "seccomp", errno, "load the seccomp filter");
}
