/*
 * server.h — the network process: HTTPS + WebSocket on libwebsockets, the
 * request object handlers work with, and the API dispatcher (RG-APP-e,
 * RG-COMM-a, PS-COM-a…c, PS-AC-b, WC-TICKET, IN-SURGE).
 *
 * One event-loop thread owns every connection.  A request is parsed and
 * bounded (64 KiB body, 2 KiB path and query), authenticated from its ticket,
 * authorised by policy_check() through the route table, and answered with
 * JSON; slow work (Argon2id) goes to the worker pool and resumes on the loop.
 */
#ifndef BW_SERVER_H
#define BW_SERVER_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include "app.h"
#include "policy.h"
#include "store.h"
#include "util.h"
#include "workq.h"

#define REQ_BODY_MAX (64 * 1024)
#define UPLOAD_CHUNK_MAX (256 * 1024)    /* raw body of PUT /api/v1/uploads/{id} */
#define REQ_PATH_MAX 512
#define API_PARAM_MAX 80                  /* bytes of one '*' path segment + NUL */
#define RESP_BODY_MAX (64 * 1024 * 1024)
#define TICKET_TOKEN_LEN 32                 /* bytes of randomness: 256 bits */
#define TICKET_TOKEN_B64 43

enum http_method { M_GET = 1, M_POST, M_PUT, M_PATCH, M_DELETE, M_OTHER };

struct server_config {
	char listen_host[64];
	int port;
	char web_dir[1024];
	int workers;
	bool seccomp;
	long run_uid, run_gid;     /* -1: stay */
	char clamd_socket[108];    /* clamd's unix socket ("" : uploads fail closed) */
};

struct srv;
struct lws;
struct writer;
struct chat;
struct docs;

/* ---- realtime connections (http.c; protocol in chat.c) ------------------ */
#define WS_RX_MAX (1024 * 1024 + 64 * 1024) /* one client frame (a document op) */
#define WS_QUEUE_FRAMES 4096         /* per connection, then close 4008 (bytes bound it too) */
#define WS_QUEUE_BYTES (1024 * 1024)

/* A serialised frame shared by every connection it is queued on; the
 * payload starts at data + LWS_PRE (room for the WebSocket header). */
struct rt_frame {
	int refs;
	uint32_t len;
	char data[];
};
struct rt_frame *rt_frame_new(const char *json, size_t len);   /* refs = 1 */
void rt_frame_unref(struct rt_frame *f);
const char *rt_frame_text(const struct rt_frame *f);

struct ws_qnode { struct ws_qnode *next; struct rt_frame *f; };

enum ws_mode { WS_WAIT_RESUME = 0, WS_CATCHUP, WS_LIVE };

struct ws_conn {
	struct ws_conn *prev, *next;       /* every live socket */
	struct ws_conn *uprev, *unext;     /* the same user-hash bucket */
	struct lws *wsi;
	uint64_t serial;                   /* never reused: async completions find
	                                    * their socket by it */
	int64_t tenant_id, user_id;
	int role;
	uint8_t ticket_hash[CRYPTO_HASH_LEN];
	int64_t expires_at;
	int64_t next_ping_ms, next_check_ms;
	struct ws_qnode *q_head, *q_tail;
	uint32_t q_frames, q_bytes;
	int64_t cursor;                    /* highest event seq sent */
	uint8_t mode;                      /* enum ws_mode */
	bool closing;
	uint16_t close_code;
	char close_reason[16];
	int64_t rx_window_ms;              /* client frame-rate window */
	uint32_t rx_count;
	struct bw_buf rx;
};

/* Queues a frame (takes a reference); past the queue limits the socket is
 * closed with 4008 and the client resumes. */
void ws_send(struct ws_conn *c, struct rt_frame *f);
void ws_send_text(struct ws_conn *c, const char *json);
/* A frame of a JSON value (steals o; NULL when o is NULL or on failure). */
struct rt_frame *rt_frame_json(json_t *o);
/* Sends a JSON value to one socket (steals o). */
void ws_send_json(struct ws_conn *c, json_t *o);
void ws_close(struct ws_conn *c, uint16_t code, const char *reason);
/* First socket of the user's hash bucket; follow ->unext and compare
 * ->user_id (buckets are shared). */
struct ws_conn *ws_user_bucket(int64_t user_id);
struct ws_conn *ws_by_serial(int64_t user_id, uint64_t serial);
size_t ws_live_count(void);

struct req {
	struct srv *srv;
	struct lws *wsi;           /* NULL once the connection is gone */
	int refs;
	int method;
	bool dispatched;
	char path[REQ_PATH_MAX];
	char ip[64];
	char ua[256];
	char origin[256];
	char request_id[40];
	char token[TICKET_TOKEN_B64 + 1];  /* bearer or cookie ticket */
	bool token_from_cookie;
	char csrf[64];
	char device_cookie[64];
	struct bw_buf body;
	bool raw_body;             /* upload chunk: bytes, not JSON (UPLOAD_CHUNK_MAX) */
	json_t *json;              /* parsed body (objects only) */
	const char *params[2];     /* path segments matched by '*' */
	char param_buf[2][API_PARAM_MAX];

	/* authentication, filled by the dispatcher for AUTH routes */
	bool authed;
	struct store_ticket ticket;
	struct store_user user;
	struct store_tenant tenant;
	struct tenant_policy policy;
	struct policy_subject subj;
	struct actor actor;
	char device_label[32];

	/* response */
	bool resp_ready, headers_sent;
	int status;
	const char *ctype;
	struct bw_buf resp;
	size_t resp_off;
	char extra_headers[1024];  /* "name:\x01value\n" pairs, see req_header() */

	/* async work */
	struct workq_job job;
	void (*async_work)(struct req *r);
	void (*async_done)(struct req *r);
	void *async_ctx;
	void (*async_free)(void *ctx);
};

/* The server's shared state (one per process). */
struct srv {
	struct app *app;
	struct server_config cfg;
	struct lws_context *ctx;
	struct workq *wq;
	struct ratelimit *rl_login;     /* credential checks per address */
	struct ratelimit *rl_ws;        /* WebSocket upgrades per address */
	volatile sig_atomic_t stop;
	int destroying;
	int64_t started_ms;
	char hostname[128];
	struct writer *writer;          /* realtime writes (writer.h) */
	struct chat *chat;
	struct docs *docs;
	int ws_max;                     /* admission control on upgrades */
};

int server_run(struct app *a, const struct server_config *cfg);

/* --- responses (loop thread) --- */
void req_json(struct req *r, int status, json_t *body);         /* steals body */
void req_error(struct req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* error with extra members merged into the top-level object (steals extra) */
void req_error_ex(struct req *r, int status, const char *code, const char *message,
                  json_t *error_extra, json_t *top_extra);
void req_empty(struct req *r, int status);
void req_raw(struct req *r, int status, const char *ctype, struct bw_buf *body); /* takes body */
void req_header(struct req *r, const char *name, const char *value);
/* Keeps a request alive past its handler (answer it later, then release). */
void req_hold(struct req *r);
void req_release(struct req *r);
/* A zeroed context for req_async(); NULL after answering 500 itself. */
void *req_ctx_new(struct req *r, size_t n);
/* Runs work on a worker, then done on the loop; 429 when the pool is full. */
void req_async(struct req *r, void (*work)(struct req *), void (*done)(struct req *),
               void *ctx, void (*ctx_free)(void *));

/* --- body helpers: each replies 400 itself and returns NULL on failure --- */
/* A string member: required or optional, max bytes, UTF-8 checked. */
bool req_str(struct req *r, const char *key, bool required, size_t max, const char **out);
/* Like req_str() but multi-line text: tabs and newlines allowed. */
bool req_text(struct req *r, const char *key, bool required, size_t max, const char **out);
bool req_int(struct req *r, const char *key, bool required, int64_t min, int64_t max,
             int64_t *out);
bool req_bool(struct req *r, const char *key, bool *out);
/* Rejects members not in the NULL-terminated list. */
bool req_only(struct req *r, const char *const *allowed);
/* Query string value into out; false when absent. */
bool req_query(struct req *r, const char *name, char *out, size_t out_max);
/* Integer query parameter in min..max (decimal digits only); absent gives
 * def.  Replies 400 itself and returns false when malformed. */
bool req_query_int(struct req *r, const char *name, int64_t min, int64_t max, int64_t def,
                   int64_t *out);

/* --- the API (api*.c) --- */
void api_dispatch(struct req *r);
void api_auth_tick(struct srv *s);   /* periodic housekeeping */

/* audit helper with the request's actor */
void req_audit(struct req *r, const char *event, const char *object, const char *outcome,
               const char *detail);

/* WebSocket registry (http.c): close every live socket of a ticket or user. */
void ws_session_ended(struct srv *s, const uint8_t *ticket_hash, int64_t user_id,
                      const char *reason);
/* Closes every socket of a user except those of ticket `keep` (may be NULL). */
void ws_sessions_revoked(struct srv *s, int64_t user_id, const uint8_t *keep);
/* Sends a JSON text to every socket of a user (except the given ticket). */
void ws_notify_user(struct srv *s, int64_t tenant_id, int64_t user_id,
                    const uint8_t *except_ticket, const char *json);

/* ticket helpers (api_auth.c) */
void ticket_hash_token(const char *token, uint8_t out[CRYPTO_HASH_LEN]);
void ticket_csrf(const char *token, char out[64]);
/* Validates a ticket for use now: live, not expired (absolute/idle); loads
 * user, tenant and policy.  Audits expiry once.  0 or BW_EAUTH/BW_EEXPIRED. */
int ticket_authenticate(struct srv *s, const char *token, const char *ip, struct req *r_out);
/* Whether a ticket is past its absolute or idle limit at now. */
bool ticket_expired_at(const struct store_ticket *t, const struct tenant_policy *p, int64_t now);
/* Revokes an expired ticket, audits auth.ticket_expired once and closes its
 * sockets (the one path for requests and the WebSocket re-check). */
void ticket_expire(struct srv *s, const struct store_ticket *t, const struct store_tenant *tenant,
                   const struct store_user *u, const char *source);

#endif
