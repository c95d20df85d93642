/* User namespace id maps: written by the setuid newuidmap/newgidmap for
 * subordinate ranges, or directly for the caller's own id. */
#ifndef TSBOX_NS_H
#define TSBOX_NS_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
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

/* Writes both maps of pid's user namespace with newuidmap and newgidmap run
 * side by side (each a setuid program with some milliseconds of start-up),
 * their signal mask set to mask (inherited when NULL). Returns true, or false
 * with the failure in message, the uid map's when both fail:
 * `TOOL failed to write the uid map (exit N): its output in one line`. */
bool ns_write_id_maps_with_tools(const char *newuidmap, const char *newgidmap, pid_t pid, const struct ns_id_map *uid_map,
                                 const struct ns_id_map *gid_map, const sigset_t *mask, char *message, size_t size);

/* Writes the maps straight into /proc/PID/{uid_map,setgroups,gid_map}: an
 * unprivileged process may map only its own id, one line, and for gids only
 * after setgroups is denied. Returns true, or false with the failure in
 * message (`open|write PATH: reason`). */
bool ns_write_id_maps_directly(pid_t pid, const struct ns_id_map *uid_map, const struct ns_id_map *gid_map, char *message,
                               size_t size);

/* Brings up the loopback interface of the caller's (new) network namespace,
 * as podman and docker do even with --network none. -1 with errno set. */
int ns_loopback_up(void);

#endif
