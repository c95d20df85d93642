#include "passwd.h"

#include "status.h"
#include "util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_MAX 4294967294UL

/* Splits a colon-separated line into at most max fields in place. */
static size_t split_fields(char *line, char **fields, size_t max) {
  size_t n = 0;
  line[strcspn(line, "\n")] = '\0';
  while (n < max) {
    fields[n++] = line;
    char *colon = strchr(line, ':');
    if (colon == NULL) break;
    *colon = '\0';
    line = colon + 1;
  }
  return n;
}

static bool parse_id(const char *text, unsigned long *out) {
  return parse_ulong(text, 10, ID_MAX, out);
}

static FILE *open_db(const char *path) {
  FILE *f = fopen(path, "re");
  if (f == NULL && errno != ENOENT) report_fail(EXIT_HELPER, "user", errno, "open %s", path);
  return f;
}

/* Looks name_or_id up in /etc/passwd; fills uid, gid, home. */
static bool find_user(const char *name_or_id, bool by_id, unsigned long id, struct container_user *out,
                      char *name, size_t name_size) {
  FILE *f = open_db("/etc/passwd");
  if (f == NULL) return false;
  char line[1024];
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) {
    char *fields[7];
    unsigned long uid, gid;
    if (split_fields(line, fields, 7) < 7 || !parse_id(fields[2], &uid) || !parse_id(fields[3], &gid)) continue;
    if (by_id ? uid != id : strcmp(fields[0], name_or_id) != 0) continue;
    out->uid = (uid_t)uid;
    out->gid = (gid_t)gid;
    snprintf(out->home, sizeof out->home, "%s", fields[5][0] ? fields[5] : "/");
    snprintf(name, name_size, "%s", fields[0]);
    found = true;
  }
  fclose(f);
  return found;
}

/* Resolves a group name; collects the groups that list user as a member. */
static bool scan_groups(const char *group_name, gid_t *group_gid, const char *user, struct container_user *out) {
  FILE *f = open_db("/etc/group");
  if (f == NULL) return false;
  char line[4096];
  bool found = false;
  while (fgets(line, sizeof line, f)) {
    char *fields[4];
    unsigned long gid;
    if (split_fields(line, fields, 4) < 4 || !parse_id(fields[2], &gid)) continue;
    if (group_name != NULL && strcmp(fields[0], group_name) == 0 && !found) {
      *group_gid = (gid_t)gid;
      found = true;
    }
    if (user == NULL || user[0] == '\0') continue;
    char *save = NULL;
    for (char *member = strtok_r(fields[3], ",", &save); member; member = strtok_r(NULL, ",", &save))
      if (strcmp(member, user) == 0 && out->groups_len < PASSWD_MAX_GROUPS) out->groups[out->groups_len++] = (gid_t)gid;
  }
  fclose(f);
  return found;
}

void passwd_resolve(const char *spec, struct container_user *out) {
  memset(out, 0, sizeof *out);
  snprintf(out->home, sizeof out->home, "/");
  cleanup_free char *copy = xstrdup(spec);
  char *group = strchr(copy, ':');
  if (group != NULL) *group++ = '\0';
  char name[256] = "";
  unsigned long id;
  if (parse_id(copy, &id)) {
    /* a uid without a passwd entry is fine: gid 0, HOME / */
    if (!find_user(copy, true, id, out, name, sizeof name)) out->uid = (uid_t)id;
  } else if (copy[0] == '\0' || !find_user(copy, false, 0, out, name, sizeof name)) {
    report_fail(EXIT_HELPER, "user", ENOENT, "unable to find user %s: no matching entries in passwd file", copy);
  }
  gid_t named_gid = 0;
  bool group_found = scan_groups(group != NULL && !parse_id(group, &id) ? group : NULL, &named_gid, name, out);
  if (group != NULL) {
    if (parse_id(group, &id)) out->gid = (gid_t)id;
    else if (group_found) out->gid = named_gid;
    else report_fail(EXIT_HELPER, "user", ENOENT, "unable to find group %s: no matching entries in group file", group);
  }
  /* the primary group is a member too */
  bool listed = false;
  for (size_t i = 0; i < out->groups_len; i++) listed |= out->groups[i] == out->gid;
  if (!listed && out->groups_len < PASSWD_MAX_GROUPS) out->groups[out->groups_len++] = out->gid;
}
