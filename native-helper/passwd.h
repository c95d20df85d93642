/* --user SPEC through the container's own /etc/passwd and /etc/group, read
 * after pivot_root: whatever they link to lies inside the container. */
#ifndef TSBOX_PASSWD_H
#define TSBOX_PASSWD_H

#include <stddef.h>
#include <sys/types.h>

#define PASSWD_MAX_GROUPS 64

struct container_user {
  uid_t uid;
  gid_t gid;
  gid_t groups[PASSWD_MAX_GROUPS];
  size_t groups_len;
  char home[256]; /* "/" when passwd has no entry */
};

/* SPEC is uid[:gid] or name[:group]; dies (reports, stage "user") when a
 * name is not found. */
void passwd_resolve(const char *spec, struct container_user *out);

#endif
