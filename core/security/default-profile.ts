// podman's default seccomp profile (containers-common pkg/seccomp/seccomp.json,
// 2025-08), re-encoded as data: an allow list, a short list refused with
// EPERM, and rules that depend on the container's capabilities, the
// architecture or arguments. Everything else fails with ENOSYS, so that
// programs probing for newer system calls fall back as on an older kernel.
//
// One departure from containers-common, as docker's profile does: mount,
// unshare, setns, keyctl, pivot_root, the new mount API and clone with
// namespace flags need CAP_SYS_ADMIN (refused with EPERM without it), and
// clone3, whose flags a filter cannot read, answers ENOSYS without it so that
// libc falls back to clone. A container should not make namespaces or mounts
// of its own unless asked to (--cap-add SYS_ADMIN, --privileged).

import type { SeccompArg, SeccompProfile, SeccompSyscallRule } from './seccomp.js';

const ENOSYS = 38;
const EPERM = 1;
const EINVAL = 22;

const words = (text: string): string[] => text.trim().split(/\s+/);

/** Refused with EPERM rather than ENOSYS: obsolete, dangerous, or easy to misuse. */
const REFUSED = words(`
bdflush cachestat futex_requeue futex_wait futex_waitv futex_wake io_pgetevents io_pgetevents_time64
kexec_file_load kexec_load map_shadow_stack migrate_pages move_pages nfsservctl nice oldfstat
oldlstat oldolduname oldstat olduname pciconfig_iobase pciconfig_read pciconfig_write sgetmask
ssetmask swapoff swapon syscall sysfs uselib userfaultfd ustat vm86 vm86old vmsplice
`);

const ALLOWED = words(`
_llseek _newselect accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown
chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup
dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64
fadvise64_64 fallocate fanotify_init fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32
fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat
fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_time64 futimesat
get_mempolicy get_robust_list get_thread_area getcpu getcwd getdents getdents64 getegid getegid32
geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid
getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit getrusage getsid
getsockname getsockopt gettid gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init
inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents io_setup io_submit ioctl ioprio_get
ioprio_set ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32
lgetxattr link linkat listen listxattr llistxattr lremovexattr lseek lsetxattr lstat lstat64 madvise
mbind membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall
mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64
mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock
munlockall munmap name_to_handle_at nanosleep newfstatat open openat openat2 pause pidfd_getfd
pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64
prctl pread64 preadv preadv2 prlimit64 process_mrelease process_vm_readv process_vm_writev pselect6
pselect6_time64 ptrace pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv reboot
recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat
renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo
sched_get_priority_max sched_get_priority_min sched_getaffinity sched_getattr sched_getparam
sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity
sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop
semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto set_mempolicy
set_robust_list set_thread_area set_tid_address setfsgid setfsgid32 setfsuid setfsuid32 setgid
setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid
setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit setsid setsockopt setuid setuid32
setxattr shmat shmctl shmdt shmget shutdown sigaltstack signal signalfd signalfd4 sigprocmask
sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync
sync_file_range syncfs sysinfo syslog tee tgkill time timer_create timer_delete timer_getoverrun
timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime
timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask
uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork wait4 waitid waitpid write
writev
`);

const allow = (names: string[], extra: Partial<SeccompSyscallRule> = {}): SeccompSyscallRule => ({
  names,
  action: 'SCMP_ACT_ALLOW',
  ...extra,
});
const refuse = (names: string[], errnoRet: number, extra: Partial<SeccompSyscallRule> = {}): SeccompSyscallRule => ({
  names,
  action: 'SCMP_ACT_ERRNO',
  errnoRet,
  ...extra,
});
const equals = (index: number, value: number): SeccompArg => ({ index, value, valueTwo: 0, op: 'SCMP_CMP_EQ' });
const differs = (index: number, value: number): SeccompArg => ({ index, value, valueTwo: 0, op: 'SCMP_CMP_NE' });

/** Allowed with `cap`; refused with EPERM (not ENOSYS) without it. */
function withCapability(cap: string, allowed: string[], refused: string[] = allowed): SeccompSyscallRule[] {
  return [allow(allowed, { includes: { caps: [cap] } }), refuse(refused, EPERM, { excludes: { caps: [cap] } })];
}

// personality(2) personas a container may switch to: PER_LINUX, PER_LINUX32,
// UNAME26, UNAME26|PER_LINUX32, and 0xffffffff which only queries.
const PERSONAS = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

// CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
const NAMESPACE_AND_MOUNT_CALLS = words(`
fsconfig fsmount fsopen fspick keyctl mount mount_setattr move_mount open_tree pivot_root setns umount
umount2 unshare
`);

const AF_NETLINK = 16;
const NETLINK_AUDIT = 9;

export const DEFAULT_PROFILE: SeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: ENOSYS,
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
  ],
  syscalls: [
    refuse(REFUSED, EPERM),
    allow(ALLOWED),
    ...PERSONAS.map((persona) => allow(['personality'], { args: [equals(0, persona)] })),
    allow(words('sync_file_range2 swapcontext'), { includes: { arches: ['ppc64le'] } }),
    allow(words('arm_fadvise64_64 arm_sync_file_range breakpoint cacheflush set_tls sync_file_range2'), {
      includes: { arches: ['arm', 'arm64'] },
    }),
    allow(['arch_prctl'], { includes: { arches: ['amd64', 'x32'] } }),
    allow(['modify_ldt'], { includes: { arches: ['amd64', 'x32', 'x86'] } }),
    allow(words('s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr'), { includes: { arches: ['s390', 's390x'] } }),
    allow(['riscv_flush_icache'], { includes: { arches: ['riscv64'] } }),
    ...withCapability('CAP_SYS_ADMIN', NAMESPACE_AND_MOUNT_CALLS),
    allow(['clone'], {
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      excludes: { caps: ['CAP_SYS_ADMIN'] },
    }),
    refuse(['clone'], EPERM, { excludes: { caps: ['CAP_SYS_ADMIN'] } }),
    allow(['clone', 'clone3'], { includes: { caps: ['CAP_SYS_ADMIN'] } }),
    refuse(['clone3'], ENOSYS, { excludes: { caps: ['CAP_SYS_ADMIN'] } }),
    ...withCapability('CAP_DAC_READ_SEARCH', ['open_by_handle_at']),
    ...withCapability(
      'CAP_SYS_ADMIN',
      words('bpf lookup_dcookie quotactl quotactl_fd setdomainname sethostname setns'),
      words('lookup_dcookie perf_event_open quotactl quotactl_fd setdomainname sethostname setns'),
    ),
    ...withCapability('CAP_SYS_CHROOT', ['chroot']),
    ...withCapability('CAP_SYS_MODULE', words('delete_module finit_module init_module query_module')),
    ...withCapability('CAP_SYS_PACCT', ['acct']),
    ...withCapability('CAP_SYS_PTRACE', words('kcmp process_madvise')),
    ...withCapability('CAP_SYS_RAWIO', words('ioperm iopl')),
    ...withCapability('CAP_SYS_TIME', words('clock_settime clock_settime64 settimeofday stime')),
    ...withCapability('CAP_SYS_TTY_CONFIG', ['vhangup']),
    // Audit netlink sockets only with CAP_AUDIT_WRITE; every other socket is fine.
    refuse(['socket'], EINVAL, {
      args: [equals(0, AF_NETLINK), equals(2, NETLINK_AUDIT)],
      excludes: { caps: ['CAP_AUDIT_WRITE'] },
    }),
    allow(['socket'], { args: [differs(2, NETLINK_AUDIT)], excludes: { caps: ['CAP_AUDIT_WRITE'] } }),
    allow(['socket'], { args: [differs(0, AF_NETLINK)], excludes: { caps: ['CAP_AUDIT_WRITE'] } }),
    allow(['socket'], { includes: { caps: ['CAP_AUDIT_WRITE'] } }),
    refuse(['bpf'], EPERM, { excludes: { caps: ['CAP_SYS_ADMIN', 'CAP_BPF'] } }),
    allow(['bpf'], { includes: { caps: ['CAP_BPF'] } }),
    refuse(['perf_event_open'], EPERM, { excludes: { caps: ['CAP_SYS_ADMIN', 'CAP_BPF'] } }),
    allow(['perf_event_open'], { includes: { caps: ['CAP_PERFMON'] } }),
  ],
};
