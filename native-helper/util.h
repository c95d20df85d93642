/* Small pieces every part of the helper uses: fatal errors worded for a
 * human, allocators that cannot fail, scope cleanup, EINTR-safe I/O. */
#ifndef TSBOX_UTIL_H
#define TSBOX_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <unistd.h>

#define HELPER_NAME "tsbox-helper"

/* Exit codes, as podman's: the helper's own errors, a command that cannot
 * be run, a command that is not there. */
#define EXIT_HELPER 125
#define EXIT_CANNOT_INVOKE 126
#define EXIT_NOT_FOUND 127

#ifndef TEMP_FAILURE_RETRY
#define TEMP_FAILURE_RETRY(expression)                                                             \
  (__extension__({                                                                                 \
    long int __result;                                                                             \
    do                                                                                             \
      __result = (long int)(expression);                                                           \
    while (__result == -1L && errno == EINTR);                                                     \
    __result;                                                                                      \
  }))
#endif

#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_fd __attribute__((cleanup(cleanup_fdp)))

void cleanup_freep(void *pointer);
void cleanup_fdp(int *fd);

/* Hands a cleanup-owned pointer to the caller: `return steal_pointer(&buf);`. */
void *steal_pointer(void *pointer_to_pointer);

/* `tsbox-helper: <message>` on stderr, exit 125. */
_Noreturn void die(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* `tsbox-helper: <message>: <strerror(errno)>` on stderr, exit 125. */
_Noreturn void die_with_error(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* As die_with_error, with the exit status given (126/127 for exec failures). */
_Noreturn void die_with_status(int status, int errsv, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *pointer, size_t size);
char *xstrdup(const char *text);

/* Strict decimal (base 10) or octal (base 8) parse: the whole string, no sign, at most max. */
bool parse_ulong(const char *text, int base, unsigned long max, unsigned long *out);

/* Arity check for bwrap-style options: dies unless `remaining` argv entries
 * follow option, wording fixed so every mode reports it alike. */
void need_args(int remaining, int needed, const char *option);

/* Writes all of buf, retrying EINTR and short writes; -1 with errno on failure. */
int write_all(int fd, const void *buf, size_t len);
/* Reads fd to its end into a NUL-terminated buffer; at most max bytes (E2BIG beyond). */
int read_to_end(int fd, size_t max, char **out, size_t *out_len);

#endif
