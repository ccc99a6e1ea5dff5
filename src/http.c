/*
 * http.c — the network process's event loop: TLS listener, HTTP requests,
 * the static web client, and the /api/v1/events WebSocket (RG-APP-e,
 * RG-COMM-a, PS-COM-a/b/c, PS-IA-f, WC-TICKET, IN-SURGE, RG-BIZ-b).
 *
 * Invariants:
 *  - TLS 1.2/1.3 only with AEAD suites; HSTS and a strict CSP on every
 *    response; the listener binds exactly the configured address (IPv6 off
 *    unless the address is IPv6 — components.md trap).
 *  - Every request body is bounded (REQ_BODY_MAX) before it is buffered.
 *  - A request object outlives its connection only as long as async work
 *    holds a reference; a response for a gone connection is dropped.
 *  - WebSockets authenticate with the ticket at the handshake (and the
 *    Origin for cookie tickets), are re-checked every few seconds, and are
 *    closed within seconds of their ticket expiring or being revoked.
 */
#include <sys/resource.h>
#include "server.h"
#include "chat.h"
#include "docs.h"
#include "rtproto.h"
#include "writer.h"
#include "audit.h"
#include "keyd.h"
#include "keys.h"
#include "ratelimit.h"
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <libwebsockets.h>
#include <malloc.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WS_PING_MS 20000
#define WS_CHECK_MS 5000
#define STATIC_FILE_MAX (8 * 1024 * 1024)
#define STATIC_TOTAL_MAX (48 * 1024 * 1024)
#define WRITE_CHUNK 16384

static const char CSP_HTML[] =
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
	"connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
	"form-action 'self'; object-src 'none'";
static const char CSP_API[] = "default-src 'none'; frame-ancestors 'none'; sandbox";

/* ---- per-connection state --------------------------------------------- */


/* Per-connection user space (lws allocates and zeroes it).  The WebSocket
 * state lives inline: one allocation less per idle socket (see BENCHMARKS.md
 * for the per-connection memory budget). */
struct pss {
	struct req *r;          /* HTTP */
	bool ws_authed;         /* the handshake authenticated (FILTER) */
	bool ws_live;           /* linked into ws_list (ESTABLISHED..CLOSED) */
	struct ws_conn ws;
};

struct static_file {
	char path[256];
	const char *ctype;
	uint8_t *data;
	size_t len;
	bool immutable;
};

static struct srv *g_srv;
static struct ws_conn *ws_list;
static size_t ws_count;
static struct static_file *statics;
static size_t nstatics;
static lws_sorted_usec_list_t sul_tick;

/* ---- requests ------------------------------------------------------------ */

static struct req *req_new(struct srv *s, struct lws *wsi)
{
	struct req *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->srv = s;
	r->wsi = wsi;
	r->refs = 1;
	bw_buf_init(&r->body, REQ_BODY_MAX);
	bw_buf_init(&r->resp, RESP_BODY_MAX);
	uint8_t id[12];
	bwc_random(id, sizeof id);
	bw_b64url_encode(id, sizeof id, r->request_id);
	return r;
}

static void req_unref(struct req *r)
{
	if (!r || --r->refs > 0)
		return;
	if (r->async_free && r->async_ctx)
		r->async_free(r->async_ctx);
	json_decref(r->json);
	bw_buf_free(&r->body, true);
	bw_buf_free(&r->resp, true);
	sodium_memzero(r->token, sizeof r->token);
	sodium_memzero(r->csrf, sizeof r->csrf);
	free(r);
}

static void req_kick(struct req *r)
{
	r->resp_ready = true;
	if (r->wsi)
		lws_callback_on_writable(r->wsi);
}

void req_hold(struct req *r)
{
	r->refs++;
}

void req_release(struct req *r)
{
	req_unref(r);
}

void req_header(struct req *r, const char *name, const char *value)
{
	size_t used = strlen(r->extra_headers);
	int n = snprintf(r->extra_headers + used, sizeof r->extra_headers - used, "%s\x01%s\n",
	                 name, value);
	if (n < 0 || (size_t)n >= sizeof r->extra_headers - used) {
		r->extra_headers[used] = 0;
		log_err("http: header %s dropped (too long)", name);
	}
}

void req_json(struct req *r, int status, json_t *body)
{
	if (r->resp_ready) {
		json_decref(body);
		return;
	}
	char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	r->resp.len = 0;
	if (!txt || bw_buf_append(&r->resp, txt, strlen(txt)) != 0) {
		status = 500;
		r->resp.len = 0;
		bw_buf_append(&r->resp, "{\"error\":{\"code\":\"internal\",\"message\":\"response failed\"}}", 57);
	}
	free(txt);
	r->status = status;
	r->ctype = "application/json; charset=utf-8";
	req_kick(r);
}

void req_error_ex(struct req *r, int status, const char *code, const char *message,
                  json_t *error_extra, json_t *top_extra)
{
	json_t *err = json_pack("{ss ss}", "code", code, "message", message);
	if (err && error_extra)
		json_object_update(err, error_extra);
	json_decref(error_extra);
	json_t *o = json_pack("{so}", "error", err);
	if (o && top_extra)
		json_object_update(o, top_extra);
	json_decref(top_extra);
	req_json(r, status, o);
}

void req_error(struct req *r, int status, const char *code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	req_error_ex(r, status, code, msg, NULL, NULL);
}

void req_empty(struct req *r, int status)
{
	if (r->resp_ready)
		return;
	r->resp.len = 0;
	r->status = status;
	r->ctype = NULL;
	req_kick(r);
}

void req_raw(struct req *r, int status, const char *ctype, struct bw_buf *body)
{
	bw_buf_free(&r->resp, true);
	r->resp = *body;
	memset(body, 0, sizeof *body);
	r->status = status;
	r->ctype = ctype;
	req_kick(r);
}

static void async_work(struct workq_job *j)
{
	struct req *r = (struct req *)((char *)j - offsetof(struct req, job));
	r->async_work(r);
}

static void async_done(struct workq_job *j)
{
	struct req *r = (struct req *)((char *)j - offsetof(struct req, job));
	if (r->wsi)
		r->async_done(r);
	req_unref(r);
}

void *req_ctx_new(struct req *r, size_t n)
{
	void *c = calloc(1, n);
	if (!c)
		req_error(r, 500, "internal", "out of memory");
	return c;
}

void req_async(struct req *r, void (*work)(struct req *), void (*done)(struct req *),
               void *ctx, void (*ctx_free)(void *))
{
	r->async_work = work;
	r->async_done = done;
	r->async_ctx = ctx;
	r->async_free = ctx_free;
	r->job.work = async_work;
	r->job.done = async_done;
	r->refs++;
	if (workq_submit(r->srv->wq, &r->job) != 0) {
		r->refs--;
		req_header(r, "retry-after:", "1");
		req_error(r, 429, "rate_limited", "the server is busy; try again shortly");
	}
}

static void wq_notify(void *arg)
{
	struct srv *s = arg;
	if (s->ctx)
		lws_cancel_service(s->ctx);
}

/* ---- body helpers ------------------------------------------------------ */

static bool req_string(struct req *r, const char *key, bool required, size_t max,
                       bool multiline, const char **out)
{
	json_t *v = r->json ? json_object_get(r->json, key) : NULL;
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			req_error(r, 400, "invalid_request", "missing field: %s", key);
		return !required;
	}
	if (!json_is_string(v)) {
		req_error(r, 400, "invalid_request", "field %s must be a string", key);
		return false;
	}
	size_t n = json_string_length(v);
	const char *s = json_string_value(v);
	if (n > max) {
		req_error(r, 400, "invalid_request", "field %s is longer than %zu bytes", key, max);
		return false;
	}
	if (!bw_utf8_valid(s, n, multiline)) {
		req_error(r, 400, "invalid_request", "field %s contains invalid characters", key);
		return false;
	}
	*out = s;
	return true;
}

bool req_str(struct req *r, const char *key, bool required, size_t max, const char **out)
{
	return req_string(r, key, required, max, false, out);
}

bool req_text(struct req *r, const char *key, bool required, size_t max, const char **out)
{
	return req_string(r, key, required, max, true, out);
}

bool req_int(struct req *r, const char *key, bool required, int64_t min, int64_t max,
             int64_t *out)
{
	json_t *v = r->json ? json_object_get(r->json, key) : NULL;
	if (!v || json_is_null(v)) {
		if (required)
			req_error(r, 400, "invalid_request", "missing field: %s", key);
		return !required;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		req_error(r, 400, "invalid_request", "field %s must be an integer in %lld..%lld",
		          key, (long long)min, (long long)max);
		return false;
	}
	*out = json_integer_value(v);
	return true;
}

bool req_bool(struct req *r, const char *key, bool *out)
{
	json_t *v = r->json ? json_object_get(r->json, key) : NULL;
	if (!v)
		return true;
	if (!json_is_boolean(v)) {
		req_error(r, 400, "invalid_request", "field %s must be true or false", key);
		return false;
	}
	*out = json_is_true(v);
	return true;
}

bool req_only(struct req *r, const char *const *allowed)
{
	if (!r->json)
		return true;
	const char *key;
	json_t *v;
	json_object_foreach(r->json, key, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(*a, key) == 0;
		if (!ok) {
			char safe[64];
			size_t n = strlen(key);
			snprintf(safe, sizeof safe, "%.40s", bw_utf8_valid(key, n, false) ? key : "?");
			req_error(r, 400, "invalid_request", "unknown field: %s", safe);
			return false;
		}
	}
	return true;
}

bool req_query(struct req *r, const char *name, char *out, size_t out_max)
{
	char key[64];
	if (!r->wsi || snprintf(key, sizeof key, "%s=", name) >= (int)sizeof key)
		return false;
	char buf[600];
	out[0] = 0;
	const char *v = lws_get_urlarg_by_name(r->wsi, key, buf, (int)sizeof buf);
	if (!v || strlen(v) >= out_max)
		return false;
	memmove(out, v, strlen(v) + 1);
	return out[0] != 0;
}

bool req_query_int(struct req *r, const char *name, int64_t min, int64_t max, int64_t def,
                   int64_t *out)
{
	char buf[24];
	*out = def;
	if (!req_query(r, name, buf, sizeof buf))
		return true;
	char *end = NULL;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	if (errno || !end || *end || buf[0] == '+' || buf[0] == ' ' || v < min || v > max) {
		req_error(r, 400, "invalid_request", "query parameter %s must be an integer in %lld..%lld",
		          name, (long long)min, (long long)max);
		return false;
	}
	*out = v;
	return true;
}

/* ---- static files ------------------------------------------------------- */

static const char *mime_of(const char *path)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".html", "text/html; charset=utf-8" }, { ".js", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" }, { ".svg", "image/svg+xml" },
		{ ".png", "image/png" }, { ".ico", "image/x-icon" }, { ".json", "application/json" },
		{ ".woff2", "font/woff2" }, { ".txt", "text/plain; charset=utf-8" },
		{ ".webmanifest", "application/manifest+json" },
	};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < BW_ARRAY_LEN(types); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

static int static_load_dir(const char *root, const char *rel, int depth, size_t *total)
{
	char dir[1400];
	snprintf(dir, sizeof dir, "%s%s", root, rel);
	DIR *d = opendir(dir);
	if (!d)
		return depth == 0 ? BW_ENOENT : 0;
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char relp[256], full[1700];
		if (snprintf(relp, sizeof relp, "%s/%s", rel, e->d_name) >= (int)sizeof relp)
			continue;
		snprintf(full, sizeof full, "%s%s", root, relp);
		struct stat st;
		if (stat(full, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth < 4)
				rc = static_load_dir(root, relp, depth + 1, total);
			continue;
		}
		if (!S_ISREG(st.st_mode) || st.st_size > STATIC_FILE_MAX)
			continue;
		if (*total + (size_t)st.st_size > STATIC_TOTAL_MAX)
			break;
		struct static_file *n = realloc(statics, (nstatics + 1) * sizeof *n);
		if (!n) {
			rc = BW_ENOMEM;
			break;
		}
		statics = n;
		struct static_file *f = &statics[nstatics];
		memset(f, 0, sizeof *f);
		if (bw_file_read(full, STATIC_FILE_MAX, &f->data, &f->len) != 0)
			continue;
		snprintf(f->path, sizeof f->path, "%s", relp);
		f->ctype = mime_of(relp);
		f->immutable = strncmp(relp, "/assets/", 8) == 0;
		*total += f->len;
		nstatics++;
	}
	closedir(d);
	return rc;
}

static const struct static_file *static_find(const char *path)
{
	for (size_t i = 0; i < nstatics; i++)
		if (strcmp(statics[i].path, path) == 0)
			return &statics[i];
	return NULL;
}

static void serve_static(struct req *r)
{
	const struct static_file *f = static_find(strcmp(r->path, "/") == 0 ? "/index.html" : r->path);
	if (!f && !strchr(strrchr(r->path, '/'), '.'))
		f = static_find("/index.html");   /* client-side routes */
	if (!f) {
		req_error(r, 404, "not_found", "no such page");
		return;
	}
	struct bw_buf b;
	bw_buf_init(&b, f->len + 1);
	if (bw_buf_append(&b, f->data, f->len) != 0) {
		req_error(r, 500, "internal", "out of memory");
		return;
	}
	req_header(r, "cache-control:", f->immutable ? "public, max-age=31536000, immutable" : "no-cache");
	req_raw(r, 200, f->ctype, &b);
}

/* ---- writing responses ------------------------------------------------ */

static int add_hdr(struct lws *wsi, const char *name, const char *value,
                   unsigned char **p, unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
	                                   (const unsigned char *)value, (int)strlen(value), p, end);
}

static int write_headers(struct req *r)
{
	/* API answers may load nothing; pages and files get the client's CSP */
	bool json = r->ctype && strncmp(r->ctype, "application/json", 16) == 0;
	unsigned char buf[LWS_PRE + 4096], *start = buf + LWS_PRE, *p = start,
	              *end = buf + sizeof buf - 1;
	if (lws_add_http_common_headers(r->wsi, (unsigned)r->status, r->ctype,
	                                (lws_filepos_t)r->resp.len, &p, end))
		return -1;
	if (add_hdr(r->wsi, "strict-transport-security:", "max-age=31536000; includeSubDomains", &p, end) ||
	    add_hdr(r->wsi, "x-content-type-options:", "nosniff", &p, end) ||
	    add_hdr(r->wsi, "x-frame-options:", "DENY", &p, end) ||
	    add_hdr(r->wsi, "referrer-policy:", "no-referrer", &p, end) ||
	    add_hdr(r->wsi, "cross-origin-opener-policy:", "same-origin", &p, end) ||
	    add_hdr(r->wsi, "cross-origin-resource-policy:", "same-origin", &p, end) ||
	    add_hdr(r->wsi, "permissions-policy:", "camera=(self), microphone=(self), geolocation=()", &p, end) ||
	    add_hdr(r->wsi, "content-security-policy:", json ? CSP_API : CSP_HTML, &p, end) ||
	    add_hdr(r->wsi, "x-request-id:", r->request_id, &p, end))
		return -1;
	if (!strstr(r->extra_headers, "cache-control:\x01") &&
	    add_hdr(r->wsi, "cache-control:", "no-store", &p, end))
		return -1;
	for (char *line = r->extra_headers; *line; ) {
		char *sep = strchr(line, '\x01'), *nl = sep ? strchr(sep, '\n') : NULL;
		if (!sep || !nl)
			break;
		*sep = 0;
		*nl = 0;
		int rc = add_hdr(r->wsi, line, sep + 1, &p, end);
		*sep = '\x01';
		*nl = '\n';
		if (rc)
			return -1;
		line = nl + 1;
	}
	return lws_finalize_write_http_header(r->wsi, start, &p, end) ? -1 : 0;
}

/* Returns -1 to close, 0 to continue. */
static int http_writeable(struct req *r)
{
	if (!r->resp_ready)
		return 0;
	if (!r->headers_sent) {
		if (write_headers(r))
			return -1;
		r->headers_sent = true;
		if (r->resp.len == 0)
			return lws_http_transaction_completed(r->wsi) ? -1 : 0;
		lws_callback_on_writable(r->wsi);
		return 0;
	}
	static unsigned char chunk[LWS_PRE + WRITE_CHUNK];
	size_t n = r->resp.len - r->resp_off;
	if (n > WRITE_CHUNK)
		n = WRITE_CHUNK;
	memcpy(chunk + LWS_PRE, r->resp.data + r->resp_off, n);
	bool last = r->resp_off + n == r->resp.len;
	if (lws_write(r->wsi, chunk + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
		return -1;
	r->resp_off += n;
	if (last)
		return lws_http_transaction_completed(r->wsi) ? -1 : 0;
	lws_callback_on_writable(r->wsi);
	return 0;
}

/* ---- request start --------------------------------------------------- */

static void read_cookie(struct lws *wsi, const char *name, char *out, size_t out_max)
{
	char cookies[2048];
	out[0] = 0;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_COOKIE) >= (int)sizeof cookies ||
	    lws_hdr_copy(wsi, cookies, sizeof cookies, WSI_TOKEN_HTTP_COOKIE) <= 0)
		return;
	bw_cookie_get(cookies, name, out, out_max);
	sodium_memzero(cookies, sizeof cookies);
}

static void copy_hdr(struct lws *wsi, enum lws_token_indexes h, char *out, size_t out_max)
{
	out[0] = 0;
	if (lws_hdr_total_length(wsi, h) >= (int)out_max || lws_hdr_copy(wsi, out, (int)out_max, h) < 0)
		out[0] = 0;
}

/* Fills the connection-derived fields of a request (or handshake). */
static void read_common(struct lws *wsi, struct req *r)
{
	lws_get_peer_simple(wsi, r->ip, sizeof r->ip);
	copy_hdr(wsi, WSI_TOKEN_HTTP_USER_AGENT, r->ua, sizeof r->ua);
	if (!bw_utf8_valid(r->ua, strlen(r->ua), false))
		r->ua[0] = 0;
	copy_hdr(wsi, WSI_TOKEN_ORIGIN, r->origin, sizeof r->origin);
	char auth[128];
	copy_hdr(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof auth);
	if (strncasecmp(auth, "Bearer ", 7) == 0) {
		if (strlen(auth + 7) < sizeof r->token)
			memcpy(r->token, auth + 7, strlen(auth + 7) + 1);
	} else {
		read_cookie(wsi, "bw_ticket", r->token, sizeof r->token);
		r->token_from_cookie = r->token[0] != 0;
	}
	sodium_memzero(auth, sizeof auth);
	read_cookie(wsi, "bw_device", r->device_cookie, sizeof r->device_cookie);
	if (lws_hdr_custom_length(wsi, "x-csrf-token:", 13) > 0 &&
	    lws_hdr_custom_length(wsi, "x-csrf-token:", 13) < (int)sizeof r->csrf)
		lws_hdr_custom_copy(wsi, r->csrf, sizeof r->csrf, "x-csrf-token:", 13);
}

static int method_of(struct lws *wsi)
{
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
		return M_GET;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
		return M_POST;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI))
		return M_PUT;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI))
		return M_PATCH;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI))
		return M_DELETE;
	return M_OTHER;
}

static void dispatch(struct req *r)
{
	if (r->dispatched)
		return;     /* lws may report an empty body's completion too */
	r->dispatched = true;
	if (r->body.len && !r->raw_body) {
		json_error_t jerr;
		if (!bw_utf8_valid((const char *)r->body.data, r->body.len, true)) {
			req_error(r, 400, "invalid_request", "body is not valid UTF-8");
			return;
		}
		r->json = json_loadb((const char *)r->body.data, r->body.len,
		                     JSON_REJECT_DUPLICATES, &jerr);
		if (!r->json) {
			req_error(r, 400, "invalid_request", "malformed JSON at line %d column %d",
			          jerr.line, jerr.column);
			return;
		}
		if (!json_is_object(r->json)) {
			req_error(r, 400, "invalid_request", "body must be a JSON object");
			return;
		}
	}
	if (strncmp(r->path, "/api/", 5) == 0)
		api_dispatch(r);
	else if (r->method == M_GET)
		serve_static(r);
	else
		req_error(r, 405, "method_not_allowed", "method not allowed");
}

static int http_begin(struct lws *wsi, struct pss *pss, const char *uri)
{
	if (pss->r) {         /* keep-alive: previous request finished */
		pss->r->wsi = NULL;
		req_unref(pss->r);
		pss->r = NULL;
	}
	struct req *r = req_new(g_srv, wsi);
	if (!r)
		return -1;
	pss->r = r;
	r->method = method_of(wsi);
	size_t n = strlen(uri);
	if (n >= sizeof r->path || !bw_utf8_valid(uri, n, false)) {
		req_error(r, 414, "invalid_request", "path too long or invalid");
		return 0;
	}
	memcpy(r->path, uri, n + 1);
	read_common(wsi, r);
	if (r->method == M_OTHER) {
		req_error(r, 405, "method_not_allowed", "method not allowed");
		return 0;
	}
	/* upload chunks are raw bytes with their own, larger limit */
	if (r->method == M_PUT && strncmp(r->path, "/api/v1/uploads/", 16) == 0) {
		r->raw_body = true;
		r->body.max = UPLOAD_CHUNK_MAX;
	}
	char cl[32];
	copy_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof cl);
	long long len = cl[0] ? strtoll(cl, NULL, 10) : 0;
	if (len < 0 || (size_t)len > r->body.max) {
		req_error(r, 413, "payload_too_large", "request body over %zu bytes", r->body.max);
		return 0;
	}
	if (len > 0 && r->method != M_GET)
		return 0;     /* wait for LWS_CALLBACK_HTTP_BODY_COMPLETION */
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
		req_error(r, 411, "invalid_request", "chunked request bodies are not accepted");
		return 0;
	}
	dispatch(r);
	return 0;
}

/* ---- WebSocket ---------------------------------------------------------- */

#define WS_UBUCKETS 16384              /* user-id hash for fan-out */
#define WS_RX_PER_S 50                 /* client frames per second (4029 past) */
static struct ws_conn *ws_ubuckets[WS_UBUCKETS];
static uint64_t ws_next_serial = 1;

struct rt_frame *rt_frame_new(const char *json, size_t len)
{
	if (len > UINT32_MAX - LWS_PRE - 1)
		return NULL;
	struct rt_frame *f = malloc(sizeof *f + LWS_PRE + len + 1);
	if (!f)
		return NULL;
	f->refs = 1;
	f->len = (uint32_t)len;
	memcpy(f->data + LWS_PRE, json, len);
	f->data[LWS_PRE + len] = 0;
	return f;
}

void rt_frame_unref(struct rt_frame *f)
{
	if (f && --f->refs == 0)
		free(f);
}

const char *rt_frame_text(const struct rt_frame *f)
{
	return f->data + LWS_PRE;
}

static size_t ws_uhash(int64_t user_id)
{
	return (size_t)((uint64_t)user_id * UINT64_C(0x9E3779B97F4A7C15) >> 50) % WS_UBUCKETS;
}

struct ws_conn *ws_user_bucket(int64_t user_id)
{
	return ws_ubuckets[ws_uhash(user_id)];
}

struct ws_conn *ws_by_serial(int64_t user_id, uint64_t serial)
{
	for (struct ws_conn *c = ws_user_bucket(user_id); c; c = c->unext)
		if (c->serial == serial)
			return c->closing ? NULL : c;
	return NULL;
}

size_t ws_live_count(void)
{
	return ws_count;
}

static void ws_queue_clear(struct ws_conn *c)
{
	while (c->q_head) {
		struct ws_qnode *n = c->q_head;
		c->q_head = n->next;
		rt_frame_unref(n->f);
		free(n);
	}
	c->q_tail = NULL;
	c->q_frames = c->q_bytes = 0;
}

void ws_close(struct ws_conn *c, uint16_t code, const char *reason)
{
	if (c->closing)
		return;
	c->closing = true;
	c->close_code = code;
	snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
	lws_callback_on_writable(c->wsi);
}

void ws_send(struct ws_conn *c, struct rt_frame *f)
{
	if (c->closing || !f)
		return;
	if (c->q_frames >= WS_QUEUE_FRAMES || c->q_bytes + f->len > WS_QUEUE_BYTES) {
		/* slow consumer: bounded queue; drop it and let the client resume */
		ws_queue_clear(c);
		ws_close(c, 4008, "overflow");
		return;
	}
	struct ws_qnode *n = malloc(sizeof *n);
	if (!n) {
		ws_close(c, 4008, "overflow");
		return;
	}
	f->refs++;
	n->f = f;
	n->next = NULL;
	if (c->q_tail)
		c->q_tail->next = n;
	else
		c->q_head = n;
	c->q_tail = n;
	c->q_frames++;
	c->q_bytes += f->len;
	lws_callback_on_writable(c->wsi);
}

void ws_send_text(struct ws_conn *c, const char *json)
{
	struct rt_frame *f = rt_frame_new(json, strlen(json));
	ws_send(c, f);
	rt_frame_unref(f);
}

struct rt_frame *rt_frame_json(json_t *o)
{
	char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	struct rt_frame *f = t ? rt_frame_new(t, strlen(t)) : NULL;
	free(t);
	return f;
}

void ws_send_json(struct ws_conn *c, json_t *o)
{
	struct rt_frame *f = rt_frame_json(o);
	ws_send(c, f);
	rt_frame_unref(f);
}

static void ws_end(struct ws_conn *c, const char *reason)
{
	if (c->closing)
		return;
	char msg[96];
	snprintf(msg, sizeof msg, "{\"type\":\"session_ended\",\"reason\":\"%s\"}", reason);
	ws_send_text(c, msg);
	ws_close(c, 4001, reason);
}

void ws_session_ended(struct srv *s, const uint8_t *ticket_hash, int64_t user_id,
                      const char *reason)
{
	for (struct ws_conn *c = ws_list; c; c = c->next) {
		if (ticket_hash ? bw_ct_eq(c->ticket_hash, ticket_hash, CRYPTO_HASH_LEN)
		                : c->user_id == user_id)
			ws_end(c, reason);
	}
}

void ws_sessions_revoked(struct srv *s, int64_t user_id, const uint8_t *keep)
{
	for (struct ws_conn *c = ws_user_bucket(user_id); c; c = c->unext)
		if (c->user_id == user_id &&
		    !(keep && bw_ct_eq(c->ticket_hash, keep, CRYPTO_HASH_LEN)))
			ws_end(c, "revoked");
}

void ws_notify_user(struct srv *s, int64_t tenant_id, int64_t user_id,
                    const uint8_t *except_ticket, const char *json)
{
	for (struct ws_conn *c = ws_user_bucket(user_id); c; c = c->unext) {
		if (c->tenant_id != tenant_id || c->user_id != user_id)
			continue;
		if (except_ticket && bw_ct_eq(c->ticket_hash, except_ticket, CRYPTO_HASH_LEN))
			continue;
		ws_send_text(c, json);
	}
}

static int ws_filter(struct lws *wsi, struct pss *pss)
{
	char uri[64];
	copy_hdr(wsi, WSI_TOKEN_GET_URI, uri, sizeof uri);
	if (strcmp(uri, "/api/v1/events") != 0)
		return -1;
	/* admission control (IN-SURGE): a full server refuses new sockets
	 * before spending a ticket lookup on them */
	if (g_srv->ws_max > 0 && ws_count >= (size_t)g_srv->ws_max)
		return -1;
	struct req *r = req_new(g_srv, NULL);
	if (!r)
		return -1;
	read_common(wsi, r);
	int rc = -1;
	int retry;
	if (!ratelimit_take(g_srv->rl_ws, r->ip, bw_mono_ms(), &retry))
		goto out;
	if (r->token_from_cookie) {
		/* cross-site WebSocket hijacking: the Origin must be ours */
		char host[256], expect[300];
		copy_hdr(wsi, WSI_TOKEN_HOST, host, sizeof host);
		snprintf(expect, sizeof expect, "https://%s", host);
		if (!host[0] || strcmp(r->origin, expect) != 0)
			goto out;
	}
	if (ticket_authenticate(g_srv, r->token, r->ip, r) != 0 || r->ticket.scope != TICKET_FULL)
		goto out;
	pss->ws_authed = true;
	pss->ws.tenant_id = r->user.tenant_id;
	pss->ws.user_id = r->user.id;
	pss->ws.role = r->subj.role;
	pss->ws.expires_at = r->ticket.expires_at;
	memcpy(pss->ws.ticket_hash, r->ticket.hash, CRYPTO_HASH_LEN);
	rc = 0;
out:
	req_unref(r);
	return rc;
}

static int ws_established(struct lws *wsi, struct pss *pss)
{
	if (!pss->ws_authed)
		return -1;
	struct ws_conn *c = &pss->ws;
	c->wsi = wsi;
	c->serial = ws_next_serial++;
	int64_t now = bw_mono_ms();
	c->next_ping_ms = now + WS_PING_MS;
	c->next_check_ms = now + WS_CHECK_MS;
	c->mode = WS_WAIT_RESUME;
	bw_buf_init(&c->rx, WS_RX_MAX);
	c->prev = NULL;
	c->next = ws_list;
	if (ws_list)
		ws_list->prev = c;
	ws_list = c;
	size_t h = ws_uhash(c->user_id);
	c->uprev = NULL;
	c->unext = ws_ubuckets[h];
	if (c->unext)
		c->unext->uprev = c;
	ws_ubuckets[h] = c;
	ws_count++;
	pss->ws_live = true;
	char hello[192];
	snprintf(hello, sizeof hello,
	         "{\"type\":\"hello\",\"user_id\":%lld,\"session_expires_at\":%lld,\"seq\":%lld}",
	         (long long)c->user_id, (long long)c->expires_at,
	         (long long)chat_seq_now(g_srv));
	ws_send_text(c, hello);
	chat_ws_opened(g_srv, c);
	return 0;
}

static void ws_closed(struct pss *pss)
{
	if (!pss->ws_live)
		return;
	struct ws_conn *c = &pss->ws;
	if (c->prev)
		c->prev->next = c->next;
	else
		ws_list = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->uprev)
		c->uprev->unext = c->unext;
	else
		ws_ubuckets[ws_uhash(c->user_id)] = c->unext;
	if (c->unext)
		c->unext->uprev = c->uprev;
	ws_queue_clear(c);
	bw_buf_free(&c->rx, false);
	pss->ws_live = false;
	ws_count--;
	chat_ws_closed(g_srv, c);
	docs_ws_closed(g_srv, c);
}

static int ws_writeable(struct lws *wsi, struct pss *pss)
{
	if (!pss->ws_live)
		return -1;
	struct ws_conn *c = &pss->ws;
	if (c->q_head && !(c->closing && c->close_code == 4008)) {
		struct ws_qnode *n = c->q_head;
		c->q_head = n->next;
		if (!c->q_head)
			c->q_tail = NULL;
		c->q_frames--;
		c->q_bytes -= n->f->len;
		struct rt_frame *f = n->f;
		free(n);
		int w = lws_write(wsi, (unsigned char *)f->data + LWS_PRE, f->len, LWS_WRITE_TEXT);
		bool ok = w >= (int)f->len;
		rt_frame_unref(f);
		if (!ok)
			return -1;
		if (c->q_head) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	if (c->closing) {
		lws_close_reason(wsi, c->close_code ? c->close_code : 4001,
		                 (unsigned char *)c->close_reason, strlen(c->close_reason));
		return -1;
	}
	if (c->mode == WS_CATCHUP)
		chat_ws_pump(g_srv, c);
	return 0;
}

static int ws_receive(struct lws *wsi, struct pss *pss, const void *in, size_t len)
{
	if (!pss->ws_live)
		return -1;
	struct ws_conn *c = &pss->ws;
	if (bw_buf_append(&c->rx, in, len) != 0) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)"too large", 9);
		return -1;
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	/* flood control: a client may not make the loop parse without bound */
	int64_t mono = bw_mono_ms();
	if (mono - c->rx_window_ms >= 1000) {
		c->rx_window_ms = mono;
		c->rx_count = 0;
	}
	if (++c->rx_count > WS_RX_PER_S * 2) {
		lws_close_reason(wsi, 4029, (unsigned char *)"flood", 5);
		return -1;
	}
	struct rt_in f;
	const char *code = "invalid_request", *err = "binary frames are not part of the protocol";
	int rc = lws_frame_is_binary(wsi) ? BW_EINVAL
	       : rtproto_parse((const char *)c->rx.data, c->rx.len, &f, &code, &err);
	/* an idle socket keeps no receive buffer (per-connection budget) */
	bw_buf_free(&c->rx, false);
	bw_buf_init(&c->rx, WS_RX_MAX);
	if (rc) {
		json_t *e = f.type == RT_SEND && f.cid[0]
			? json_pack("{s:s,s:s,s:s,s:s}", "type", "nack", "cid", f.cid, "code", code, "message", err)
			: json_pack("{s:s,s:s,s:s}", "type", "error", "code", code, "message", err);
		ws_send_json(c, e);
		return 0;
	}
	if (f.type == RT_PING)
		ws_send_text(c, "{\"type\":\"pong\"}");
	else if (f.type != RT_PONG)
		chat_ws_frame(g_srv, c, &f);
	rtproto_free(&f);
	return 0;
}

/* Periodic: heartbeats, ticket re-checks, housekeeping. */
static void tick(lws_sorted_usec_list_t *sul)
{
	struct srv *s = g_srv;
	int64_t mono = bw_mono_ms(), now = bw_now();
	struct store *st = s->app->s;
	for (struct ws_conn *c = ws_list; c; c = c->next) {
		if (c->closing)
			continue;
		if (now >= c->expires_at)
			c->next_check_ms = mono;   /* past its absolute limit: check now */
		if (mono >= c->next_check_ms) {
			c->next_check_ms = mono + WS_CHECK_MS;
			struct store_ticket t;
			if (st->ops->ticket_get(st, c->ticket_hash, &t) != 0 || t.revoked_at) {
				ws_end(c, t.revoked_at && strcmp(t.revoked_reason, "expired") == 0 ? "expired"
				          : t.revoked_at && strcmp(t.revoked_reason, "signed_out") == 0 ? "signed_out"
				          : "revoked");
				continue;
			}
			struct tenant_policy p;
			struct store_user u;
			struct store_tenant tn;
			accounts_policy_get(s->app, c->tenant_id, &p, NULL);
			if (ticket_expired_at(&t, &p, now)) {
				if (st->ops->user_get(st, t.tenant_id, t.user_id, &u) == 0 &&
				    st->ops->tenant_get(st, t.tenant_id, &tn) == 0)
					ticket_expire(s, &t, &tn, &u, "local");   /* ends this socket too */
				else
					ws_end(c, "expired");
				continue;
			}
		}
		if (mono >= c->next_ping_ms) {
			c->next_ping_ms = mono + WS_PING_MS;
			char ping[64];
			snprintf(ping, sizeof ping, "{\"type\":\"ping\",\"t\":%lld}", (long long)now);
			ws_send_text(c, ping);
		}
	}
	/* give freed connection memory back after large swings in their number */
	static size_t trimmed_count;
	static int64_t trimmed_ms;
	size_t swing = ws_count > trimmed_count ? ws_count - trimmed_count : trimmed_count - ws_count;
	if (swing >= 500 && mono - trimmed_ms >= 30000) {
		malloc_trim(0);
		trimmed_count = ws_count;
		trimmed_ms = mono;
	}
	/* housekeeping once a second; the socket checks above run every tick
	 * (100 ms) so that re-checking thousands of tickets is spread out
	 * instead of stalling the loop once a second */
	static int64_t housekeeping_ms;
	if (mono - housekeeping_ms >= 1000) {
		housekeeping_ms = mono;
		api_auth_tick(s);
		chat_tick(s);
		docs_tick(s);
	}
	if (!s->stop)
		lws_sul_schedule(s->ctx, 0, &sul_tick, tick, 100 * LWS_US_PER_MS);
}

/* ---- the protocol callback ----------------------------------------------- */

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                    void *in, size_t len)
{
	struct pss *pss = user;
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return http_begin(wsi, pss, in);
	case LWS_CALLBACK_HTTP_BODY:
		if (pss->r && bw_buf_append(&pss->r->body, in, len) != 0) {
			pss->r->body.len = 0;
			req_error(pss->r, 413, "payload_too_large", "request body over %zu bytes", pss->r->body.max);
		}
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (pss->r && !pss->r->resp_ready)
			dispatch(pss->r);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return pss->r ? http_writeable(pss->r) : 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (pss && pss->r) {
			pss->r->wsi = NULL;
			req_unref(pss->r);
			pss->r = NULL;
		}
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return ws_filter(wsi, pss);
	case LWS_CALLBACK_ESTABLISHED:
		return ws_established(wsi, pss);
	case LWS_CALLBACK_RECEIVE:
		return ws_receive(wsi, pss, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return ws_writeable(wsi, pss);
	case LWS_CALLBACK_CLOSED:
		ws_closed(pss);
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (g_srv && g_srv->wq)
			workq_drain(g_srv->wq);
		if (g_srv && g_srv->writer)
			writer_drain(g_srv->writer);
		if (g_srv && g_srv->stop && !g_srv->destroying) {
			/* with an event library lws_service() runs the loop until the
			 * context is destroyed: the first destroy stops the loop, the
			 * one after the loop frees it (lws minimal-*-eventlib pattern) */
			g_srv->destroying = 1;
			lws_sul_cancel(&sul_tick);
			lws_context_destroy(g_srv->ctx);
		}
		return 0;
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		/* TLS 1.2 minimum (RG-COMM-a, PS-COM-b) */
		SSL_CTX_set_min_proto_version((SSL_CTX *)user, TLS1_2_VERSION);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	/* rx 256: WebSocket messages are reassembled in ws_receive(), HTTP
	 * bodies in req->body; a small buffer keeps idle sockets small */
	{ "http", callback, sizeof(struct pss), 256, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ---- run ------------------------------------------------------------------ */

static void on_signal(int sig)
{
	if (g_srv) {
		g_srv->stop = 1;
		if (g_srv->ctx)
			lws_cancel_service(g_srv->ctx);
	}
}

static int preload_tenant(void *arg, const struct store_tenant *t)
{
	struct app *a = arg;
	int loaded = 0;
	int rc = keys_preload(a->kr, t->id, &loaded);
	struct actor ac;
	actor_system(&ac, "system");
	char detail[96];
	snprintf(detail, sizeof detail, "{\"operation\":\"unwrap\",\"keys\":%d}", loaded);
	app_audit(a, &ac, t->id, "key.unwrap", t->name, rc ? "failure" : "success", detail);
	return rc;
}

int server_run(struct app *a, const struct server_config *cfg)
{
	struct srv s;
	memset(&s, 0, sizeof s);
	s.app = a;
	s.cfg = *cfg;
	s.started_ms = bw_now_ms();
	gethostname(s.hostname, sizeof s.hostname - 1);
	g_srv = &s;
	int rc = BW_ENOMEM;
	s.rl_login = ratelimit_create(20, 10, 65536);
	s.rl_ws = ratelimit_create(60, 120, 65536);
	if (!s.rl_login || !s.rl_ws)
		goto out;
	size_t total = 0;
	if (cfg->web_dir[0] && static_load_dir(cfg->web_dir, "", 0, &total) != 0)
		log_warn("web client not found in %s: only the API is served", cfg->web_dir);
	/* 32 sign-ins in flight: a storm waits at most ~1 s, the rest get 429 */
	if ((rc = workq_create(cfg->workers, 32, wq_notify, &s, &s.wq)))
		goto out;

	char cert[1200], key[1200];
	snprintf(cert, sizeof cert, "%s/tls/cert.pem", a->data_dir);
	snprintf(key, sizeof key, "%s/tls/key.pem", a->data_dir);

	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = cfg->port;
	info.iface = cfg->listen_host;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_LIBEV |
	               LWS_SERVER_OPTION_VALIDATE_UTF8;
	if (!strchr(cfg->listen_host, ':'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;   /* bind exactly (components.md) */
	info.ssl_cert_filepath = cert;
	info.ssl_private_key_filepath = key;
	info.ssl_cipher_list = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
	                       "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"
	                       "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";
	info.tls1_3_plus_cipher_list = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
	                               "TLS_CHACHA20_POLY1305_SHA256";
	info.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
	                       SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	                       SSL_OP_NO_RENEGOTIATION;
	info.alpn = "http/1.1";
	info.timeout_secs = 30;
	info.keepalive_timeout = 30;
	info.max_http_header_data = 4096;
	info.max_http_header_pool = 256;
	info.fd_limit_per_thread = 0;
	info.pt_serv_buf_size = 8192;

	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	s.ctx = lws_create_context(&info);
	if (!s.ctx) {
		log_err("cannot listen on %s:%d", cfg->listen_host, cfg->port);
		rc = BW_EIO;
		goto out;
	}
	if (cfg->run_uid >= 0 && (rc = sandbox_drop_privileges(cfg->run_uid, cfg->run_gid))) {
		log_err("cannot drop privileges: %s", bw_strerror(rc));
		goto out;
	}
	/* the realtime writer: its own connection, started as the run user */
	if ((rc = writer_start(a->data_dir, wq_notify, &s, &s.writer))) {
		log_err("cannot start the store writer: %s", bw_strerror(rc));
		goto out;
	}
	if ((rc = chat_open(&s, &s.chat)) || (rc = docs_open(&s, &s.docs)))
		goto out;
	{
		struct rlimit rl;
		s.ws_max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 256
		           ? (int)(rl.rlim_cur > 1000000 ? 1000000 : rl.rlim_cur) - 128 : 1024;
	}
	if (cfg->seccomp && (rc = sandbox_seccomp_server())) {
		log_err("cannot install the seccomp filter: %s", bw_strerror(rc));
		goto out;
	}
	struct actor ac;
	actor_system(&ac, "system");
	/* unwrap every tenant's data keys now, through keyd, and record it */
	if ((rc = a->s->ops->tenant_list(a->s, preload_tenant, a))) {
		log_err("cannot load tenant keys: %s", bw_strerror(rc));
		goto out;
	}
	char detail[256];
	snprintf(detail, sizeof detail,
	         "{\"listen\":\"%s:%d\",\"suite\":\"%s\",\"pid\":%d,\"seccomp\":%s}",
	         cfg->listen_host, cfg->port, bwc_suite_name(bwc_suite()), (int)getpid(),
	         cfg->seccomp ? "true" : "false");
	app_audit(a, &ac, 0, "server.start", "bulwark", "success", detail);
	log_info("listening on https://%s%s%s:%d/ (%lld ms to ready)",
	         strchr(cfg->listen_host, ':') ? "[" : "", cfg->listen_host,
	         strchr(cfg->listen_host, ':') ? "]" : "", cfg->port,
	         (long long)(bw_now_ms() - s.started_ms));
	lws_sul_schedule(s.ctx, 0, &sul_tick, tick, 1 * LWS_US_PER_SEC);
	while (!s.stop) {
		if (lws_service(s.ctx, 0) < 0)
			break;
	}
	log_info("stopping");
	app_audit(a, &ac, 0, "server.stop", "bulwark", "success", NULL);
	audit_checkpoint(a->au);
	rc = 0;
out:
	/* the last acknowledgements: flush the writer while sockets still exist */
	if (s.writer)
		writer_stop(s.writer);
	s.writer = NULL;
	if (s.ctx) {
		if (!s.destroying)
			lws_sul_cancel(&sul_tick);
		lws_context_destroy(s.ctx);
	}
	if (s.wq)
		workq_destroy(s.wq);
	docs_close(s.docs);
	chat_close(s.chat);
	ratelimit_destroy(s.rl_login);
	ratelimit_destroy(s.rl_ws);
	for (size_t i = 0; i < nstatics; i++)
		free(statics[i].data);
	free(statics);
	statics = NULL;
	nstatics = 0;
	g_srv = NULL;
	return rc;
}
