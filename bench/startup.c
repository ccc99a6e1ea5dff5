/*
 * startup.c — start-up time and idle memory of the server (design.md
 * "Budgets": idle server <= 30 MiB RSS, start-up <= 200 ms).  Not part of
 * the server; built by bench/run.sh.
 *
 * Runs the given server command --runs times.  Each run: fork + exec the
 * command (stdout and stderr to --log), poll 127.0.0.1:PORT every 0.5 ms
 * until a TLS GET /api/v1/health answers 200 {"status":"ok"}, and record
 * the time from just before fork to that answer.  Then wait --settle-ms,
 * read VmRSS, VmHWM (peak RSS so far) and smaps_rollup (Pss, Private) of the
 * server process and of its children (the key process), read the server's own
 * "(N ms to ready)" log line, SIGTERM the server and wait for it (SIGKILL
 * after 5 s).  Prints one line per run and the medians.
 *
 * Bounded: --runs <= 50, 10 s per start, loopback only.
 *
 * usage: startup --port P --ca CERT.pem --log FILE [--runs 10] [--settle-ms 1000]
 *                -- COMMAND ARGS...
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SU_RUNS_MAX 50
#define SU_START_LIMIT_MS 10000

struct su_mem { long rss_kb, hwm_kb, pss_kb, priv_kb; };

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Adds VmRSS and VmHWM (peak RSS) of /proc/PID/status and Pss, Private_* of
 * smaps_rollup. */
static void mem_add(pid_t pid, struct su_mem *m)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (f) {
		while (fgets(line, sizeof line, f))
			if (strncmp(line, "VmRSS:", 6) == 0)
				m->rss_kb += strtol(line + 6, NULL, 10);
			else if (strncmp(line, "VmHWM:", 6) == 0)
				m->hwm_kb += strtol(line + 6, NULL, 10);
		fclose(f);
	}
	snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
	if ((f = fopen(path, "r"))) {
		while (fgets(line, sizeof line, f)) {
			if (strncmp(line, "Pss:", 4) == 0)
				m->pss_kb += strtol(line + 4, NULL, 10);
			else if (strncmp(line, "Private_Clean:", 14) == 0)
				m->priv_kb += strtol(line + 14, NULL, 10);
			else if (strncmp(line, "Private_Dirty:", 14) == 0)
				m->priv_kb += strtol(line + 14, NULL, 10);
		}
		fclose(f);
	}
}

/* The children of pid (the key process), from /proc/PID/task/PID/children. */
static int children_of(pid_t pid, pid_t *out, int max)
{
	char path[80];
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
	FILE *f = fopen(path, "r");
	int n = 0;
	if (!f)
		return 0;
	long v;
	while (n < max && fscanf(f, "%ld", &v) == 1)
		out[n++] = (pid_t)v;
	fclose(f);
	return n;
}

/* One TLS GET /api/v1/health; true when it answered 200 with status ok. */
static bool health_ok(SSL_CTX *ctx, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = false;
	SSL *ssl = NULL;
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
		goto out;
	ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_fd(ssl, fd) ||
	    !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1") ||
	    SSL_connect(ssl) != 1)
		goto out;
	char req[128];
	int n = snprintf(req, sizeof req,
	                 "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
	                 port);
	if (SSL_write(ssl, req, n) != n)
		goto out;
	char resp[2048];
	int len = 0, r;
	while (len < (int)sizeof resp - 1 &&
	       (r = SSL_read(ssl, resp + len, (int)sizeof resp - 1 - len)) > 0) {
		len += r;
		resp[len] = 0;
		if (strstr(resp, "\"status\":\"ok\""))
			break;
	}
	resp[len] = 0;
	ok = strncmp(resp, "HTTP/1.1 200", 12) == 0 && strstr(resp, "\"status\":\"ok\"");
out:
	if (ssl)
		SSL_free(ssl);
	ERR_clear_error();
	close(fd);
	return ok;
}

/* The N of the server's "(N ms to ready)" log line, or -1. */
static long ready_ms_from_log(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[1024];
	long v = -1;
	while (fgets(line, sizeof line, f)) {
		char *p = strstr(line, " ms to ready)");
		if (!p)
			continue;
		char *q = p;
		while (q > line && q[-1] >= '0' && q[-1] <= '9')
			q--;
		if (q < p && q > line && q[-1] == '(')
			v = strtol(q, NULL, 10);
	}
	fclose(f);
	return v;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	int port = 0, runs = 10, settle_ms = 1000, cmd_at = -1;
	const char *ca = NULL, *logpath = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			cmd_at = i + 1;
			break;
		}
		if (i + 1 >= argc)
			break;
		if (strcmp(argv[i], "--port") == 0) port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--ca") == 0) ca = argv[++i];
		else if (strcmp(argv[i], "--log") == 0) logpath = argv[++i];
		else if (strcmp(argv[i], "--runs") == 0) runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--settle-ms") == 0) settle_ms = atoi(argv[++i]);
		else break;
	}
	if (port <= 0 || port > 65535 || !ca || !logpath || cmd_at < 0 || cmd_at >= argc ||
	    runs < 1 || runs > SU_RUNS_MAX || settle_ms < 0 || settle_ms > 60000) {
		fputs("usage: startup --port P --ca CERT.pem --log FILE [--runs 10] [--settle-ms 1000]"
		      " -- COMMAND ARGS...\n", stderr);
		return 2;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		fprintf(stderr, "startup: cannot load %s\n", ca);
		return 2;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	signal(SIGPIPE, SIG_IGN);

	double health[SU_RUNS_MAX], logged[SU_RUNS_MAX], rss[SU_RUNS_MAX], pss[SU_RUNS_MAX],
	       kd_rss[SU_RUNS_MAX], hwm[SU_RUNS_MAX];
	int nlogged = 0, failures = 0;
	for (int k = 0; k < runs; k++) {
		int lfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (lfd < 0) {
			perror(logpath);
			return 1;
		}
		double t0 = now_ms();
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			dup2(lfd, 1);
			dup2(lfd, 2);
			execvp(argv[cmd_at], argv + cmd_at);
			_exit(127);
		}
		close(lfd);
		double t1 = 0;
		while (now_ms() - t0 < SU_START_LIMIT_MS) {
			if (health_ok(ctx, port)) {
				t1 = now_ms();
				break;
			}
			if (waitpid(pid, NULL, WNOHANG) == pid) {
				pid = -1;
				break;
			}
			usleep(500);
		}
		if (t1 == 0) {
			fprintf(stderr, "startup: run %d: the server did not answer (see %s)\n", k + 1, logpath);
			failures++;
			if (pid > 0) {
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
			}
			continue;
		}
		health[k - failures] = t1 - t0;
		usleep((useconds_t)settle_ms * 1000);
		struct su_mem srv = { 0 }, kd = { 0 };
		mem_add(pid, &srv);
		pid_t kids[8];
		int nk = children_of(pid, kids, 8);
		for (int j = 0; j < nk; j++)
			mem_add(kids[j], &kd);
		rss[k - failures] = (double)srv.rss_kb;
		hwm[k - failures] = (double)srv.hwm_kb;
		pss[k - failures] = (double)(srv.pss_kb + kd.pss_kb);
		kd_rss[k - failures] = (double)kd.rss_kb;
		kill(pid, SIGTERM);
		double tk = now_ms();
		int st = 0;
		while (waitpid(pid, &st, WNOHANG) == 0) {
			if (now_ms() - tk > 5000) {
				kill(pid, SIGKILL);
				waitpid(pid, &st, 0);
				break;
			}
			usleep(2000);
		}
		long lm = ready_ms_from_log(logpath);
		if (lm >= 0)
			logged[nlogged++] = (double)lm;
		printf("run %2d: exec->health %.1f ms, log \"%ld ms to ready\", server VmRSS %ld KiB "
		       "(Pss %ld, Private %ld, peak VmHWM %ld), key process VmRSS %ld KiB (Pss %ld), "
		       "stop %.0f ms\n",
		       k + 1, t1 - t0, lm, srv.rss_kb, srv.pss_kb, srv.priv_kb, srv.hwm_kb, kd.rss_kb,
		       kd.pss_kb, now_ms() - tk);
		fflush(stdout);
	}
	int ok = runs - failures;
	if (ok == 0)
		return 1;
	double h_med = median(health, ok), h_max = health[ok - 1];   /* sorted by median() */
	printf("SUMMARY runs=%d failed=%d exec_to_health_median_ms=%.1f exec_to_health_max_ms=%.1f "
	       "log_ready_median_ms=%.1f server_rss_median_kib=%.0f server_plus_keyd_pss_median_kib=%.0f "
	       "keyd_rss_median_kib=%.0f server_hwm_median_kib=%.0f\n",
	       runs, failures, h_med, h_max,
	       nlogged ? median(logged, nlogged) : -1.0, median(rss, ok), median(pss, ok),
	       median(kd_rss, ok), median(hwm, ok));
	SSL_CTX_free(ctx);
	return failures ? 1 : 0;
}
