/* The fallback root: fuse-overlayfs, where the kernel cannot mount overlayfs
 * in a user namespace. The namespace's first process (C in run.c) starts the
 * daemon before it unshares the pid namespace, in a mount namespace of its
 * own that the container's is then copied from: the daemon is no process of
 * the container (ps, top), serves exec as long as the container lives, and
 * dies with C (parent-death signal) or is stopped by it. */
#ifndef TSBOX_FUSE_H
#define TSBOX_FUSE_H

#include "run.h"

#include <signal.h>
#include <sys/types.h>

/* Runs fuse-overlayfs (opts->fuse_overlayfs) in the foreground with the
 * overlay's layers, upper and work dirs, and waits (bounded) until its
 * mount is at opts->merged. Returns the daemon's pid. Dies (reports) when
 * it exits first, with its last line of output. `mask` becomes the
 * daemon's signal mask. */
pid_t fuse_overlay_start(const struct run_options *opts, const sigset_t *mask);

/* Ends the daemon (SIGTERM, SIGKILL after a bound) and reaps it. */
void fuse_overlay_stop(pid_t pid);

#endif
