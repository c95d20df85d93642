/* The monitor: what P does for a detached container (podman's conmon job).
 * With any of --log-file, --attach-socket, --stdin-pipe or --detach, P
 * captures the container's streams: stdout and stderr are pipes to P (with
 * --tty, the pty master), which appends them to the log as k8s-file records
 * and sends them to attach clients; stdin is a pipe fed by attach clients
 * (--stdin-pipe), the pty, or /dev/null. P's own stdin and stdout are not
 * relayed then. --exit-file and --exit-command work with or without capture.
 * docs/internals.md "The monitor" is the contract. */
#ifndef TSBOX_MONITOR_H
#define TSBOX_MONITOR_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#define MONITOR_MAX_CLIENTS 16
/* monitor_poll fills exactly this many entries (fd -1 where unused) */
#define MONITOR_POLLFDS (4 + MONITOR_MAX_CLIENTS)

struct monitor_options {
  const char *log_file;
  const char *attach_socket;
  const char *exit_file;
  const char *exit_command;
  const char **exit_args;
  size_t exit_args_len;
  bool stdin_pipe;
  bool detach;
};

struct monitor_client {
  int fd;              /* -1: free slot */
  bool input_closed;   /* the client shut down its side; it still gets output */
  unsigned char *in;   /* input read but not yet handled (stdin was full) */
  size_t in_start, in_end;
  unsigned char header[5];
  size_t header_got;
  unsigned char kind;  /* of the frame being read */
  size_t payload_left;
  unsigned char resize[4];
  size_t resize_got;
};

struct monitor {
  const struct monitor_options *o;
  bool capture;        /* the container's streams go through P */
  bool tty;
  int log_fd;
  int listen_fd;
  int out_fd, err_fd;  /* P's read ends; with --tty out_fd is the master */
  bool out_open, err_open; /* P still reads there */
  int master;          /* --tty: the pty master, -1 before */
  int stdin_fd;        /* P's write end of the container's stdin (the pipe or the master); -1: none */
  int child_stdio[3];  /* the container's ends, made 0 1 2 in C */
  struct monitor_client clients[MONITOR_MAX_CLIENTS];
};

/* True when any option asks P to capture the container's streams. */
bool monitor_captures(const struct monitor_options *o);

/* In P, before C is forked: opens the log, creates the pipes and the attach
 * socket. Returns NULL, or what failed (errno set). */
const char *monitor_open(struct monitor *m, const struct monitor_options *o, bool tty);
/* In C: the container's ends become 0 1 2 (when capturing); every fd of P's side is closed. */
void monitor_enter_child(struct monitor *m);
/* In P, after C is forked: closes the container's ends. */
void monitor_after_fork(struct monitor *m);
/* --tty: the master P received; it is read, and written by attach clients. */
void monitor_set_master(struct monitor *m, int master);

/* Fills MONITOR_POLLFDS entries of fds; monitor_handle reads their revents. */
void monitor_poll(struct monitor *m, struct pollfd *fds);
void monitor_handle(struct monitor *m, const struct pollfd *fds);
/* After the container has exited: logs what is left in the pipes or the pty. */
void monitor_drain(struct monitor *m);

/* At the end: the exit file, the exit frame to attach clients, the socket
 * removed, the exit command started (with original_mask as its signal mask). */
void monitor_finish(struct monitor *m, int exit_code, const sigset_t *original_mask);
/* On P's own failure: removes the attach socket. */
void monitor_abort(struct monitor *m);

#endif
