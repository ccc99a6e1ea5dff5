/*
 * wsload.c — load generator for the idle-WebSocket memory benchmark
 * (design.md "Budgets": idle WebSocket client <= 16 KiB of server memory;
 * IN-SURGE).  Not part of the server; built by bench/run.sh.
 *
 * Opens N TLS WebSockets to /api/v1/events on a loopback server, each
 * authenticated with `Authorization: Bearer TICKET` (tickets read from a
 * file, one a line, used round-robin: one ticket may back many sockets),
 * waits until every socket has received the server's {"type":"hello"} frame,
 * prints one READY line on standard output and then holds the sockets open
 * (reading and discarding what the server sends) until standard input
 * reaches end of file, SIGTERM/SIGINT arrives, or --hold seconds pass.
 *
 * The server throttles WebSocket upgrades per client address (a bucket of
 * 60), so sockets are spread over source addresses 127.1.x.y (all of
 * 127.0.0.0/8 is loopback on Linux), --per-src sockets each.  Every socket
 * still goes to the one target address, which must be a 127.x address.
 *
 * Bounded: N <= 19,000 (the per-process open-file limit is 20,000), at most
 * --conc handshakes in flight, an opening deadline (--timeout) and a hold
 * deadline (--hold).  The server certificate is verified against --ca (the
 * data directory's tls/cert.pem) and the target IP address.
 *
 * Exit status: 0 when every socket opened and none was closed by the server
 * while held, 1 otherwise, 2 on bad usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WSL_N_MAX 19000
#define WSL_TICKETS_MAX 1000
#define WSL_TICKET_LEN_MAX 128
#define WSL_HS_BUF_MAX 4096          /* handshake response + hello frame */
#define WSL_FRAME_MAX 4096
#define WSL_SRC_MAX 250 * 250

enum wsl_state { WSL_IDLE, WSL_CONNECT, WSL_TLS, WSL_SEND, WSL_RESP, WSL_OPEN, WSL_FAILED };

enum wsl_fail {
	F_SOCKET, F_CONNECT, F_TLS, F_IO, F_REFUSED, F_STATUS, F_ACCEPT, F_FRAME, F_TIMEOUT, F_NFAIL
};
static const char *const fail_names[F_NFAIL] = {
	"socket", "connect", "tls", "io", "closed_before_101", "http_status", "bad_accept", "bad_frame", "timeout"
};

struct wsl_conn {
	int fd;
	uint8_t state;
	SSL *ssl;
	char *buf;        /* handshake buffer, WSL_HS_BUF_MAX; freed once open */
	uint16_t len, off;
	char accept[32];  /* expected Sec-WebSocket-Accept */
	char status[48];  /* first response line, kept for failure reports */
};

static struct {
	const char *host, *ca;
	int port, n, conc, per_src, timeout_s, hold_s;
	const char *tickets_file;
	char tickets[WSL_TICKETS_MAX][WSL_TICKET_LEN_MAX + 1];
	int ntickets;
} cfg = { "127.0.0.1", NULL, 0, 0, 256, 50, 120, 300, NULL, { { 0 } }, 0 };

static volatile sig_atomic_t stop_flag;
static struct wsl_conn *conns;
static int epfd = -1;
static SSL_CTX *ctx;
static long fails[F_NFAIL];
static int n_open, n_failed, n_inflight, n_started, n_closed_while_held;
static char first_bad_status[48];

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(void)
{
	fputs("usage: wsload --port P --tickets FILE --n N [--host 127.0.0.1] [--ca CERT.pem]\n"
	      "              [--conc 256] [--per-src 50] [--timeout 120] [--hold 300]\n", stderr);
}

/* Reads up to WSL_TICKETS_MAX non-empty lines of FILE into cfg.tickets. */
static int tickets_load(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return -1;
	}
	char line[512];
	while (cfg.ntickets < WSL_TICKETS_MAX && fgets(line, sizeof line, f)) {
		size_t n = strcspn(line, "\r\n");
		line[n] = 0;
		if (n == 0)
			continue;
		if (n > WSL_TICKET_LEN_MAX) {
			fprintf(stderr, "wsload: ticket longer than %d bytes\n", WSL_TICKET_LEN_MAX);
			fclose(f);
			return -1;
		}
		memcpy(cfg.tickets[cfg.ntickets++], line, n + 1);
	}
	fclose(f);
	return cfg.ntickets > 0 ? 0 : -1;
}

static void conn_fail(int i, enum wsl_fail why)
{
	struct wsl_conn *c = &conns[i];
	if (c->state == WSL_FAILED)
		return;
	if (c->state == WSL_OPEN) {
		n_closed_while_held++;
		n_open--;
	} else {
		n_inflight--;
		fails[why]++;
	}
	n_failed++;
	c->state = WSL_FAILED;
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);   /* also removes it from the epoll set */
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

static int want(int i, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.u32 = (uint32_t)i };
	return epoll_ctl(epfd, EPOLL_CTL_MOD, conns[i].fd, &e);
}

/* Sec-WebSocket-Accept for key (RFC 6455 section 4.2.2). */
static void ws_accept_for(const char *key, char out[32])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	char cat[64];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int n = snprintf(cat, sizeof cat, "%s%s", key, guid);
	EVP_Digest(cat, (size_t)n, md, &mdlen, EVP_sha1(), NULL);
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
}

static int conn_start(int i)
{
	struct wsl_conn *c = &conns[i];
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	n_started++;
	n_inflight++;
	c->state = WSL_CONNECT;
	if (c->fd < 0) {
		conn_fail(i, F_SOCKET);
		return -1;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	int src = i / cfg.per_src;   /* < WSL_SRC_MAX, checked in main */
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl((127u << 24) | (1u << 16) | ((unsigned)(src / 250) << 8) |
	                           (unsigned)(src % 250 + 1));
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		conn_fail(i, F_SOCKET);
		return -1;
	}
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port) };
	inet_pton(AF_INET, cfg.host, &dst.sin_addr);
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS) {
		conn_fail(i, F_CONNECT);
		return -1;
	}
	struct epoll_event e = { .events = EPOLLOUT, .data.u32 = (uint32_t)i };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &e) != 0) {
		conn_fail(i, F_SOCKET);
		return -1;
	}
	return 0;
}

/* Handles an SSL_* result that did not complete: re-arm or fail. */
static void ssl_wait(int i, int r, enum wsl_fail why)
{
	int e = SSL_get_error(conns[i].ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		want(i, EPOLLIN);
	else if (e == SSL_ERROR_WANT_WRITE)
		want(i, EPOLLOUT);
	else {
		ERR_clear_error();
		conn_fail(i, why);
	}
}

/* Checks the buffered response: 1 when the 101 and the hello frame are in,
 * 0 when more bytes are needed, -1 (after conn_fail) when it is wrong. */
static int resp_check(int i)
{
	struct wsl_conn *c = &conns[i];
	c->buf[c->len] = 0;
	char *end = strstr(c->buf, "\r\n\r\n");
	if (!end)
		return c->len >= WSL_HS_BUF_MAX - 1 ? (conn_fail(i, F_STATUS), -1) : 0;
	if (strncmp(c->buf, "HTTP/1.1 101", 12) != 0) {
		if (!first_bad_status[0])
			snprintf(first_bad_status, sizeof first_bad_status, "%.*s",
			         (int)strcspn(c->buf, "\r\n"), c->buf);
		conn_fail(i, F_STATUS);
		return -1;
	}
	const char *a = strcasestr(c->buf, "\r\nSec-WebSocket-Accept:");
	if (!a || a > end) {
		conn_fail(i, F_ACCEPT);
		return -1;
	}
	a += strlen("\r\nSec-WebSocket-Accept:");
	while (*a == ' ')
		a++;
	if (strncmp(a, c->accept, strlen(c->accept)) != 0) {
		conn_fail(i, F_ACCEPT);
		return -1;
	}
	const uint8_t *f = (const uint8_t *)end + 4;
	size_t have = (size_t)(c->buf + c->len - (char *)f);
	if (have < 2)
		return 0;
	if ((f[0] & 0x0f) != 1 || (f[1] & 0x80)) {   /* text frame, unmasked */
		conn_fail(i, F_FRAME);
		return -1;
	}
	size_t plen = f[1] & 0x7f, hdr = 2;
	if (plen == 126) {
		if (have < 4)
			return 0;
		plen = (size_t)f[2] << 8 | f[3];
		hdr = 4;
	} else if (plen == 127) {
		conn_fail(i, F_FRAME);
		return -1;
	}
	if (plen > WSL_FRAME_MAX) {
		conn_fail(i, F_FRAME);
		return -1;
	}
	if (have < hdr + plen)
		return have + (size_t)(f - (const uint8_t *)c->buf) >= WSL_HS_BUF_MAX - 1
		       ? (conn_fail(i, F_FRAME), -1) : 0;
	if (!memmem(f + hdr, plen, "\"type\":\"hello\"", 14)) {
		conn_fail(i, F_FRAME);
		return -1;
	}
	return 1;
}

static void conn_step(int i)
{
	struct wsl_conn *c = &conns[i];
	for (;;) {
		switch (c->state) {
		case WSL_CONNECT: {
			int err = 0;
			socklen_t el = sizeof err;
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
				conn_fail(i, F_CONNECT);
				return;
			}
			c->ssl = SSL_new(ctx);
			if (!c->ssl || !SSL_set_fd(c->ssl, c->fd) ||
			    !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), cfg.host)) {
				conn_fail(i, F_TLS);
				return;
			}
			SSL_set_connect_state(c->ssl);
			c->state = WSL_TLS;
			break;
		}
		case WSL_TLS: {
			int r = SSL_do_handshake(c->ssl);
			if (r != 1) {
				ssl_wait(i, r, F_TLS);
				return;
			}
			c->buf = malloc(WSL_HS_BUF_MAX);
			if (!c->buf) {
				conn_fail(i, F_IO);
				return;
			}
			unsigned char raw[16];
			char key[32];
			RAND_bytes(raw, sizeof raw);
			EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);
			ws_accept_for(key, c->accept);
			int n = snprintf(c->buf, WSL_HS_BUF_MAX,
			                 "GET /api/v1/events HTTP/1.1\r\nHost: %s:%d\r\n"
			                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
			                 "Authorization: Bearer %s\r\nUser-Agent: bulwark-wsload\r\n\r\n",
			                 cfg.host, cfg.port, key, cfg.tickets[i % cfg.ntickets]);
			if (n <= 0 || n >= WSL_HS_BUF_MAX) {
				conn_fail(i, F_IO);
				return;
			}
			c->len = (uint16_t)n;
			c->off = 0;
			c->state = WSL_SEND;
			break;
		}
		case WSL_SEND: {
			int r = SSL_write(c->ssl, c->buf + c->off, c->len - c->off);
			if (r <= 0) {
				ssl_wait(i, r, F_IO);
				return;
			}
			c->off = (uint16_t)(c->off + r);
			if (c->off < c->len)
				break;
			c->len = c->off = 0;
			c->state = WSL_RESP;
			want(i, EPOLLIN);
			break;
		}
		case WSL_RESP: {
			int r = SSL_read(c->ssl, c->buf + c->len, WSL_HS_BUF_MAX - 1 - c->len);
			if (r <= 0) {
				/* lws refuses an upgrade (bad ticket, throttled) by closing */
				ssl_wait(i, r, c->len == 0 ? F_REFUSED : F_IO);
				return;
			}
			c->len = (uint16_t)(c->len + r);
			int k = resp_check(i);
			if (k < 0)
				return;
			if (k == 1) {
				free(c->buf);
				c->buf = NULL;
				c->state = WSL_OPEN;
				n_inflight--;
				n_open++;
			}
			break;
		}
		case WSL_OPEN: {
			char scratch[WSL_FRAME_MAX];
			int r = SSL_read(c->ssl, scratch, sizeof scratch);
			if (r > 0)
				break;   /* pings and other frames: read and dropped */
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ) {
				want(i, EPOLLIN);
				return;
			}
			if (e == SSL_ERROR_WANT_WRITE) {
				want(i, EPOLLOUT);
				return;
			}
			ERR_clear_error();
			conn_fail(i, F_IO);
			return;
		}
		default:
			return;
		}
	}
}

static int parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			usage();
			return -1;
		}
		i++;
		if (strcmp(a, "--host") == 0) cfg.host = v;
		else if (strcmp(a, "--port") == 0) cfg.port = atoi(v);
		else if (strcmp(a, "--tickets") == 0) cfg.tickets_file = v;
		else if (strcmp(a, "--ca") == 0) cfg.ca = v;
		else if (strcmp(a, "--n") == 0) cfg.n = atoi(v);
		else if (strcmp(a, "--conc") == 0) cfg.conc = atoi(v);
		else if (strcmp(a, "--per-src") == 0) cfg.per_src = atoi(v);
		else if (strcmp(a, "--timeout") == 0) cfg.timeout_s = atoi(v);
		else if (strcmp(a, "--hold") == 0) cfg.hold_s = atoi(v);
		else {
			usage();
			return -1;
		}
	}
	struct in_addr ia;
	if (cfg.port <= 0 || cfg.port > 65535 || !cfg.tickets_file || cfg.n <= 0 ||
	    cfg.n > WSL_N_MAX || cfg.conc <= 0 || cfg.per_src <= 0 || cfg.timeout_s <= 0 ||
	    cfg.hold_s <= 0 || cfg.hold_s > 3600 || inet_pton(AF_INET, cfg.host, &ia) != 1 ||
	    (ntohl(ia.s_addr) >> 24) != 127 || (cfg.n - 1) / cfg.per_src >= WSL_SRC_MAX) {
		fprintf(stderr, "wsload: bad arguments (N <= %d, a 127.x target address)\n", WSL_N_MAX);
		usage();
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (parse_args(argc, argv) != 0)
		return 2;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)cfg.n + 32) {
		if (rl.rlim_max < (rlim_t)cfg.n + 32) {
			fprintf(stderr, "wsload: open-file limit %llu is below N + 32\n",
			        (unsigned long long)rl.rlim_max);
			return 2;
		}
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (tickets_load(cfg.tickets_file) != 0) {
		fprintf(stderr, "wsload: no tickets in %s\n", cfg.tickets_file);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return 1;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x08http/1.1", 9);
	if (cfg.ca) {
		if (SSL_CTX_load_verify_locations(ctx, cfg.ca, NULL) != 1) {
			fprintf(stderr, "wsload: cannot load %s\n", cfg.ca);
			return 2;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	conns = calloc((size_t)cfg.n, sizeof *conns);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || epfd < 0)
		return 1;
	for (int i = 0; i < cfg.n; i++)
		conns[i].fd = -1;

	int64_t t0 = mono_ms(), deadline = t0 + (int64_t)cfg.timeout_s * 1000;
	struct epoll_event ev[256];
	while (!stop_flag && n_open + n_failed < cfg.n && mono_ms() < deadline) {
		while (n_started < cfg.n && n_inflight < cfg.conc)
			if (conn_start(n_started) == 0)
				conn_step(n_started - 1);
		int k = epoll_wait(epfd, ev, 256, 100);
		for (int j = 0; j < k; j++)
			conn_step((int)ev[j].data.u32);
	}
	int64_t t_open = mono_ms() - t0;
	for (int i = 0; i < cfg.n; i++)
		if (conns[i].state != WSL_OPEN && conns[i].state != WSL_FAILED &&
		    conns[i].state != WSL_IDLE)
			conn_fail(i, F_TIMEOUT);
	int not_started = cfg.n - n_started;
	printf("READY ok=%d failed=%d not_started=%d open_ms=%lld rate_per_s=%.0f\n", n_open,
	       n_failed, not_started, (long long)t_open,
	       t_open > 0 ? 1000.0 * n_open / (double)t_open : 0.0);
	fflush(stdout);
	for (int f = 0; f < F_NFAIL; f++)
		if (fails[f])
			fprintf(stderr, "wsload: %ld failed at %s\n", fails[f], fail_names[f]);
	if (first_bad_status[0])
		fprintf(stderr, "wsload: first refused upgrade: %s\n", first_bad_status);

	/* hold: keep reading (pings) until stdin closes, a signal, or --hold */
	struct epoll_event se = { .events = EPOLLIN, .data.u32 = UINT32_MAX };
	bool watch_stdin = epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &se) == 0;
	int64_t hold_end = mono_ms() + (int64_t)cfg.hold_s * 1000;
	int failed_before_hold = n_failed - n_closed_while_held;
	while (!stop_flag && mono_ms() < hold_end) {
		int k = epoll_wait(epfd, ev, 256, 500);
		for (int j = 0; j < k; j++) {
			if (ev[j].data.u32 == UINT32_MAX) {
				char b[256];
				ssize_t r = read(0, b, sizeof b);
				if (r <= 0 && watch_stdin) {
					stop_flag = 1;
					epoll_ctl(epfd, EPOLL_CTL_DEL, 0, NULL);
					watch_stdin = false;
				}
				continue;
			}
			conn_step((int)ev[j].data.u32);
		}
	}
	fprintf(stderr, "wsload: held %d sockets; %d closed by the server while held\n", n_open,
	        n_closed_while_held);
	for (int i = 0; i < cfg.n; i++) {
		if (conns[i].ssl)
			SSL_free(conns[i].ssl);
		if (conns[i].fd >= 0)
			close(conns[i].fd);
		free(conns[i].buf);
	}
	free(conns);
	close(epfd);
	SSL_CTX_free(ctx);
	return failed_before_hold == 0 && not_started == 0 && n_closed_while_held == 0 ? 0 : 1;
}
