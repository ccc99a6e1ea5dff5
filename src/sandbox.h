/*
 * sandbox.h — process hardening shared by the key process and the server
 * worker: privilege drop, no core dumps, locked memory, seccomp allow-lists
 * (PS-IA-b, PS-AC-a, RG-AC-b, WC-STORE).
 *
 * Every function here acts on the calling process and allocates nothing the
 * caller must free.
 *
 * Seccomp filters are allow-lists: a system call not on the list kills the
 * whole process (SCMP_ACT_KILL_PROCESS).  For diagnosis only, setting the
 * environment variable BULWARK_SECCOMP=log before the filter is installed
 * turns that default into SCMP_ACT_LOG: the call is allowed and the kernel
 * logs it (audit log / dmesg, "type=SECCOMP ... syscall=N"), and a warning
 * is written to the operator log.  Any other value is ignored (with a
 * warning).  Never run production with BULWARK_SECCOMP=log.
 */
#ifndef BW_SANDBOX_H
#define BW_SANDBOX_H

/* The descriptor number of the key process's channel to its client.  The
 * keyd filter lets the key process read only from this descriptor and write
 * only to it and to stderr (the operator log). */
#define SANDBOX_KEYD_FD 3

/* Looks up a local account by name (getpwnam_r) and returns its uid and
 * primary gid.  Out-parameters are set only on success.  BW_EINVAL for an
 * empty or over-long name, BW_ENOENT when there is no such user, BW_EIO when
 * the lookup itself failed. */
int sandbox_resolve_user(const char *name, long *uid, long *gid);

/* Permanently switches the process to uid/gid: clears supplementary groups,
 * then setresgid, then setresuid, and verifies that real, effective and saved
 * ids all changed and that root cannot be regained.  Must be called before
 * the process has threads it cares about (glibc applies the change to every
 * thread, but callers should not rely on timing).  Refuses uid or gid 0 and
 * values outside the id range (BW_EINVAL).  When not running as root it
 * succeeds only if the process already has exactly these ids (BW_EPERM
 * otherwise).  Any other failure returns BW_EPERM; the caller must then exit,
 * the process is in an unknown privilege state. */
int sandbox_drop_privileges(long uid, long gid);

/* Disables core dumps: PR_SET_DUMPABLE 0 (which also stops same-uid ptrace
 * and /proc/PID/mem access) and RLIMIT_CORE 0. */
void sandbox_no_core_dumps(void);

/* Locks memory so keys never reach swap: mlockall(MCL_CURRENT|MCL_FUTURE)
 * when RLIMIT_MEMLOCK is (or, as root, can be made) unlimited; otherwise
 * mlockall(MCL_CURRENT) only, because under a finite limit MCL_FUTURE makes
 * later allocations fail once the locked total reaches it (immediately after
 * a privilege drop removes CAP_IPC_LOCK).  Failure (EPERM, ENOMEM) is logged
 * as a warning and otherwise ignored.  Under AddressSanitizer mlockall is a
 * no-op (the sanitizer runtime intercepts it). */
void sandbox_lock_memory(void);

/* Installs the key process's filter: read(SANDBOX_KEYD_FD),
 * write(SANDBOX_KEYD_FD or stderr), exit, exit_group, rt_sigreturn, and what
 * the crypto libraries and malloc need at run time (getrandom, brk, mmap and
 * mprotect without PROT_EXEC, munmap, mremap, madvise, futex, clock_gettime,
 * getpid, gettid, getrusage, sched_yield, sigaltstack, restart_syscall).  Sets
 * PR_SET_NO_NEW_PRIVS.  Returns 0 or BW_EPERM when the filter could not be
 * built or loaded (the caller must then exit). */
int sandbox_seccomp_keyd(void);

/* Installs the server worker's filter, synchronised to every thread of the
 * process (SCMP_FLTATR_CTL_TSYNC): file and socket I/O for libwebsockets
 * (epoll), OpenSSL and SQLite in WAL mode, pthreads (new threads only:
 * clone requires CLONE_THREAD; clone3 fails with ENOSYS so glibc falls back
 * to clone), timers, the outbound sockets used to reach helper services,
 * and reaping/killing the key process (wait4, waitid, pidfd_send_signal).
 * Not allowed, among others: execve, fork, ptrace, mount, kexec, bpf,
 * module loading, the setuid family, raw/packet sockets, netlink other than
 * NETLINK_ROUTE, signals to other processes, ioctls other than
 * FIONREAD/FIONBIO/TCGETS, prctl other than PR_SET_NAME/PR_GET_NAME/
 * PR_GET_DUMPABLE.  AddressSanitizer builds additionally allow what the leak
 * checker's exit-time tracer needs (ptrace, getppid, getdents, kill,
 * any prctl, and clone with exactly CLONE_VM|CLONE_FS|CLONE_FILES|
 * CLONE_UNTRACED).  Call it after the listeners, TLS contexts and event
 * library plugins exist (the lws libev plugin is dlopen()ed at context
 * creation).  Sets PR_SET_NO_NEW_PRIVS.  Returns 0 or BW_EPERM (the caller
 * must then exit). */
int sandbox_seccomp_server(void);

#endif
