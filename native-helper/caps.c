#include "caps.h"

#include "status.h"
#include "util.h"

#include <linux/capability.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static const char *const cap_names[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};
#define CAP_COUNT (sizeof cap_names / sizeof cap_names[0])

uint64_t caps_parse(const char *list) {
  uint64_t mask = 0;
  cleanup_free char *copy = xstrdup(list);
  char *save = NULL;
  for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
    size_t i = 0;
    while (i < CAP_COUNT && strcasecmp(name, cap_names[i]) != 0) i++;
    if (i == CAP_COUNT) die("--cap: unknown capability %s", name);
    mask |= UINT64_C(1) << i;
  }
  return mask;
}

void caps_drop_bounding(uint64_t keep) {
  /* every number the kernel might know; those it does not are EINVAL */
  for (int cap = 0; cap < 64; cap++)
    if (!(keep & (UINT64_C(1) << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
      report_fail(EXIT_HELPER, "capabilities", errno, "drop %s from the bounding set",
                  (size_t)cap < CAP_COUNT ? cap_names[cap] : "a capability");
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) report_fail(EXIT_HELPER, "capabilities", errno, "PR_SET_KEEPCAPS");
}

void caps_set(uint64_t keep) {
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  for (int i = 0; i < 2; i++) {
    uint32_t word = (uint32_t)(keep >> (32 * i));
    data[i].effective = data[i].permitted = data[i].inheritable = word;
  }
  if (syscall(SYS_capset, &header, data) < 0) report_fail(EXIT_HELPER, "capabilities", errno, "capset");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    report_fail(EXIT_HELPER, "capabilities", errno, "clear the ambient set");
}
