/*
 * sandbox.c — process hardening for the key process and the server worker
 * (PS-IA-b credentials protected against leak, PS-AC-a / RG-AC-b least
 * privilege, WC-STORE: the master key stays in a process nothing can read).
 *
 * Invariants:
 *  - seccomp filters are allow-lists whose default action kills the whole
 *    process; the only way to weaken that is BULWARK_SECCOMP=log (see
 *    sandbox.h), which still logs every call the list would have refused.
 *  - every filter sets PR_SET_NO_NEW_PRIVS; the server filter is synchronised
 *    to all threads (TSYNC) so a thread started before it is not left out.
 *  - a privilege drop is verified: real, effective and saved ids changed, no
 *    supplementary groups, and setuid(0)/setgid(0) fail afterwards.
 *  - no filter allows execve, fork (clone without CLONE_THREAD), ptrace
 *    (outside AddressSanitizer builds), mount, module or kexec loading, bpf,
 *    or any set*id call.
 *  - before a filter is loaded, glibc's time zone state is initialised
 *    (tzset), so a later log line's gmtime_r() does not open /etc/localtime
 *    under a filter that forbids opening files.
 *
 * AddressSanitizer builds: its leak checker runs at exit and stops the
 * process's threads with a tracer created by clone(CLONE_VM|CLONE_FS|
 * CLONE_FILES|CLONE_UNTRACED) that attaches with ptrace.  Those builds add
 * exactly what that needs to the server list, and make the key process's
 * report-time helpers (symbolizer spawn, /proc reads) fail with EPERM rather
 * than kill, so a sanitizer report stays readable.  Release builds have none
 * of this.
 *
 * Memory: nothing here allocates anything the caller frees; libseccomp's
 * filter context is created and released inside each function.
 */
#include "sandbox.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <seccomp.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN 1
#endif
#endif
#ifndef SANDBOX_ASAN
#define SANDBOX_ASAN 0
#endif

/* Largest uid/gid we accept: (uid_t)-1 is "unchanged" to the set*id calls. */
#define SANDBOX_ID_MAX 0xfffffffeL
#define SANDBOX_USER_NAME_MAX 256
#define SANDBOX_PWBUF_LEN 16384

int sandbox_resolve_user(const char *name, long *uid, long *gid)
{
	if (!name || !uid || !gid)
		return BW_EINVAL;
	size_t n = strnlen(name, SANDBOX_USER_NAME_MAX);
	if (n == 0 || n >= SANDBOX_USER_NAME_MAX)
		return BW_EINVAL;
	/* The buffer is on the heap: getpwnam_r wants up to 16 KiB here and
	 * this may run on a small thread stack. */
	char *buf = malloc(SANDBOX_PWBUF_LEN);
	if (!buf)
		return BW_ENOMEM;
	struct passwd pw, *res = NULL;
	int e = getpwnam_r(name, &pw, buf, SANDBOX_PWBUF_LEN, &res);
	int rc;
	if (e != 0)
		rc = (e == ENOENT || e == ESRCH) ? BW_ENOENT : BW_EIO;
	else if (!res)
		rc = BW_ENOENT;
	else {
		*uid = (long)res->pw_uid;
		*gid = (long)res->pw_gid;
		rc = 0;
	}
	free(buf);
	return rc;
}

int sandbox_drop_privileges(long uid, long gid)
{
	if (uid <= 0 || gid <= 0 || uid > SANDBOX_ID_MAX || gid > SANDBOX_ID_MAX)
		return BW_EINVAL;
	uid_t u = (uid_t)uid;
	gid_t g = (gid_t)gid;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (geteuid() != 0) {
		/* Nothing to drop; accept only if we already are that user. */
		if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
			return BW_EPERM;
		if (ru == u && eu == u && su == u && rg == g && eg == g && sg == g)
			return 0;
		log_err("sandbox: cannot switch to uid %ld gid %ld: not running as root",
		        uid, gid);
		return BW_EPERM;
	}
	if (setgroups(0, NULL) != 0) {
		log_err("sandbox: setgroups: %s", strerror(errno));
		return BW_EPERM;
	}
	if (setresgid(g, g, g) != 0) {
		log_err("sandbox: setresgid(%ld): %s", gid, strerror(errno));
		return BW_EPERM;
	}
	if (setresuid(u, u, u) != 0) {
		log_err("sandbox: setresuid(%ld): %s", uid, strerror(errno));
		return BW_EPERM;
	}
	/* Verify: all three ids of each kind changed, no groups left. */
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
	    ru != u || eu != u || su != u || rg != g || eg != g || sg != g) {
		log_err("sandbox: privilege drop did not take effect");
		return BW_EPERM;
	}
	gid_t groups[1];
	int ng = getgroups(1, groups);
	if (ng != 0) {
		log_err("sandbox: supplementary groups remain after drop");
		return BW_EPERM;
	}
	/* Root must be out of reach.  setuid(0) succeeding would mean the drop
	 * is broken: report failure; the caller exits. */
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || setegid(0) == 0) {
		log_err("sandbox: root could be regained after privilege drop");
		return BW_EPERM;
	}
	return 0;
}

void sandbox_no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log_warn("sandbox: PR_SET_DUMPABLE: %s", strerror(errno));
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		log_warn("sandbox: RLIMIT_CORE: %s", strerror(errno));
}

void sandbox_lock_memory(void)
{
	struct rlimit rl;
	if (geteuid() == 0) {
		/* With MCL_FUTURE every later mapping is locked and counted
		 * against RLIMIT_MEMLOCK once CAP_IPC_LOCK is gone (after a
		 * privilege drop); lift the limit while we still can.  Failure
		 * (no CAP_SYS_RESOURCE, e.g. in a container) is handled below. */
		rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
		(void)setrlimit(RLIMIT_MEMLOCK, &rl);
	}
	int flags = MCL_CURRENT | MCL_FUTURE;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 || rl.rlim_cur != RLIM_INFINITY) {
		/* Under a finite limit MCL_FUTURE makes allocations fail once
		 * the locked total reaches it (at once after a privilege drop):
		 * lock what exists now only. */
		flags = MCL_CURRENT;
		log_info("sandbox: RLIMIT_MEMLOCK is limited; locking current memory only");
	}
	if (mlockall(flags) != 0)
		log_warn("sandbox: mlockall: %s; memory may be swapped", strerror(errno));
}

/* ---- seccomp ---------------------------------------------------------- */

/* The default action: kill the process, or log when the operator asked for
 * BULWARK_SECCOMP=log to find a missing entry. */
static uint32_t sandbox_default_action(const char *who)
{
	const char *v = getenv("BULWARK_SECCOMP");
	if (v && strcmp(v, "log") == 0) {
		log_warn("sandbox: %s seccomp filter in LOG mode (BULWARK_SECCOMP=log): "
		         "calls outside the allow-list are permitted and logged", who);
		return SCMP_ACT_LOG;
	}
	if (v && *v)
		log_warn("sandbox: ignoring BULWARK_SECCOMP=%.32s (only \"log\" is known)", v);
	return SCMP_ACT_KILL_PROCESS;
}

/* Adds an unconditional allow rule for each name that exists on this
 * architecture.  Names the architecture lacks (e.g. "open" on arm64) are
 * skipped.  Returns 0 or BW_EPERM. */
static int sandbox_allow_names(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		if (nr < 0)
			continue;
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc != 0) {
			log_err("sandbox: seccomp rule for %s: %s", names[i], strerror(-rc));
			return BW_EPERM;
		}
	}
	return 0;
}

/* Adds one rule by name with up to two argument comparisons. */
static int sandbox_rule(scmp_filter_ctx ctx, uint32_t action, const char *name,
                        unsigned argc, struct scmp_arg_cmp a, struct scmp_arg_cmp b)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr < 0)
		return 0;
	int rc;
	if (argc == 0)
		rc = seccomp_rule_add(ctx, action, nr, 0);
	else if (argc == 1)
		rc = seccomp_rule_add(ctx, action, nr, 1, a);
	else
		rc = seccomp_rule_add(ctx, action, nr, 2, a, b);
	if (rc != 0) {
		log_err("sandbox: seccomp rule for %s: %s", name, strerror(-rc));
		return BW_EPERM;
	}
	return 0;
}

/* An argument comparison with every field named (libseccomp's SCMP_Ax
 * macros leave datum_b out, which -Wmissing-field-initializers rejects). */
#define SANDBOX_ARG(idx, op, a, b) ((struct scmp_arg_cmp){ (idx), (op), (a), (b) })
#define SANDBOX_EQ(idx, v) SANDBOX_ARG(idx, SCMP_CMP_EQ, (scmp_datum_t)(v), 0)
#define SANDBOX_MASKED(idx, mask, v) \
	SANDBOX_ARG(idx, SCMP_CMP_MASKED_EQ, (scmp_datum_t)(mask), (scmp_datum_t)(v))

static const struct scmp_arg_cmp sandbox_noarg = { 0, SCMP_CMP_EQ, 0, 0 };

/* Creates a context with the common attributes.  NULL on failure. */
static scmp_filter_ctx sandbox_ctx_new(const char *who, bool tsync)
{
	scmp_filter_ctx ctx = seccomp_init(sandbox_default_action(who));
	if (!ctx) {
		log_err("sandbox: seccomp_init failed");
		return NULL;
	}
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1) != 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) != 0 ||
	    (tsync && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0)) {
		log_err("sandbox: seccomp attributes not supported");
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

static int sandbox_load(scmp_filter_ctx ctx, const char *who)
{
	/* glibc reads /etc/localtime the first time any time conversion runs
	 * (gmtime_r in bw_log too); do it now, while files may be opened. */
	tzset();
	/* libseccomp sets this itself (CTL_NNP); set it explicitly so the state
	 * does not depend on a library default. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		log_err("sandbox: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return BW_EPERM;
	}
	int rc = seccomp_load(ctx);
	if (rc != 0) {
		log_err("sandbox: loading the %s seccomp filter: %s", who, strerror(-rc));
		return BW_EPERM;
	}
	return 0;
}

/* What an AddressSanitizer report may try in the key process: make it fail
 * softly instead of killing the process mid-report. */
static int sandbox_keyd_asan_extras(scmp_filter_ctx ctx)
{
#if SANDBOX_ASAN
	static const char *const names[] = {
		"open", "openat", "readlink", "readlinkat", "pipe", "pipe2", "fork",
		"vfork", "clone", "clone3", "execve", "wait4", "close", "fstat",
		"newfstatat", "rt_sigaction", "rt_sigprocmask", "prctl", "ioctl",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(names); i++) {
		int rc = sandbox_rule(ctx, SCMP_ACT_ERRNO(EPERM), names[i], 0,
		                      sandbox_noarg, sandbox_noarg);
		if (rc != 0)
			return rc;
	}
#else
	(void)ctx;
#endif
	return 0;
}

int sandbox_seccomp_keyd(void)
{
	static const char *const names[] = {
		"exit", "exit_group", "rt_sigreturn", "restart_syscall",
		/* randomness for nonces and SM2 signatures */
		"getrandom",
		/* malloc, OpenSSL/libgcrypt allocations */
		"brk", "munmap", "mremap", "madvise",
		/* locks in the crypto libraries, their clocks and fork checks */
		"futex", "clock_gettime", "gettimeofday", "getpid", "gettid",
		"getrusage", "sched_yield",
		/* AddressSanitizer queries it before every noreturn call */
		"sigaltstack",
	};
	scmp_filter_ctx ctx = sandbox_ctx_new("keyd", false);
	if (!ctx)
		return BW_EPERM;
	int rc = sandbox_allow_names(ctx, names, BW_ARRAY_LEN(names));
	if (rc == 0)
		rc = sandbox_rule(ctx, SCMP_ACT_ALLOW, "read", 1,
		                  SANDBOX_EQ(0, SANDBOX_KEYD_FD), sandbox_noarg);
	if (rc == 0)
		rc = sandbox_rule(ctx, SCMP_ACT_ALLOW, "write", 1,
		                  SANDBOX_EQ(0, SANDBOX_KEYD_FD), sandbox_noarg);
	if (rc == 0)
		rc = sandbox_rule(ctx, SCMP_ACT_ALLOW, "write", 1,
		                  SANDBOX_EQ(0, STDERR_FILENO), sandbox_noarg);
	/* Memory may be mapped, never executable (W^X for the key process). */
	if (rc == 0)
		rc = sandbox_rule(ctx, SCMP_ACT_ALLOW, "mmap", 1,
		                  SANDBOX_MASKED(2, PROT_EXEC, 0), sandbox_noarg);
	if (rc == 0)
		rc = sandbox_rule(ctx, SCMP_ACT_ALLOW, "mprotect", 1,
		                  SANDBOX_MASKED(2, PROT_EXEC, 0), sandbox_noarg);
	if (rc == 0)
		rc = sandbox_keyd_asan_extras(ctx);
	if (rc == 0)
		rc = sandbox_load(ctx, "keyd");
	seccomp_release(ctx);
	return rc;
}

/* The LeakSanitizer tracer (AddressSanitizer builds only). */
static int sandbox_server_asan_extras(scmp_filter_ctx ctx)
{
#if SANDBOX_ASAN
	static const char *const names[] = {
		"ptrace", "getppid", "prctl", "kill", "getdents",
	};
	int rc = sandbox_allow_names(ctx, names, BW_ARRAY_LEN(names));
	if (rc == 0)
		rc = sandbox_rule(ctx, SCMP_ACT_ALLOW, "clone", 1,
		                  SANDBOX_EQ(0, CLONE_VM | CLONE_FS | CLONE_FILES |
		                          CLONE_UNTRACED), sandbox_noarg);
	return rc;
#else
	(void)ctx;
	return 0;
#endif
}

int sandbox_seccomp_server(void)
{
	static const char *const names[] = {
		/* descriptors and file I/O (lws, SQLite, uploads) */
		"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
		"pwritev", "preadv2", "pwritev2", "lseek", "close", "dup", "dup2",
		"dup3", "fcntl", "flock", "fsync", "fdatasync", "ftruncate",
		"fallocate", "fadvise64", "sendfile", "open", "openat", "stat",
		"fstat", "lstat", "newfstatat", "statx", "fstatfs", "access",
		"faccessat", "faccessat2", "readlink", "readlinkat", "getcwd",
		"getdents64", "unlink", "unlinkat", "rename", "renameat", "renameat2",
		"link", "linkat",
		"mkdir", "mkdirat", "rmdir", "fchmod", "fchown", "umask",
		/* uploads are held in anonymous memory files until scanned */
		"memfd_create",
		/* memory */
		"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "msync",
		"mlock", "munlock",
		/* threads and synchronisation */
		"futex", "set_robust_list", "get_robust_list", "rseq",
		"set_tid_address", "gettid", "getpid", "sched_yield",
		/* reaping our own children (the key process) and killing one we
		 * hold a pidfd for; kill(2) itself stays forbidden */
		"wait4", "waitid", "pidfd_send_signal",
		"sched_getaffinity", "sched_getparam", "sched_getscheduler",
		"membarrier", "exit", "exit_group",
		/* signals */
		"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
		"restart_syscall",
		/* time */
		"clock_gettime", "clock_getres", "gettimeofday", "time",
		"nanosleep", "clock_nanosleep", "timerfd_create", "timerfd_settime",
		"timerfd_gettime",
		/* event loop */
		"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
		"epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6",
		"eventfd", "eventfd2", "pipe", "pipe2",
		/* sockets (listeners are opened before the filter; outbound
		 * connections reach helper services such as clamd and Janus) */
		"accept", "accept4", "connect", "bind", "listen", "recvfrom",
		"sendto", "recvmsg", "sendmsg", "recvmmsg", "sendmmsg", "shutdown",
		"setsockopt", "getsockopt", "getsockname", "getpeername",
		/* identity, limits, system facts read by glibc and libraries */
		"getrandom", "getuid", "geteuid", "getgid", "getegid", "getresuid",
		"getresgid", "getgroups", "uname", "sysinfo", "getrlimit",
		"prlimit64", "getrusage", "times",
	};
	scmp_filter_ctx ctx = sandbox_ctx_new("server", true);
	if (!ctx)
		return BW_EPERM;
	int rc = sandbox_allow_names(ctx, names, BW_ARRAY_LEN(names));

	/* New threads only: fork/vfork-style clones are refused.  clone3 keeps
	 * its flags in memory a filter cannot read, so it reports ENOSYS and
	 * glibc falls back to clone. */
	if (rc == 0)
		rc = sandbox_rule(ctx, SCMP_ACT_ALLOW, "clone", 1,
		                  SANDBOX_MASKED(0, CLONE_THREAD, CLONE_THREAD),
		                  sandbox_noarg);
	if (rc == 0)
		rc = sandbox_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0,
		                  sandbox_noarg, sandbox_noarg);
	/* Signals only to our own threads (raise, abort, pthread_kill). */
	if (rc == 0)
		rc = sandbox_rule(ctx, SCMP_ACT_ALLOW, "tgkill", 1,
		                  SANDBOX_EQ(0, (scmp_datum_t)getpid()), sandbox_noarg);
	/* New sockets: local (unix) ones only, for clamd; nothing reaches the
	 * network that was not listening before the filter. */
	if (rc == 0)
		rc = sandbox_rule(ctx, SCMP_ACT_ALLOW, "socket", 1,
		                  SANDBOX_EQ(0, AF_UNIX), sandbox_noarg);
	/* ioctl: non-blocking mode, bytes pending, isatty() from stdio. */
	static const unsigned long ioctls[] = { FIONREAD, FIONBIO, TCGETS };
	for (size_t i = 0; rc == 0 && i < BW_ARRAY_LEN(ioctls); i++)
		rc = sandbox_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1,
		                  SANDBOX_EQ(1, ioctls[i]), sandbox_noarg);
	/* prctl: thread names and the dumpable query only. */
#if !SANDBOX_ASAN
	static const int prctls[] = { PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE };
	for (size_t i = 0; rc == 0 && i < BW_ARRAY_LEN(prctls); i++)
		rc = sandbox_rule(ctx, SCMP_ACT_ALLOW, "prctl", 1,
		                  SANDBOX_EQ(0, (scmp_datum_t)prctls[i]), sandbox_noarg);
#endif
	/* Sockets: local, TCP and UDP over IPv4/IPv6, and the routing netlink
	 * socket glibc's getaddrinfo(AI_ADDRCONFIG) opens.  No raw or packet
	 * sockets. */
	static const int families[] = { AF_INET, AF_INET6 };
	static const int types[] = { SOCK_STREAM, SOCK_DGRAM };
	for (size_t i = 0; rc == 0 && i < BW_ARRAY_LEN(families); i++)
		for (size_t j = 0; rc == 0 && j < BW_ARRAY_LEN(types); j++)
			rc = sandbox_rule(ctx, SCMP_ACT_ALLOW, "socket", 2,
			                  SANDBOX_EQ(0, (scmp_datum_t)families[i]),
			                  SANDBOX_MASKED(1, 0xf, (scmp_datum_t)types[j]));
	if (rc == 0)
		rc = sandbox_rule(ctx, SCMP_ACT_ALLOW, "socket", 1,
		                  SANDBOX_EQ(0, AF_UNIX), sandbox_noarg);
	if (rc == 0)
		rc = sandbox_rule(ctx, SCMP_ACT_ALLOW, "socket", 2,
		                  SANDBOX_EQ(0, AF_NETLINK),
		                  SANDBOX_EQ(2, NETLINK_ROUTE));
	if (rc == 0)
		rc = sandbox_server_asan_extras(ctx);
	if (rc == 0)
		rc = sandbox_load(ctx, "server");
	seccomp_release(ctx);
	return rc;
}
