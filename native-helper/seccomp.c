#include "seccomp.h"

#include "status.h"
#include "util.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

void seccomp_read(int fd, struct seccomp_program *out) {
  char *data = NULL;
  size_t len = 0;
  if (read_to_end(fd, BPF_MAXINSNS * sizeof(struct sock_filter), &data, &len) < 0)
    report_fail(EXIT_HELPER, "seccomp", errno, "read the seccomp program from fd %d", fd);
  close(fd);
  if (len == 0 || len % sizeof(struct sock_filter) != 0)
    report_fail(EXIT_HELPER, "seccomp", EINVAL, "the seccomp program is %zu bytes, not a whole number of instructions", len);
  out->filter = data;
  out->len = len / sizeof(struct sock_filter);
}

void seccomp_load(const struct seccomp_program *program) {
  struct sock_fprog prog = {.len = (unsigned short)program->len, .filter = program->filter};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
    report_fail(EXIT_HELPER, "seccomp", errno, "load the seccomp filter");
}
