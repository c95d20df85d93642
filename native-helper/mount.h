/* The container's file system: the root (overlay or bound directory), the
 * ops in order, read-only root, pivot_root. Every destination is resolved
 * inside the new root (openat2 RESOLVE_IN_ROOT, or a walk that refuses
 * symlinks) and mounted onto through /proc/self/fd/N, never by path. */
#ifndef TSBOX_MOUNT_H
#define TSBOX_MOUNT_H

#include "run.h"

/* Mounts the root at MERGED and returns an O_PATH fd of it. Dies (reports). */
int mount_root(const struct run_options *opts);
/* Mounts the kernel's overlay (userxattr) of opts' layers at opts->merged;
 * -1 with errno when mount(2) refuses. */
int mount_overlay(const struct run_options *opts);
/* Runs opts->ops in order below root, then makes the root read-only if asked. */
void mount_run_ops(int root, const struct run_options *opts);
/* pivot_root into root; the old root is detached. */
void mount_pivot(int root);

/* Opens path (absolute or relative, symlinks resolved as if root were "/")
 * as an O_PATH fd; -1 with errno. */
int open_in_root(int root, const char *path);
/* As open_in_root, creating what is missing: directories on the way, and
 * the last component as a directory (want_dir) or an empty regular file. */
int ensure_in_root(int root, const char *path, bool want_dir);

#endif
