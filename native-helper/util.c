#include "util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cleanup_freep(void *pointer) {
  free(*(void **)pointer);
}

void cleanup_fdp(int *fd) {
  if (*fd >= 0) {
    int errsv = errno;
    close(*fd);
    errno = errsv;
  }
}

void *steal_pointer(void *pointer_to_pointer) {
  void **pp = pointer_to_pointer;
  void *value = *pp;
  *pp = NULL;
  return value;
}

static _Noreturn void vdie(int status, int errsv, const char *format, va_list args) {
  fprintf(stderr, HELPER_NAME ": ");
  vfprintf(stderr, format, args);
  if (errsv != 0) fprintf(stderr, ": %s", strerror(errsv));
  fputc('\n', stderr);
  fflush(stderr);
  _exit(status);
}

void die(const char *format, ...) {
  va_list args;
  va_start(args, format);
  vdie(EXIT_HELPER, 0, format, args);
}

void die_with_error(const char *format, ...) {
  int errsv = errno;
  va_list args;
  va_start(args, format);
  vdie(EXIT_HELPER, errsv, format, args);
}

void die_with_status(int status, int errsv, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vdie(status, errsv, format, args);
}

void *xmalloc(size_t size) {
  void *p = malloc(size ? size : 1);
  if (p == NULL) die("out of memory");
  return p;
}

void *xcalloc(size_t count, size_t size) {
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (p == NULL) die("out of memory");
  return p;
}

void *xrealloc(void *pointer, size_t size) {
  void *p = realloc(pointer, size ? size : 1);
  if (p == NULL) die("out of memory");
  return p;
}

char *xstrdup(const char *text) {
  char *p = strdup(text);
  if (p == NULL) die("out of memory");
  return p;
}

bool parse_ulong(const char *text, int base, unsigned long max, unsigned long *out) {
  if (text[0] < '0' || text[0] > '9') return false; /* strtoul would accept spaces and signs */
  char *end = NULL;
  errno = 0;
  unsigned long value = strtoul(text, &end, base);
  if (errno != 0 || end == text || *end != '\0' || value > max) return false;
  *out = value;
  return true;
}

void need_args(int remaining, int needed, const char *option) {
  if (remaining < needed) die("%s takes %d argument%s", option, needed, needed == 1 ? "" : "s");
}

int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = TEMP_FAILURE_RETRY(write(fd, p, len));
    if (n < 0) return -1;
    if (n == 0) {
      errno = EIO;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int read_to_end(int fd, size_t max, char **out, size_t *out_len) {
  size_t cap = 4096, len = 0;
  cleanup_free char *buf = xmalloc(cap + 1);
  for (;;) {
    if (len == cap) {
      if (cap >= max) {
        errno = E2BIG;
        return -1;
      }
      cap = cap * 2 > max ? max : cap * 2;
      buf = xrealloc(buf, cap + 1);
    }
    ssize_t n = TEMP_FAILURE_RETRY(read(fd, buf + len, cap - len));
    if (n < 0) return -1;
    if (n == 0) break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  *out_len = len;
  *out = steal_pointer(&buf);
  return 0;
}
