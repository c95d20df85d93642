/* --init: a small pid 1 that reaps every zombie and forwards signals to the
 * command; it exits with the command's status (128+N for signal N). */
#ifndef TSBOX_INIT_H
#define TSBOX_INIT_H

#include <signal.h>
#include <sys/types.h>

/* Waits with waited blocked; never returns. */
_Noreturn void init_reap(pid_t command, const sigset_t *waited);

#endif
