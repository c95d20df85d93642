#include "status.h"

#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

int report_fd = -1;

static void copy_text(char *dest, size_t size, const char *text) {
  snprintf(dest, size, "%s", text);
}

void report_send(char type, int value) {
  struct report r;
  memset(&r, 0, sizeof r);
  r.type = type;
  r.value = value;
  if (write_all(report_fd, &r, sizeof r) < 0) _exit(EXIT_HELPER);
}

void report_fail(int exit_code, const char *stage, int errsv, const char *format, ...) {
  struct report r;
  memset(&r, 0, sizeof r);
  r.type = REPORT_ERROR;
  r.value = errsv;
  r.exit_code = exit_code;
  copy_text(r.stage, sizeof r.stage, stage);
  va_list args;
  va_start(args, format);
  vsnprintf(r.message, sizeof r.message, format, args);
  va_end(args);
  if (report_fd < 0 || write_all(report_fd, &r, sizeof r) < 0) {
    if (errsv != 0) die_with_status(exit_code, errsv, "%s", r.message);
    die_with_status(exit_code, 0, "%s", r.message);
  }
  _exit(exit_code);
}

int report_read(int fd, struct report *out) {
  size_t got = 0;
  while (got < sizeof *out) {
    ssize_t n = TEMP_FAILURE_RETRY(read(fd, (char *)out + got, sizeof *out - got));
    if (n < 0) return -1;
    if (n == 0) return got == 0 ? 0 : -1;
    got += (size_t)n;
  }
  out->stage[sizeof out->stage - 1] = '\0';
  out->message[sizeof out->message - 1] = '\0';
  return 1;
}

/* Appends text as a JSON string (quotes included) to buf. */
static size_t json_string(char *buf, size_t size, size_t used, const char *text) {
  if (used < size) buf[used] = '"';
  used++;
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
    char escaped[8];
    const char *piece = escaped;
    switch (*p) {
    case '"': piece = "\\\""; break;
    case '\\': piece = "\\\\"; break;
    case '\n': piece = "\\n"; break;
    case '\r': piece = "\\r"; break;
    case '\t': piece = "\\t"; break;
    default:
      if (*p < 0x20 || *p == 0x7f) snprintf(escaped, sizeof escaped, "\\u%04x", *p);
      else {
        escaped[0] = (char)*p;
        escaped[1] = '\0';
      }
    }
    for (const char *c = piece; *c; c++, used++)
      if (used < size) buf[used] = *c;
  }
  if (used < size) buf[used] = '"';
  return used + 1;
}

static void status_line(int fd, const char *line, size_t len) {
  if (fd < 0) return;
  /* the reader may be gone; the container's status matters more */
  (void)write_all(fd, line, len);
}

static void status_pid_event(int fd, const char *event, pid_t pid) {
  char line[64];
  int len = snprintf(line, sizeof line, "{\"event\":\"%s\",\"pid\":%ld}\n", event, (long)pid);
  status_line(fd, line, (size_t)len);
}

void status_namespaces(int fd, pid_t pid) { status_pid_event(fd, "namespaces", pid); }

void status_pid(int fd, pid_t pid) { status_pid_event(fd, "pid", pid); }

void status_started(int fd) {
  static const char line[] = "{\"event\":\"started\"}\n";
  status_line(fd, line, sizeof line - 1);
}

void status_error(int fd, const char *stage, int errsv, const char *message) {
  char line[2048];
  size_t used = (size_t)snprintf(line, sizeof line, "{\"event\":\"error\",\"stage\":");
  used = json_string(line, sizeof line, used, stage);
  used += (size_t)snprintf(line + used, sizeof line - used, ",\"errno\":");
  const char *name = errsv != 0 ? strerrorname_np(errsv) : NULL;
  used = json_string(line, sizeof line, used, name ? name : "");
  used += (size_t)snprintf(line + used, sizeof line - used, ",\"message\":");
  used = json_string(line, sizeof line, used, message);
  if (used + 3 > sizeof line) return; /* cannot happen: messages are short */
  memcpy(line + used, "}\n", 3);
  status_line(fd, line, used + 2);
}

void status_exit(int fd, int wait_status) {
  char line[64];
  int len;
  if (WIFSIGNALED(wait_status))
    len = snprintf(line, sizeof line, "{\"event\":\"exit\",\"signal\":%d}\n", WTERMSIG(wait_status));
  else
    len = snprintf(line, sizeof line, "{\"event\":\"exit\",\"code\":%d}\n", WEXITSTATUS(wait_status));
  status_line(fd, line, (size_t)len);
}

void status_overlay_fallback(int fd, int errsv) {
  char line[128];
  const char *name = strerrorname_np(errsv);
  int len = snprintf(line, sizeof line, "{\"event\":\"overlay\",\"mode\":\"fuse\",\"errno\":\"%s\"}\n", name ? name : "");
  status_line(fd, line, (size_t)len);
}
