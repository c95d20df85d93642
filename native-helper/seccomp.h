/* --seccomp FD: a compiled BPF program (struct sock_filter[]) the caller
 * wrote; read before the root changes, loaded as the last step. */
#ifndef TSBOX_SECCOMP_H
#define TSBOX_SECCOMP_H

#include <stddef.h>

struct seccomp_program {
  void *filter; /* struct sock_filter[] */
  size_t len;   /* instructions */
};

/* In the outer helper: NULL, or what is wrong (errno set). */
const char *seccomp_read(int fd, struct seccomp_program *out);
void seccomp_load(const struct seccomp_program *program);

#endif
