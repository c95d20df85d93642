/* User namespace id maps: written by the setuid newuidmap/newgidmap for
 * subordinate ranges, or directly for the caller's own id. */
#ifndef TSBOX_NS_H
#define TSBOX_NS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The kernel takes at most 340 lines in uid_map (Linux 4.15+). */
#define NS_MAX_RANGES 340

struct ns_id_range {
  unsigned long inside;
  unsigned long outside;
  unsigned long count;
};

struct ns_id_map {
  const char *kind; /* "uid" or "gid" */
  size_t len;
  struct ns_id_range ranges[NS_MAX_RANGES];
};

/* Adds `IN OUT COUNT` from argv to map; dies with the option's name on bad input. */
void ns_id_map_add(struct ns_id_map *map, const char *option, char *const values[3]);

/* Writes map for process pid by running tool (newuidmap or newgidmap) with an
 * argv array; dies with the tool's own output folded into one line. */
void ns_write_id_map_with_tool(const char *tool, pid_t pid, const struct ns_id_map *map);

/* Writes map straight into /proc/PID/{uid,gid}_map: an unprivileged process
 * may map only its own id, one line, and for gids only after
 * ns_deny_setgroups. Dies on failure. */
void ns_write_id_map_directly(pid_t pid, const struct ns_id_map *map);
void ns_deny_setgroups(pid_t pid);

#endif
