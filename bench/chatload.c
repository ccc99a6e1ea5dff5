/*
 * chatload.c — group-chat load generator for the send->deliver benchmark
 * (design.md "Budgets": 10,000 connected clients and a 1,000-member group,
 * p99 <= 50 ms with the message durable and encrypted before ack; idle
 * WebSocket <= 16 KiB of server memory; RG-IM-a/b, IN-SURGE).  Not part of
 * the server; built and run by bench/chat.sh.
 *
 * One program, three drivers, one workload shape, so the figures compare:
 *   bulwark  TLS WebSocket to /api/v1/events (docs/realtime.md): Bearer
 *            ticket, hello -> resume -> resumed -> ping/pong, then `send`
 *            frames; `ack` is the durable commit, `event` is a delivery
 *   xmpp     ejabberd c2s (direct TLS or plain TCP), SASL PLAIN, bind, MUC
 *            join (XEP-0045); a groupchat message's reflection to its own
 *            sender is the "ack"
 *   mqtt     MQTT 3.1.1 (TLS or plain TCP): CONNECT, SUBSCRIBE QoS 0 to one
 *            topic per group, PUBLISH QoS 1; PUBACK is the "ack"
 *
 * Workload: N users, user i on connection i.  Group 0 is the big group
 * (users 0..G-1); groups 1..S are small groups of --small-size users each
 * (user i is in small group 1 + i / small_size).  K big-group senders share
 * --big-rate msgs/s; --small-rate msgs/s go to a random small group from a
 * random member.  Sends are open-loop (scheduled on the clock, not on
 * answers).  Every body carries a marker "zqT<ns>x<sender>x<group>x<seq>q"
 * with the CLOCK_MONOTONIC send time, so a receiver on this machine computes
 * send->deliver latency directly.
 *
 * Phases: connect (bounded concurrency and rate, a deadline) -> settle
 * (until input is quiet; server RSS sampled before connecting and here ->
 * RSS per connection) -> then for each step (one big-group rate of
 * --big-rate R1,R2,...): warm-up sends (not measured) -> measured sends
 * (server CPU from /proc/PID/stat over exactly this window) -> drain (until
 * every expected delivery arrived or --drain seconds) -> JSON on stdout.
 * A delivery counts for the step whose window holds its send time.  The
 * deliveries a message should produce are counted when it is sent (members
 * connected at that moment) and taken back when it is refused (nack).
 * The "now" of a delivery is taken once per epoll batch, when the data was
 * already in the socket, so the generator's own parsing of the batch is not
 * counted; its queueing behind earlier batches is (see client_cpu_pct,
 * generator_batch and send_schedule_lag in the output).
 *
 * Invariants: one thread, epoll, non-blocking sockets; per-connection state
 * is ~64 bytes plus the SSL object, with read/write buffers allocated only
 * while partial data is pending; every buffer has a hard maximum; every phase
 * has a deadline; only 127.x targets.  N <= 19,000 (the per-process
 * open-file limit is 20,000).
 *
 * Exit status: 0 when every client connected and stayed, every message was
 * acknowledged and every expected delivery arrived; 1 otherwise; 2 on bad
 * usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

#define CL_N_MAX 19000
#define CL_GROUPS_MAX (CL_N_MAX + 1)
#define CL_TICKET_MAX 256
#define CL_SCRATCH_MAX (1u << 20)      /* one read pass, incl. a carried partial frame */
#define CL_RBUF_MAX (CL_SCRATCH_MAX / 2) /* a partial frame/stanza kept between reads */
#define CL_WBUF_MAX (256u << 10)       /* unsent output per connection */
#define CL_FRAME_MAX (256u << 10)      /* one WebSocket frame / MQTT packet / stanza */
#define CL_HTTP_MAX 8192
#define CL_BODY_MAX 4096
#define CL_PIDS_MAX 8
#define CL_CODES_MAX 16
#define CL_SRC_MAX (250 * 250)
#define CL_MSGTAB 65536                /* messages in flight: slot = seq % 65535 + 1 (an MQTT packet id) */

/* ---- log-bucketed histogram (HdrHistogram-like: 64 sub-buckets per power
 * of two, <= 1.6% relative error), values in microseconds ---------------- */
#define H_SUB 6
#define H_NB ((64 - H_SUB + 1) << H_SUB)
struct hist {
	uint64_t count, sum, max, min;
	uint64_t b[H_NB];
};

static unsigned hist_index(uint64_t v)
{
	if (v < (1u << (H_SUB + 1)))
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned k = msb - H_SUB + 1;
	return (k << H_SUB) + (unsigned)((v >> (msb - H_SUB)) - (1u << H_SUB));
}

/* Highest value that lands in bucket i. */
static uint64_t hist_top(unsigned i)
{
	unsigned k = i >> H_SUB, r = i & ((1u << H_SUB) - 1);
	if (k <= 1)
		return i;
	return (((uint64_t)(1u << H_SUB) + r + 1) << (k - 1)) - 1;
}

static void hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
	if (h->count == 1 || v < h->min)
		h->min = v;
}

static uint64_t hist_pct(const struct hist *h, double p)
{
	if (!h->count)
		return 0;
	uint64_t want = (uint64_t)(p / 100.0 * (double)h->count + 0.999999);
	if (want < 1)
		want = 1;
	uint64_t acc = 0;
	for (unsigned i = 0; i < H_NB; i++) {
		acc += h->b[i];
		if (acc >= want) {
			uint64_t t = hist_top(i);
			return t > h->max ? h->max : t;
		}
	}
	return h->max;
}

/* ---- configuration --------------------------------------------------------- */
enum proto { P_BULWARK, P_XMPP, P_MQTT };

static struct {
	enum proto proto;
	const char *host, *ca, *users_file, *convs_file, *domain, *muc, *password, *pids_arg;
	int port, tls, n, group_size, small_size, big_senders, conc, connect_rate, per_src, src_base;
	double big_rate, small_rate, warmup_s, duration_s, drain_s, settle_min_s, settle_max_s, hold_s;
	int connect_timeout_s, body_size;
	long max_messages;
	uint64_t seed;
} cfg = {
	.proto = P_BULWARK, .host = "127.0.0.1", .domain = "localhost", .muc = "conference.localhost",
	.password = "bench", .tls = 1, .group_size = 1000, .small_size = 10, .big_senders = 50,
	.conc = 256, .connect_rate = 2000, .per_src = 50, .big_rate = 50, .small_rate = 200,
	.warmup_s = 5, .duration_s = 30, .drain_s = 15, .settle_min_s = 3, .settle_max_s = 60,
	.connect_timeout_s = 240, .body_size = 64, .max_messages = 1000000, .seed = 1,
};

/* ---- connections ------------------------------------------------------------ */
enum cstate { S_IDLE, S_CONNECT, S_TLS, S_PROTO, S_READY, S_DEAD };

/* protocol handshake steps (c->step) */
enum { B_HTTP, B_HELLO, B_RESUMED, B_PONG, B_LIVE };
enum { X_FEAT1, X_AUTH, X_FEAT2, X_BIND, X_JOIN, X_LIVE };
enum { M_CONNACK, M_SUBACK, M_LIVE };

enum fail {
	F_SOCKET, F_CONNECT, F_TLS, F_IO, F_EOF, F_HTTP, F_PROTO, F_AUTH, F_JOIN, F_TOOBIG,
	F_WBUF, F_CLOSED, F_TIMEOUT, F_NFAIL
};
static const char *const fail_names[F_NFAIL] = {
	"socket", "connect", "tls", "io", "closed_in_handshake", "http_status", "protocol", "auth", "join",
	"too_large", "write_backlog", "closed_by_server", "timeout",
};

struct conn {
	int fd;
	uint8_t state, step, joins_left, want_out;
	uint32_t rlen, wlen;
	SSL *ssl;
	uint8_t *rbuf;   /* partial input carried between reads, or NULL */
	uint8_t *wbuf;   /* output the socket did not take yet, or NULL */
};

static struct conn *conns;
static char **tickets;        /* bulwark: one per user */
static int ntickets;
static int64_t *convs;        /* bulwark: conversation id per group */
static int nconvs;
static int nsmall;            /* number of small groups */
static int *group_live;       /* ready members per group */
static int epfd = -1;
static SSL_CTX *ctx;
static uint8_t *scratch;
static volatile sig_atomic_t stop_flag;
static uint8_t ws_salt[8];
static uint64_t rng_state;

/* ---- counters ------------------------------------------------------------- */
struct codecount {
	char code[32];
	long count;
};

static struct {
	int started, inflight, ready, dead, lost_after_ready;
	long fails[F_NFAIL];
	int64_t t_connect_start, t_connect_end;
	uint64_t rx_bytes, tx_bytes, frames_in;
	long sent, skipped_not_ready, acked, nacked;
	long deliveries, self_deliveries, unparsed_deliveries;
	long expected;
	long presence, pings, resume_errors, server_errors, close_frames, ack_unknown;
	struct codecount nack_codes[CL_CODES_MAX], close_codes[CL_CODES_MAX];
	char first_bad_status[64];
} st;

/* One measured step: a big-group rate, its window [t_start, t_end) in
 * CLOCK_MONOTONIC ns, and what happened to the messages sent inside it. */
#define CL_STEPS_MAX 8
struct step {
	double big_rate;
	int64_t t_start, t_end;
	long long cpu0, cpu1;
	double self0, self1;
	long srv_iv0, srv_iv1, self_iv0, self_iv1, rss_end;
	long sent, acked, expected, deliveries;
	struct hist lat_all, lat_big, lat_small, lat_ack, sched_lag, loop_busy;
};
static struct step steps[CL_STEPS_MAX];
static int nsteps;
static char loadavg_start[64];
static char tls_seen[96];     /* protocol and cipher of the first TLS connection */

/* Messages in flight, by slot = seq % 65535 + 1 (also the MQTT packet id:
 * a PUBACK carries nothing else).  The deliveries a message should produce
 * are counted when it is sent (the members connected then), and taken back
 * if it is refused, so an ack lost with its sender's connection does not
 * hide or inflate missing deliveries. */
enum { MSG_FREE, MSG_SENT, MSG_ACKED, MSG_NACKED };
static struct msgrec {
	int64_t t_ns;
	int32_t sender, group, fan;
	uint32_t seq;
	uint8_t state;
} *msgtab;

static unsigned msg_slot(uint32_t seq)
{
	return seq % 65535 + 1;
}


static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rng_next(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void count_code(struct codecount *tab, const char *code, size_t len)
{
	if (len >= sizeof tab[0].code)
		len = sizeof tab[0].code - 1;
	for (int i = 0; i < CL_CODES_MAX; i++) {
		if (!tab[i].code[0]) {
			memcpy(tab[i].code, code, len);
			tab[i].code[len] = 0;
		}
		if (strlen(tab[i].code) == len && memcmp(tab[i].code, code, len) == 0) {
			tab[i].count++;
			return;
		}
	}
}

/* ---- group membership ------------------------------------------------------- */
static int group_user(int g, int k)
{
	return g == 0 ? k : (g - 1) * cfg.small_size + k;
}

/* Groups user i belongs to, written to out[0..]; returns how many (0..2). */
static int user_groups(int i, int out[2])
{
	int n = 0;
	if (i < cfg.group_size)
		out[n++] = 0;
	if (i / cfg.small_size < nsmall)
		out[n++] = 1 + i / cfg.small_size;
	return n;
}

/* ---- /proc sampling ------------------------------------------------------------ */
static int npids;
static int pids[CL_PIDS_MAX];

static long proc_rss_kib(int pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long v = -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "VmRSS:", 6) == 0) {
			v = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* utime + stime of pid in clock ticks, or -1 */
static long long proc_cpu_ticks(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* fields after ")": 3 state ... 14 utime 15 stime */
	unsigned long long ut = 0, stm = 0;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stm) != 2)
		return -1;
	return (long long)(ut + stm);
}

static long servers_rss_kib(void)
{
	long sum = 0;
	for (int i = 0; i < npids; i++) {
		long v = proc_rss_kib(pids[i]);
		if (v < 0)
			return -1;
		sum += v;
	}
	return npids ? sum : -1;
}

static long long servers_cpu_ticks(void)
{
	long long sum = 0;
	for (int i = 0; i < npids; i++) {
		long long v = proc_cpu_ticks(pids[i]);
		if (v < 0)
			return -1;
		sum += v;
	}
	return npids ? sum : -1;
}

/* involuntary context switches of one task (preempted: a sign of a shared core) */
static long task_nivcsw(const char *status_path)
{
	char line[256];
	FILE *f = fopen(status_path, "r");
	if (!f)
		return -1;
	long v = -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "nonvoluntary_ctxt_switches:", 27) == 0) {
			v = strtol(line + 27, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* ... summed over the threads of pid (at most 1,024 of them) */
static long proc_nivcsw(int pid)
{
	char path[96];
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	long sum = 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 1024) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%d/task/%.16s/status", pid, e->d_name);
		long v = task_nivcsw(path);
		if (v > 0)
			sum += v;
		n++;
	}
	closedir(d);
	return sum;
}

static long servers_nivcsw(void)
{
	long sum = 0;
	for (int i = 0; i < npids; i++) {
		long v = proc_nivcsw(pids[i]);
		if (v < 0)
			return -1;
		sum += v;
	}
	return npids ? sum : -1;
}

static double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- connection I/O ---------------------------------------------------------- */
static void conn_arm(int i)
{
	struct conn *c = &conns[i];
	uint32_t ev = c->state == S_CONNECT ? EPOLLOUT
	            : EPOLLIN | (c->wlen || c->want_out ? EPOLLOUT : 0);
	struct epoll_event e = { .events = ev, .data.u32 = (uint32_t)i };
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e);
}

static int user_groups(int i, int out[2]);

static void conn_kill(int i, enum fail why)
{
	struct conn *c = &conns[i];
	if (c->state == S_DEAD || c->state == S_IDLE)
		return;
	if (c->state == S_READY) {
		st.lost_after_ready++;
		st.ready--;
		int gs[2], ng = user_groups(i, gs);
		for (int k = 0; k < ng; k++)
			group_live[gs[k]]--;
	} else
		st.inflight--;
	st.fails[why]++;
	st.dead++;
	c->state = S_DEAD;
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->rbuf);
	free(c->wbuf);
	c->rbuf = c->wbuf = NULL;
	c->rlen = c->wlen = 0;
}

/* > 0 bytes read, 0 would block, -1 closed or failed */
static long io_read(struct conn *c, uint8_t *buf, size_t n)
{
	if (!c->ssl) {
		ssize_t r = read(c->fd, buf, n);
		if (r > 0)
			return r;
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return -1;
	}
	int r = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
	if (r > 0)
		return r;
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		return 0;
	if (e == SSL_ERROR_WANT_WRITE) {
		c->want_out = 1;
		return 0;
	}
	ERR_clear_error();
	return -1;
}

/* > 0 bytes written, 0 would block, -1 failed */
static long io_write(struct conn *c, const uint8_t *buf, size_t n)
{
	if (!c->ssl) {
		ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	}
	int r = SSL_write(c->ssl, buf, (int)n);
	if (r > 0)
		return r;
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
		return 0;
	ERR_clear_error();
	return -1;
}

/* Writes what the socket takes of the pending output; 0 or -1 (killed). */
static int conn_flush(int i)
{
	struct conn *c = &conns[i];
	c->want_out = 0;
	while (c->wlen) {
		long r = io_write(c, c->wbuf, c->wlen);
		if (r < 0) {
			conn_kill(i, F_IO);
			return -1;
		}
		if (r == 0)
			break;
		st.tx_bytes += (uint64_t)r;
		memmove(c->wbuf, c->wbuf + r, c->wlen - (size_t)r);
		c->wlen -= (uint32_t)r;
	}
	if (!c->wlen) {
		free(c->wbuf);
		c->wbuf = NULL;
	}
	conn_arm(i);
	return 0;
}

/* Queues len bytes for connection i and writes what the socket takes now.
 * Returns 0, or -1 when the connection was killed (backlog over CL_WBUF_MAX
 * or a write error). */
static int conn_send(int i, const void *data, size_t len)
{
	struct conn *c = &conns[i];
	if (c->state == S_DEAD || c->fd < 0)
		return -1;
	if (!c->wlen) {
		long r = io_write(c, data, len);
		if (r < 0) {
			conn_kill(i, F_IO);
			return -1;
		}
		st.tx_bytes += (uint64_t)r;
		if ((size_t)r == len)
			return 0;
		data = (const uint8_t *)data + r;
		len -= (size_t)r;
	}
	if (len > CL_WBUF_MAX - c->wlen) {
		conn_kill(i, F_WBUF);
		return -1;
	}
	uint8_t *nb = realloc(c->wbuf, c->wlen + len);
	if (!nb) {
		conn_kill(i, F_WBUF);
		return -1;
	}
	memcpy(nb + c->wlen, data, len);
	c->wbuf = nb;
	c->wlen += (uint32_t)len;
	conn_arm(i);
	return 0;
}

/* ---- message markers ----------------------------------------------------------- */
struct marker {
	int64_t t_ns;
	uint32_t sender, group, seq;
};

static int marker_find(const uint8_t *p, size_t n, struct marker *m)
{
	const uint8_t *s = memmem(p, n, "zqT", 3);
	if (!s)
		return -1;
	const uint8_t *end = p + n;
	s += 3;
	uint64_t v[4] = { 0 };
	for (int k = 0; k < 4; k++) {
		int digits = 0;
		while (s < end && *s >= '0' && *s <= '9' && digits < 20) {
			v[k] = v[k] * 10 + (uint64_t)(*s - '0');
			s++;
			digits++;
		}
		if (!digits || s >= end || *s != (k < 3 ? 'x' : 'q'))
			return -1;
		s++;
	}
	if (v[1] >= (uint64_t)cfg.n || v[2] >= (uint64_t)(nsmall + 1) || v[3] > UINT32_MAX)
		return -1;
	m->t_ns = (int64_t)v[0];
	m->sender = (uint32_t)v[1];
	m->group = (uint32_t)v[2];
	m->seq = (uint32_t)v[3];
	return 0;
}

/* The step whose measured window holds time t, or NULL. */
static struct step *step_at(int64_t t)
{
	for (int k = 0; k < nsteps; k++)
		if (t >= steps[k].t_start && t < steps[k].t_end)
			return &steps[k];
	return NULL;
}

/* The server acknowledged message slot a (sent by connection i). */
static void on_ack(struct msgrec *a, int i, int64_t now)
{
	if (a->state != MSG_SENT || a->sender != i) {
		st.ack_unknown++;
		return;
	}
	a->state = MSG_ACKED;
	st.acked++;
	struct step *w = step_at(a->t_ns);
	if (w) {
		w->acked++;
		hist_add(&w->lat_ack, (uint64_t)(now - a->t_ns) / 1000);
	}
}

/* The server refused message seq (sent by connection i): no deliveries due. */
static void on_nack(uint32_t seq, int i)
{
	struct msgrec *a = &msgtab[msg_slot(seq)];
	st.nacked++;
	if (a->state != MSG_SENT || a->seq != seq || a->sender != i)
		return;
	a->state = MSG_NACKED;
	st.expected -= a->fan;
	struct step *w = step_at(a->t_ns);
	if (w)
		w->expected -= a->fan;
}

/* The ack of a message identified by its marker (Bulwark ack, MUC echo). */
static void on_ack_marker(const struct marker *m, int i, int64_t now)
{
	struct msgrec *a = &msgtab[msg_slot(m->seq)];
	if (a->seq != m->seq || a->t_ns != m->t_ns) {
		st.ack_unknown++;
		return;
	}
	on_ack(a, i, now);
}

static void on_delivery(int i, const uint8_t *p, size_t n, int64_t now)
{
	struct marker m;
	if (marker_find(p, n, &m) != 0) {
		st.unparsed_deliveries++;
		return;
	}
	if ((int)m.sender == i) {
		st.self_deliveries++;
		if (cfg.proto == P_XMPP)   /* MUC reflects the message to its sender */
			on_ack_marker(&m, i, now);
		return;
	}
	st.deliveries++;
	struct step *w = step_at(m.t_ns);
	if (w) {
		uint64_t us = now > m.t_ns ? (uint64_t)(now - m.t_ns) / 1000 : 0;
		w->deliveries++;
		hist_add(&w->lat_all, us);
		hist_add(m.group == 0 ? &w->lat_big : &w->lat_small, us);
	}
}

static void conn_ready(int i)
{
	conns[i].state = S_READY;
	st.inflight--;
	st.ready++;
	int gs[2], ng = user_groups(i, gs);
	for (int k = 0; k < ng; k++)
		group_live[gs[k]]++;
}

/* ---- Bulwark: WebSocket + JSON ------------------------------------------------ */

/* Scans the top level of the JSON object in p[0..n) for string members
 * "type", "kind", "code" and "cid"; stops once it has them all or the end.
 * Values are pointers into p (not unescaped: ours are plain ASCII). */
struct jtop {
	const uint8_t *type, *kind, *code, *cid;
	size_t type_len, kind_len, code_len, cid_len;
};

static const uint8_t *json_skip_string(const uint8_t *s, const uint8_t *end)
{
	/* s points after the opening quote; returns the position after the closing one */
	while (s < end) {
		if (*s == '\\')
			s += 2;
		else if (*s == '"')
			return s + 1;
		else
			s++;
	}
	return NULL;
}

static int json_top(const uint8_t *p, size_t n, struct jtop *out)
{
	memset(out, 0, sizeof *out);
	const uint8_t *s = p, *end = p + n;
	while (s < end && *s != '{')
		s++;
	if (s >= end)
		return -1;
	s++;
	int depth = 1;
	bool want_key = true;
	while (s < end && depth > 0) {
		uint8_t ch = *s;
		if (ch == '"') {
			const uint8_t *k = s + 1, *e = json_skip_string(k, end);
			if (!e)
				return -1;
			if (depth == 1 && want_key) {
				size_t klen = (size_t)(e - 1 - k);
				const uint8_t *v = e;
				while (v < end && (*v == ' ' || *v == ':' || *v == '\t' || *v == '\n' || *v == '\r'))
					v++;
				if (v < end && *v == '"') {
					const uint8_t *ve = json_skip_string(v + 1, end);
					if (!ve)
						return -1;
					size_t vlen = (size_t)(ve - 1 - (v + 1));
					if (klen == 4 && memcmp(k, "type", 4) == 0)
						out->type = v + 1, out->type_len = vlen;
					else if (klen == 4 && memcmp(k, "kind", 4) == 0)
						out->kind = v + 1, out->kind_len = vlen;
					else if (klen == 4 && memcmp(k, "code", 4) == 0)
						out->code = v + 1, out->code_len = vlen;
					else if (klen == 3 && memcmp(k, "cid", 3) == 0)
						out->cid = v + 1, out->cid_len = vlen;
					if (out->type && out->kind && out->code && out->cid)
						return 0;
					s = ve;
					want_key = false;
					continue;
				}
				s = v;
				want_key = false;
				continue;
			}
			s = e;
			continue;
		}
		if (ch == '{' || ch == '[')
			depth++;
		else if (ch == '}' || ch == ']')
			depth--;
		else if (ch == ',' && depth == 1)
			want_key = true;
		s++;
	}
	return out->type ? 0 : -1;
}

static bool jeq(const uint8_t *v, size_t len, const char *lit)
{
	size_t l = strlen(lit);
	return v && len == l && memcmp(v, lit, l) == 0;
}

/* Sends one masked text frame (RFC 6455 5.3: client frames are masked). */
static int ws_send_text(int i, const char *text, size_t len)
{
	uint8_t frame[16 + CL_BODY_MAX + 512];
	if (len > sizeof frame - 16)
		return -1;
	size_t h = 0;
	frame[h++] = 0x81;
	if (len < 126) {
		frame[h++] = (uint8_t)(0x80 | len);
	} else {
		frame[h++] = 0x80 | 126;
		frame[h++] = (uint8_t)(len >> 8);
		frame[h++] = (uint8_t)len;
	}
	uint32_t mask = (uint32_t)rng_next();
	uint8_t mk[4] = { (uint8_t)mask, (uint8_t)(mask >> 8), (uint8_t)(mask >> 16), (uint8_t)(mask >> 24) };
	memcpy(frame + h, mk, 4);
	h += 4;
	for (size_t k = 0; k < len; k++)
		frame[h + k] = (uint8_t)text[k] ^ mk[k & 3];
	return conn_send(i, frame, h + len);
}

static int ws_send_control(int i, uint8_t op, const uint8_t *payload, size_t len)
{
	uint8_t frame[6 + 125];
	if (len > 125)
		len = 125;
	frame[0] = (uint8_t)(0x80 | op);
	frame[1] = (uint8_t)(0x80 | len);
	uint32_t mask = (uint32_t)rng_next();
	memcpy(frame + 2, &mask, 4);
	for (size_t k = 0; k < len; k++)
		frame[6 + k] = payload[k] ^ frame[2 + (k & 3)];
	return conn_send(i, frame, 6 + len);
}

/* Sec-WebSocket-Key of connection i: derived from the run's salt and i, so
 * nothing per connection is stored while the handshake is in flight. */
static void ws_key(int i, char key[32])
{
	uint8_t raw[16];
	memcpy(raw, ws_salt, 8);
	uint32_t u = (uint32_t)i;
	memcpy(raw + 8, &u, 4);
	memcpy(raw + 12, "bwcl", 4);
	EVP_EncodeBlock((unsigned char *)key, raw, 16);
}

static void ws_accept_for(const char *key, char out[32])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	char cat[96];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int n = snprintf(cat, sizeof cat, "%s%s", key, guid);
	EVP_Digest(cat, (size_t)n, md, &mdlen, EVP_sha1(), NULL);
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
}

static void bw_start(int i)
{
	char key[32], req[CL_HTTP_MAX];
	ws_key(i, key);
	int n = snprintf(req, sizeof req,
	                 "GET /api/v1/events HTTP/1.1\r\nHost: %s:%d\r\n"
	                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
	                 "Authorization: Bearer %s\r\nUser-Agent: bulwark-chatload\r\n\r\n",
	                 cfg.host, cfg.port, key, tickets[i % ntickets]);
	if (n <= 0 || n >= (int)sizeof req) {
		conn_kill(i, F_PROTO);
		return;
	}
	conns[i].step = B_HTTP;
	conn_send(i, req, (size_t)n);
}

static void bw_text(int i, const uint8_t *p, size_t n, int64_t now)
{
	struct conn *c = &conns[i];
	struct jtop j;
	st.frames_in++;
	if (json_top(p, n, &j) != 0) {
		st.server_errors++;
		return;
	}
	if (jeq(j.type, j.type_len, "event")) {
		if (jeq(j.kind, j.kind_len, "message"))
			on_delivery(i, p, n, now);
		return;
	}
	if (jeq(j.type, j.type_len, "ack")) {
		struct marker m;
		if (marker_find(p, n, &m) == 0)
			on_ack_marker(&m, i, now);
		else
			st.ack_unknown++;
		return;
	}
	if (jeq(j.type, j.type_len, "nack")) {
		count_code(st.nack_codes, j.code ? (const char *)j.code : "?", j.code ? j.code_len : 1);
		/* our cids are "c<seq>" */
		uint32_t seq = 0;
		if (j.cid && j.cid_len > 1 && j.cid_len < 12 && j.cid[0] == 'c') {
			for (size_t k = 1; k < j.cid_len && j.cid[k] >= '0' && j.cid[k] <= '9'; k++)
				seq = seq * 10 + (uint32_t)(j.cid[k] - '0');
			on_nack(seq, i);
		} else {
			st.nacked++;
		}
		return;
	}
	if (jeq(j.type, j.type_len, "presence") || jeq(j.type, j.type_len, "typing") ||
	    jeq(j.type, j.type_len, "receipt")) {
		st.presence++;
		return;
	}
	if (jeq(j.type, j.type_len, "ping")) {
		st.pings++;
		ws_send_text(i, "{\"type\":\"pong\"}", 15);
		return;
	}
	switch (c->step) {
	case B_HELLO:
		if (jeq(j.type, j.type_len, "hello")) {
			c->step = B_RESUMED;
			ws_send_text(i, "{\"type\":\"resume\"}", 17);
			return;
		}
		break;
	case B_RESUMED:
		if (jeq(j.type, j.type_len, "resumed") || jeq(j.type, j.type_len, "error")) {
			/* a server without chat answers resume with invalid_request */
			if (jeq(j.type, j.type_len, "error"))
				st.resume_errors++;
			c->step = B_PONG;
			ws_send_text(i, "{\"type\":\"ping\"}", 15);
			return;
		}
		if (jeq(j.type, j.type_len, "event"))
			return;   /* backlog (none expected with a bare resume) */
		break;
	case B_PONG:
		if (jeq(j.type, j.type_len, "pong")) {
			c->step = B_LIVE;
			conn_ready(i);
			return;
		}
		break;
	default:
		if (jeq(j.type, j.type_len, "pong") || jeq(j.type, j.type_len, "resumed"))
			return;
		break;
	}
	if (jeq(j.type, j.type_len, "error"))
		count_code(st.nack_codes, "error", 5);
	st.server_errors++;
}

/* Checks the 101 response; returns header length consumed, 0 for more, -1 killed. */
static long bw_http(int i, const uint8_t *p, size_t n)
{
	const uint8_t *e = memmem(p, n, "\r\n\r\n", 4);
	if (!e) {
		if (n >= CL_HTTP_MAX) {
			conn_kill(i, F_HTTP);
			return -1;
		}
		return 0;
	}
	size_t hl = (size_t)(e - p) + 4;
	char hdr[CL_HTTP_MAX];
	if (hl >= sizeof hdr) {
		conn_kill(i, F_HTTP);
		return -1;
	}
	memcpy(hdr, p, hl);
	hdr[hl] = 0;
	if (strncmp(hdr, "HTTP/1.1 101", 12) != 0) {
		if (!st.first_bad_status[0])
			snprintf(st.first_bad_status, sizeof st.first_bad_status, "%.*s",
			         (int)strcspn(hdr, "\r\n"), hdr);
		conn_kill(i, F_HTTP);
		return -1;
	}
	char key[32], acc[32];
	ws_key(i, key);
	ws_accept_for(key, acc);
	const char *a = strcasestr(hdr, "\r\nSec-WebSocket-Accept:");
	if (!a) {
		conn_kill(i, F_HTTP);
		return -1;
	}
	a += 23;
	while (*a == ' ')
		a++;
	if (strncmp(a, acc, strlen(acc)) != 0) {
		conn_kill(i, F_HTTP);
		return -1;
	}
	conns[i].step = B_HELLO;
	return (long)hl;
}

/* Parses WebSocket frames; returns bytes consumed or -1 when killed. */
static long bw_parse(int i, const uint8_t *p, size_t n, int64_t now)
{
	size_t off = 0;
	if (conns[i].step == B_HTTP) {
		long h = bw_http(i, p, n);
		if (h <= 0)
			return h;
		off = (size_t)h;
	}
	while (off + 2 <= n) {
		const uint8_t *f = p + off;
		size_t avail = n - off, hl = 2;
		uint8_t op = f[0] & 0x0f;
		bool fin = f[0] & 0x80;
		if (f[1] & 0x80) {   /* servers never mask */
			conn_kill(i, F_PROTO);
			return -1;
		}
		uint64_t pl = f[1] & 0x7f;
		if (pl == 126) {
			if (avail < 4)
				break;
			pl = (uint64_t)f[2] << 8 | f[3];
			hl = 4;
		} else if (pl == 127) {
			if (avail < 10)
				break;
			pl = 0;
			for (int k = 0; k < 8; k++)
				pl = pl << 8 | f[2 + k];
			hl = 10;
		}
		if (pl > CL_FRAME_MAX) {
			conn_kill(i, F_TOOBIG);
			return -1;
		}
		if (avail < hl + pl)
			break;
		const uint8_t *pay = f + hl;
		off += hl + (size_t)pl;
		if (!fin || op == 0) {
			/* the server writes each message as one frame; fragments are a
			 * protocol change this generator would have to learn */
			conn_kill(i, F_PROTO);
			return -1;
		}
		if (op == 1) {
			bw_text(i, pay, (size_t)pl, now);
		} else if (op == 8) {
			st.close_frames++;
			char code[16] = "none";
			if (pl >= 2)
				snprintf(code, sizeof code, "%u", (unsigned)(pay[0] << 8 | pay[1]));
			count_code(st.close_codes, code, strlen(code));
			conn_kill(i, F_CLOSED);
			return -1;
		} else if (op == 9) {
			ws_send_control(i, 0xA, pay, (size_t)pl);
		}
		if (conns[i].state == S_DEAD)
			return -1;
	}
	return (long)off;
}

/* ---- XMPP ------------------------------------------------------------------- */
static void xmpp_open_stream(int i)
{
	char s[512];
	int n = snprintf(s, sizeof s,
	                 "<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
	                 "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>", cfg.domain);
	conn_send(i, s, (size_t)n);
}

static void xmpp_start(int i)
{
	conns[i].step = X_FEAT1;
	conns[i].joins_left = 0;
	xmpp_open_stream(i);
}

static void xmpp_username(int i, char out[16])
{
	snprintf(out, 16, "u%05d", i + 1);
}

/* Length of the complete element (or stream header) at p, 0 when incomplete,
 * -1 on a malformed stream.  *hdr is set when it was the stream header. */
static long xml_element(const uint8_t *p, size_t n, bool *hdr)
{
	size_t k = 0;
	int depth = 0;
	*hdr = false;
	while (k < n) {
		if (p[k] != '<') {
			k++;
			continue;
		}
		if (k + 1 >= n)
			return 0;
		uint8_t c1 = p[k + 1];
		/* find the end of this tag, honouring quoted attribute values */
		size_t e = k + 1;
		uint8_t q = 0;
		while (e < n) {
			if (q) {
				if (p[e] == q)
					q = 0;
			} else if (p[e] == '\'' || p[e] == '"') {
				q = p[e];
			} else if (p[e] == '>') {
				break;
			}
			e++;
		}
		if (e >= n)
			return 0;
		if (c1 == '?' || c1 == '!') {
			if (depth == 0) {
				/* prolog: consume it as its own "element" of no interest */
				return (long)(e + 1);
			}
		} else if (c1 == '/') {
			depth--;
			if (depth < 0) {
				/* </stream:stream> */
				return -1;
			}
			if (depth == 0)
				return (long)(e + 1);
		} else if (p[e - 1] == '/') {
			if (depth == 0)
				return (long)(e + 1);
		} else {
			if (depth == 0 && e - k >= 14 && memcmp(p + k, "<stream:stream", 14) == 0) {
				*hdr = true;
				return (long)(e + 1);
			}
			depth++;
		}
		k = e + 1;
	}
	return 0;
}

static bool starts(const uint8_t *p, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n >= l && memcmp(p, lit, l) == 0;
}

static void xmpp_join(int i)
{
	int gs[2], ng = user_groups(i, gs);
	char user[16], s[512];
	xmpp_username(i, user);
	conns[i].joins_left = (uint8_t)ng;
	for (int k = 0; k < ng; k++) {
		int n = snprintf(s, sizeof s,
		                 "<presence to='g%d@%s/%s'><x xmlns='http://jabber.org/protocol/muc'>"
		                 "<history maxstanzas='0'/></x></presence>", gs[k], cfg.muc, user);
		if (conn_send(i, s, (size_t)n) != 0)
			return;
	}
	conns[i].step = X_JOIN;
	if (!ng)
		conn_ready(i);
}

static void xmpp_stanza(int i, const uint8_t *p, size_t n, int64_t now)
{
	struct conn *c = &conns[i];
	st.frames_in++;
	if (starts(p, n, "<message")) {
		if (memmem(p, n, "type='error'", 12) || memmem(p, n, "type=\"error\"", 12)) {
			count_code(st.nack_codes, "message_error", 13);
			const uint8_t *id = memmem(p, n, "id='m", 5);
			uint32_t seq = 0;
			if (id) {
				for (id += 5; id < p + n && *id >= '0' && *id <= '9'; id++)
					seq = seq * 10 + (uint32_t)(*id - '0');
				on_nack(seq, i);
			} else {
				st.nacked++;
			}
			return;
		}
		if (memmem(p, n, "<body", 5))
			on_delivery(i, p, n, now);
		else
			st.presence++;   /* the room subject sent after a join, chat states */
		return;
	}
	if (starts(p, n, "<presence")) {
		if (c->step == X_JOIN) {
			if (memmem(p, n, "type='error'", 12) || memmem(p, n, "type=\"error\"", 12)) {
				conn_kill(i, F_JOIN);
				return;
			}
			if (memmem(p, n, "code='110'", 10) || memmem(p, n, "code=\"110\"", 10)) {
				if (c->joins_left && --c->joins_left == 0) {
					c->step = X_LIVE;
					conn_ready(i);
				}
				return;
			}
		}
		st.presence++;
		return;
	}
	if (starts(p, n, "<stream:error")) {
		count_code(st.close_codes, "stream_error", 12);
		conn_kill(i, F_CLOSED);
		return;
	}
	switch (c->step) {
	case X_FEAT1:
		if (starts(p, n, "<stream:features")) {
			char user[16], plain[64], b64[100], s[256];
			xmpp_username(i, user);
			int pl = snprintf(plain, sizeof plain, "%c%s%c%s", 0, user, 0, cfg.password);
			EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)plain, pl);
			int sn = snprintf(s, sizeof s,
			                  "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>", b64);
			c->step = X_AUTH;
			conn_send(i, s, (size_t)sn);
			return;
		}
		break;
	case X_AUTH:
		if (starts(p, n, "<success")) {
			c->step = X_FEAT2;
			xmpp_open_stream(i);
			return;
		}
		if (starts(p, n, "<failure")) {
			conn_kill(i, F_AUTH);
			return;
		}
		break;
	case X_FEAT2:
		if (starts(p, n, "<stream:features")) {
			static const char bind[] =
				"<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
				"<resource>bench</resource></bind></iq>";
			c->step = X_BIND;
			conn_send(i, bind, sizeof bind - 1);
			return;
		}
		break;
	case X_BIND:
		if (starts(p, n, "<iq")) {
			if (memmem(p, n, "type='result'", 13) || memmem(p, n, "type=\"result\"", 13)) {
				xmpp_join(i);
				return;
			}
			conn_kill(i, F_AUTH);
			return;
		}
		break;
	default:
		break;
	}
	if (starts(p, n, "<iq") && (memmem(p, n, "type='get'", 10) || memmem(p, n, "type=\"get\"", 10))) {
		st.pings++;   /* answer server iq (XEP-0199 ping) with an empty result */
		const uint8_t *id = memmem(p, n, "id='", 4);
		const uint8_t *fr = memmem(p, n, "from='", 6);
		if (id && fr) {
			const uint8_t *ie = memchr(id + 4, '\'', n - (size_t)(id + 4 - p));
			const uint8_t *fe = memchr(fr + 6, '\'', n - (size_t)(fr + 6 - p));
			if (ie && fe && ie - id < 100 && fe - fr < 200) {
				char s[400];
				int sn = snprintf(s, sizeof s, "<iq type='result' id='%.*s' to='%.*s'/>",
				                  (int)(ie - id - 4), id + 4, (int)(fe - fr - 6), fr + 6);
				conn_send(i, s, (size_t)sn);
			}
		}
		return;
	}
	st.server_errors++;
}

static long xmpp_parse(int i, const uint8_t *p, size_t n, int64_t now)
{
	size_t off = 0;
	while (off < n) {
		while (off < n && (p[off] == ' ' || p[off] == '\n' || p[off] == '\r' || p[off] == '\t'))
			off++;
		if (off >= n)
			break;
		bool hdr;
		long len = xml_element(p + off, n - off, &hdr);
		if (len < 0) {
			conn_kill(i, F_CLOSED);
			return -1;
		}
		if (len == 0) {
			if (n - off > CL_FRAME_MAX) {
				conn_kill(i, F_TOOBIG);
				return -1;
			}
			break;
		}
		if (!hdr && p[off] == '<' && p[off + 1] != '?')
			xmpp_stanza(i, p + off, (size_t)len, now);
		off += (size_t)len;
		if (conns[i].state == S_DEAD)
			return -1;
	}
	return (long)off;
}

/* ---- MQTT 3.1.1 ---------------------------------------------------------------- */
static size_t mqtt_varlen(uint8_t *out, size_t v)
{
	size_t k = 0;
	do {
		uint8_t b = v % 128;
		v /= 128;
		out[k++] = (uint8_t)(b | (v ? 0x80 : 0));
	} while (v && k < 4);
	return k;
}

static void mqtt_start(int i)
{
	char id[16];
	xmpp_username(i, id);
	size_t idl = strlen(id);
	uint8_t body[64], pkt[80];
	size_t b = 0;
	memcpy(body, "\x00\x04MQTT\x04\x02\x00\x00", 10);   /* level 4, clean session, keep-alive off */
	b = 10;
	body[b++] = (uint8_t)(idl >> 8);
	body[b++] = (uint8_t)idl;
	memcpy(body + b, id, idl);
	b += idl;
	size_t k = 0;
	pkt[k++] = 0x10;
	k += mqtt_varlen(pkt + k, b);
	memcpy(pkt + k, body, b);
	conns[i].step = M_CONNACK;
	conn_send(i, pkt, k + b);
}

static void mqtt_subscribe(int i)
{
	int gs[2], ng = user_groups(i, gs);
	if (!ng) {
		conns[i].step = M_LIVE;
		conn_ready(i);
		return;
	}
	uint8_t body[128], pkt[140];
	size_t b = 0;
	body[b++] = 0;
	body[b++] = 1;   /* packet id 1 */
	for (int k = 0; k < ng; k++) {
		char t[32];
		int tl = snprintf(t, sizeof t, "g/%d", gs[k]);
		body[b++] = 0;
		body[b++] = (uint8_t)tl;
		memcpy(body + b, t, (size_t)tl);
		b += (size_t)tl;
		body[b++] = 0;   /* QoS 0 deliveries */
	}
	size_t k = 0;
	pkt[k++] = 0x82;
	k += mqtt_varlen(pkt + k, b);
	memcpy(pkt + k, body, b);
	conns[i].step = M_SUBACK;
	conn_send(i, pkt, k + b);
}

static void mqtt_packet(int i, uint8_t type, const uint8_t *v, size_t n, int64_t now)
{
	struct conn *c = &conns[i];
	st.frames_in++;
	switch (type >> 4) {
	case 2:   /* CONNACK */
		if (c->step != M_CONNACK || n < 2 || v[1] != 0) {
			conn_kill(i, F_AUTH);
			return;
		}
		mqtt_subscribe(i);
		return;
	case 9:   /* SUBACK */
		if (c->step != M_SUBACK || n < 3) {
			conn_kill(i, F_PROTO);
			return;
		}
		for (size_t k = 2; k < n; k++)
			if (v[k] & 0x80) {
				conn_kill(i, F_JOIN);
				return;
			}
		c->step = M_LIVE;
		conn_ready(i);
		return;
	case 3: { /* PUBLISH */
		if (n < 2)
			break;
		size_t tl = (size_t)v[0] << 8 | v[1], off = 2 + tl;
		unsigned qos = (type >> 1) & 3;
		if (qos)
			off += 2;
		if (off > n)
			break;
		if (qos == 1) {
			uint8_t ack[4] = { 0x40, 2, v[2 + tl], v[3 + tl] };
			conn_send(i, ack, 4);
		}
		on_delivery(i, v + off, n - off, now);
		return;
	}
	case 4: { /* PUBACK */
		if (n < 2)
			break;
		unsigned pid = (unsigned)v[0] << 8 | v[1];
		on_ack(&msgtab[pid], i, now);
		return;
	}
	case 13:  /* PINGRESP */
		return;
	default:
		break;
	}
	st.server_errors++;
}

static long mqtt_parse(int i, const uint8_t *p, size_t n, int64_t now)
{
	size_t off = 0;
	while (off + 2 <= n) {
		size_t len = 0, k = 1;
		int shift = 0;
		bool done = false;
		while (off + k < n && k <= 4) {
			uint8_t b = p[off + k++];
			len |= (size_t)(b & 0x7f) << shift;
			shift += 7;
			if (!(b & 0x80)) {
				done = true;
				break;
			}
		}
		if (!done) {
			if (k > 4) {
				conn_kill(i, F_PROTO);
				return -1;
			}
			break;
		}
		if (len > CL_FRAME_MAX) {
			conn_kill(i, F_TOOBIG);
			return -1;
		}
		if (n - off - k < len)
			break;
		mqtt_packet(i, p[off], p + off + k, len, now);
		off += k + len;
		if (conns[i].state == S_DEAD)
			return -1;
	}
	return (long)off;
}

/* ---- connection state machine ----------------------------------------------- */
static void proto_start(int i)
{
	conns[i].state = S_PROTO;
	switch (cfg.proto) {
	case P_BULWARK: bw_start(i); break;
	case P_XMPP: xmpp_start(i); break;
	case P_MQTT: mqtt_start(i); break;
	}
	if (conns[i].state != S_DEAD)
		conn_arm(i);
}

static long proto_parse(int i, const uint8_t *p, size_t n, int64_t now)
{
	switch (cfg.proto) {
	case P_BULWARK: return bw_parse(i, p, n, now);
	case P_XMPP: return xmpp_parse(i, p, n, now);
	case P_MQTT: return mqtt_parse(i, p, n, now);
	}
	return -1;
}

static int conn_start(int i)
{
	struct conn *c = &conns[i];
	st.started++;
	st.inflight++;
	c->state = S_CONNECT;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		conn_kill(i, F_SOCKET);
		return -1;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	/* servers throttle per client address: spread over 127.1.x.y */
	int src = cfg.src_base + i / cfg.per_src;   /* < CL_SRC_MAX, checked in parse_args */
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl((127u << 24) | (1u << 16) | ((unsigned)(src / 250) << 8) |
	                           (unsigned)(src % 250 + 1));
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		conn_kill(i, F_SOCKET);
		return -1;
	}
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port) };
	inet_pton(AF_INET, cfg.host, &dst.sin_addr);
	int r = connect(c->fd, (struct sockaddr *)&dst, sizeof dst);
	if (r != 0 && errno != EINPROGRESS) {
		conn_kill(i, F_CONNECT);
		return -1;
	}
	struct epoll_event e = { .events = EPOLLOUT, .data.u32 = (uint32_t)i };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &e) != 0) {
		conn_kill(i, F_SOCKET);
		return -1;
	}
	return r == 0 ? 1 : 0;   /* 1: connected at once */
}

static void conn_readable(int i, int64_t now)
{
	struct conn *c = &conns[i];
	size_t have = 0;
	if (c->rlen) {
		memcpy(scratch, c->rbuf, c->rlen);
		have = c->rlen;
		free(c->rbuf);
		c->rbuf = NULL;
		c->rlen = 0;
	}
	for (int pass = 0; pass < 64; pass++) {
		if (have == CL_SCRATCH_MAX) {
			conn_kill(i, F_TOOBIG);
			return;
		}
		long r = io_read(c, scratch + have, CL_SCRATCH_MAX - have);
		if (r < 0) {
			conn_kill(i, c->state == S_PROTO ? F_EOF : F_CLOSED);
			return;
		}
		if (r == 0)
			break;
		st.rx_bytes += (uint64_t)r;
		have += (size_t)r;
		long used = proto_parse(i, scratch, have, now);
		if (used < 0 || c->state == S_DEAD)
			return;
		memmove(scratch, scratch + used, have - (size_t)used);
		have -= (size_t)used;
	}
	if (have) {
		if (have > CL_RBUF_MAX) {
			conn_kill(i, F_TOOBIG);
			return;
		}
		c->rbuf = malloc(have);
		if (!c->rbuf) {
			conn_kill(i, F_IO);
			return;
		}
		memcpy(c->rbuf, scratch, have);
		c->rlen = (uint32_t)have;
	}
	if (c->want_out)
		conn_arm(i);
}

static void conn_event(int i, uint32_t ev, int64_t now)
{
	struct conn *c = &conns[i];
	switch (c->state) {
	case S_CONNECT: {
		int err = 0;
		socklen_t el = sizeof err;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
			conn_kill(i, F_CONNECT);
			return;
		}
		if (!cfg.tls) {
			proto_start(i);
			return;
		}
		c->ssl = SSL_new(ctx);
		if (!c->ssl || !SSL_set_fd(c->ssl, c->fd) ||
		    !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), cfg.host)) {
			conn_kill(i, F_TLS);
			return;
		}
		SSL_set_connect_state(c->ssl);
		c->state = S_TLS;
		__attribute__((fallthrough));
	}
	case S_TLS: {
		int r = SSL_do_handshake(c->ssl);
		if (r != 1) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				struct epoll_event ee = { .events = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT,
				                          .data.u32 = (uint32_t)i };
				epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ee);
				return;
			}
			ERR_clear_error();
			conn_kill(i, F_TLS);
			return;
		}
		if (!tls_seen[0])
			snprintf(tls_seen, sizeof tls_seen, "%s %s", SSL_get_version(c->ssl),
			         SSL_CIPHER_get_name(SSL_get_current_cipher(c->ssl)));
		proto_start(i);
		if (c->state == S_DEAD)
			return;
		conn_readable(i, now);   /* TLS may already hold application data */
		return;
	}
	case S_PROTO:
	case S_READY:
		if (ev & (EPOLLOUT)) {
			if (conn_flush(i) != 0)
				return;
		}
		if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
			conn_readable(i, now);
		return;
	default:
		return;
	}
}

/* ---- sending ------------------------------------------------------------------ */
static uint32_t next_seq;

static void send_message(int sender, int g, int64_t now)
{
	struct conn *c = &conns[sender];
	if (c->state != S_READY) {
		st.skipped_not_ready++;
		return;
	}
	uint32_t seq = next_seq++;
	struct msgrec *a = &msgtab[msg_slot(seq)];
	if (a->state == MSG_SENT)
		st.ack_unknown++;   /* 65,535 messages unacknowledged: the old one is forgotten */
	*a = (struct msgrec){ .t_ns = now, .sender = sender, .group = g, .fan = group_live[g] - 1,
	                      .seq = seq, .state = MSG_SENT };
	char body[CL_BODY_MAX + 1];
	int bl = snprintf(body, sizeof body, "zqT%" PRId64 "x%dx%dx%" PRIu32 "q", now, sender, g, seq);
	for (; bl < cfg.body_size && bl < CL_BODY_MAX; bl++)
		body[bl] = (char)('a' + bl % 26);
	body[bl] = 0;
	char msg[CL_BODY_MAX + 512];
	int ml = 0;
	switch (cfg.proto) {
	case P_BULWARK:
		ml = snprintf(msg, sizeof msg, "{\"type\":\"send\",\"conv\":%" PRId64 ",\"cid\":\"c%" PRIu32
		              "\",\"body\":\"%s\"}", convs[g], seq, body);
		if (ws_send_text(sender, msg, (size_t)ml) != 0) {
			a->state = MSG_FREE;
			return;
		}
		break;
	case P_XMPP:
		ml = snprintf(msg, sizeof msg, "<message to='g%d@%s' type='groupchat' id='m%" PRIu32
		              "'><body>%s</body></message>", g, cfg.muc, seq, body);
		if (conn_send(sender, msg, (size_t)ml) != 0) {
			a->state = MSG_FREE;
			return;
		}
		break;
	case P_MQTT: {
		unsigned pid = msg_slot(seq);
		char t[24];
		int tl = snprintf(t, sizeof t, "g/%d", g);
		size_t rem = 2 + (size_t)tl + 2 + (size_t)bl;
		uint8_t *q = (uint8_t *)msg;
		size_t k = 0;
		q[k++] = 0x32;   /* PUBLISH, QoS 1 */
		k += mqtt_varlen(q + k, rem);
		q[k++] = 0;
		q[k++] = (uint8_t)tl;
		memcpy(q + k, t, (size_t)tl);
		k += (size_t)tl;
		q[k++] = (uint8_t)(pid >> 8);
		q[k++] = (uint8_t)pid;
		memcpy(q + k, body, (size_t)bl);
		k += (size_t)bl;
		if (conn_send(sender, q, k) != 0) {
			a->state = MSG_FREE;
			return;
		}
		break;
	}
	}
	st.sent++;
	st.expected += a->fan;
	struct step *w = step_at(now);
	if (w) {
		w->sent++;
		w->expected += a->fan;
	}
}

/* ---- arguments ------------------------------------------------------------------ */
static void usage(void)
{
	fputs("usage: chatload --proto bulwark|xmpp|mqtt --port P [options]\n"
	      "  --host 127.0.0.1 --tls 1|0 --ca CERT.pem\n"
	      "  --n N (<= 19000)  --group-size 1000  --small-size 10\n"
	      "  --big-senders 50  --big-rate 50  --small-rate 200   (msgs/s, total)\n"
	      "    --big-rate 10,50: one measured step per rate (warm-up, window, drain each)\n"
	      "  --warmup 5  --duration 30  --drain 15  --max-messages 1000000  --body-size 64\n"
	      "  --conc 256  --connect-rate 2000  --per-src 50  --src-base 0  --connect-timeout 240\n"
	      "    (client i binds source address number src-base + i / per-src of 127.1.x.y)\n"
	      "  --settle-min 3  --settle-max 60  --server-pid PID[,PID...]  --seed 1\n"
	      "  --hold S   without traffic: keep the idle clients S seconds (answering pings)\n"
	      "  bulwark: --users FILE (user_id<TAB>username<TAB>ticket)  --convs FILE (one id a line)\n"
	      "  xmpp:    --domain localhost  --muc conference.localhost  --password bench\n", stderr);
}

static int parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v || strncmp(a, "--", 2) != 0)
			return -1;
		i++;
		if (!strcmp(a, "--proto")) {
			if (!strcmp(v, "bulwark")) cfg.proto = P_BULWARK;
			else if (!strcmp(v, "xmpp")) cfg.proto = P_XMPP;
			else if (!strcmp(v, "mqtt")) cfg.proto = P_MQTT;
			else return -1;
		}
		else if (!strcmp(a, "--host")) cfg.host = v;
		else if (!strcmp(a, "--port")) cfg.port = atoi(v);
		else if (!strcmp(a, "--tls")) cfg.tls = atoi(v);
		else if (!strcmp(a, "--ca")) cfg.ca = v;
		else if (!strcmp(a, "--users")) cfg.users_file = v;
		else if (!strcmp(a, "--convs")) cfg.convs_file = v;
		else if (!strcmp(a, "--domain")) cfg.domain = v;
		else if (!strcmp(a, "--muc")) cfg.muc = v;
		else if (!strcmp(a, "--password")) cfg.password = v;
		else if (!strcmp(a, "--n")) cfg.n = atoi(v);
		else if (!strcmp(a, "--group-size")) cfg.group_size = atoi(v);
		else if (!strcmp(a, "--small-size")) cfg.small_size = atoi(v);
		else if (!strcmp(a, "--big-senders")) cfg.big_senders = atoi(v);
		else if (!strcmp(a, "--big-rate")) {
			/* one rate, or a comma list: one measured step each, same clients */
			const char *q = v;
			nsteps = 0;
			cfg.big_rate = 0;
			while (*q) {
				char *e;
				double r = strtod(q, &e);
				if (e == q || nsteps == CL_STEPS_MAX || r < 0 || r > 100000)
					return -1;
				steps[nsteps++].big_rate = r;
				if (r > cfg.big_rate)
					cfg.big_rate = r;
				if (*e && *e != ',')
					return -1;
				q = *e ? e + 1 : e;
			}
			if (!nsteps)
				return -1;
		}
		else if (!strcmp(a, "--small-rate")) cfg.small_rate = atof(v);
		else if (!strcmp(a, "--warmup")) cfg.warmup_s = atof(v);
		else if (!strcmp(a, "--duration")) cfg.duration_s = atof(v);
		else if (!strcmp(a, "--drain")) cfg.drain_s = atof(v);
		else if (!strcmp(a, "--max-messages")) cfg.max_messages = atol(v);
		else if (!strcmp(a, "--body-size")) cfg.body_size = atoi(v);
		else if (!strcmp(a, "--conc")) cfg.conc = atoi(v);
		else if (!strcmp(a, "--connect-rate")) cfg.connect_rate = atoi(v);
		else if (!strcmp(a, "--per-src")) cfg.per_src = atoi(v);
		else if (!strcmp(a, "--src-base")) cfg.src_base = atoi(v);
		else if (!strcmp(a, "--connect-timeout")) cfg.connect_timeout_s = atoi(v);
		else if (!strcmp(a, "--settle-min")) cfg.settle_min_s = atof(v);
		else if (!strcmp(a, "--settle-max")) cfg.settle_max_s = atof(v);
		else if (!strcmp(a, "--hold")) cfg.hold_s = atof(v);
		else if (!strcmp(a, "--server-pid")) cfg.pids_arg = v;
		else if (!strcmp(a, "--seed")) cfg.seed = strtoull(v, NULL, 10);
		else return -1;
	}
	if (!nsteps) {
		nsteps = 1;
		steps[0].big_rate = cfg.big_rate;
	}
	struct in_addr ia;
	if (cfg.port <= 0 || cfg.port > 65535 || cfg.n <= 0 || cfg.n > CL_N_MAX ||
	    inet_pton(AF_INET, cfg.host, &ia) != 1 || (ntohl(ia.s_addr) >> 24) != 127) {
		fprintf(stderr, "chatload: need --port, 1 <= --n <= %d and a 127.x --host\n", CL_N_MAX);
		return -1;
	}
	if (cfg.group_size < 0 || cfg.group_size > cfg.n || cfg.small_size < 2 ||
	    cfg.small_size > cfg.n || cfg.big_senders < 0 || cfg.big_senders > cfg.group_size ||
	    (cfg.big_rate > 0 && (cfg.big_senders == 0 || cfg.group_size < 2)) ||
	    cfg.big_rate < 0 || cfg.small_rate < 0 || cfg.big_rate > 100000 || cfg.small_rate > 100000) {
		fprintf(stderr, "chatload: bad group shape (group-size <= n, big-senders <= group-size)\n");
		return -1;
	}
	if (cfg.warmup_s < 0 || cfg.duration_s < 0 || cfg.drain_s < 0 || cfg.warmup_s > 3600 ||
	    cfg.duration_s > 3600 || cfg.drain_s > 600 || cfg.max_messages < 0 ||
	    cfg.body_size < 0 || cfg.body_size > CL_BODY_MAX - 64 || cfg.conc <= 0 ||
	    cfg.connect_rate <= 0 || cfg.per_src <= 0 || cfg.src_base < 0 ||
	    cfg.src_base > CL_SRC_MAX || (cfg.n - 1) / cfg.per_src >= CL_SRC_MAX - cfg.src_base ||
	    cfg.connect_timeout_s <= 0 || cfg.connect_timeout_s > 3600 || cfg.settle_min_s < 0 ||
	    cfg.settle_max_s < cfg.settle_min_s || cfg.settle_max_s > 600 || cfg.hold_s < 0 ||
	    cfg.hold_s > 3600 || (cfg.tls != 0 && cfg.tls != 1)) {
		fprintf(stderr, "chatload: a duration, rate or size is out of range\n");
		return -1;
	}
	if (cfg.proto == P_BULWARK && (!cfg.users_file || !cfg.tls)) {
		fprintf(stderr, "chatload: bulwark needs --users and TLS\n");
		return -1;
	}
	if (strlen(cfg.domain) > 100 || strlen(cfg.muc) > 100 || strlen(cfg.password) > 40 ||
	    strpbrk(cfg.domain, "'<>&") || strpbrk(cfg.muc, "'<>&")) {
		fprintf(stderr, "chatload: --domain, --muc or --password too long or not plain\n");
		return -1;
	}
	if (cfg.pids_arg) {
		const char *s = cfg.pids_arg;
		while (*s && npids < CL_PIDS_MAX) {
			char *e;
			long p = strtol(s, &e, 10);
			if (e == s || p <= 0)
				return -1;
			pids[npids++] = (int)p;
			s = *e == ',' ? e + 1 : e;
			if (*e && *e != ',')
				return -1;
		}
	}
	return 0;
}

/* users file: user_id<TAB>username<TAB>ticket, one a line (or a bare ticket) */
static int users_load(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return -1;
	}
	tickets = calloc((size_t)cfg.n, sizeof *tickets);
	if (!tickets) {
		fclose(f);
		return -1;
	}
	char line[1024];
	while (ntickets < cfg.n && fgets(line, sizeof line, f)) {
		size_t n = strcspn(line, "\r\n");
		line[n] = 0;
		if (!n)
			continue;
		char *t = strrchr(line, '\t');
		t = t ? t + 1 : line;
		size_t tl = strlen(t);
		if (!tl || tl > CL_TICKET_MAX || strpbrk(t, " \r\n")) {
			fprintf(stderr, "chatload: bad ticket on line %d of %s\n", ntickets + 1, path);
			fclose(f);
			return -1;
		}
		tickets[ntickets] = strdup(t);
		if (!tickets[ntickets]) {
			fclose(f);
			return -1;
		}
		ntickets++;
	}
	fclose(f);
	explicit_bzero(line, sizeof line);
	if (!ntickets)
		return -1;
	if (ntickets < cfg.n)
		fprintf(stderr, "chatload: %d tickets for %d clients: reused round-robin "
		        "(deliveries per user then differ from the shape)\n", ntickets, cfg.n);
	return 0;
}

static int convs_load(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return -1;
	}
	convs = calloc(CL_GROUPS_MAX, sizeof *convs);
	char line[64];
	/* line k is group k; 0 marks a group that was not created (no big group) */
	while (convs && nconvs < CL_GROUPS_MAX && fgets(line, sizeof line, f)) {
		char *e;
		long long v = strtoll(line, &e, 10);
		if (e == line || v < 0) {
			fprintf(stderr, "chatload: bad conversation id on line %d of %s\n", nconvs + 1, path);
			fclose(f);
			return -1;
		}
		convs[nconvs++] = v;
	}
	fclose(f);
	return convs && nconvs ? 0 : -1;
}

/* ---- results --------------------------------------------------------------------- */
static void print_hist(const char *name, const struct hist *h, bool comma)
{
	printf("      \"%s\": {\"count\": %" PRIu64 ", \"p50\": %" PRIu64 ", \"p90\": %" PRIu64
	       ", \"p99\": %" PRIu64 ", \"p999\": %" PRIu64 ", \"max\": %" PRIu64 ", \"mean\": %.0f}%s\n",
	       name, h->count, hist_pct(h, 50), hist_pct(h, 90), hist_pct(h, 99), hist_pct(h, 99.9),
	       h->max, h->count ? (double)h->sum / (double)h->count : 0.0, comma ? "," : "");
}

static void print_codes(const char *name, const struct codecount *tab)
{
	printf("  \"%s\": {", name);
	for (int i = 0, first = 1; i < CL_CODES_MAX && tab[i].code[0]; i++, first = 0)
		printf("%s\"%s\": %ld", first ? "" : ", ", tab[i].code, tab[i].count);
	printf("},\n");
}

/* ---- main ----------------------------------------------------------------------- */
enum phase { PH_CONNECT, PH_SETTLE, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_HOLD, PH_DONE };
static const char *const phase_names[] = { "connect", "settle", "warmup", "measure", "drain", "hold", "done" };

int main(int argc, char **argv)
{
	if (parse_args(argc, argv) != 0) {
		usage();
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)cfg.n + 64) {
		if (rl.rlim_max < (rlim_t)cfg.n + 64) {
			fprintf(stderr, "chatload: open-file limit %llu is below N + 64\n",
			        (unsigned long long)rl.rlim_max);
			return 2;
		}
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	nsmall = cfg.n / cfg.small_size;
	group_live = calloc((size_t)nsmall + 1, sizeof *group_live);
	if (!group_live)
		return 1;
	if (cfg.proto == P_BULWARK) {
		if (users_load(cfg.users_file) != 0)
			return 2;
		if (cfg.big_rate > 0 || cfg.small_rate > 0) {
			if (!cfg.convs_file || convs_load(cfg.convs_file) != 0) {
				fprintf(stderr, "chatload: bulwark traffic needs --convs FILE\n");
				return 2;
			}
			if (nconvs < nsmall + 1) {
				fprintf(stderr, "chatload: %d conversation ids for %d groups\n", nconvs, nsmall + 1);
				return 2;
			}
			for (int g = cfg.big_rate > 0 ? 0 : 1; g <= nsmall; g++)
				if (convs[g] <= 0) {
					fprintf(stderr, "chatload: no conversation id for group %d\n", g);
					return 2;
				}
		}
	}
	if (!(msgtab = calloc(CL_MSGTAB, sizeof *msgtab)))
		return 1;
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	rng_state = cfg.seed * 0x9E3779B97F4A7C15ull + 1;
	RAND_bytes(ws_salt, sizeof ws_salt);

	if (cfg.tls) {
		ctx = SSL_CTX_new(TLS_client_method());
		if (!ctx)
			return 1;
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
		SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
		                      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		if (cfg.proto == P_BULWARK)
			SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x08http/1.1", 9);
		if (cfg.ca) {
			if (SSL_CTX_load_verify_locations(ctx, cfg.ca, NULL) != 1) {
				fprintf(stderr, "chatload: cannot load %s\n", cfg.ca);
				return 2;
			}
			SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		}
	}
	conns = calloc((size_t)cfg.n, sizeof *conns);
	scratch = malloc(CL_SCRATCH_MAX);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || !scratch || epfd < 0)
		return 1;
	for (int i = 0; i < cfg.n; i++)
		conns[i].fd = -1;

	/* big-group senders spread over the group's members */
	int *senders = calloc((size_t)(cfg.big_senders ? cfg.big_senders : 1), sizeof *senders);
	if (!senders)
		return 1;
	for (int k = 0; k < cfg.big_senders; k++)
		senders[k] = (int)((int64_t)k * cfg.group_size / cfg.big_senders);

	long rss_idle = servers_rss_kib(), rss_connected = -1;
	int64_t t0 = mono_ns(), now = t0;
	int64_t connect_deadline = t0 + (int64_t)cfg.connect_timeout_s * 1000000000;
	int64_t phase_start = t0, phase_end = 0;
	int64_t settle_quiet_since = 0;
	uint64_t settle_rx_mark = 0;
	int64_t last_rate_tick = t0;
	int rate_tokens = cfg.connect_rate / 20 + 1;
	int64_t big_int = 0;
	int64_t small_int = cfg.small_rate > 0 && nsmall > 0 ? (int64_t)(1e9 / cfg.small_rate) : 0;
	int64_t next_big = 0, next_small = 0, next_report = t0 + 5000000000LL;
	int big_rr = 0, cur = 0;   /* cur: the step being warmed up, measured or drained */
	long drain_mark = -1;
	int64_t drain_quiet_since = t0;
	enum phase ph = PH_CONNECT;
	st.t_connect_start = t0;
	FILE *lf = fopen("/proc/loadavg", "r");
	if (lf) {
		if (fgets(loadavg_start, sizeof loadavg_start, lf))
			loadavg_start[strcspn(loadavg_start, " \n")] = 0;   /* the 1-minute figure */
		fclose(lf);
	}
	fprintf(stderr, "chatload: %s, %d clients (%s), big group %d with %d senders at %.0f/s max "
	        "(%d step%s), %d small groups of %d at %.0f/s; server RSS %ld KiB\n",
	        cfg.proto == P_BULWARK ? "bulwark" : cfg.proto == P_XMPP ? "xmpp" : "mqtt", cfg.n,
	        cfg.tls ? "TLS" : "plain TCP", cfg.group_size, cfg.big_senders, cfg.big_rate, nsteps,
	        nsteps > 1 ? "s" : "", nsmall, cfg.small_size, cfg.small_rate, rss_idle);

	struct epoll_event ev[512];
	while (ph != PH_DONE) {
		if (stop_flag) {
			fprintf(stderr, "chatload: interrupted in phase %s\n", phase_names[ph]);
			if (ph == PH_MEASURE) {
				steps[cur].t_end = now;
				steps[cur].cpu1 = servers_cpu_ticks();
				steps[cur].self1 = self_cpu_s();
				nsteps = cur + 1;
			} else if (ph == PH_WARMUP || ph == PH_DRAIN) {
				nsteps = ph == PH_DRAIN ? cur + 1 : cur;
			}
			break;
		}
		/* 1. start connections (bounded in flight and per second) */
		if (ph == PH_CONNECT) {
			if (now - last_rate_tick >= 50000000) {
				rate_tokens = cfg.connect_rate / 20 + 1;
				last_rate_tick = now;
			}
			while (st.started < cfg.n && st.inflight < cfg.conc && rate_tokens > 0) {
				rate_tokens--;
				int i = st.started;
				if (conn_start(i) == 1)
					conn_event(i, EPOLLOUT, now);
			}
		}
		/* 2. wait for I/O until the next send is due (nanosecond timeout:
		 * sends stay on schedule without spinning) */
		int64_t wait_ns = 50000000;
		if (ph == PH_WARMUP || ph == PH_MEASURE) {
			int64_t nx = INT64_MAX;
			if (big_int)
				nx = next_big;
			if (small_int && next_small < nx)
				nx = next_small;
			int64_t d = nx - mono_ns();
			wait_ns = d < 0 ? 0 : d < wait_ns ? d : wait_ns;
		}
		struct timespec wt = { .tv_sec = 0, .tv_nsec = (long)wait_ns };
		int k = epoll_pwait2(epfd, ev, 512, &wt, NULL);
		now = mono_ns();
		int64_t busy0 = now;
		for (int j = 0; j < k; j++)
			conn_event((int)ev[j].data.u32, ev[j].events, now);
		now = mono_ns();
		if (ph == PH_MEASURE) {
			hist_add(&steps[cur].loop_busy, (uint64_t)(now - busy0) / 1000);
			if (now - busy0 > 100000000)
				fprintf(stderr, "chatload: one batch of %d events took %.0f ms (%.1f s in): "
				        "was this core shared?\n", k, (double)(now - busy0) / 1e6, (double)(now - t0) / 1e9);
		}

		/* 3. sends that are due (open loop: on the clock, not on answers) */
		if (ph == PH_WARMUP || ph == PH_MEASURE) {
			struct hist *lag = ph == PH_MEASURE ? &steps[cur].sched_lag : NULL;
			for (int guard = 0; guard < 10000 && st.sent + st.skipped_not_ready < cfg.max_messages; guard++) {
				bool big_due = big_int && next_big <= now, small_due = small_int && next_small <= now;
				if (!big_due && !small_due)
					break;
				if (big_due && (!small_due || next_big <= next_small)) {
					if (lag)
						hist_add(lag, (uint64_t)(now - next_big) / 1000);
					send_message(senders[big_rr++ % cfg.big_senders], 0, mono_ns());
					next_big += big_int;
				} else {
					if (lag)
						hist_add(lag, (uint64_t)(now - next_small) / 1000);
					int g = 1 + (int)(rng_next() % (uint64_t)nsmall);
					int m = group_user(g, (int)(rng_next() % (uint64_t)cfg.small_size));
					send_message(m, g, mono_ns());
					next_small += small_int;
				}
			}
			now = mono_ns();
		}

		/* 4. phase changes: connect -> settle -> (warm-up -> measure -> drain) per step */
		bool start_step = false;
		switch (ph) {
		case PH_CONNECT:
			if (st.ready + st.dead >= cfg.n || now >= connect_deadline) {
				for (int i = 0; i < cfg.n; i++)
					if (conns[i].state != S_READY && conns[i].state != S_DEAD &&
					    conns[i].state != S_IDLE)
						conn_kill(i, F_TIMEOUT);
				st.t_connect_end = now;
				fprintf(stderr, "chatload: READY ok=%d failed=%d in %.2f s\n", st.ready, st.dead,
				        (double)(now - t0) / 1e9);
				for (int f = 0; f < F_NFAIL; f++)
					if (st.fails[f])
						fprintf(stderr, "chatload:   %ld failed at %s\n", st.fails[f], fail_names[f]);
				if (st.first_bad_status[0])
					fprintf(stderr, "chatload:   first refused upgrade: %s\n", st.first_bad_status);
				ph = PH_SETTLE;
				phase_start = now;
				settle_quiet_since = now;
				settle_rx_mark = st.rx_bytes;
			}
			break;
		case PH_SETTLE: {
			/* quiet = under 64 KiB received in the last 500 ms (join presence storms end) */
			if (now - settle_quiet_since >= 500000000) {
				bool quiet = st.rx_bytes - settle_rx_mark < 65536;
				settle_rx_mark = st.rx_bytes;
				settle_quiet_since = now;
				double el = (double)(now - phase_start) / 1e9;
				if ((quiet && el >= cfg.settle_min_s) || el >= cfg.settle_max_s) {
					rss_connected = servers_rss_kib();
					fprintf(stderr, "chatload: settled after %.1f s; server RSS %ld KiB\n", el, rss_connected);
					if ((cfg.big_rate <= 0 && cfg.small_rate <= 0) || cfg.duration_s <= 0 || st.ready == 0) {
						nsteps = 0;
						ph = cfg.hold_s > 0 ? PH_HOLD : PH_DONE;
						phase_end = now + (int64_t)(cfg.hold_s * 1e9);
						break;
					}
					cur = 0;
					start_step = true;
				}
			}
			break;
		}
		case PH_WARMUP:
			if (now >= phase_end) {
				struct step *w = &steps[cur];
				ph = PH_MEASURE;
				w->t_start = now;
				w->t_end = INT64_MAX;
				phase_end = now + (int64_t)(cfg.duration_s * 1e9);
				w->cpu0 = servers_cpu_ticks();
				w->self0 = self_cpu_s();
				w->srv_iv0 = servers_nivcsw();
				w->self_iv0 = proc_nivcsw((int)getpid());
				fprintf(stderr, "chatload: step %d: measuring %.0f s at %.1f msgs/s into the big group\n",
				        cur + 1, cfg.duration_s, w->big_rate);
			}
			break;
		case PH_MEASURE:
			if (now >= phase_end || st.sent + st.skipped_not_ready >= cfg.max_messages) {
				struct step *w = &steps[cur];
				w->t_end = now;
				w->cpu1 = servers_cpu_ticks();
				w->self1 = self_cpu_s();
				w->srv_iv1 = servers_nivcsw();
				w->self_iv1 = proc_nivcsw((int)getpid());
				ph = PH_DRAIN;
				phase_start = now;
				phase_end = now + (int64_t)(cfg.drain_s * 1e9);
			}
			break;
		case PH_DRAIN:
			/* done when everything arrived, or when nothing has for 2 s and
			 * only the acks of senders that were disconnected are missing */
			if (st.deliveries + st.acked != drain_mark) {
				drain_mark = st.deliveries + st.acked;
				drain_quiet_since = now;
			}
			if (now >= phase_end ||
			    (st.deliveries >= st.expected && (st.acked + st.nacked >= st.sent ||
			                                      now - drain_quiet_since > 2000000000))) {
				steps[cur].rss_end = servers_rss_kib();
				if (++cur < nsteps && st.ready > 0 && st.sent + st.skipped_not_ready < cfg.max_messages)
					start_step = true;
				else {
					nsteps = cur;
					ph = PH_DONE;
				}
			}
			break;
		case PH_HOLD:
			if (now >= phase_end) {
				rss_connected = servers_rss_kib();   /* after holding: the idle figure */
				ph = PH_DONE;
			}
			break;
		default:
			break;
		}
		if (start_step) {
			struct step *w = &steps[cur];
			ph = PH_WARMUP;
			phase_start = now;
			phase_end = now + (int64_t)(cfg.warmup_s * 1e9);
			big_int = w->big_rate > 0 && cfg.big_senders > 0 ? (int64_t)(1e9 / w->big_rate) : 0;
			next_big = next_small = now;
		}
		if (now >= next_report) {
			next_report = now + 5000000000LL;
			fprintf(stderr, "chatload: [%s] ready=%d dead=%d sent=%ld acked=%ld deliveries=%ld/%ld "
			        "rx=%.1fMB\n", phase_names[ph], st.ready, st.dead, st.sent, st.acked,
			        st.deliveries, st.expected, (double)st.rx_bytes / 1e6);
		}
	}
	long rss_end = servers_rss_kib();
	char loadavg_end[64] = "";
	lf = fopen("/proc/loadavg", "r");
	if (lf) {
		if (fgets(loadavg_end, sizeof loadavg_end, lf))
			loadavg_end[strcspn(loadavg_end, " \n")] = 0;
		fclose(lf);
	}

	/* ---- JSON results ---- */
	long tck = sysconf(_SC_CLK_TCK);
	long fanout_big = cfg.group_size - 1, fanout_small = cfg.small_size - 1;
	int conn_n = st.ready + st.lost_after_ready;
	printf("{\n  \"proto\": \"%s\", \"tls\": %s, \"n\": %d, \"group_size\": %d, \"small_groups\": %d, "
	       "\"small_size\": %d,\n", cfg.proto == P_BULWARK ? "bulwark" : cfg.proto == P_XMPP ? "xmpp" : "mqtt",
	       cfg.tls ? "true" : "false", cfg.n, cfg.group_size, nsmall, cfg.small_size);
	printf("  \"big_senders\": %d, \"small_rate\": %.1f, \"body_size\": %d, \"warmup_s\": %.1f, "
	       "\"duration_s\": %.1f,\n", cfg.big_senders, cfg.small_rate, cfg.body_size, cfg.warmup_s, cfg.duration_s);
	printf("  \"connected\": %d, \"connect_failed\": %d, \"not_started\": %d, \"connect_s\": %.2f, "
	       "\"lost_after_ready\": %d,\n", conn_n, st.dead - st.lost_after_ready, cfg.n - st.started,
	       (double)(st.t_connect_end - st.t_connect_start) / 1e9, st.lost_after_ready);
	printf("  \"failures\": {");
	for (int f = 0, first = 1; f < F_NFAIL; f++)
		if (st.fails[f]) {
			printf("%s\"%s\": %ld", first ? "" : ", ", fail_names[f], st.fails[f]);
			first = 0;
		}
	printf("},\n");
	printf("  \"first_bad_status\": \"%s\", \"tls_negotiated\": \"%s\",\n", st.first_bad_status,
	       cfg.tls ? tls_seen : "none");
	printf("  \"server_rss_idle_kib\": %ld, \"server_rss_connected_kib\": %ld, \"server_rss_end_kib\": %ld,\n",
	       rss_idle, rss_connected, rss_end);
	printf("  \"server_rss_per_conn_kib\": %.2f, \"client_rss_kib\": %ld,\n",
	       rss_idle > 0 && rss_connected > 0 && conn_n > 0 ? (double)(rss_connected - rss_idle) / conn_n : -1.0,
	       proc_rss_kib((int)getpid()));
	printf("  \"loadavg_start\": \"%s\", \"loadavg_end\": \"%s\",\n", loadavg_start, loadavg_end);
	printf("  \"sent\": %ld, \"skipped_not_ready\": %ld, \"acked\": %ld, \"nacked\": %ld, \"ack_unknown\": %ld,\n",
	       st.sent, st.skipped_not_ready, st.acked, st.nacked, st.ack_unknown);
	printf("  \"deliveries\": %ld, \"expected\": %ld, \"missing\": %ld, \"self_deliveries\": %ld, "
	       "\"unparsed_deliveries\": %ld,\n", st.deliveries, st.expected, st.expected - st.deliveries,
	       st.self_deliveries, st.unparsed_deliveries);
	printf("  \"presence_and_other_frames\": %ld, \"server_pings\": %ld, \"resume_errors\": %ld, "
	       "\"unexpected_frames\": %ld, \"frames_in\": %" PRIu64 ", \"rx_bytes\": %" PRIu64
	       ", \"tx_bytes\": %" PRIu64 ",\n", st.presence, st.pings, st.resume_errors, st.server_errors,
	       st.frames_in, st.rx_bytes, st.tx_bytes);
	print_codes("nack_codes", st.nack_codes);
	print_codes("close_codes", st.close_codes);
	printf("  \"steps\": [\n");
	for (int k = 0; k < nsteps; k++) {
		struct step *w = &steps[k];
		double win = w->t_end > w->t_start ? (double)(w->t_end - w->t_start) / 1e9 : 0;
		double cpu_s = w->cpu0 >= 0 && w->cpu1 >= 0 ? (double)(w->cpu1 - w->cpu0) / (double)tck : -1;
		printf("   {\"big_rate\": %.1f, \"offered_deliveries_per_s\": %.0f, \"window_s\": %.3f,\n", w->big_rate,
		       w->big_rate * (double)fanout_big + (nsmall ? cfg.small_rate * (double)fanout_small : 0), win);
		printf("    \"sent\": %ld, \"acked\": %ld, \"deliveries\": %ld, \"expected\": %ld, \"missing\": %ld,\n",
		       w->sent, w->acked, w->deliveries, w->expected, w->expected - w->deliveries);
		printf("    \"deliveries_per_s\": %.0f, \"acks_per_s\": %.1f,\n",
		       win > 0 ? (double)w->deliveries / win : 0, win > 0 ? (double)w->acked / win : 0);
		printf("    \"server_cpu_s\": %.2f, \"server_cpu_pct\": %.1f, \"server_cpu_us_per_delivery\": %.2f, "
		       "\"client_cpu_pct\": %.1f,\n", cpu_s, win > 0 && cpu_s >= 0 ? 100.0 * cpu_s / win : -1.0,
		       w->deliveries > 0 && cpu_s >= 0 ? cpu_s * 1e6 / (double)w->deliveries : -1.0,
		       win > 0 ? 100.0 * (w->self1 - w->self0) / win : -1.0);
		printf("    \"server_preempted\": %ld, \"client_preempted\": %ld, \"server_rss_end_kib\": %ld,\n",
		       w->srv_iv0 >= 0 && w->srv_iv1 >= 0 ? w->srv_iv1 - w->srv_iv0 : -1,
		       w->self_iv0 >= 0 && w->self_iv1 >= 0 ? w->self_iv1 - w->self_iv0 : -1, w->rss_end);
		printf("    \"latency_us\": {\n");
		print_hist("deliver_all", &w->lat_all, true);
		print_hist("deliver_big", &w->lat_big, true);
		print_hist("deliver_small", &w->lat_small, true);
		print_hist("ack", &w->lat_ack, true);
		print_hist("send_schedule_lag", &w->sched_lag, true);
		print_hist("generator_batch", &w->loop_busy, false);
		printf("    }}%s\n", k + 1 < nsteps ? "," : "");
	}
	printf("  ]\n}\n");
	fflush(stdout);

	for (int i = 0; i < cfg.n; i++) {
		if (conns[i].ssl)
			SSL_free(conns[i].ssl);
		if (conns[i].fd >= 0)
			close(conns[i].fd);
		free(conns[i].rbuf);
		free(conns[i].wbuf);
	}
	for (int i = 0; i < ntickets; i++) {
		explicit_bzero(tickets[i], strlen(tickets[i]));
		free(tickets[i]);
	}
	free(tickets);
	free(convs);
	free(conns);
	free(scratch);
	free(senders);
	free(msgtab);
	free(group_live);
	close(epfd);
	if (ctx)
		SSL_CTX_free(ctx);
	bool ok = st.dead == 0 && st.started == cfg.n && st.expected - st.deliveries == 0 &&
	          st.acked == st.sent;
	return ok ? 0 : 1;
}
