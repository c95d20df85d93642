/* The monitor's pieces: the k8s-file log writer, the attach socket server,
 * the exit file and the exit command. P owns all of them; C only turns the
 * container's ends of the pipes into its 0 1 2 (monitor_enter_child). */
#include "monitor.h"

#include "status.h"
#include "util.h"

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>

#define OUTPUT_CHUNK 16384 /* one read of the container's output: one frame to clients */
#define CLIENT_CHUNK 8192  /* one read of a client's frames */
#define LOG_IOVS 384       /* three per record: header, text, newline */

enum frame_kind {
  FRAME_STDIN = 0, /* client -> monitor */
  FRAME_RESIZE = 1,
  FRAME_STDIN_EOF = 2,
  FRAME_STDOUT = 1, /* monitor -> client */
  FRAME_STDERR = 2,
  FRAME_EXIT = 3,
};

static char message[PATH_MAX + 128]; /* what failed, for monitor_open's caller */

bool monitor_captures(const struct monitor_options *o) {
  return o->log_file != NULL || o->attach_socket != NULL || o->stdin_pipe || o->detach;
}

/* RFC 3339 in UTC with nanoseconds, as podman's logs and state files have it. */
static void format_time(char *buf, size_t size) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  gmtime_r(&now.tv_sec, &tm);
  size_t used = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + used, size - used, ".%09ldZ", now.tv_nsec);
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static const char *failed(const char *format, const char *path) {
  int errsv = errno;
  snprintf(message, sizeof message, format, path);
  errno = errsv;
  return message;
}

/* ---- setup --------------------------------------------------------------- */

/* A caller that closed our 0 1 2 would get a pipe there, which C's dup2
 * onto 0 1 2 would then clobber: keep them taken. */
static void reserve_stdio(void) {
  for (;;) {
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0) return;
    if (fd > 2) {
      close(fd);
      return;
    }
  }
}

/* Listens on path (0600). sun_path holds 108 bytes: a longer path is bound
 * through its directory's /proc/self/fd link, as conmon does. */
static const char *listen_on(struct monitor *m, const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  cleanup_fd int dir = -1;
  if (strlen(path) < sizeof addr.sun_path) {
    memcpy(addr.sun_path, path, strlen(path) + 1);
  } else {
    const char *slash = strrchr(path, '/');
    char *dir_path = slash == NULL ? xstrdup(".") : strndup(path, slash == path ? 1 : (size_t)(slash - path));
    if (dir_path == NULL) die("out of memory");
    dir = open(dir_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    free(dir_path);
    if (dir < 0) return failed("--attach-socket %s: open its directory", path);
    int len = snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dir, slash ? slash + 1 : path);
    if (len < 0 || (size_t)len >= sizeof addr.sun_path) {
      errno = ENAMETOOLONG;
      return failed("--attach-socket %s", path);
    }
  }
  m->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (m->listen_fd < 0) return failed("--attach-socket %s: socket", path);
  if (unlink(path) < 0 && errno != ENOENT) return failed("--attach-socket %s: remove the old socket", path);
  mode_t old_mask = umask(0177); /* the socket file is created 0600, with no window */
  int bound = bind(m->listen_fd, (struct sockaddr *)&addr, sizeof addr);
  umask(old_mask);
  if (bound < 0) return failed("--attach-socket %s: bind", path);
  if (listen(m->listen_fd, MONITOR_MAX_CLIENTS) < 0) return failed("--attach-socket %s: listen", path);
  return NULL;
}

const char *monitor_open(struct monitor *m, const struct monitor_options *o, bool tty) {
  memset(m, 0, sizeof *m);
  m->o = o;
  m->tty = tty;
  m->capture = monitor_captures(o);
  m->log_fd = m->listen_fd = m->out_fd = m->err_fd = m->stdin_fd = m->master = -1;
  for (int i = 0; i < 3; i++) m->child_stdio[i] = -1;
  for (int i = 0; i < MONITOR_MAX_CLIENTS; i++) m->clients[i].fd = -1;
  if (!m->capture) return NULL;

  reserve_stdio();
  if (o->log_file != NULL) {
    m->log_fd = open(o->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (m->log_fd < 0) return failed("--log-file %s", o->log_file);
  }
  if (tty) {
    /* the pty is the container's stdio; C itself gets /dev/null */
    for (int i = 0; i < 3; i++)
      if ((m->child_stdio[i] = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) return failed("open %s", "/dev/null");
  } else {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) return failed("%s", "pipes for the container's output");
    m->out_fd = out[0], m->child_stdio[1] = out[1];
    m->err_fd = err[0], m->child_stdio[2] = err[1];
    set_nonblocking(m->out_fd);
    set_nonblocking(m->err_fd);
    m->out_open = m->err_open = true;
    if (o->stdin_pipe) {
      int in[2];
      if (pipe2(in, O_CLOEXEC) < 0) return failed("%s", "a pipe for the container's input");
      m->child_stdio[0] = in[0], m->stdin_fd = in[1];
      set_nonblocking(m->stdin_fd);
    } else if ((m->child_stdio[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
      return failed("open %s", "/dev/null");
    }
  }
  if (o->attach_socket != NULL) return listen_on(m, o->attach_socket);
  return NULL;
}

void monitor_enter_child(struct monitor *m) {
  if (!m->capture) return;
  for (int i = 0; i < 3; i++)
    if (dup2(m->child_stdio[i], i) < 0) report_fail(EXIT_HELPER, "setup", errno, "dup2 the container's stdio");
  for (int i = 0; i < 3; i++) close_fd(&m->child_stdio[i]);
  close_fd(&m->log_fd);
  close_fd(&m->listen_fd);
  close_fd(&m->out_fd);
  close_fd(&m->err_fd);
  close_fd(&m->stdin_fd);
}

void monitor_after_fork(struct monitor *m) {
  for (int i = 0; i < 3; i++) close_fd(&m->child_stdio[i]);
}

void monitor_set_master(struct monitor *m, int master) {
  m->master = master;
  m->out_fd = m->stdin_fd = master;
  m->out_open = true;
  set_nonblocking(master);
}

/* ---- the log --------------------------------------------------------------- */

static void writev_all(int fd, struct iovec *iov, int count) {
  while (count > 0) {
    ssize_t n = writev(fd, iov, count);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return; /* a full disk loses log lines; the container goes on */
    while (count > 0 && (size_t)n >= iov->iov_len) n -= (ssize_t)iov->iov_len, iov++, count--;
    if (count > 0) iov->iov_base = (char *)iov->iov_base + n, iov->iov_len -= (size_t)n;
  }
}

/* One record per line of data: F for a line (its newline not in the text),
 * P for a last piece without one. */
static void log_output(struct monitor *m, const char *stream, char *data, size_t len) {
  if (m->log_fd < 0) return;
  char stamp[48], full[80], partial[80];
  format_time(stamp, sizeof stamp);
  int full_len = snprintf(full, sizeof full, "%s %s F ", stamp, stream);
  int partial_len = snprintf(partial, sizeof partial, "%s %s P ", stamp, stream);
  static char newline[] = "\n";
  struct iovec iov[LOG_IOVS];
  int count = 0;
  for (size_t pos = 0; pos < len;) {
    char *nl = memchr(data + pos, '\n', len - pos);
    size_t end = nl != NULL ? (size_t)(nl - data) : len;
    iov[count++] = nl != NULL ? (struct iovec){full, (size_t)full_len} : (struct iovec){partial, (size_t)partial_len};
    iov[count++] = (struct iovec){data + pos, end - pos};
    iov[count++] = (struct iovec){newline, 1};
    pos = nl != NULL ? end + 1 : len;
    if (count + 3 > LOG_IOVS) writev_all(m->log_fd, iov, count), count = 0;
  }
  if (count > 0) writev_all(m->log_fd, iov, count);
}

/* ---- attach clients ------------------------------------------------------- */

static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static void drop_client(struct monitor_client *c) {
  close_fd(&c->fd);
  free(c->in);
  memset(c, 0, sizeof *c);
  c->fd = -1;
}

/* Sends a frame without blocking: a client that cannot take it whole now
 * loses it; one that took part of it has a cut stream and is dropped. */
static void send_frame(struct monitor_client *c, unsigned char kind, const void *data, size_t len) {
  unsigned char header[5] = {kind};
  put_be32(header + 1, (uint32_t)len);
  struct iovec iov[2] = {{header, sizeof header}, {(void *)data, len}};
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
  ssize_t n = TEMP_FAILURE_RETRY(sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL));
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n < 0 || (size_t)n != sizeof header + len) drop_client(c);
}

static void broadcast(struct monitor *m, unsigned char kind, const void *data, size_t len) {
  for (int i = 0; i < MONITOR_MAX_CLIENTS; i++)
    if (m->clients[i].fd >= 0) send_frame(&m->clients[i], kind, data, len);
}

static void accept_clients(struct monitor *m) {
  for (;;) {
    int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return; /* EAGAIN: none left; others: the client went away */
    struct monitor_client *slot = NULL;
    for (int i = 0; i < MONITOR_MAX_CLIENTS && slot == NULL; i++)
      if (m->clients[i].fd < 0) slot = &m->clients[i];
    if (slot == NULL) {
      close(fd); /* more than MONITOR_MAX_CLIENTS */
      continue;
    }
    slot->fd = fd;
  }
}

static void stdin_eof(struct monitor *m) {
  if (m->stdin_fd < 0) return;
  if (m->stdin_fd == m->master) (void)!write(m->master, "\x04", 1); /* the terminal's end-of-file */
  else close_fd(&m->stdin_fd);
}

static void frame_done(struct monitor *m, struct monitor_client *c) {
  c->header_got = 0;
  if (c->kind == FRAME_RESIZE && c->resize_got == 4 && m->master >= 0) {
    struct winsize size = {.ws_row = (unsigned short)(c->resize[0] << 8 | c->resize[1]),
                           .ws_col = (unsigned short)(c->resize[2] << 8 | c->resize[3])};
    ioctl(m->master, TIOCSWINSZ, &size);
  } else if (c->kind == FRAME_STDIN_EOF) {
    stdin_eof(m);
  }
}

/* Handles the client's buffered input; stops (input kept) when the
 * container's stdin is full, to go on once it is writable. */
static void client_process(struct monitor *m, struct monitor_client *c) {
  while (c->in_start < c->in_end) {
    unsigned char *p = c->in + c->in_start;
    size_t avail = c->in_end - c->in_start;
    if (c->header_got < sizeof c->header) {
      size_t take = sizeof c->header - c->header_got;
      if (take > avail) take = avail;
      memcpy(c->header + c->header_got, p, take);
      c->header_got += take, c->in_start += take;
      if (c->header_got == sizeof c->header) {
        c->kind = c->header[0];
        c->payload_left = (size_t)c->header[1] << 24 | (size_t)c->header[2] << 16 | (size_t)c->header[3] << 8 | c->header[4];
        c->resize_got = 0;
        if (c->payload_left == 0) frame_done(m, c);
      }
      continue;
    }
    size_t take = c->payload_left < avail ? c->payload_left : avail;
    if (c->kind == FRAME_STDIN && m->stdin_fd >= 0) {
      ssize_t n = write(m->stdin_fd, p, take);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && m->stdin_fd != m->master) close_fd(&m->stdin_fd); /* EPIPE: nobody reads it any more */
      if (n > 0) take = (size_t)n;
    } else if (c->kind == FRAME_RESIZE) {
      for (size_t i = 0; i < take && c->resize_got < sizeof c->resize; i++) c->resize[c->resize_got++] = p[i];
    }
    c->in_start += take, c->payload_left -= take;
    if (c->payload_left == 0) frame_done(m, c);
  }
  c->in_start = c->in_end = 0;
}

static void client_read(struct monitor *m, struct monitor_client *c) {
  if (c->in == NULL) c->in = xmalloc(CLIENT_CHUNK);
  ssize_t n = TEMP_FAILURE_RETRY(read(c->fd, c->in, CLIENT_CHUNK));
  if (n == 0) {
    c->input_closed = true; /* it may still want the output and the exit frame */
    return;
  }
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) drop_client(c);
    return;
  }
  c->in_start = 0, c->in_end = (size_t)n;
  client_process(m, c);
}

static bool client_waiting(const struct monitor_client *c) {
  return c->fd >= 0 && c->in_start < c->in_end;
}

/* ---- the loop's part ------------------------------------------------------ */

/* Reads once; false when there is nothing more to read now. */
static bool read_output(struct monitor *m, int fd, bool *open, const char *stream, unsigned char kind) {
  static char buf[OUTPUT_CHUNK];
  ssize_t n = TEMP_FAILURE_RETRY(read(fd, buf, sizeof buf));
  if (n <= 0) {
    /* EOF; EIO from a master whose terminal is closed everywhere */
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) *open = false;
    return false;
  }
  log_output(m, stream, buf, (size_t)n);
  broadcast(m, kind, buf, (size_t)n);
  return true;
}

void monitor_poll(struct monitor *m, struct pollfd *fds) {
  bool waiting = false;
  for (int i = 0; i < MONITOR_MAX_CLIENTS; i++) waiting |= client_waiting(&m->clients[i]);
  fds[0] = (struct pollfd){m->out_open ? m->out_fd : -1, POLLIN, 0};
  fds[1] = (struct pollfd){m->err_open ? m->err_fd : -1, POLLIN, 0};
  fds[2] = (struct pollfd){m->listen_fd, POLLIN, 0};
  fds[3] = (struct pollfd){waiting ? m->stdin_fd : -1, POLLOUT, 0};
  for (int i = 0; i < MONITOR_MAX_CLIENTS; i++) {
    const struct monitor_client *c = &m->clients[i];
    /* while stdin is full no client is read; hang-ups are still seen */
    fds[4 + i] = (struct pollfd){c->fd, (short)(waiting || c->input_closed ? 0 : POLLIN), 0};
  }
}

void monitor_handle(struct monitor *m, const struct pollfd *fds) {
  /* new clients first: a client that connected before the start gets all the output */
  if (fds[2].revents & POLLIN) accept_clients(m);
  if (fds[0].revents) read_output(m, m->out_fd, &m->out_open, "stdout", FRAME_STDOUT);
  if (fds[1].revents) read_output(m, m->err_fd, &m->err_open, "stderr", FRAME_STDERR);
  for (int i = 0; i < MONITOR_MAX_CLIENTS; i++) {
    struct monitor_client *c = &m->clients[i];
    short revents = fds[4 + i].revents;
    if (c->fd < 0 || fds[4 + i].fd != c->fd || revents == 0) continue;
    if (revents & POLLIN) client_read(m, c);
    else if (revents & (POLLHUP | POLLERR | POLLNVAL)) drop_client(c);
  }
  /* stdin took more, or is gone: go on with the input held back */
  if (fds[3].revents || m->stdin_fd < 0)
    for (int i = 0; i < MONITOR_MAX_CLIENTS; i++)
      if (client_waiting(&m->clients[i])) client_process(m, &m->clients[i]);
}

void monitor_drain(struct monitor *m) {
  while (m->out_open && read_output(m, m->out_fd, &m->out_open, "stdout", FRAME_STDOUT)) {
  }
  while (m->err_open && read_output(m, m->err_fd, &m->err_open, "stderr", FRAME_STDERR)) {
  }
}

/* ---- the end ---------------------------------------------------------------- */

static void write_exit_file(const char *path, int exit_code) {
  char stamp[48], json[128];
  format_time(stamp, sizeof stamp);
  int len = snprintf(json, sizeof json, "{\"exitCode\":%d,\"finishedAt\":\"%s\"}", exit_code, stamp);
  size_t tmp_len = strlen(path) + sizeof ".tmp";
  cleanup_free char *tmp = xmalloc(tmp_len);
  snprintf(tmp, tmp_len, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  bool ok = fd >= 0 && write_all(fd, json, (size_t)len) == 0;
  if (fd >= 0 && close(fd) < 0) ok = false;
  if (!ok || rename(tmp, path) < 0) fprintf(stderr, HELPER_NAME ": write the exit file %s: %s\n", path, strerror(errno));
}

/* The exit frame, waiting a little for a client whose buffer is full, then
 * an orderly close (its unread input discarded first, so that the close is
 * not a reset). */
static void say_goodbye(struct monitor_client *c, int exit_code) {
  unsigned char code[4];
  put_be32(code, (uint32_t)exit_code);
  struct pollfd writable = {c->fd, POLLOUT, 0};
  if (poll(&writable, 1, 500) == 1) send_frame(c, FRAME_EXIT, code, sizeof code);
  if (c->fd < 0) return;
  shutdown(c->fd, SHUT_WR);
  char sink[512];
  while (read(c->fd, sink, sizeof sink) > 0) {
  }
  drop_client(c);
}

static void start_exit_command(const struct monitor_options *o, const sigset_t *original_mask) {
  const char **argv = xcalloc(o->exit_args_len + 2, sizeof *argv);
  argv[0] = o->exit_command;
  for (size_t i = 0; i < o->exit_args_len; i++) argv[i + 1] = o->exit_args[i];
  pid_t pid = fork();
  if (pid < 0) fprintf(stderr, HELPER_NAME ": start the exit command: %s\n", strerror(errno));
  if (pid != 0) return; /* P does not wait for it */
  setsid();
  int null = open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3 && null >= 0; fd++) dup2(null, fd);
  close_range(3, ~0U, 0);
  signal(SIGPIPE, SIG_DFL);
  sigprocmask(SIG_SETMASK, original_mask, NULL);
  execv(o->exit_command, (char *const *)argv);
  _exit(EXIT_NOT_FOUND);
}

void monitor_finish(struct monitor *m, int exit_code, const sigset_t *original_mask) {
  const struct monitor_options *o = m->o;
  if (o->exit_file != NULL) write_exit_file(o->exit_file, exit_code);
  for (int i = 0; i < MONITOR_MAX_CLIENTS; i++)
    if (m->clients[i].fd >= 0) say_goodbye(&m->clients[i], exit_code);
  monitor_abort(m);
  if (o->exit_command != NULL) start_exit_command(o, original_mask);
}

void monitor_abort(struct monitor *m) {
  if (m->listen_fd < 0) return;
  close_fd(&m->listen_fd);
  unlink(m->o->attach_socket);
}
