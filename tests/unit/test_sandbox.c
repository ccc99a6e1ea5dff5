/*
 * test_sandbox.c — the process sandbox: user lookup, privilege drop, core
 * dumps, memory locking, and both seccomp allow-lists.  Every filter test
 * runs in a forked child; the allow-lists are shown to permit what the
 * server really does (threads, SQLite in WAL mode, sockets, epoll, OpenSSL,
 * a clean exit including the sanitizer's leak check) and to kill the
 * process for what it must never do.  PS-IA-b, PS-AC-a, RG-AC-b.
 */
#include "unit.h"
#include "sandbox.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <sqlite3.h>

#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif
#ifndef T_ASAN
#define T_ASAN 0
#endif

/* Inside a forked child: report and leave with a distinctive status. */
#define CHILD_CHECK(c) do { if (!(c)) { fprintf(stderr, "  child %s:%d: %s failed " \
	"(errno %d)\n", __FILE__, __LINE__, #c, errno); _exit(3); } } while (0)

/* Runs fn in a child and returns its wait status.  The child leaves with
 * exit(0) after fn so atexit handlers (OpenSSL cleanup, LeakSanitizer) run
 * under whatever filter fn installed.  A child that has not finished after
 * 30 s is killed (a filter that breaks the leak checker makes it hang) and
 * reported as status -1. */
static int in_child(void (*fn)(void))
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fn();
		exit(0);
	}
	int st = 0;
	for (int i = 0; i < 3000; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return -1;
		usleep(10000);
	}
	fprintf(stderr, "  child %d hung; killing it\n", (int)pid);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static int exited_ok(int st)
{
	if (st == -1)
		return 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		fprintf(stderr, "  child exit status %d\n", WEXITSTATUS(st));
	if (WIFSIGNALED(st))
		fprintf(stderr, "  child killed by signal %d\n", WTERMSIG(st));
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int killed_by_seccomp(int st)
{
	if (st == -1)
		return 0;
	if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS))
		fprintf(stderr, "  expected SIGSYS, got %s %d\n",
		        WIFSIGNALED(st) ? "signal" : "exit status",
		        WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS;
}

static int status_field(const char *path, const char *field, char *out, size_t n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[256];
	size_t fl = strlen(field);
	int rc = -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
			const char *v = line + fl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			snprintf(out, n, "%s", v);
			out[strcspn(out, "\n")] = 0;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

/* ---- user lookup, privileges, core dumps, memory ----------------------- */

TEST(resolve_user)
{
	long uid = 7, gid = 7;
	CHECK_EQ(sandbox_resolve_user("root", &uid, &gid), 0);
	CHECK_EQ(uid, 0);
	CHECK_EQ(gid, 0);
	CHECK_EQ(sandbox_resolve_user("nobody", &uid, &gid), 0);
	CHECK_EQ(uid, 65534);
	uid = gid = 7;
	CHECK_EQ(sandbox_resolve_user("bw-no-such-user", &uid, &gid), BW_ENOENT);
	CHECK_EQ(sandbox_resolve_user("", &uid, &gid), BW_EINVAL);
	CHECK_EQ(sandbox_resolve_user(NULL, &uid, &gid), BW_EINVAL);
	CHECK_EQ(sandbox_resolve_user("root", NULL, &gid), BW_EINVAL);
	char longname[400];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	CHECK_EQ(sandbox_resolve_user(longname, &uid, &gid), BW_EINVAL);
	CHECK_EQ(uid, 7);                  /* out-parameters untouched on failure */
	CHECK_EQ(gid, 7);
}

static void child_drop(void)
{
	CHILD_CHECK(sandbox_drop_privileges(0, 0) == BW_EINVAL);
	CHILD_CHECK(sandbox_drop_privileges(65534, 0) == BW_EINVAL);
	CHILD_CHECK(sandbox_drop_privileges(-1, 65534) == BW_EINVAL);
	CHILD_CHECK(sandbox_drop_privileges(65534, 0x100000000L) == BW_EINVAL);
	CHILD_CHECK(setgroups(1, (gid_t[]){ 4 }) == 0);   /* a group to lose */
	CHILD_CHECK(sandbox_drop_privileges(65534, 65533) == 0);
	uid_t r, e, s;
	gid_t rg, eg, sg;
	CHILD_CHECK(getresuid(&r, &e, &s) == 0 && r == 65534 && e == 65534 && s == 65534);
	CHILD_CHECK(getresgid(&rg, &eg, &sg) == 0 && rg == 65533 && eg == 65533 && sg == 65533);
	CHILD_CHECK(getgroups(0, NULL) == 0);
	CHILD_CHECK(setuid(0) == -1 && errno == EPERM);
	CHILD_CHECK(setgid(0) == -1);
	CHILD_CHECK(setgroups(0, NULL) == -1);
	/* root-only files are out of reach */
	CHILD_CHECK(open("/etc/shadow", O_RDONLY) == -1 && errno == EACCES);
	/* no capabilities left */
	char v[64];
	CHILD_CHECK(status_field("/proc/self/status", "CapEff", v, sizeof v) == 0);
	CHILD_CHECK(strcmp(v, "0000000000000000") == 0);
	CHILD_CHECK(status_field("/proc/self/status", "CapPrm", v, sizeof v) == 0);
	CHILD_CHECK(strcmp(v, "0000000000000000") == 0);
	/* not root any more: the same ids succeed, others are refused */
	CHILD_CHECK(sandbox_drop_privileges(65534, 65533) == 0);
	CHILD_CHECK(sandbox_drop_privileges(65533, 65533) == BW_EPERM);
	CHILD_CHECK(sandbox_drop_privileges(65534, 65534) == BW_EPERM);
}

TEST(drop_privileges)
{
	if (geteuid() != 0) {
		/* Unprivileged: only "drop" to what we already are. */
		CHECK_EQ(sandbox_drop_privileges((long)getuid(), (long)getgid()),
		         getuid() == 0 || getgid() == 0 ? BW_EINVAL : 0);
		long other = getuid() == 65534 ? 65533 : 65534;
		CHECK_EQ(sandbox_drop_privileges(other, other), BW_EPERM);
		printf("  (root part skipped: not root)\n");
		return;
	}
	CHECK(exited_ok(in_child(child_drop)));
}

static void child_no_core(void)
{
	sandbox_no_core_dumps();
	struct rlimit rl;
	CHILD_CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
	CHILD_CHECK(getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_cur == 0 && rl.rlim_max == 0);
}

TEST(no_core_dumps)
{
	CHECK(exited_ok(in_child(child_no_core)));
}

static void child_lock(void)
{
	sandbox_lock_memory();
#if !T_ASAN
	/* Unprivileged, the 8 MiB default limit is below the process size and
	 * mlockall fails (logged); as root it must have locked something. */
	char v[64];
	CHILD_CHECK(status_field("/proc/self/status", "VmLck", v, sizeof v) == 0);
	CHILD_CHECK(geteuid() != 0 || strcmp(v, "0 kB") != 0);
#endif
	/* allocation keeps working afterwards */
	void *p = malloc(4 << 20);
	CHILD_CHECK(p != NULL);
	memset(p, 1, 4 << 20);
	free(p);
}

TEST(lock_memory)
{
	CHECK(exited_ok(in_child(child_lock)));
}

/* ---- the server filter: what it must allow ------------------------------ */

static char t_dir[64];
static int t_pipe[2];

/* A thread that exists before the filter and works after it. */
static void *early_thread(void *arg)
{
	char c;
	while (read(t_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	char v[32];
	int ok = status_field("/proc/thread-self/status", "Seccomp", v, sizeof v) == 0 &&
	         strcmp(v, "2") == 0;
	return ok ? arg : NULL;
}

static void *late_thread(void *arg)
{
	void *p = malloc(100000);
	if (p)
		memset(p, 2, 100000);
	free(p);
	return arg;
}

static void server_sqlite(void)
{
	char path[128];
	snprintf(path, sizeof path, "%s/t.db", t_dir);
	sqlite3 *db = NULL, *db2 = NULL;
	CHILD_CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                            SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK);
	char *err = NULL;
	CHILD_CHECK(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	                         "CREATE TABLE t(a INTEGER PRIMARY KEY, b BLOB);"
	                         "BEGIN; INSERT INTO t(b) VALUES(randomblob(5000));"
	                         "INSERT INTO t(b) VALUES(randomblob(70000)); COMMIT;",
	                         NULL, NULL, &err) == SQLITE_OK);
	CHILD_CHECK(sqlite3_open_v2(path, &db2, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	sqlite3_stmt *st = NULL;
	CHILD_CHECK(sqlite3_prepare_v2(db2, "SELECT count(*) FROM t", -1, &st, NULL) == SQLITE_OK);
	CHILD_CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 2);
	sqlite3_finalize(st);
	CHILD_CHECK(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE); VACUUM;",
	                         NULL, NULL, &err) == SQLITE_OK);
	sqlite3_close(db2);
	sqlite3_close(db);
}

static void server_files(void)
{
	char a[128], b[128], sub[128];
	snprintf(a, sizeof a, "%s/a.tmp", t_dir);
	snprintf(b, sizeof b, "%s/b", t_dir);
	snprintf(sub, sizeof sub, "%s/sub/dir", t_dir);
	CHILD_CHECK(bw_file_write_atomic(b, "hello", 5, 0600) == 0);
	uint8_t *p = NULL;
	size_t n = 0;
	CHILD_CHECK(bw_file_read(b, 100, &p, &n) == 0 && n == 5);
	free(p);
	int fd = open(a, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK(flock(fd, LOCK_EX) == 0);
	CHILD_CHECK(pwrite(fd, "xyz", 3, 10) == 3);
	CHILD_CHECK(ftruncate(fd, 4096) == 0 && fdatasync(fd) == 0 && fsync(fd) == 0);
	struct stat st;
	CHILD_CHECK(fstat(fd, &st) == 0 && st.st_size == 4096);
	close(fd);
	CHILD_CHECK(rename(a, b) == 0 && unlink(b) == 0);
	CHILD_CHECK(bw_mkdir_p(sub, 0700) == 0);
	DIR *d = opendir(t_dir);
	CHILD_CHECK(d != NULL);
	int entries = 0;
	while (readdir(d))
		entries++;
	closedir(d);
	CHILD_CHECK(entries >= 3);
	char cwd[256];
	CHILD_CHECK(getcwd(cwd, sizeof cwd) != NULL);
	CHILD_CHECK(access(t_dir, R_OK | W_OK) == 0);
	CHILD_CHECK(isatty(1) == 0 || isatty(1) == 1);
}

static void server_net(void)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	CHILD_CHECK(l >= 0);
	int one = 1;
	CHILD_CHECK(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHILD_CHECK(bind(l, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(l, 8) == 0);
	socklen_t sl = sizeof sa;
	CHILD_CHECK(getsockname(l, (struct sockaddr *)&sa, &sl) == 0);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHILD_CHECK(c >= 0 && connect(c, (struct sockaddr *)&sa, sizeof sa) == 0);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int tf = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	int pp[2];
	CHILD_CHECK(ep >= 0 && ev >= 0 && tf >= 0 && pipe2(pp, O_CLOEXEC) == 0);
	struct epoll_event e = { .events = EPOLLIN, .data.fd = l };
	CHILD_CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, l, &e) == 0);
	struct epoll_event got[4];
	CHILD_CHECK(epoll_wait(ep, got, 4, 2000) == 1);
	int s = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	CHILD_CHECK(s >= 0);
	int avail = -1;
	CHILD_CHECK(ioctl(s, FIONREAD, &avail) == 0 && avail == 0);
	CHILD_CHECK(send(c, "ping", 4, MSG_NOSIGNAL) == 4);
	struct pollfd pfd = { s, POLLIN, 0 };
	CHILD_CHECK(poll(&pfd, 1, 2000) == 1);
	char buf[8];
	CHILD_CHECK(recv(s, buf, sizeof buf, 0) == 4 && memcmp(buf, "ping", 4) == 0);
	struct iovec iov = { "pong", 4 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	CHILD_CHECK(sendmsg(s, &mh, MSG_NOSIGNAL) == 4);
	CHILD_CHECK(recv(c, buf, sizeof buf, 0) == 4);
	CHILD_CHECK(getpeername(s, (struct sockaddr *)&sa, &sl) == 0);
	uint64_t one64 = 1;
	CHILD_CHECK(write(ev, &one64, 8) == 8 && read(ev, &one64, 8) == 8);
	struct itimerspec its = { .it_value = { 0, 1000000 } };
	CHILD_CHECK(timerfd_settime(tf, 0, &its, NULL) == 0);
	CHILD_CHECK(shutdown(c, SHUT_RDWR) == 0);
	close(s); close(c); close(l); close(ep); close(ev); close(tf);
	close(pp[0]); close(pp[1]);
	/* a local socket (clamd) and name resolution of a local name */
	int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHILD_CHECK(u >= 0);
	close(u);
	int d6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHILD_CHECK(d6 >= 0 || errno == EAFNOSUPPORT);
	if (d6 >= 0)
		close(d6);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_ADDRCONFIG }, *res = NULL;
	CHILD_CHECK(getaddrinfo("localhost", "443", &hints, &res) == 0);
	freeaddrinfo(res);
}

static void server_tls(void)
{
	unsigned char r[32], md[EVP_MAX_MD_SIZE];
	unsigned int mdl = 0;
	CHILD_CHECK(RAND_bytes(r, sizeof r) == 1);
	CHILD_CHECK(EVP_Digest(r, sizeof r, md, &mdl, EVP_sha256(), NULL) == 1 && mdl == 32);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	CHILD_CHECK(ctx != NULL);
	SSL *s = SSL_new(ctx);
	CHILD_CHECK(s != NULL);
	SSL_free(s);
	SSL_CTX_free(ctx);
}

static void child_server_allowed(void)
{
	CHILD_CHECK(pipe(t_pipe) == 0);
	pthread_t early, late;
	CHILD_CHECK(pthread_create(&early, NULL, early_thread, (void *)1) == 0);
	/* OpenSSL initialises before the filter, as the server's does */
	CHILD_CHECK(OPENSSL_init_ssl(0, NULL) == 1);

	CHILD_CHECK(sandbox_seccomp_server() == 0);
	char v[32];
	CHILD_CHECK(status_field("/proc/self/status", "Seccomp", v, sizeof v) == 0 &&
	            strcmp(v, "2") == 0);
	CHILD_CHECK(status_field("/proc/self/status", "NoNewPrivs", v, sizeof v) == 0 &&
	            strcmp(v, "1") == 0);
	/* the earlier thread is filtered too (TSYNC) */
	CHILD_CHECK(write(t_pipe[1], "x", 1) == 1);
	void *ret = NULL;
	CHILD_CHECK(pthread_join(early, &ret) == 0 && ret == (void *)1);
	/* new threads can start (clone3 -> ENOSYS -> clone with CLONE_THREAD) */
	CHILD_CHECK(syscall(SYS_clone3, NULL, 0) == -1 && errno == ENOSYS);
	CHILD_CHECK(pthread_create(&late, NULL, late_thread, (void *)2) == 0);
	CHILD_CHECK(pthread_join(late, &ret) == 0 && ret == (void *)2);

	server_files();
	server_sqlite();
	server_net();
	server_tls();

	struct timespec ts = { 0, 1000000 };
	CHILD_CHECK(nanosleep(&ts, NULL) == 0);
	CHILD_CHECK(sched_yield() == 0);
	CHILD_CHECK(prctl(PR_SET_NAME, "bw-test", 0, 0, 0) == 0);
	CHILD_CHECK(getuid() == getuid() && getpid() > 0);
	/* raise() to our own process is allowed (tgkill to ourselves) */
	signal(SIGUSR1, SIG_IGN);
	CHILD_CHECK(raise(SIGUSR1) == 0);
	void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHILD_CHECK(m != MAP_FAILED && madvise(m, 1 << 20, MADV_DONTNEED) == 0);
	CHILD_CHECK(munmap(m, 1 << 20) == 0);
	/* exit(0) follows: atexit handlers and the leak checker run filtered */
}

/* The leak checker of sanitizer builds still works under the filter: a
 * leak is reported (exit status 23, LeakSanitizer's default) rather than the
 * process hanging or being killed. */
static void *t_leak;
static void child_server_leak(void)
{
	if (sandbox_seccomp_server() != 0)
		_exit(4);
	t_leak = malloc(123);
	t_leak = NULL;
}

TEST(server_filter_leak_check)
{
	if (!T_ASAN) {
		printf("  (skipped: not a sanitizer build)\n");
		return;
	}
	int st = in_child(child_server_leak);
	CHECK(st != -1 && WIFEXITED(st));
	CHECK(WEXITSTATUS(st) == 23 || WEXITSTATUS(st) == 0);   /* 0: detect_leaks=0 */
}

TEST(server_filter_allows)
{
	snprintf(t_dir, sizeof t_dir, "/tmp/bw_sandbox_XXXXXX");
	CHECK(mkdtemp(t_dir) != NULL);
	CHECK(exited_ok(in_child(child_server_allowed)));
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", t_dir);
	CHECK_EQ(system(cmd), 0);
}

/* ---- the server filter: what it must kill ------------------------------ */

static void srv(void)
{
	if (sandbox_seccomp_server() != 0)
		_exit(4);
}

static void deny_execve(void)
{
	srv();
	char *argv[] = { (char *)"/bin/true", NULL };
	execve("/bin/true", argv, (char *[]){ NULL });
	_exit(5);
}

static void deny_fork(void)
{
	srv();
	pid_t p = (pid_t)syscall(SYS_fork);
	if (p == 0)
		_exit(0);
	p = fork();               /* glibc: clone without CLONE_THREAD */
	if (p == 0)
		_exit(0);
	_exit(5);
}

static void deny_mount(void)
{
	srv();
	mount("none", "/mnt", "tmpfs", 0, NULL);
	_exit(5);
}

static void deny_ptrace(void)
{
	srv();
	ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	_exit(5);
}

static void deny_setuid(void)
{
	srv();
	syscall(SYS_setuid, 0);
	_exit(5);
}

static void deny_packet_socket(void)
{
	srv();
	socket(AF_PACKET, SOCK_RAW, 0);
	_exit(5);
}

static void deny_raw_socket(void)
{
	srv();
	socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	_exit(5);
}

static void deny_netlink_other(void)
{
	srv();
	socket(AF_NETLINK, SOCK_RAW, 9 /* NETLINK_AUDIT */);
	_exit(5);
}

static void deny_ioctl(void)
{
	srv();
	char c = 'x';
	ioctl(0, TIOCSTI, &c);
	_exit(5);
}

static void deny_prctl(void)
{
	srv();
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	_exit(5);
}

static void deny_tgkill_other(void)
{
	srv();
	syscall(SYS_tgkill, getppid(), getppid(), 0);
	_exit(5);
}

static void deny_unlisted(void)
{
	srv();
	syscall(SYS_getpriority, PRIO_PROCESS, 0);
	_exit(5);
}

static void deny_unlisted_log_mode(void)
{
	setenv("BULWARK_SECCOMP", "log", 1);
	srv();
	errno = 0;
	syscall(SYS_getpriority, PRIO_PROCESS, 0);
	_exit(errno == 0 ? 0 : 6);
}

static void deny_unknown_mode(void)
{
	setenv("BULWARK_SECCOMP", "off", 1);   /* not a way out */
	srv();
	syscall(SYS_getpriority, PRIO_PROCESS, 0);
	_exit(5);
}

static void *violator(void *arg)
{
	char c;
	while (read(t_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	syscall(SYS_getpriority, PRIO_PROCESS, 0);
	return arg;
}

/* A thread that predates the filter is bound by it (TSYNC). */
static void deny_from_early_thread(void)
{
	CHILD_CHECK(pipe(t_pipe) == 0);
	pthread_t t;
	CHILD_CHECK(pthread_create(&t, NULL, violator, NULL) == 0);
	srv();
	CHILD_CHECK(write(t_pipe[1], "x", 1) == 1);
	pthread_join(t, NULL);
	_exit(5);
}

TEST(server_filter_denies)
{
	CHECK(killed_by_seccomp(in_child(deny_execve)));
	CHECK(killed_by_seccomp(in_child(deny_fork)));
	CHECK(killed_by_seccomp(in_child(deny_mount)));
	if (!T_ASAN)   /* the leak checker of sanitizer builds needs ptrace */
		CHECK(killed_by_seccomp(in_child(deny_ptrace)));
	if (!T_ASAN)
		CHECK(killed_by_seccomp(in_child(deny_prctl)));
	CHECK(killed_by_seccomp(in_child(deny_setuid)));
	CHECK(killed_by_seccomp(in_child(deny_packet_socket)));
	CHECK(killed_by_seccomp(in_child(deny_raw_socket)));
	CHECK(killed_by_seccomp(in_child(deny_netlink_other)));
	CHECK(killed_by_seccomp(in_child(deny_ioctl)));
	CHECK(killed_by_seccomp(in_child(deny_tgkill_other)));
	CHECK(killed_by_seccomp(in_child(deny_unlisted)));
	CHECK(killed_by_seccomp(in_child(deny_unknown_mode)));
	CHECK(killed_by_seccomp(in_child(deny_from_early_thread)));
	/* diagnosis mode: the same call is allowed (and logged by the kernel) */
	CHECK(exited_ok(in_child(deny_unlisted_log_mode)));
}

/* ---- the keyd filter ---------------------------------------------------- */

static int t_sv[2];

static void keyd_filter(void)
{
	int sv[2];
	CHILD_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	/* move both ends clear of SANDBOX_KEYD_FD before taking it */
	t_sv[0] = fcntl(sv[0], F_DUPFD, 10);
	t_sv[1] = fcntl(sv[1], F_DUPFD, 10);
	CHILD_CHECK(t_sv[0] >= 10 && t_sv[1] >= 10);
	close(sv[0]);
	close(sv[1]);
	CHILD_CHECK(dup2(t_sv[1], SANDBOX_KEYD_FD) == SANDBOX_KEYD_FD);
	if (sandbox_seccomp_keyd() != 0)
		_exit(4);
}

static void keyd_allowed(void)
{
	keyd_filter();
	CHILD_CHECK(write(SANDBOX_KEYD_FD, "hi", 2) == 2);
	CHILD_CHECK(write(2, "", 0) == 0);
	void *p = malloc(1 << 20);                 /* mmap-sized */
	CHILD_CHECK(p != NULL);
	memset(p, 3, 1 << 20);
	free(p);
	for (int i = 0; i < 1000; i++)             /* brk-sized */
		free(malloc((size_t)(i * 37 % 4000 + 1)));
	uint8_t r[64];
	CHILD_CHECK(getrandom(r, sizeof r, 0) == (ssize_t)sizeof r);
	void *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHILD_CHECK(m != MAP_FAILED && mprotect(m, 4096, PROT_READ) == 0);
	CHILD_CHECK(munmap(m, 8192) == 0);
	struct timespec ts;
	CHILD_CHECK(clock_gettime(CLOCK_REALTIME, &ts) == 0);
	log_info("keyd filter: logging to stderr works");
	_exit(0);                                   /* keyd never uses exit() */
}

static void keyd_deny_read_stdin(void)
{
	keyd_filter();
	char c;
	(void)!read(0, &c, 1);
	_exit(5);
}

static void keyd_deny_write_stdout(void)
{
	keyd_filter();
	(void)!write(1, "x", 1);
	_exit(5);
}

static void keyd_deny_write_other(void)
{
	keyd_filter();
	(void)!write(t_sv[0], "x", 1);
	_exit(5);
}

static void keyd_deny_exec_mapping(void)
{
	keyd_filter();
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	_exit(5);
}

static void keyd_deny_mprotect_exec(void)
{
	keyd_filter();
	static char page[8192] __attribute__((aligned(4096)));
	mprotect(page, 4096, PROT_READ | PROT_EXEC);
	_exit(5);
}

static void keyd_deny_socket(void)
{
	keyd_filter();
	socket(AF_INET, SOCK_STREAM, 0);
	_exit(5);
}

static void keyd_deny_open(void)
{
	keyd_filter();
	int fd = open("/etc/passwd", O_RDONLY);
	/* sanitizer builds answer EPERM (so a report can be printed) */
	_exit(T_ASAN && fd < 0 && errno == EPERM ? 7 : 5);
}

static void keyd_deny_fork(void)
{
	keyd_filter();
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	_exit(T_ASAN && p < 0 ? 7 : 5);
}

static int keyd_denied(int st)
{
	if (T_ASAN && WIFEXITED(st) && WEXITSTATUS(st) == 7)
		return 1;
	return killed_by_seccomp(st);
}

TEST(keyd_filter)
{
	CHECK(exited_ok(in_child(keyd_allowed)));
	CHECK(killed_by_seccomp(in_child(keyd_deny_read_stdin)));
	CHECK(killed_by_seccomp(in_child(keyd_deny_write_stdout)));
	CHECK(killed_by_seccomp(in_child(keyd_deny_write_other)));
	CHECK(killed_by_seccomp(in_child(keyd_deny_exec_mapping)));
	CHECK(killed_by_seccomp(in_child(keyd_deny_mprotect_exec)));
	CHECK(killed_by_seccomp(in_child(keyd_deny_socket)));
	CHECK(keyd_denied(in_child(keyd_deny_open)));
	CHECK(keyd_denied(in_child(keyd_deny_fork)));
}

int main(void)
{
	RUN(resolve_user);
	RUN(drop_privileges);
	RUN(no_core_dumps);
	RUN(lock_memory);
	RUN(server_filter_allows);
	RUN(server_filter_leak_check);
	RUN(server_filter_denies);
	RUN(keyd_filter);
	return UNIT_DONE();
}
