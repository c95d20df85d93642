#include "ns.h"

#include "util.h"

#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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

/* A tool started by start_tool: its pid and the read end of its output. */
struct tool_run {
  const char *tool;
  const struct ns_id_map *map;
  pid_t pid;
  int output;
};

/* Starts `tool PID IN OUT COUNT...` with stdout and stderr into a pipe,
 * through posix_spawn (vfork-like: no copy of our page tables), signals as
 * the caller had them (mask, or inherited when NULL) and SIGPIPE at its
 * default. Returns 0 or an errno. */
static int start_tool(struct tool_run *run, pid_t target, const sigset_t *mask) {
  const struct ns_id_map *map = run->map;
  size_t argc = 2 + 3 * map->len;
  cleanup_free char **argv = xcalloc(argc + 1, sizeof(char *));
  cleanup_free char *numbers = xcalloc(argc, 24);
  argv[0] = (char *)run->tool;
  snprintf(numbers, 24, "%ld", (long)target);
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
  if (pipe2(output, O_CLOEXEC) < 0) return errno;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  int err = posix_spawn_file_actions_init(&actions);
  if (err == 0) {
    /* output[1] is at least 3 (0-2 are open): dup2 gives 1 and 2 without O_CLOEXEC */
    if ((err = posix_spawn_file_actions_adddup2(&actions, output[1], STDOUT_FILENO)) == 0 &&
        (err = posix_spawn_file_actions_adddup2(&actions, output[1], STDERR_FILENO)) == 0 &&
        (err = posix_spawnattr_init(&attr)) == 0) {
      short flags = POSIX_SPAWN_SETSIGDEF | (mask != NULL ? POSIX_SPAWN_SETSIGMASK : 0);
      if ((err = posix_spawnattr_setflags(&attr, flags)) == 0 && (err = posix_spawnattr_setsigdefault(&attr, &defaults)) == 0 &&
          (mask == NULL || (err = posix_spawnattr_setsigmask(&attr, mask)) == 0))
        err = posix_spawn(&run->pid, run->tool, &actions, &attr, argv, (char *[]){NULL});
      posix_spawnattr_destroy(&attr);
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  close(output[1]);
  if (err != 0) {
    close(output[0]);
    return err;
  }
  run->output = output[0];
  return 0;
}

/* Collects a started tool: its output, its status. Returns true on exit 0,
 * else false with the failure in message. Closes the pipe. */
static bool finish_tool(struct tool_run *run, char *message, size_t size) {
  cleanup_free char *text = NULL;
  size_t text_len = 0;
  if (read_to_end(run->output, 4096, &text, &text_len) < 0) text = xstrdup("(output unreadable)");
  close(run->output);
  int status = 0;
  if (TEMP_FAILURE_RETRY(waitpid(run->pid, &status, 0)) < 0) {
    snprintf(message, size, "waiting for %s: %s", run->tool, strerror(errno));
    return false;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  fold_into_line(text);
  if (WIFSIGNALED(status))
    snprintf(message, size, "%s failed to write the %s map (killed by signal %d): %s", run->tool, run->map->kind,
             WTERMSIG(status), text[0] ? text : "no message");
  else
    snprintf(message, size, "%s failed to write the %s map (exit %d): %s", run->tool, run->map->kind,
             WEXITSTATUS(status), text[0] ? text : "no message");
  return false;
}

bool ns_write_id_maps_with_tools(const char *newuidmap, const char *newgidmap, pid_t pid, const struct ns_id_map *uid_map,
                                 const struct ns_id_map *gid_map, const sigset_t *mask, char *message, size_t size) {
  struct tool_run runs[2] = {{newuidmap, uid_map, -1, -1}, {newgidmap, gid_map, -1, -1}};
  bool started[2] = {false, false}, ok = true;
  /* both at once: each is a setuid program with its own start-up to pay */
  for (int i = 0; i < 2; i++) {
    int err = start_tool(&runs[i], pid, mask);
    if (err != 0) {
      if (ok) snprintf(message, size, "cannot run %s: %s", runs[i].tool, strerror(err));
      ok = false;
      break;
    }
    started[i] = true;
  }
  /* the uid map's failure is the one reported when both fail */
  for (int i = 0; i < 2; i++) {
    if (!started[i]) continue;
    if (ok) ok = finish_tool(&runs[i], message, size);
    else {
      char ignored[64];
      (void)finish_tool(&runs[i], ignored, sizeof ignored);
    }
  }
  return ok;
}

/* Returns true, or false with `open|write PATH: reason` in message. */
static bool write_proc_file(pid_t pid, const char *name, const char *content, char *message, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, name);
  cleanup_fd int fd = TEMP_FAILURE_RETRY(open(path, O_WRONLY | O_CLOEXEC));
  if (fd < 0) return snprintf(message, size, "open %s: %s", path, strerror(errno)), false;
  /* the kernel wants the whole map in a single write */
  ssize_t n = TEMP_FAILURE_RETRY(write(fd, content, strlen(content)));
  if (n < 0) return snprintf(message, size, "write %s: %s", path, strerror(errno)), false;
  if ((size_t)n != strlen(content)) return snprintf(message, size, "write %s: short write", path), false;
  return true;
}

static bool write_id_map_directly(pid_t pid, const struct ns_id_map *map, char *message, size_t size) {
  char content[NS_MAX_RANGES * 36 + 1];
  size_t used = 0;
  for (size_t i = 0; i < map->len; i++)
    used += (size_t)snprintf(content + used, sizeof content - used, "%lu %lu %lu\n", map->ranges[i].inside,
                             map->ranges[i].outside, map->ranges[i].count);
  char name[16];
  snprintf(name, sizeof name, "%s_map", map->kind);
  return write_proc_file(pid, name, content, message, size);
}

bool ns_write_id_maps_directly(pid_t pid, const struct ns_id_map *uid_map, const struct ns_id_map *gid_map, char *message,
                               size_t size) {
  return write_id_map_directly(pid, uid_map, message, size) && write_proc_file(pid, "setgroups", "deny", message, size) &&
         write_id_map_directly(pid, gid_map, message, size);
}

int ns_loopback_up(void) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, "lo", 3);
  int result = ioctl(sock, SIOCGIFFLAGS, &ifr);
  if (result == 0 && !(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    result = ioctl(sock, SIOCSIFFLAGS, &ifr);
  }
  int errsv = errno;
  close(sock);
  errno = errsv;
  return result;
}
