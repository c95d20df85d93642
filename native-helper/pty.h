/* --tty: the pty is opened inside the container (its own devpts, so `tty`
 * names /dev/pts/N there); the master goes to the outer helper over a unix
 * socket, which relays it to its own stdin/stdout in raw mode. */
#ifndef TSBOX_PTY_H
#define TSBOX_PTY_H

#include <stdbool.h>

/* In the container, after pivot_root: opens /dev/ptmx, sends the master
 * over sock, returns the slave (O_CLOEXEC). */
int pty_open_in_container(int sock);
/* In the process that execs: new session, slave as controlling terminal and stdio. */
void pty_become_controlling(int slave);

/* Outside: receives the master fd. */
int pty_receive_master(int sock);
/* Puts fd 0 in raw mode when it is a terminal; pty_restore undoes it. */
void pty_make_raw(void);
void pty_restore(void);
/* Copies the window size of fd 0 (when a terminal) to master. */
void pty_copy_size(int master);

#endif
