#include "pty.h"

#include "status.h"
#include "util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>

int pty_open_in_container(int sock) {
  cleanup_fd int master = TEMP_FAILURE_RETRY(open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (master < 0) report_fail(EXIT_HELPER, "tty", errno, "open /dev/ptmx (--tty needs --dev)");
  char name[64];
  if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0)
    report_fail(EXIT_HELPER, "tty", errno, "unlock the pty");
  int slave = TEMP_FAILURE_RETRY(open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (slave < 0) report_fail(EXIT_HELPER, "tty", errno, "open %s", name);

  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  char byte = 'T';
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &master, sizeof(int));
  if (TEMP_FAILURE_RETRY(sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0)
    report_fail(EXIT_HELPER, "tty", errno, "send the pty master");
  return slave;
}

void pty_become_controlling(int slave) {
  if (setsid() < 0) report_fail(EXIT_HELPER, "tty", errno, "setsid");
  if (ioctl(slave, TIOCSCTTY, 0) < 0) report_fail(EXIT_HELPER, "tty", errno, "make the pty the controlling terminal");
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0) report_fail(EXIT_HELPER, "tty", errno, "dup2 the pty");
  if (slave > 2) close(slave);
}

int pty_receive_master(int sock) {
  char control[CMSG_SPACE(sizeof(int))];
  char byte = 0;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  ssize_t n = TEMP_FAILURE_RETRY(recvmsg(sock, &msg, MSG_CMSG_CLOEXEC));
  struct cmsghdr *cmsg = n == 1 ? CMSG_FIRSTHDR(&msg) : NULL;
  if (cmsg == NULL || cmsg->cmsg_type != SCM_RIGHTS || cmsg->cmsg_len != CMSG_LEN(sizeof(int))) return -1;
  int master;
  memcpy(&master, CMSG_DATA(cmsg), sizeof(int));
  return master;
}

static struct termios saved;
static bool saved_valid;

void pty_make_raw(void) {
  if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved) < 0) return;
  saved_valid = true;
  struct termios raw = saved;
  cfmakeraw(&raw);
  tcsetattr(STDIN_FILENO, TCSADRAIN, &raw);
}

void pty_restore(void) {
  if (saved_valid) tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
  saved_valid = false;
}

void pty_copy_size(int master) {
  struct winsize size;
  /* stdout is the terminal when stdin is not ours (-t without -i) */
  if (ioctl(STDIN_FILENO, TIOCGWINSZ, &size) == 0 || ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0) ioctl(master, TIOCSWINSZ, &size);
}
