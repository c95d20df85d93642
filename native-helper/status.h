/* The run mode's two channels: records the namespace side (C, G, the
 * command's child) sends to the outer helper over a pipe, and the JSON
 * lines the outer helper writes on --status-fd. The helper writes JSON,
 * never parses it. */
#ifndef TSBOX_STATUS_H
#define TSBOX_STATUS_H

#include <stdbool.h>
#include <sys/types.h>

/* Record types on the report pipe. */
#define REPORT_UNSHARED 'U' /* the user namespace exists: write the maps */
#define REPORT_PID 'P'      /* value: host pid of the container's first process */
#define REPORT_NAMESPACES 'N' /* G's namespaces exist: the network can be set up while G mounts */
#define REPORT_READY 'R'    /* set up; waiting for the go byte */
#define REPORT_ERROR 'E'    /* value: errno; exit_code; stage; message */
#define REPORT_FALLBACK 'F' /* value: errno of the kernel's overlay mount; fuse-overlayfs is used */

/* Fixed size, below PIPE_BUF, so that every write is atomic. */
struct report {
  char type;
  int value;
  int exit_code;
  char stage[24];
  char message[448];
};

/* The write end every process below the outer helper reports on (-1: none). */
extern int report_fd;

void report_send(char type, int value);

/* Sends an error record (stage, errno, message) when report_fd is set, else
 * prints it; then exits with exit_code. The outer helper prints the line. */
_Noreturn void report_fail(int exit_code, const char *stage, int errsv, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

/* Reads one record; 1 on a record, 0 on EOF, -1 on error. */
int report_read(int fd, struct report *out);

/* JSON lines on the status fd (fd < 0: nothing written). */
void status_namespaces(int fd, pid_t pid);
void status_pid(int fd, pid_t pid);
/* the command has been exec'd (the report pipe closed without an error) */
void status_started(int fd);
void status_error(int fd, const char *stage, int errsv, const char *message);
void status_exit(int fd, int wait_status);
/* the kernel refused the overlay (errsv): the root is fuse-overlayfs */
void status_overlay_fallback(int fd, int errsv);

#endif
