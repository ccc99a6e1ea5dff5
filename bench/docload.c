/*
 * docload.c — co-editing load generator for the document benchmark
 * (bench/docs.sh; design.md "Budgets": 50 editors converge with op round
 * trip p99 <= 20 ms, 1,000 editors on one document with p95 <= 100 ms on
 * the 2-core machine; RG-DOC-a/b, docs/collab.md).  Not part of the
 * server; built and run by bench/docs.sh.
 *
 * One program, two drivers, one workload, so the figures compare:
 *   bulwark  TLS WebSocket to /api/v1/events (docs/realtime.md,
 *            docs/collab.md): Bearer ticket, hello -> resume -> resumed,
 *            then doc.open -> doc.state, doc.op {rev, oid, op} -> doc.ack
 *            (sent after the op is committed to disk, encrypted), doc.op
 *            broadcasts to the other editors, doc.nack refusals
 *   sharedb  WebSocket (TLS or plain) speaking ShareDB 7's JSON protocol
 *            (lib/client/connection.js, lib/agent.js): init, hs -> hs{id},
 *            s{c,d,v:null} -> s{data:{v,data,type}}, op{v,src,seq,op} ->
 *            ack op{v,src,seq} (no "op" member) after the (in-memory) commit,
 *            op{v,src,seq,op} broadcasts, f{v} to catch up after a gap
 *
 * The document: the first client that connected writes N paragraphs of
 * DL_REGION_INIT characters ("e00042 abc...\n"), one per editor, in one op
 * (bulwark: an insert at revision 0 before the document's "\n"; sharedb:
 * the create op with the same text + "\n"), then every other client opens
 * it and checks the revision (1) and the length.  Editor i only ever
 * edits paragraph i, before its final "\n": typing (1-3 letters, 65%) or
 * deleting (1-2 characters) at a random offset, kept between
 * DL_REGION_MIN and DL_REGION_HIGH characters.  Each editor makes --rate edits per second on
 * one global schedule (open loop: editor k's edits are evenly spaced).
 *
 * What each client does (like a real OT client, simplified by the regions):
 * it keeps its paragraph three times — conf (the server's text at the
 * client's revision), mid (conf + the op in flight) and loc (mid + edits not
 * sent yet) — and where its paragraph starts in the server's document at its
 * revision.  At most one op is in flight; edits made meanwhile are buffered
 * and sent, composed into one op (the common-prefix/suffix difference of mid
 * and loc: retain, insert, delete), when the ack comes, based on the
 * revision the ack gives.  An incoming op (it changes another paragraph)
 * moves the paragraph's start by the length it inserts/deletes before it;
 * transforming the in-flight and buffered ops over it is exactly that shift
 * (they are positioned at send time from the current start), and
 * transforming it over them is not needed because the client does not keep
 * the other paragraphs' text.  An incoming op that touches the client's own
 * paragraph is an error (counted).  Revisions are checked strictly: a
 * bulwark doc.op must carry rev = ours + 1 and an ack rev = ours + 1;
 * sharedb ops older than our version are duplicates (ignored, as the
 * ShareDB client does), newer ones start a fetch, an ack must carry our
 * version.  After the run every client must be at the same revision with
 * the same document length, every paragraph start must equal the sum of
 * the paragraphs before it, and --expect-out writes the text the document
 * must now hold (docs.sh compares it with the server's).
 *
 * Measured (ops and edits whose send/edit time falls in the window):
 *   rtt          op sent -> its ack
 *   edit_ack     the oldest edit an op carries -> the ack (incl. buffering)
 *   bcast        op sent -> another client receives it (every receiver)
 *   edit_remote  the oldest edit an op carries -> another client has it
 * An op's send and edit times are put in a table under the revision its ack
 * gives; a receiver that gets the op before the author's ack was read keeps
 * its receive time in a pending list of that revision.  The "now" of input
 * is taken once per epoll batch (the data was already in the socket).
 * Throughput (committed_per_s) and server CPU per op count the acks that
 * arrived in the window.  TLS uses read-ahead (few read syscalls); input
 * left inside OpenSSL when a connection's turn ends is read on the next
 * loop pass (epoll cannot report it).  Server CPU is utime+stime of --server-pid over the window, RSS is VmRSS
 * (sampled before connecting, after opening, every 0.5 s in the window).
 *
 * A connection the server closes (e.g. Bulwark's 4008 slow-consumer close)
 * is not reopened: the editor is counted as lost, with the time since the
 * edits began (first_loss_s, last_loss_s).
 *
 * Invariants: one thread, epoll, non-blocking sockets; every buffer has a
 * hard maximum; every phase has a deadline; only 127.x targets; N <= 4,000.
 * Exit status: 0 when every client connected, opened, stayed, nothing was
 * refused and the clients converged; 1 otherwise; 2 on bad usage.
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

#define DL_N_MAX 4000
#define DL_TICKET_MAX 256
#define DL_SCRATCH_MAX (4u << 20)      /* one read pass, incl. a carried partial frame */
#define DL_RBUF_MAX (DL_SCRATCH_MAX / 2)
#define DL_WBUF_MAX (1u << 20)         /* unsent output per connection */
#define DL_FRAME_MAX (2u << 20)        /* one incoming WebSocket frame (doc.state) */
#define DL_OUT_MAX (256u << 10)        /* one outgoing frame (the init op) */
#define DL_HTTP_MAX 8192
#define DL_PIDS_MAX 8
#define DL_CODES_MAX 16
#define DL_SRC_MAX (250 * 250)
#define DL_REGION_MAX 256              /* bytes of one paragraph, incl. "\n" */
#define DL_REGION_INIT 24
#define DL_REGION_MIN 8
#define DL_REGION_HIGH 160
#define DL_REVTAB (1u << 21)           /* revisions with latency records */
#define DL_PEND_MAX (1u << 20)         /* receptions waiting for their op's ack */
#define DL_SRCID_MAX 64

/* ---- log-bucketed histogram (as bench/chatload.c), values in microseconds ---- */
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
enum proto { P_BULWARK, P_SHAREDB };

static struct {
	enum proto proto;
	const char *host, *ca, *users_file, *pids_arg, *expect_out, *collection, *docname;
	int port, tls, n, conc, connect_rate, per_src, src_base, connect_timeout_s, open_timeout_s;
	int64_t doc;
	double rate, warmup_s, duration_s, drain_s, settle_s;
	uint64_t seed;
} cfg = {
	.proto = P_BULWARK, .host = "127.0.0.1", .tls = 1, .conc = 128, .connect_rate = 1000, .per_src = 50,
	.connect_timeout_s = 120, .open_timeout_s = 120, .collection = "docs", .docname = "bench",
	.rate = 5, .warmup_s = 5, .duration_s = 20, .drain_s = 20, .settle_s = 1, .seed = 1,
};

/* ---- connections (I/O as bench/chatload.c) ------------------------------------ */
enum cstate { S_IDLE, S_CONNECT, S_TLS, S_PROTO, S_READY, S_DEAD };
enum { W_HTTP, W_HELLO, W_RESUMED, W_LIVE };

enum fail {
	F_SOCKET, F_CONNECT, F_TLS, F_IO, F_EOF, F_HTTP, F_PROTO, F_TOOBIG, F_WBUF, F_CLOSED,
	F_TIMEOUT, F_NFAIL
};
static const char *const fail_names[F_NFAIL] = {
	"socket", "connect", "tls", "io", "closed_in_handshake", "http_status", "protocol",
	"too_large", "write_backlog", "closed_by_server", "timeout",
};

struct conn {
	int fd;
	uint8_t state, step, want_out, again;
	uint32_t rlen, wlen;
	SSL *ssl;
	uint8_t *rbuf;
	uint8_t *wbuf;
};

/* One editor per connection: see the header for what it keeps. */
struct editor {
	int64_t rev;          /* bulwark: last revision applied; sharedb: version */
	int64_t start;        /* paragraph start in the server's document at rev */
	int64_t doclen;       /* the server's document length at rev */
	int64_t t_send, t_edit0;   /* the op in flight: sent, its oldest edit */
	int64_t t_buf0;            /* the oldest buffered edit, 0 when none */
	uint32_t seq;              /* ops sent (oid "c<seq>", sharedb seq) */
	uint16_t conf_len, mid_len, loc_len;
	uint16_t edits_inflight, edits_buffered;
	uint8_t inflight, opened, opening, fetching, broken;
	char conf[DL_REGION_MAX], mid[DL_REGION_MAX], loc[DL_REGION_MAX];
	char src[DL_SRCID_MAX + 1];
};

static struct conn *conns;
static int *again, *again_run;   /* connections with input left inside OpenSSL */
static int nagain;
static struct editor *eds;
static char **tickets;
static int ntickets;
static int epfd = -1;
static SSL_CTX *ctx;
static uint8_t *scratch;
static volatile sig_atomic_t stop_flag;
static uint8_t ws_salt[8];
static uint64_t rng_state;

struct codecount {
	char code[40];
	long count;
};

static struct {
	int started, inflight, ready, dead, lost_after_ready, opened, open_failed, opens_pending;
	long fails[F_NFAIL];
	int64_t t_connect_start, t_connect_end, t_open_end, t_edits_start;
	int64_t t_first_loss, t_last_loss, rev_first_loss;
	uint64_t rx_bytes, tx_bytes, frames_in;
	long edits, edits_skipped, ops_sent, acks, nacks, remote_ops, dup_ops, gaps, fetches;
	long foreign_edits, ack_mismatch, bad_frames, other_frames, pings, noop_flush;
	long pend_overflow, lat_untracked, revtab_dup;
	int64_t max_rev;
	struct codecount nack_codes[DL_CODES_MAX], close_codes[DL_CODES_MAX], error_codes[DL_CODES_MAX];
	struct codecount other_types[DL_CODES_MAX];
	char first_bad_status[80], setup_error[160];
} st;

/* the measured window */
static struct {
	int64_t t_start, t_end;
	long long cpu0, cpu1;
	double self0, self1;
	long srv_iv0, srv_iv1, self_iv0, self_iv1, rss_peak, long_batches, long_batches_waiting;
	long edits, ops_sent, acks, deliveries, edits_in_acked_ops;
	long acks_arrived, remote_arrived;   /* by arrival time in the window */
	struct hist rtt, edit_ack, bcast, edit_remote, sched_lag, loop_busy;
} win;

/* latency records by the revision an op became */
static struct revrec {
	int64_t rev, t_send, t_edit0;
	int32_t pend;      /* head of the pending receptions, -1 when none */
	uint8_t known;     /* the author's ack was read */
} *revtab;
static struct pendrec {
	int64_t t_recv;
	int32_t next;
} *pend;
static int32_t pend_free = -1;
static int32_t pend_used_max;

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
	char c[sizeof tab[0].code];
	if (len >= sizeof c)
		len = sizeof c - 1;
	for (size_t k = 0; k < len; k++)   /* keep the JSON output valid */
		c[k] = code[k] == '"' || code[k] == '\\' || (unsigned char)code[k] < 0x20 ? '_' : code[k];
	c[len] = 0;
	for (int i = 0; i < DL_CODES_MAX; i++) {
		if (!tab[i].code[0])
			memcpy(tab[i].code, c, len + 1);
		if (strcmp(tab[i].code, c) == 0) {
			tab[i].count++;
			return;
		}
	}
}

/* ---- /proc sampling ------------------------------------------------------------ */
static int npids;
static int pids[DL_PIDS_MAX];

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

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
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

static void conn_kill(int i, enum fail why)
{
	struct conn *c = &conns[i];
	if (c->state == S_DEAD || c->state == S_IDLE)
		return;
	if (c->state == S_READY) {
		st.lost_after_ready++;
		st.ready--;
		int64_t t = mono_ns();
		if (!st.t_first_loss) {
			st.t_first_loss = t;
			st.rev_first_loss = st.max_rev;
		}
		st.t_last_loss = t;
	} else {
		st.inflight--;
	}
	if (eds[i].opening) {
		eds[i].opening = 0;
		st.opens_pending--;
		st.open_failed++;
	}
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

/* Queues len bytes for connection i and writes what the socket takes now;
 * 0, or -1 when the connection was killed (backlog over DL_WBUF_MAX, error). */
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
	if (len > DL_WBUF_MAX - c->wlen) {
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

/* ---- WebSocket client framing (RFC 6455) ----------------------------------------- */
static uint8_t *outbuf;   /* DL_OUT_MAX + 14: one frame being built */

static int ws_send_text(int i, const char *text, size_t len)
{
	if (len > DL_OUT_MAX)
		return -1;
	uint8_t *frame = outbuf;
	size_t h = 0;
	frame[h++] = 0x81;
	if (len < 126) {
		frame[h++] = (uint8_t)(0x80 | len);
	} else if (len < 65536) {
		frame[h++] = 0x80 | 126;
		frame[h++] = (uint8_t)(len >> 8);
		frame[h++] = (uint8_t)len;
	} else {
		frame[h++] = 0x80 | 127;
		for (int k = 7; k >= 0; k--)
			frame[h++] = (uint8_t)((uint64_t)len >> (8 * k));
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

static void ws_key(int i, char key[32])
{
	uint8_t raw[16];
	memcpy(raw, ws_salt, 8);
	uint32_t u = (uint32_t)i;
	memcpy(raw + 8, &u, 4);
	memcpy(raw + 12, "dlcl", 4);
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

static void ws_start(int i)
{
	char key[32], req[DL_HTTP_MAX], auth[DL_TICKET_MAX + 32] = "";
	ws_key(i, key);
	if (cfg.proto == P_BULWARK)
		snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", tickets[i % ntickets]);
	int n = snprintf(req, sizeof req,
	                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
	                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
	                 "%sUser-Agent: bulwark-docload\r\n\r\n",
	                 cfg.proto == P_BULWARK ? "/api/v1/events" : "/", cfg.host, cfg.port, key, auth);
	explicit_bzero(auth, sizeof auth);
	if (n <= 0 || n >= (int)sizeof req) {
		conn_kill(i, F_PROTO);
		return;
	}
	conns[i].step = W_HTTP;
	conn_send(i, req, (size_t)n);
	explicit_bzero(req, sizeof req);
}

/* Checks the 101 response; returns header length consumed, 0 for more, -1 killed. */
static long ws_http(int i, const uint8_t *p, size_t n)
{
	const uint8_t *e = memmem(p, n, "\r\n\r\n", 4);
	if (!e) {
		if (n >= DL_HTTP_MAX) {
			conn_kill(i, F_HTTP);
			return -1;
		}
		return 0;
	}
	size_t hl = (size_t)(e - p) + 4;
	char hdr[DL_HTTP_MAX];
	if (hl >= sizeof hdr) {
		conn_kill(i, F_HTTP);
		return -1;
	}
	memcpy(hdr, p, hl);
	hdr[hl] = 0;
	if (strncmp(hdr, "HTTP/1.1 101", 12) != 0) {
		if (!st.first_bad_status[0])
			snprintf(st.first_bad_status, sizeof st.first_bad_status, "%.*s",
			         (int)strcspn(hdr, "\r\n\""), hdr);
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
	conns[i].step = W_HELLO;
	return (long)hl;
}

/* ---- a small JSON reader: spans of members, integers, delta ops -------------------- */
struct span {
	const uint8_t *p;
	size_t n;
};

static const uint8_t *js_ws(const uint8_t *s, const uint8_t *end)
{
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++;
	return s;
}

/* s at the opening quote; the position after the closing one, or NULL */
static const uint8_t *js_string_end(const uint8_t *s, const uint8_t *end)
{
	for (s++; s < end; s++) {
		if (*s == '\\')
			s++;
		else if (*s == '"')
			return s + 1;
	}
	return NULL;
}

/* The end of the value at s (after ws), or NULL when malformed/truncated;
 * nesting bounded by 64. */
static const uint8_t *js_value_end(const uint8_t *s, const uint8_t *end)
{
	s = js_ws(s, end);
	if (s >= end)
		return NULL;
	if (*s == '"')
		return js_string_end(s, end);
	if (*s == '{' || *s == '[') {
		int depth = 0;
		while (s < end) {
			if (*s == '"') {
				s = js_string_end(s, end);
				if (!s)
					return NULL;
				continue;
			}
			if (*s == '{' || *s == '[') {
				if (++depth > 64)
					return NULL;
			} else if (*s == '}' || *s == ']') {
				if (--depth == 0)
					return s + 1;
			}
			s++;
		}
		return NULL;
	}
	while (s < end && *s != ',' && *s != '}' && *s != ']' && *s != ' ' && *s != '\n')
		s++;
	return s;
}

/* The value of member `key` of the object in o (top level only); 0 or -1. */
static int js_member(struct span o, const char *key, struct span *out)
{
	const uint8_t *s = js_ws(o.p, o.p + o.n), *end = o.p + o.n;
	size_t kl = strlen(key);
	if (s >= end || *s != '{')
		return -1;
	s++;
	for (int guard = 0; guard < 10000; guard++) {
		s = js_ws(s, end);
		if (s >= end || *s == '}')
			return -1;
		if (*s != '"')
			return -1;
		const uint8_t *ke = js_string_end(s, end);
		if (!ke)
			return -1;
		bool match = (size_t)(ke - s - 2) == kl && memcmp(s + 1, key, kl) == 0;
		s = js_ws(ke, end);
		if (s >= end || *s != ':')
			return -1;
		s = js_ws(s + 1, end);
		const uint8_t *ve = js_value_end(s, end);
		if (!ve)
			return -1;
		if (match) {
			out->p = s;
			out->n = (size_t)(ve - s);
			return 0;
		}
		s = js_ws(ve, end);
		if (s < end && *s == ',')
			s++;
	}
	return -1;
}

static bool js_is_str(struct span v, const char *lit)
{
	size_t l = strlen(lit);
	return v.n == l + 2 && v.p[0] == '"' && memcmp(v.p + 1, lit, l) == 0;
}

static int js_int(struct span v, int64_t *out)
{
	int64_t x = 0;
	size_t k = 0;
	bool neg = false;
	if (k < v.n && v.p[k] == '-') {
		neg = true;
		k++;
	}
	if (k >= v.n)
		return -1;
	for (; k < v.n; k++) {
		if (v.p[k] < '0' || v.p[k] > '9' || x > (INT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (v.p[k] - '0');
	}
	*out = neg ? -x : x;
	return 0;
}

/* UTF-16 code units of the JSON string v (with its quotes). */
static int64_t js_str_units(struct span v)
{
	int64_t u = 0;
	for (size_t k = 1; k + 1 < v.n; k++) {
		uint8_t ch = v.p[k];
		if (ch == '\\') {
			if (k + 1 < v.n && v.p[k + 1] == 'u')
				k += 5;
			else
				k++;
			u++;
		} else if (ch >= 0xF0) {
			u += 2;
		} else if ((ch & 0xC0) != 0x80) {
			u++;
		}
	}
	return u;
}

/* One op of a delta. */
struct dop {
	int kind;          /* 'r' retain, 'i' insert, 'd' delete */
	int64_t n;         /* count (insert: UTF-16 units) */
};

/* Iterates the ops of a delta given as [...] or {"ops":[...]}: calls fn for
 * each; 0, or -1 when malformed. */
static int delta_walk(struct span d, int (*fn)(void *, const struct dop *), void *arg)
{
	const uint8_t *s = js_ws(d.p, d.p + d.n), *end = d.p + d.n;
	if (s < end && *s == '{') {
		struct span ops;
		if (js_member((struct span){ s, (size_t)(end - s) }, "ops", &ops) != 0)
			return -1;
		s = ops.p;
		end = ops.p + ops.n;
	}
	if (s >= end || *s != '[')
		return -1;
	s++;
	for (int guard = 0; guard < 300000; guard++) {
		s = js_ws(s, end);
		if (s >= end)
			return -1;
		if (*s == ']')
			return 0;
		const uint8_t *oe = js_value_end(s, end);
		if (!oe || *s != '{')
			return -1;
		struct span o = { s, (size_t)(oe - s) }, v;
		struct dop op = { 0, 0 };
		if (js_member(o, "insert", &v) == 0) {
			op.kind = 'i';
			op.n = v.p[0] == '"' ? js_str_units(v) : 1;
		} else if (js_member(o, "retain", &v) == 0 && js_int(v, &op.n) == 0) {
			op.kind = 'r';
		} else if (js_member(o, "delete", &v) == 0 && js_int(v, &op.n) == 0) {
			op.kind = 'd';
		} else {
			return -1;
		}
		if (op.n < 0 || fn(arg, &op) != 0)
			return -1;
		s = js_ws(oe, end);
		if (s < end && *s == ',')
			s++;
	}
	return -1;
}

static int doclen_fn(void *arg, const struct dop *op)
{
	if (op->kind != 'i')
		return -1;   /* a document holds inserts only */
	*(int64_t *)arg += op->n;
	return 0;
}

/* ---- latency records ------------------------------------------------------------ */
static bool in_window(int64_t t)
{
	return win.t_start && t >= win.t_start && t < win.t_end;
}

static void lat_delivery(int64_t t_send, int64_t t_edit0, int64_t t_recv)
{
	if (!in_window(t_send))
		return;
	win.deliveries++;
	hist_add(&win.bcast, t_recv > t_send ? (uint64_t)(t_recv - t_send) / 1000 : 0);
	hist_add(&win.edit_remote, t_recv > t_edit0 ? (uint64_t)(t_recv - t_edit0) / 1000 : 0);
}

static struct revrec *rev_slot(int64_t rev)
{
	if (rev <= 0)
		return NULL;
	struct revrec *r = &revtab[(uint64_t)rev % DL_REVTAB];
	if (r->rev != rev) {
		if (r->pend >= 0 || (r->rev && !r->known))
			st.lat_untracked++;   /* wrapped around: the old record is lost */
		while (r->pend >= 0) {
			int32_t nx = pend[r->pend].next;
			pend[r->pend].next = pend_free;
			pend_free = r->pend;
			r->pend = nx;
		}
		*r = (struct revrec){ .rev = rev, .pend = -1 };
	}
	return r;
}

/* The author's ack says its op became revision rev. */
static void rev_known(int64_t rev, int64_t t_send, int64_t t_edit0)
{
	struct revrec *r = rev_slot(rev);
	if (!r)
		return;
	if (r->known) {
		st.revtab_dup++;
		return;
	}
	r->known = 1;
	r->t_send = t_send;
	r->t_edit0 = t_edit0;
	while (r->pend >= 0) {
		int32_t k = r->pend;
		lat_delivery(t_send, t_edit0, pend[k].t_recv);
		r->pend = pend[k].next;
		pend[k].next = pend_free;
		pend_free = k;
	}
}

/* Another client received revision rev at t. */
static void rev_received(int64_t rev, int64_t t)
{
	struct revrec *r = rev_slot(rev);
	if (!r)
		return;
	if (r->known) {
		lat_delivery(r->t_send, r->t_edit0, t);
		return;
	}
	if (pend_free < 0) {
		st.pend_overflow++;
		return;
	}
	int32_t k = pend_free;
	pend_free = pend[k].next;
	if (k + 1 > pend_used_max)
		pend_used_max = k + 1;
	pend[k].t_recv = t;
	pend[k].next = r->pend;
	r->pend = k;
}

/* ---- the editors ------------------------------------------------------------------ */
static void region_init_text(int i, char *out)
{
	int n = snprintf(out, DL_REGION_INIT + 1, "e%05d ", i);
	for (; n < DL_REGION_INIT - 1; n++)
		out[n] = (char)('a' + (n + i) % 26);
	out[DL_REGION_INIT - 1] = '\n';
}

static void editor_set_initial(int i)
{
	struct editor *e = &eds[i];
	region_init_text(i, e->conf);
	memcpy(e->mid, e->conf, DL_REGION_INIT);
	memcpy(e->loc, e->conf, DL_REGION_INIT);
	e->conf_len = e->mid_len = e->loc_len = DL_REGION_INIT;
	e->start = (int64_t)i * DL_REGION_INIT;
}

static void editor_broken(int i, const char *why)
{
	if (!eds[i].broken) {
		eds[i].broken = 1;
		count_code(st.error_codes, why, strlen(why));
	}
}

/* Sends the buffered edits as one op when nothing is in flight. */
static void editor_flush(int i, int64_t now)
{
	struct editor *e = &eds[i];
	if (e->inflight || !e->opened || e->broken || conns[i].state != S_READY)
		return;
	if (e->loc_len == e->mid_len && memcmp(e->loc, e->mid, e->loc_len) == 0) {
		if (e->edits_buffered)
			st.noop_flush++;
		e->edits_buffered = 0;
		e->t_buf0 = 0;
		return;
	}
	/* the difference mid -> loc: common prefix a, common suffix b */
	size_t a = 0, b = 0, ml = e->mid_len, ll = e->loc_len;
	while (a < ml && a < ll && e->mid[a] == e->loc[a])
		a++;
	while (b < ml - a && b < ll - a && e->mid[ml - 1 - b] == e->loc[ll - 1 - b])
		b++;
	size_t del = ml - a - b, ins = ll - a - b;
	char ops[DL_REGION_MAX + 128];
	int k = snprintf(ops, sizeof ops, "[");
	int64_t pos = e->start + (int64_t)a;
	if (pos > 0)
		k += snprintf(ops + k, sizeof ops - (size_t)k, "{\"retain\":%" PRId64 "}%s", pos, ins || del ? "," : "");
	if (ins)
		k += snprintf(ops + k, sizeof ops - (size_t)k, "{\"insert\":\"%.*s\"}%s", (int)ins, e->loc + a,
		              del ? "," : "");
	if (del)
		k += snprintf(ops + k, sizeof ops - (size_t)k, "{\"delete\":%zu}", del);
	k += snprintf(ops + k, sizeof ops - (size_t)k, "]");
	char msg[DL_REGION_MAX + 512];
	int ml2;
	e->seq++;
	if (cfg.proto == P_BULWARK)
		ml2 = snprintf(msg, sizeof msg, "{\"type\":\"doc.op\",\"doc\":%" PRId64 ",\"rev\":%" PRId64
		               ",\"oid\":\"c%" PRIu32 "\",\"op\":{\"ops\":%s}}", cfg.doc, e->rev, e->seq, ops);
	else
		ml2 = snprintf(msg, sizeof msg, "{\"a\":\"op\",\"c\":\"%s\",\"d\":\"%s\",\"v\":%" PRId64
		               ",\"src\":\"%s\",\"seq\":%" PRIu32 ",\"x\":{},\"op\":%s}", cfg.collection, cfg.docname,
		               e->rev, e->src, e->seq, ops);
	if (ml2 <= 0 || (size_t)ml2 >= sizeof msg || ws_send_text(i, msg, (size_t)ml2) != 0) {
		editor_broken(i, "send_failed");
		return;
	}
	e->inflight = 1;
	e->t_send = now;
	e->t_edit0 = e->t_buf0 ? e->t_buf0 : now;
	e->edits_inflight = e->edits_buffered;
	e->edits_buffered = 0;
	e->t_buf0 = 0;
	memcpy(e->mid, e->loc, ll);
	e->mid_len = (uint16_t)ll;
	st.ops_sent++;
	if (in_window(now))
		win.ops_sent++;
}

/* One edit by editor i on its paragraph (before its "\n"), buffered. */
static void editor_edit(int i, int64_t now)
{
	struct editor *e = &eds[i];
	if (!e->opened || e->broken || conns[i].state != S_READY) {
		st.edits_skipped++;
		return;
	}
	size_t body = e->loc_len - 1u;   /* characters before the "\n" */
	bool insert = body < DL_REGION_MIN ? true : body > DL_REGION_HIGH ? false : rng_next() % 100 < 65;
	if (insert) {
		static const char alpha[] = "abcdefghijklmnopqrstuvwxyz ";
		size_t k = 1 + (size_t)(rng_next() % 3), pos = (size_t)(rng_next() % (body + 1));
		if (e->loc_len + k > DL_REGION_MAX)
			return;
		memmove(e->loc + pos + k, e->loc + pos, e->loc_len - pos);
		for (size_t j = 0; j < k; j++)
			e->loc[pos + j] = alpha[rng_next() % (sizeof alpha - 1)];
		e->loc_len = (uint16_t)(e->loc_len + k);
	} else {
		size_t k = 1 + (size_t)(rng_next() % 2);
		if (k > body)
			k = body;
		size_t pos = (size_t)(rng_next() % (body - k + 1));
		memmove(e->loc + pos, e->loc + pos + k, e->loc_len - pos - k);
		e->loc_len = (uint16_t)(e->loc_len - k);
	}
	if (!e->edits_buffered)
		e->t_buf0 = now;
	if (e->edits_buffered < UINT16_MAX)
		e->edits_buffered++;
	st.edits++;
	if (in_window(now))
		win.edits++;
	editor_flush(i, now);
}

/* The server acknowledged editor i's op in flight as revision rev. */
static void editor_ack(int i, int64_t rev, int64_t now)
{
	struct editor *e = &eds[i];
	if (!e->inflight) {
		st.ack_mismatch++;
		return;
	}
	if (rev != e->rev + 1) {
		st.ack_mismatch++;
		editor_broken(i, "ack_revision");
	}
	e->rev = rev;
	if (rev > st.max_rev)
		st.max_rev = rev;
	e->doclen += (int64_t)e->mid_len - (int64_t)e->conf_len;
	memcpy(e->conf, e->mid, e->mid_len);
	e->conf_len = e->mid_len;
	e->inflight = 0;
	st.acks++;
	if (in_window(now))
		win.acks_arrived++;
	if (in_window(e->t_send)) {
		win.acks++;
		win.edits_in_acked_ops += e->edits_inflight;
		hist_add(&win.rtt, (uint64_t)(now - e->t_send) / 1000);
		hist_add(&win.edit_ack, (uint64_t)(now - e->t_edit0) / 1000);
	}
	rev_known(rev, e->t_send, e->t_edit0);
	editor_flush(i, now);
}

struct shift {
	int64_t base, start, len, delta, doclen_delta;
	bool foreign;
};

static int shift_fn(void *arg, const struct dop *op)
{
	struct shift *s = arg;
	switch (op->kind) {
	case 'r':
		s->base += op->n;
		break;
	case 'i':
		if (s->base < s->start)
			s->delta += op->n;
		else if (s->base < s->start + s->len)
			s->foreign = true;
		s->doclen_delta += op->n;
		break;
	case 'd':
		if (s->base + op->n <= s->start)
			s->delta -= op->n;
		else if (s->base < s->start + s->len)
			s->foreign = true;
		s->base += op->n;
		s->doclen_delta -= op->n;
		break;
	}
	return 0;
}

/* Applies another editor's op (revision rev, the server's order) to editor i. */
static void editor_remote(int i, int64_t rev, struct span op, int64_t now)
{
	struct editor *e = &eds[i];
	struct shift s = { .start = e->start, .len = e->conf_len };
	if (delta_walk(op, shift_fn, &s) != 0) {
		st.bad_frames++;
		editor_broken(i, "bad_op");
		return;
	}
	if (s.foreign) {
		st.foreign_edits++;
		editor_broken(i, "foreign_edit");
	}
	e->start += s.delta;
	e->doclen += s.doclen_delta;
	e->rev = rev;
	if (rev > st.max_rev)
		st.max_rev = rev;
	st.remote_ops++;
	if (in_window(now))
		win.remote_arrived++;
	rev_received(rev, now);
}

/* The document's state as editor i opened it. */
static void editor_state(int i, int64_t rev, int64_t len, int64_t now);

/* ---- Bulwark frames ----------------------------------------------------------------- */
static void bw_open(int i)
{
	char m[128];
	int n = snprintf(m, sizeof m, "{\"type\":\"doc.open\",\"doc\":%" PRId64 "}", cfg.doc);
	eds[i].opening = 1;
	st.opens_pending++;
	ws_send_text(i, m, (size_t)n);
}

static void bw_text(int i, const uint8_t *p, size_t n, int64_t now)
{
	struct conn *c = &conns[i];
	struct span o = { p, n }, type, v;
	st.frames_in++;
	if (js_member(o, "type", &type) != 0) {
		st.bad_frames++;
		return;
	}
	if (js_is_str(type, "doc.op")) {
		int64_t rev;
		struct span op;
		if (js_member(o, "rev", &v) != 0 || js_int(v, &rev) != 0 || js_member(o, "op", &op) != 0) {
			st.bad_frames++;
			return;
		}
		struct editor *e = &eds[i];
		if (!e->opened || e->broken)
			return;
		if (rev <= e->rev) {
			st.dup_ops++;
			return;
		}
		if (rev != e->rev + 1) {
			st.gaps++;
			editor_broken(i, "revision_gap");
			return;
		}
		editor_remote(i, rev, op, now);
		return;
	}
	if (js_is_str(type, "doc.ack")) {
		int64_t rev;
		if (js_member(o, "rev", &v) != 0 || js_int(v, &rev) != 0) {
			st.bad_frames++;
			return;
		}
		editor_ack(i, rev, now);
		return;
	}
	if (js_is_str(type, "doc.nack") || js_is_str(type, "doc.error")) {
		struct span code = { (const uint8_t *)"\"?\"", 3 };
		js_member(o, "code", &code);
		st.nacks++;
		if (code.n >= 2)
			count_code(st.nack_codes, (const char *)code.p + 1, code.n - 2);
		if (eds[i].opening) {
			eds[i].opening = 0;
			st.opens_pending--;
			st.open_failed++;
		}
		editor_broken(i, js_is_str(type, "doc.nack") ? "nack" : "doc_error");
		return;
	}
	if (js_is_str(type, "doc.state")) {
		int64_t rev, len = 0;
		struct span content;
		if (js_member(o, "rev", &v) != 0 || js_int(v, &rev) != 0 || js_member(o, "content", &content) != 0 ||
		    delta_walk(content, doclen_fn, &len) != 0) {
			st.bad_frames++;
			return;
		}
		editor_state(i, rev, len, now);
		return;
	}
	if (js_is_str(type, "ping")) {
		st.pings++;
		ws_send_text(i, "{\"type\":\"pong\"}", 15);
		return;
	}
	if (js_is_str(type, "hello") && c->step == W_HELLO) {
		c->step = W_RESUMED;
		ws_send_text(i, "{\"type\":\"resume\"}", 17);
		return;
	}
	if (js_is_str(type, "resumed") && c->step == W_RESUMED) {
		c->step = W_LIVE;
		c->state = S_READY;
		st.inflight--;
		st.ready++;
		return;
	}
	if (js_is_str(type, "error")) {
		struct span code = { (const uint8_t *)"\"?\"", 3 };
		js_member(o, "code", &code);
		if (code.n >= 2)
			count_code(st.error_codes, (const char *)code.p + 1, code.n - 2);
		return;
	}
	st.other_frames++;   /* doc.cursor, doc.left, presence, pong, event ... */
	if (type.n >= 2)
		count_code(st.other_types, (const char *)type.p + 1, type.n - 2);
}

/* ---- ShareDB frames ------------------------------------------------------------------ */
static void sd_subscribe(int i)
{
	char m[256];
	int n = snprintf(m, sizeof m, "{\"a\":\"s\",\"c\":\"%s\",\"d\":\"%s\",\"v\":null}", cfg.collection,
	                 cfg.docname);
	eds[i].opening = 1;
	st.opens_pending++;
	ws_send_text(i, m, (size_t)n);
}

static void sd_fetch(int i)
{
	char m[256];
	int n = snprintf(m, sizeof m, "{\"a\":\"f\",\"c\":\"%s\",\"d\":\"%s\",\"v\":%" PRId64 "}", cfg.collection,
	                 cfg.docname, eds[i].rev);
	eds[i].fetching = 1;
	st.fetches++;
	ws_send_text(i, m, (size_t)n);
}

static void sd_text(int i, const uint8_t *p, size_t n, int64_t now)
{
	struct conn *c = &conns[i];
	struct editor *e = &eds[i];
	struct span o = { p, n }, a, v, err;
	st.frames_in++;
	if (js_member(o, "a", &a) != 0) {
		st.bad_frames++;
		return;
	}
	if (js_member(o, "error", &err) == 0) {
		struct span code = { (const uint8_t *)"\"?\"", 3 }, m = { (const uint8_t *)"\"?\"", 3 };
		js_member(err, "code", &code);
		js_member(err, "message", &m);
		if (code.n >= 2)
			count_code(st.nack_codes, (const char *)code.p + (code.p[0] == '"'),
			           code.n - (code.p[0] == '"' ? 2 : 0));
		st.nacks++;
		if (st.nacks <= 3)
			fprintf(stderr, "docload: sharedb error to client %d: %.*s\n", i, (int)(m.n < 200 ? m.n : 200), m.p);
		if (e->opening) {
			e->opening = 0;
			st.opens_pending--;
			st.open_failed++;
		}
		editor_broken(i, "nack");
		return;
	}
	if (js_is_str(a, "op")) {
		struct span op, src, seqs;
		int64_t ver, seq = -1;
		if (js_member(o, "v", &v) != 0 || js_int(v, &ver) != 0) {
			st.bad_frames++;
			return;
		}
		bool has_op = js_member(o, "op", &op) == 0;
		if (!has_op && js_member(o, "create", &op) != 0 && js_member(o, "del", &op) != 0) {
			/* an ack: our src and the seq of the op in flight */
			if (js_member(o, "seq", &seqs) != 0 || js_int(seqs, &seq) != 0 || js_member(o, "src", &src) != 0 ||
			    src.n < 2 || src.n - 2 != strlen(e->src) || memcmp(src.p + 1, e->src, src.n - 2) != 0 ||
			    !e->inflight || seq != (int64_t)e->seq) {
				st.ack_mismatch++;
				return;
			}
			if (ver != e->rev) {   /* the server sends the ops we miss before the ack */
				st.ack_mismatch++;
				editor_broken(i, "ack_version");
			}
			e->rev = ver;   /* editor_ack checks rev = ours + 1 */
			editor_ack(i, ver + 1, now);
			return;
		}
		if (!has_op) {
			st.other_frames++;   /* someone else's create/delete */
			return;
		}
		if (!e->opened || e->broken)
			return;
		if (ver < e->rev) {
			st.dup_ops++;   /* ShareDB may send an op twice (submit reply and stream) */
			return;
		}
		if (ver > e->rev) {
			st.gaps++;
			if (!e->fetching)
				sd_fetch(i);
			return;
		}
		editor_remote(i, ver + 1, op, now);
		return;
	}
	if (js_is_str(a, "f")) {
		e->fetching = 0;
		return;
	}
	if (js_is_str(a, "s")) {
		struct span data, ver, body;
		int64_t sv, len = 0;
		if (js_member(o, "data", &data) != 0 || js_member(data, "v", &ver) != 0 || js_int(ver, &sv) != 0) {
			st.bad_frames++;
			return;
		}
		if (js_member(data, "data", &body) == 0 && !(body.n == 4 && memcmp(body.p, "null", 4) == 0) &&
		    delta_walk(body, doclen_fn, &len) != 0) {
			st.bad_frames++;
			return;
		}
		editor_state(i, sv, len, now);
		return;
	}
	if (js_is_str(a, "hs")) {
		struct span id;
		if (js_member(o, "id", &id) != 0 || id.n < 3 || id.n - 2 > DL_SRCID_MAX || id.p[0] != '"' ||
		    memchr(id.p + 1, '\\', id.n - 2)) {
			conn_kill(i, F_PROTO);
			return;
		}
		memcpy(e->src, id.p + 1, id.n - 2);
		e->src[id.n - 2] = 0;
		if (c->step != W_LIVE) {
			c->step = W_LIVE;
			c->state = S_READY;
			st.inflight--;
			st.ready++;
		}
		return;
	}
	st.other_frames++;   /* init (legacy hello), pp ... */
	if (a.n >= 2)
		count_code(st.other_types, (const char *)a.p + 1, a.n - 2);
}

static void sd_hello(int i)
{
	/* as Connection._initializeHandshake: the server's legacy "init" arrives too */
	static const char hs[] = "{\"a\":\"hs\",\"id\":null,\"protocol\":1,\"protocolMinor\":2}";
	ws_send_text(i, hs, sizeof hs - 1);
}

/* ---- the document set-up --------------------------------------------------------------- */
static int64_t init_len;     /* N paragraphs */
static int64_t base_len;     /* what the document holds besides them (its final "\n") */
static int init_state;       /* 0 none, 1 opening (init_client), 2 init op in flight, 3 done, -1 failed */
static int init_client;      /* the first client that connected writes the paragraphs */

static void setup_fail(const char *msg)
{
	if (init_state != -1)
		snprintf(st.setup_error, sizeof st.setup_error, "%s", msg);
	init_state = -1;
}

static void open_doc(int i)
{
	if (cfg.proto == P_BULWARK)
		bw_open(i);
	else
		sd_subscribe(i);
}

static void editor_state(int i, int64_t rev, int64_t len, int64_t now)
{
	struct editor *e = &eds[i];
	if (!e->opening) {
		st.other_frames++;
		return;
	}
	e->opening = 0;
	st.opens_pending--;
	if (i == init_client && init_state == 1) {
		/* a fresh document: bulwark "\n" at revision 0; sharedb not created (v 0) */
		int64_t want = cfg.proto == P_BULWARK ? 1 : 0;
		if (rev != 0 || len != want) {
			char m[128];
			snprintf(m, sizeof m, "the document is not fresh: revision %" PRId64 ", length %" PRId64, rev, len);
			setup_fail(m);
			return;
		}
		size_t tl = (size_t)init_len + 1;
		char *text = malloc(tl + 1), *msg = malloc(2 * tl + 512);   /* "\n" is written \n */
		if (!text || !msg) {
			free(text);
			free(msg);
			setup_fail("out of memory");
			return;
		}
		for (int k = 0; k < cfg.n; k++)
			region_init_text(k, text + (size_t)k * DL_REGION_INIT);
		/* in JSON "\n" is written \n: build the string with escapes */
		size_t m = 0;
		m += (size_t)(cfg.proto == P_BULWARK
			? snprintf(msg, 512, "{\"type\":\"doc.op\",\"doc\":%" PRId64 ",\"rev\":0,\"oid\":\"init\","
			           "\"op\":{\"ops\":[{\"insert\":\"", cfg.doc)
			: snprintf(msg, 512, "{\"a\":\"op\",\"c\":\"%s\",\"d\":\"%s\",\"v\":0,\"src\":\"%s\",\"seq\":1,"
			           "\"x\":{},\"create\":{\"type\":\"http://sharejs.org/types/rich-text/v1\",\"data\":"
			           "[{\"insert\":\"", cfg.collection, cfg.docname, e->src));
		for (size_t k = 0; k < (size_t)init_len; k++) {
			if (text[k] == '\n') {
				msg[m++] = '\\';
				msg[m++] = 'n';
			} else {
				msg[m++] = text[k];
			}
		}
		if (cfg.proto == P_SHAREDB) {
			memcpy(msg + m, "\\n", 2);   /* the document's final newline (bulwark has it) */
			m += 2;
		}
		m += (size_t)snprintf(msg + m, 64, cfg.proto == P_BULWARK ? "\"}]}}" : "\"}]}}");
		free(text);
		e->rev = rev;
		e->seq = cfg.proto == P_SHAREDB ? 1 : 0;
		if (ws_send_text(i, msg, m) != 0) {
			free(msg);
			setup_fail("cannot send the initial op");
			return;
		}
		free(msg);
		e->inflight = 1;
		e->t_send = e->t_edit0 = now;
		init_state = 2;
		return;
	}
	if (init_state != 3) {
		char m[128];
		snprintf(m, sizeof m, "client %d got a document state during set-up (state %d)", i, init_state);
		setup_fail(m);
		return;
	}
	if (rev != 1 || len != init_len + base_len) {
		st.open_failed++;
		fprintf(stderr, "docload: client %d opened revision %" PRId64 " with %" PRId64 " characters, "
		        "expected 1 and %" PRId64 "\n", i, rev, len, init_len + base_len);
		editor_broken(i, "open_state");
		return;
	}
	editor_set_initial(i);
	e->rev = rev;
	e->doclen = len;
	e->opened = 1;
	st.opened++;
}

/* The ack of the initial op (client 0). */
static void init_acked(int64_t rev)
{
	struct editor *e = &eds[init_client];
	if (rev != 1) {
		char m[128];
		snprintf(m, sizeof m, "the initial op became revision %" PRId64 ", not 1", rev);
		setup_fail(m);
		return;
	}
	e->inflight = 0;
	editor_set_initial(init_client);
	e->rev = 1;
	e->doclen = init_len + base_len;
	e->opened = 1;
	st.opened++;
	st.max_rev = 1;
	init_state = 3;
}

/* Frames during set-up go here first: the initial op's ack is not an edit. */
static bool setup_frame(int i, const uint8_t *p, size_t n)
{
	if (i != init_client || init_state != 2)
		return false;
	struct span o = { p, n }, t, v;
	int64_t rev;
	if (cfg.proto == P_BULWARK) {
		if (js_member(o, "type", &t) != 0)
			return false;
		if (js_is_str(t, "doc.nack")) {
			setup_fail("the initial op was refused");
			return true;
		}
		if (!js_is_str(t, "doc.ack") || js_member(o, "rev", &v) != 0 || js_int(v, &rev) != 0)
			return false;
		init_acked(rev);
		return true;
	}
	if (js_member(o, "a", &t) != 0 || !js_is_str(t, "op"))
		return false;
	if (js_member(o, "error", &v) == 0) {
		setup_fail("the create op was refused");
		return true;
	}
	if (js_member(o, "op", &v) == 0 || js_member(o, "v", &v) != 0 || js_int(v, &rev) != 0)
		return false;
	init_acked(rev + 1);
	return true;
}

/* ---- frames ------------------------------------------------------------------------ */
static long ws_parse(int i, const uint8_t *p, size_t n, int64_t now)
{
	size_t off = 0;
	if (conns[i].step == W_HTTP) {
		long h = ws_http(i, p, n);
		if (h <= 0)
			return h;
		off = (size_t)h;
		if (cfg.proto == P_SHAREDB)
			sd_hello(i);
	}
	while (off + 2 <= n) {
		const uint8_t *f = p + off;
		size_t avail = n - off, hl = 2;
		uint8_t op = f[0] & 0x0f;
		bool fin = f[0] & 0x80;
		if (f[1] & 0x80) {
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
		if (pl > DL_FRAME_MAX) {
			conn_kill(i, F_TOOBIG);
			return -1;
		}
		if (avail < hl + pl)
			break;
		const uint8_t *pay = f + hl;
		off += hl + (size_t)pl;
		if (!fin || op == 0) {
			conn_kill(i, F_PROTO);   /* both servers send whole messages */
			return -1;
		}
		if (op == 1) {
			if (!setup_frame(i, pay, (size_t)pl)) {
				if (cfg.proto == P_BULWARK)
					bw_text(i, pay, (size_t)pl, now);
				else
					sd_text(i, pay, (size_t)pl, now);
			}
		} else if (op == 8) {
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

/* ---- connection state machine (as bench/chatload.c) --------------------------------- */
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
	int src = cfg.src_base + i / cfg.per_src;
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
	return r == 0 ? 1 : 0;
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
	/* TLS reads one record per SSL_read (read-ahead keeps the syscalls
	 * few); frames are parsed once 64 KiB or everything available is in */
	bool more = true;
	for (int pass = 0; pass < 1024 && more; pass++) {
		if (have == DL_SCRATCH_MAX) {
			conn_kill(i, F_TOOBIG);
			return;
		}
		long r = io_read(c, scratch + have, DL_SCRATCH_MAX - have);
		if (r < 0) {
			conn_kill(i, c->state == S_PROTO ? F_EOF : F_CLOSED);
			return;
		}
		if (r == 0)
			more = false;
		st.rx_bytes += (uint64_t)(r > 0 ? r : 0);
		have += (size_t)(r > 0 ? r : 0);
		if (have && (!more || have >= 65536 || pass == 1023)) {
			long used = ws_parse(i, scratch, have, now);
			if (used < 0 || c->state == S_DEAD)
				return;
			memmove(scratch, scratch + used, have - (size_t)used);
			have -= (size_t)used;
		}
	}
	/* stopped with input left inside OpenSSL: epoll will not report it */
	if (more && c->ssl && SSL_has_pending(c->ssl) && !c->again && nagain < cfg.n) {
		c->again = 1;
		again[nagain++] = i;
	}
	if (have) {
		if (have > DL_RBUF_MAX) {
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

static void proto_start(int i)
{
	conns[i].state = S_PROTO;
	ws_start(i);
	if (conns[i].state != S_DEAD)
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
		proto_start(i);
		if (c->state == S_DEAD)
			return;
		conn_readable(i, now);
		return;
	}
	case S_PROTO:
	case S_READY:
		if (ev & EPOLLOUT) {
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

/* ---- arguments ------------------------------------------------------------------ */
static void usage(void)
{
	fputs("usage: docload --proto bulwark|sharedb --port P --n N [options]\n"
	      "  --host 127.0.0.1 --tls 1|0 (bulwark: always TLS) --ca CERT.pem\n"
	      "  bulwark: --users FILE (user_id<TAB>username<TAB>ticket) --doc ID (a fresh document\n"
	      "           every user may edit)\n"
	      "  sharedb: --collection docs --docname bench (a document that does not exist yet)\n"
	      "  --rate 5 (edits per second per editor)  --warmup 5 --duration 20 --drain 20\n"
	      "  --settle 1  --conc 128  --connect-rate 1000  --per-src 50  --src-base 0\n"
	      "  --connect-timeout 120  --open-timeout 120  --server-pid PID[,PID...]  --seed 1\n"
	      "  --expect-out FILE   write the text the document must hold after the run\n", stderr);
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
			else if (!strcmp(v, "sharedb")) cfg.proto = P_SHAREDB;
			else return -1;
		}
		else if (!strcmp(a, "--host")) cfg.host = v;
		else if (!strcmp(a, "--port")) cfg.port = atoi(v);
		else if (!strcmp(a, "--tls")) cfg.tls = atoi(v);
		else if (!strcmp(a, "--ca")) cfg.ca = v;
		else if (!strcmp(a, "--users")) cfg.users_file = v;
		else if (!strcmp(a, "--doc")) cfg.doc = strtoll(v, NULL, 10);
		else if (!strcmp(a, "--collection")) cfg.collection = v;
		else if (!strcmp(a, "--docname")) cfg.docname = v;
		else if (!strcmp(a, "--n")) cfg.n = atoi(v);
		else if (!strcmp(a, "--rate")) cfg.rate = atof(v);
		else if (!strcmp(a, "--warmup")) cfg.warmup_s = atof(v);
		else if (!strcmp(a, "--duration")) cfg.duration_s = atof(v);
		else if (!strcmp(a, "--drain")) cfg.drain_s = atof(v);
		else if (!strcmp(a, "--settle")) cfg.settle_s = atof(v);
		else if (!strcmp(a, "--conc")) cfg.conc = atoi(v);
		else if (!strcmp(a, "--connect-rate")) cfg.connect_rate = atoi(v);
		else if (!strcmp(a, "--per-src")) cfg.per_src = atoi(v);
		else if (!strcmp(a, "--src-base")) cfg.src_base = atoi(v);
		else if (!strcmp(a, "--connect-timeout")) cfg.connect_timeout_s = atoi(v);
		else if (!strcmp(a, "--open-timeout")) cfg.open_timeout_s = atoi(v);
		else if (!strcmp(a, "--server-pid")) cfg.pids_arg = v;
		else if (!strcmp(a, "--seed")) cfg.seed = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--expect-out")) cfg.expect_out = v;
		else return -1;
	}
	struct in_addr ia;
	if (cfg.port <= 0 || cfg.port > 65535 || cfg.n < 2 || cfg.n > DL_N_MAX ||
	    inet_pton(AF_INET, cfg.host, &ia) != 1 || (ntohl(ia.s_addr) >> 24) != 127) {
		fprintf(stderr, "docload: need --port, 2 <= --n <= %d and a 127.x --host\n", DL_N_MAX);
		return -1;
	}
	if (!(cfg.rate > 0 && cfg.rate <= 100) || cfg.warmup_s < 0 || cfg.warmup_s > 600 ||
	    cfg.duration_s <= 0 || cfg.duration_s > 3600 || cfg.drain_s < 0 || cfg.drain_s > 600 ||
	    cfg.settle_s < 0 || cfg.settle_s > 60 || cfg.conc <= 0 || cfg.connect_rate <= 0 ||
	    cfg.per_src <= 0 || cfg.src_base < 0 || cfg.src_base > DL_SRC_MAX ||
	    (cfg.n - 1) / cfg.per_src >= DL_SRC_MAX - cfg.src_base || cfg.connect_timeout_s <= 0 ||
	    cfg.connect_timeout_s > 3600 || cfg.open_timeout_s <= 0 || cfg.open_timeout_s > 3600 ||
	    (cfg.tls != 0 && cfg.tls != 1)) {
		fprintf(stderr, "docload: a rate, duration or size is out of range\n");
		return -1;
	}
	if (cfg.proto == P_BULWARK && (!cfg.users_file || !cfg.tls || cfg.doc <= 0)) {
		fprintf(stderr, "docload: bulwark needs --users, --doc and TLS\n");
		return -1;
	}
	if (strlen(cfg.collection) > 64 || strlen(cfg.docname) > 64 || strpbrk(cfg.collection, "\"\\") ||
	    strpbrk(cfg.docname, "\"\\")) {
		fprintf(stderr, "docload: --collection/--docname too long or not plain\n");
		return -1;
	}
	if ((int64_t)cfg.n * DL_REGION_INIT * 2 + 1024 > (int64_t)DL_OUT_MAX) {
		fprintf(stderr, "docload: the initial op for %d editors would not fit a frame\n", cfg.n);
		return -1;
	}
	if (cfg.pids_arg) {
		const char *s = cfg.pids_arg;
		while (*s && npids < DL_PIDS_MAX) {
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
		if (!tl || tl > DL_TICKET_MAX || strpbrk(t, " \r\n")) {
			fprintf(stderr, "docload: bad ticket on line %d of %s\n", ntickets + 1, path);
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
	if (ntickets < cfg.n) {
		fprintf(stderr, "docload: %d tickets for %d editors: need one user per editor\n", ntickets, cfg.n);
		return -1;
	}
	return 0;
}

/* ---- results --------------------------------------------------------------------- */
static void print_hist(const char *name, const struct hist *h, bool comma)
{
	printf("    \"%s\": {\"count\": %" PRIu64 ", \"p50\": %" PRIu64 ", \"p95\": %" PRIu64 ", \"p99\": %" PRIu64
	       ", \"p999\": %" PRIu64 ", \"max\": %" PRIu64 ", \"mean\": %.0f}%s\n", name, h->count, hist_pct(h, 50),
	       hist_pct(h, 95), hist_pct(h, 99), hist_pct(h, 99.9), h->max,
	       h->count ? (double)h->sum / (double)h->count : 0.0, comma ? "," : "");
}

static void print_codes(const char *name, const struct codecount *tab)
{
	printf("  \"%s\": {", name);
	for (int i = 0, first = 1; i < DL_CODES_MAX && tab[i].code[0]; i++, first = 0)
		printf("%s\"%s\": %ld", first ? "" : ", ", tab[i].code, tab[i].count);
	printf("},\n");
}

/* Everyone at the same revision, nothing pending (the drain is over). */
static bool converged(void)
{
	for (int i = 0; i < cfg.n; i++) {
		struct editor *e = &eds[i];
		if (conns[i].state != S_READY || !e->opened || e->broken)
			continue;
		if (e->inflight || e->edits_buffered || e->rev != st.max_rev || e->fetching)
			return false;
	}
	return true;
}

/* Checks the final state; writes the expected text.  Fills the verdict. */
static struct {
	int live, at_max_rev, start_ok, doclen_ok;
	int64_t min_rev, max_rev, expected_len, min_doclen, max_doclen;
	bool consistent;
} fin;

static void final_check(void)
{
	int64_t pos = 0;
	fin.min_rev = INT64_MAX;
	fin.min_doclen = INT64_MAX;
	for (int i = 0; i < cfg.n; i++)
		pos += eds[i].conf_len;   /* paragraphs never opened keep their initial text */
	fin.expected_len = pos + base_len;
	pos = 0;
	for (int i = 0; i < cfg.n; i++) {
		struct editor *e = &eds[i];
		if (conns[i].state == S_READY && e->opened && !e->broken) {
			fin.live++;
			fin.at_max_rev += e->rev == st.max_rev;
			fin.start_ok += e->start == pos;
			fin.doclen_ok += e->doclen == fin.expected_len;
			if (e->rev < fin.min_rev)
				fin.min_rev = e->rev;
			if (e->rev > fin.max_rev)
				fin.max_rev = e->rev;
			if (e->doclen < fin.min_doclen)
				fin.min_doclen = e->doclen;
			if (e->doclen > fin.max_doclen)
				fin.max_doclen = e->doclen;
		}
		pos += e->conf_len;
	}
	if (!fin.live)
		fin.min_rev = fin.min_doclen = 0;
	fin.consistent = fin.live == cfg.n && fin.at_max_rev == fin.live && fin.start_ok == fin.live &&
	                 fin.doclen_ok == fin.live;
	if (cfg.expect_out) {
		FILE *f = fopen(cfg.expect_out, "w");
		if (!f) {
			perror(cfg.expect_out);
			return;
		}
		for (int i = 0; i < cfg.n; i++)
			fwrite(eds[i].conf, 1, eds[i].conf_len, f);
		fputs("\n", f);   /* the document's final newline */
		fclose(f);
	}
}

/* ---- main ----------------------------------------------------------------------- */
enum phase { PH_CONNECT, PH_OPEN, PH_SETTLE, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_DONE };
static const char *const phase_names[] = { "connect", "open", "settle", "warmup", "measure", "drain", "done" };

int main(int argc, char **argv)
{
	if (parse_args(argc, argv) != 0) {
		usage();
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)cfg.n + 64) {
		if (rl.rlim_max < (rlim_t)cfg.n + 64) {
			fprintf(stderr, "docload: open-file limit %llu is below N + 64\n", (unsigned long long)rl.rlim_max);
			return 2;
		}
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (cfg.proto == P_BULWARK && users_load(cfg.users_file) != 0)
		return 2;
	init_len = (int64_t)cfg.n * DL_REGION_INIT;
	base_len = 1;
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
		SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x08http/1.1", 9);
		SSL_CTX_set_read_ahead(ctx, 1);
		if (cfg.ca) {
			if (SSL_CTX_load_verify_locations(ctx, cfg.ca, NULL) != 1) {
				fprintf(stderr, "docload: cannot load %s\n", cfg.ca);
				return 2;
			}
			SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		}
	}
	conns = calloc((size_t)cfg.n, sizeof *conns);
	again = calloc((size_t)cfg.n, sizeof *again);
	again_run = calloc((size_t)cfg.n, sizeof *again_run);
	eds = calloc((size_t)cfg.n, sizeof *eds);
	scratch = malloc(DL_SCRATCH_MAX);
	outbuf = malloc(DL_OUT_MAX + 16);
	revtab = calloc(DL_REVTAB, sizeof *revtab);
	pend = calloc(DL_PEND_MAX, sizeof *pend);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || !again || !again_run || !eds || !scratch || !outbuf || !revtab || !pend || epfd < 0)
		return 1;
	for (int i = 0; i < cfg.n; i++) {
		conns[i].fd = -1;
		editor_set_initial(i);
	}
	for (uint32_t k = 0; k < DL_REVTAB; k++)
		revtab[k].pend = -1;
	for (int32_t k = DL_PEND_MAX - 1; k >= 0; k--) {
		pend[k].next = pend_free;
		pend_free = k;
	}

	long rss_idle = servers_rss_kib(), rss_opened = -1, rss_end_measure = -1;
	int64_t t0 = mono_ns(), now = t0;
	int64_t deadline = t0 + (int64_t)cfg.connect_timeout_s * 1000000000;
	int64_t phase_end = 0, last_rate_tick = t0, next_rss = 0, next_report = t0 + 5000000000LL;
	int64_t edit_int = (int64_t)(1e9 / (cfg.rate * cfg.n)), next_edit = 0, t_drain_end = 0;
	int rate_tokens = cfg.connect_rate / 20 + 1, next_open = 0;
	uint64_t edit_rr = 0;
	char loadavg_start[64] = "", loadavg_end[64] = "";
	enum phase ph = PH_CONNECT;
	bool drained = false;
	FILE *lf = fopen("/proc/loadavg", "r");
	if (lf) {
		if (fgets(loadavg_start, sizeof loadavg_start, lf))
			loadavg_start[strcspn(loadavg_start, " \n")] = 0;
		fclose(lf);
	}
	st.t_connect_start = t0;
	fprintf(stderr, "docload: %s, %d editors (%s), %.1f edits/s each; server RSS %ld KiB\n",
	        cfg.proto == P_BULWARK ? "bulwark" : "sharedb", cfg.n, cfg.tls ? "TLS" : "plain TCP", cfg.rate,
	        rss_idle);

	struct epoll_event ev[512];
	while (ph != PH_DONE) {
		if (stop_flag) {
			fprintf(stderr, "docload: interrupted in phase %s\n", phase_names[ph]);
			if (ph == PH_MEASURE) {
				win.t_end = now;
				win.cpu1 = servers_cpu_ticks();
				win.self1 = self_cpu_s();
				win.srv_iv1 = servers_nivcsw();
				win.self_iv1 = proc_nivcsw((int)getpid());
			}
			break;
		}
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
		int64_t wait_ns = 20000000;
		if (ph == PH_WARMUP || ph == PH_MEASURE) {
			int64_t d = next_edit - mono_ns();
			wait_ns = d < 0 ? 0 : d < wait_ns ? d : wait_ns;
		}
		if (nagain)
			wait_ns = 0;
		struct timespec wt = { .tv_sec = 0, .tv_nsec = (long)wait_ns };
		int k = epoll_pwait2(epfd, ev, 512, &wt, NULL);
		now = mono_ns();
		/* the thread's CPU time shows whether a long batch worked or waited
		 * (preempted: the core was shared); one cheap syscall, measure only */
		int64_t busy0 = now, cpu_b0 = ph == PH_MEASURE ? thread_cpu_ns() : 0;
		uint64_t frames0 = st.frames_in;
		for (int j = 0; j < k; j++)
			conn_event((int)ev[j].data.u32, ev[j].events, now);
		if (nagain) {   /* those may queue themselves again */
			int na = nagain;
			memcpy(again_run, again, (size_t)na * sizeof *again);
			nagain = 0;
			for (int j = 0; j < na; j++) {
				int c = again_run[j];
				conns[c].again = 0;
				if (conns[c].state == S_READY || conns[c].state == S_PROTO)
					conn_readable(c, now);
			}
		}
		now = mono_ns();
		if (ph == PH_MEASURE) {
			hist_add(&win.loop_busy, (uint64_t)(now - busy0) / 1000);
			if (now - busy0 > 100000000) {
				win.long_batches++;
				int64_t on_cpu = thread_cpu_ns() - cpu_b0;
				if (now - busy0 > 2 * on_cpu)
					win.long_batches_waiting++;
				if (win.long_batches <= 5)
					fprintf(stderr, "docload: one batch of %d events (%" PRIu64 " frames) took %.0f ms, "
					        "%.0f ms of it on the CPU (%.1f s in)\n", k, st.frames_in - frames0,
					        (double)(now - busy0) / 1e6, (double)on_cpu / 1e6, (double)(now - t0) / 1e9);
			}
		}
		/* edits that are due (open loop, on the clock) */
		if (ph == PH_WARMUP || ph == PH_MEASURE) {
			for (int guard = 0; guard < 20000 && next_edit <= now; guard++) {
				if (ph == PH_MEASURE)
					hist_add(&win.sched_lag, (uint64_t)(now - next_edit) / 1000);
				editor_edit((int)(edit_rr++ % (uint64_t)cfg.n), mono_ns());
				next_edit += edit_int;
			}
			now = mono_ns();
		}
		if (ph == PH_MEASURE && now >= next_rss) {
			long r = servers_rss_kib();
			if (r > win.rss_peak)
				win.rss_peak = r;
			next_rss = now + 500000000;
		}
		switch (ph) {
		case PH_CONNECT:
			if (st.ready + st.dead >= cfg.n || now >= deadline) {
				for (int i = 0; i < cfg.n; i++)
					if (conns[i].state != S_READY && conns[i].state != S_DEAD && conns[i].state != S_IDLE)
						conn_kill(i, F_TIMEOUT);
				st.t_connect_end = now;
				fprintf(stderr, "docload: connected %d, failed %d in %.2f s\n", st.ready, st.dead,
				        (double)(now - t0) / 1e9);
				for (int f = 0; f < F_NFAIL; f++)
					if (st.fails[f])
						fprintf(stderr, "docload:   %ld failed at %s\n", st.fails[f], fail_names[f]);
				if (st.first_bad_status[0])
					fprintf(stderr, "docload:   first refused upgrade: %s\n", st.first_bad_status);
				init_client = 0;
				while (init_client < cfg.n && conns[init_client].state != S_READY)
					init_client++;
				if (init_client == cfg.n) {
					setup_fail("no client connected");
					fprintf(stderr, "docload: set-up failed: %s\n", st.setup_error);
					ph = PH_DONE;
					break;
				}
				ph = PH_OPEN;
				deadline = now + (int64_t)cfg.open_timeout_s * 1000000000;
				init_state = 1;
				open_doc(init_client);
			}
			break;
		case PH_OPEN:
			if (init_state == -1 || now >= deadline) {
				if (init_state != -1) {
					char m[128];
					snprintf(m, sizeof m, "opening timed out: %d of %d open", st.opened, cfg.n);
					setup_fail(m);
				}
				fprintf(stderr, "docload: set-up failed: %s\n", st.setup_error);
				ph = PH_DONE;
				break;
			}
			if (init_state == 3) {
				while (next_open < cfg.n && st.opens_pending < cfg.conc) {
					int i = next_open++;
					if (conns[i].state == S_READY && i != init_client)
						open_doc(i);
				}
				if (next_open >= cfg.n && st.opens_pending == 0) {
					st.t_open_end = now;
					fprintf(stderr, "docload: %d editors opened the document (%d failed) in %.2f s\n",
					        st.opened, st.open_failed, (double)(now - st.t_connect_end) / 1e9);
					ph = PH_SETTLE;
					phase_end = now + (int64_t)(cfg.settle_s * 1e9);
				}
			}
			break;
		case PH_SETTLE:
			if (now >= phase_end) {
				rss_opened = servers_rss_kib();
				ph = PH_WARMUP;
				phase_end = now + (int64_t)(cfg.warmup_s * 1e9);
				next_edit = now;
				st.t_edits_start = now;
			}
			break;
		case PH_WARMUP:
			if (now >= phase_end) {
				ph = PH_MEASURE;
				win.t_start = now;
				win.t_end = INT64_MAX;
				phase_end = now + (int64_t)(cfg.duration_s * 1e9);
				win.cpu0 = servers_cpu_ticks();
				win.self0 = self_cpu_s();
				win.srv_iv0 = servers_nivcsw();
				win.self_iv0 = proc_nivcsw((int)getpid());
				win.rss_peak = servers_rss_kib();
				fprintf(stderr, "docload: measuring %.0f s\n", cfg.duration_s);
			}
			break;
		case PH_MEASURE:
			if (now >= phase_end) {
				win.t_end = now;
				win.cpu1 = servers_cpu_ticks();
				win.self1 = self_cpu_s();
				win.srv_iv1 = servers_nivcsw();
				win.self_iv1 = proc_nivcsw((int)getpid());
				rss_end_measure = servers_rss_kib();
				ph = PH_DRAIN;
				phase_end = now + (int64_t)(cfg.drain_s * 1e9);
			}
			break;
		case PH_DRAIN:
			if (converged()) {
				drained = true;
				t_drain_end = now;
				ph = PH_DONE;
			} else if (now >= phase_end) {
				t_drain_end = now;
				ph = PH_DONE;
			}
			break;
		default:
			break;
		}
		if (now >= next_report) {
			next_report = now + 5000000000LL;
			fprintf(stderr, "docload: [%s] ready=%d dead=%d opened=%d edits=%ld ops=%ld acks=%ld remote=%ld "
			        "rev=%" PRId64 " nacks=%ld rx=%.1fMB\n", phase_names[ph], st.ready, st.dead, st.opened,
			        st.edits, st.ops_sent, st.acks, st.remote_ops, st.max_rev, st.nacks, (double)st.rx_bytes / 1e6);
		}
	}
	long rss_end = servers_rss_kib();
	lf = fopen("/proc/loadavg", "r");
	if (lf) {
		if (fgets(loadavg_end, sizeof loadavg_end, lf))
			loadavg_end[strcspn(loadavg_end, " \n")] = 0;
		fclose(lf);
	}
	final_check();
	long broken = 0, pending_ops = 0;
	for (int i = 0; i < cfg.n; i++) {
		broken += eds[i].broken;
		pending_ops += eds[i].inflight || eds[i].edits_buffered;
	}
	long unresolved = 0;
	for (uint32_t k = 0; k < DL_REVTAB; k++)
		for (int32_t p = revtab[k].pend; p >= 0; p = pend[p].next)
			unresolved++;

	long tck = sysconf(_SC_CLK_TCK);
	double w = win.t_end > win.t_start && win.t_start ? (double)(win.t_end - win.t_start) / 1e9 : 0;
	double cpu_s = win.cpu0 >= 0 && win.cpu1 > 0 ? (double)(win.cpu1 - win.cpu0) / (double)tck : -1;
	printf("{\n  \"proto\": \"%s\", \"tls\": %s, \"n\": %d, \"rate_per_editor\": %.2f, \"warmup_s\": %.1f, "
	       "\"duration_s\": %.1f,\n", cfg.proto == P_BULWARK ? "bulwark" : "sharedb", cfg.tls ? "true" : "false",
	       cfg.n, cfg.rate, cfg.warmup_s, cfg.duration_s);
	printf("  \"connected\": %d, \"connect_failed\": %d, \"lost_after_ready\": %d, \"connect_s\": %.2f, "
	       "\"opened\": %d, \"open_failed\": %d, \"open_s\": %.2f,\n", st.ready + st.lost_after_ready,
	       st.dead - st.lost_after_ready, st.lost_after_ready,
	       (double)(st.t_connect_end - st.t_connect_start) / 1e9, st.opened, st.open_failed,
	       st.t_open_end ? (double)(st.t_open_end - st.t_connect_end) / 1e9 : -1.0);
	printf("  \"setup_error\": \"%s\", \"first_bad_status\": \"%s\",\n", st.setup_error, st.first_bad_status);
	printf("  \"first_loss_s\": %.3f, \"last_loss_s\": %.3f, \"rev_at_first_loss\": %" PRId64 ",\n",
	       st.t_first_loss && st.t_edits_start ? (double)(st.t_first_loss - st.t_edits_start) / 1e9 : -1.0,
	       st.t_last_loss && st.t_edits_start ? (double)(st.t_last_loss - st.t_edits_start) / 1e9 : -1.0,
	       st.rev_first_loss);
	printf("  \"failures\": {");
	for (int f = 0, first = 1; f < F_NFAIL; f++)
		if (st.fails[f]) {
			printf("%s\"%s\": %ld", first ? "" : ", ", fail_names[f], st.fails[f]);
			first = 0;
		}
	printf("},\n");
	print_codes("nack_codes", st.nack_codes);
	print_codes("close_codes", st.close_codes);
	print_codes("error_codes", st.error_codes);
	print_codes("other_frame_types", st.other_types);
	printf("  \"server_rss_idle_kib\": %ld, \"server_rss_opened_kib\": %ld, \"server_rss_peak_kib\": %ld, "
	       "\"server_rss_end_measure_kib\": %ld, \"server_rss_end_kib\": %ld,\n", rss_idle, rss_opened,
	       win.rss_peak, rss_end_measure, rss_end);
	printf("  \"loadavg_start\": \"%s\", \"loadavg_end\": \"%s\", \"client_rss_kib\": %ld,\n", loadavg_start,
	       loadavg_end, proc_rss_kib((int)getpid()));
	printf("  \"edits\": %ld, \"edits_skipped\": %ld, \"ops_sent\": %ld, \"acks\": %ld, \"nacks\": %ld, "
	       "\"remote_ops\": %ld,\n", st.edits, st.edits_skipped, st.ops_sent, st.acks, st.nacks, st.remote_ops);
	printf("  \"dup_ops\": %ld, \"gaps\": %ld, \"fetches\": %ld, \"foreign_edits\": %ld, \"ack_mismatch\": %ld, "
	       "\"bad_frames\": %ld, \"other_frames\": %ld, \"server_pings\": %ld, \"broken_editors\": %ld,\n",
	       st.dup_ops, st.gaps, st.fetches, st.foreign_edits, st.ack_mismatch, st.bad_frames, st.other_frames,
	       st.pings, broken);
	printf("  \"latency_untracked\": %ld, \"pending_overflow\": %ld, \"pending_unresolved\": %ld, "
	       "\"pending_peak\": %d, \"revtab_dup\": %ld,\n", st.lat_untracked, st.pend_overflow, unresolved,
	       pend_used_max, st.revtab_dup);
	printf("  \"frames_in\": %" PRIu64 ", \"rx_bytes\": %" PRIu64 ", \"tx_bytes\": %" PRIu64 ",\n", st.frames_in,
	       st.rx_bytes, st.tx_bytes);
	printf("  \"converged\": %s, \"drain_s\": %.2f, \"editors_with_pending_ops\": %ld, \"final\": {\"live\": %d, "
	       "\"at_max_rev\": %d, \"start_ok\": %d, \"doclen_ok\": %d, \"min_rev\": %" PRId64 ", \"max_rev\": %" PRId64
	       ", \"server_rev_seen\": %" PRId64 ", \"expected_len\": %" PRId64 ", \"min_doclen\": %" PRId64
	       ", \"max_doclen\": %" PRId64 ", \"consistent\": %s},\n", drained ? "true" : "false",
	       t_drain_end && win.t_end < INT64_MAX && win.t_end ? (double)(t_drain_end - win.t_end) / 1e9 : -1.0,
	       pending_ops, fin.live, fin.at_max_rev, fin.start_ok, fin.doclen_ok, fin.min_rev, fin.max_rev,
	       st.max_rev, fin.expected_len, fin.min_doclen, fin.max_doclen, fin.consistent ? "true" : "false");
	printf("  \"window\": {\"window_s\": %.3f, \"edits\": %ld, \"edits_per_s\": %.1f, \"offered_edits_per_s\": %.1f, "
	       "\"ops_sent\": %ld, \"ops_per_s\": %.1f, \"acks\": %ld, \"edits_per_op\": %.2f,\n", w, win.edits,
	       w > 0 ? (double)win.edits / w : 0, cfg.rate * cfg.n, win.ops_sent, w > 0 ? (double)win.ops_sent / w : 0,
	       win.acks, win.acks ? (double)win.edits_in_acked_ops / (double)win.acks : 0);
	printf("   \"deliveries\": %ld, \"deliveries_per_s\": %.0f, \"expected_deliveries\": %ld,\n", win.deliveries,
	       w > 0 ? (double)win.deliveries / w : 0, win.acks * (long)(cfg.n - 1));
	printf("   \"acks_arrived\": %ld, \"committed_per_s\": %.1f, \"remote_ops_arrived_per_s\": %.0f,\n",
	       win.acks_arrived, w > 0 ? (double)win.acks_arrived / w : 0, w > 0 ? (double)win.remote_arrived / w : 0);
	printf("   \"server_cpu_s\": %.2f, \"server_cpu_pct\": %.1f, \"client_cpu_pct\": %.1f, "
	       "\"server_cpu_us_per_op\": %.1f,\n", cpu_s, w > 0 && cpu_s >= 0 ? 100.0 * cpu_s / w : -1.0,
	       w > 0 ? 100.0 * (win.self1 - win.self0) / w : -1.0,
	       win.acks_arrived && cpu_s >= 0 ? cpu_s * 1e6 / (double)win.acks_arrived : -1.0);
	printf("   \"long_batches\": %ld, \"long_batches_off_cpu\": %ld,\n", win.long_batches,
	       win.long_batches_waiting);
	printf("   \"server_preempted\": %ld, \"client_preempted\": %ld,\n",
	       win.srv_iv0 >= 0 && win.srv_iv1 >= 0 ? win.srv_iv1 - win.srv_iv0 : -1,
	       win.self_iv0 >= 0 && win.self_iv1 >= 0 ? win.self_iv1 - win.self_iv0 : -1);
	printf("   \"latency_us\": {\n");
	print_hist("rtt", &win.rtt, true);
	print_hist("edit_ack", &win.edit_ack, true);
	print_hist("bcast", &win.bcast, true);
	print_hist("edit_remote", &win.edit_remote, true);
	print_hist("edit_schedule_lag", &win.sched_lag, true);
	print_hist("generator_batch", &win.loop_busy, false);
	printf("   }}\n}\n");
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
	free(conns);
	free(again);
	free(again_run);
	free(eds);
	free(scratch);
	free(outbuf);
	free(revtab);
	free(pend);
	close(epfd);
	if (ctx)
		SSL_CTX_free(ctx);
	bool ok = st.dead == 0 && st.started == cfg.n && st.opened == cfg.n && st.nacks == 0 && drained &&
	          fin.consistent && !st.setup_error[0];
	return ok ? 0 : 1;
}
