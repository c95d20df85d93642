#include "ns.h"

#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

/* Ids are 32-bit; (uid_t)-1 is "no id" and may not be mapped. */
#define NS_ID_MAX 4294967294UL

void ns_id_map_add(struct ns_id_map *map, const char *option, char *const values[3]) {
  struct ns_id_range range;
  if (!parse_ulong(values[0], 10, NS_ID_MAX, &range.inside) ||
      !parse_ulong(values[1], 10, NS_ID_MAX, &range.outside) ||
      !parse_ulong(values[2], 10, NS_ID_MAX, &range.count) || range.count == 0)
    die("%s %s %s %s: expected three ids: INSIDE OUTSIDE COUNT, COUNT at least 1", option, values[0],
        values[1], values[2]);
  if (range.count - 1 > NS_ID_MAX - range.inside || range.count - 1 > NS_ID_MAX - range.outside)
    die("%s %s %s %s: the range runs past the largest id", option, values[0], values[1], values[2]);
  if (map->len == NS_MAX_RANGES) die("%s: at most %d ranges are allowed", option, NS_MAX_RANGES);
  map->ranges[map->len++] = range;
}

/* Folds a tool's output into one line: newlines become "; ", trailing blanks go. */
static void fold_into_line(char *text) {
  size_t len = strlen(text);
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' ')) text[--len] = '\0';
  for (char *p = text; *p; p++)
    if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
}

void ns_write_id_map_with_tool(const char *tool, pid_t pid, const struct ns_id_map *map) {
  /* argv: tool PID IN OUT COUNT... NULL, every number in its own buffer */
  size_t argc = 2 + 3 * map->len;
  cleanup_free char **argv = xcalloc(argc + 1, sizeof(char *));
  cleanup_free char *numbers = xcalloc(argc, 24);
  argv[0] = (char *)tool;
  snprintf(numbers, 24, "%ld", (long)pid);
  argv[1] = numbers;
  for (size_t i = 0; i < map->len; i++) {
    const unsigned long fields[3] = {map->ranges[i].inside, map->ranges[i].outside, map->ranges[i].count};
    for (size_t f = 0; f < 3; f++) {
      char *slot = numbers + 24 * (2 + 3 * i + f);
      snprintf(slot, 24, "%lu", fields[f]);
      argv[2 + 3 * i + f] = slot;
    }
  }

  int output[2];
  if (pipe2(output, O_CLOEXEC) < 0) die_with_error("pipe for %s", tool);
  pid_t child = fork();
  if (child < 0) die_with_error("fork for %s", tool);
  if (child == 0) {
    /* dup2 clears O_CLOEXEC on the copies: the tool writes into the pipe */
    if (dup2(output[1], STDOUT_FILENO) < 0 || dup2(output[1], STDERR_FILENO) < 0) _exit(EXIT_HELPER);
    execv(tool, argv);
    dprintf(STDERR_FILENO, "cannot run %s: %s", tool, strerror(errno));
    _exit(EXIT_CANNOT_INVOKE);
  }
  close(output[1]);
  cleanup_fd int reader = output[0];
  cleanup_free char *text = NULL;
  size_t text_len = 0;
  if (read_to_end(reader, 4096, &text, &text_len) < 0) text = xstrdup("(output unreadable)");
  int status = 0;
  if (TEMP_FAILURE_RETRY(waitpid(child, &status, 0)) < 0) die_with_error("waiting for %s", tool);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  fold_into_line(text);
  if (WIFSIGNALED(status))
    die("%s failed to write the %s map (killed by signal %d): %s", tool, map->kind, WTERMSIG(status),
        text[0] ? text : "no message");
  die("%s failed to write the %s map (exit %d): %s", tool, map->kind, WEXITSTATUS(status),
      text[0] ? text : "no message");
}

static void write_proc_file(pid_t pid, const char *name, const char *content) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, name);
  cleanup_fd int fd = TEMP_FAILURE_RETRY(open(path, O_WRONLY | O_CLOEXEC));
  if (fd < 0) die_with_error("open %s", path);
  /* the kernel wants the whole map in a single write */
  ssize_t n = TEMP_FAILURE_RETRY(write(fd, content, strlen(content)));
  if (n < 0) die_with_error("write %s", path);
  if ((size_t)n != strlen(content)) die("write %s: short write", path);
}

void ns_deny_setgroups(pid_t pid) {
  write_proc_file(pid, "setgroups", "deny");
}

void ns_write_id_map_directly(pid_t pid, const struct ns_id_map *map) {
  char content[NS_MAX_RANGES * 36 + 1];
  size_t used = 0;
  for (size_t i = 0; i < map->len; i++)
    used += (size_t)snprintf(content + used, sizeof content - used, "%lu %lu %lu\n", map->ranges[i].inside,
                             map->ranges[i].outside, map->ranges[i].count);
  char name[16];
  snprintf(name, sizeof name, "%s_map", map->kind);
  write_proc_file(pid, name, content);
}
