/*
 * api_files.c — chat attachments: chunked upload into anonymous memory,
 * virus scan by clamd (INSTREAM) before anyone can see the file, streaming
 * AEAD at rest, quarantine of infected files, audited member-only downloads.
 *
 * Requirement IDs: RG-IM-a (names and contents encrypted under the
 * tenant's data key, bound to the file row), MI-3 and the user rule "scan
 * downloaded files for viruses", WC-STORE, IN-SURGE (bounded uploads).
 *
 * Invariants:
 *  - Upload bytes live only in a memfd (RAM) until scanned; no plaintext
 *    file is ever written to the data directory.  Clean files are stored
 *    as DATA/blobs/<tenant>/<file id>, infected ones as
 *    DATA/quarantine/<tenant>/<file id>, both in the filestore.h format.
 *  - A file becomes visible (its message is sent) only after a clean scan;
 *    if clamd cannot be reached the upload fails closed, unless the
 *    tenant's policy opts out (clamav_optout), which is audited per file.
 *  - Uploads are bounded: UPLOAD_SIZE_MAX per file, UPLOADS_MAX open at
 *    once (UPLOADS_PER_USER per user), UPLOAD_BYTES_MAX in memory, idle
 *    uploads dropped after UPLOAD_IDLE_MS.
 */
#include "api.h"
#include "chat.h"
#include "clamav.h"
#include "filestore.h"
#include "keyd.h"
#include "keys.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define UPLOAD_SIZE_MAX (25 * 1024 * 1024)
#define UPLOADS_MAX 64
#define UPLOADS_PER_USER 4
#define UPLOAD_BYTES_MAX ((int64_t)512 * 1024 * 1024)
#define UPLOAD_IDLE_MS (10 * 60 * 1000)
#define CLAMD_TIMEOUT_MS 10000

struct upload {
	bool used, busy;               /* busy: being scanned/encrypted */
	char id[23];                   /* 128-bit random, base64url */
	int64_t tenant_id, user_id, conv_id;
	char name[FILESTORE_NAME_MAX];
	int64_t size, received;
	int fd;                        /* memfd */
	int64_t touched_ms;
};

static struct upload uploads[UPLOADS_MAX];
static int64_t upload_bytes;

static void upload_drop(struct upload *u)
{
	if (u->fd >= 0)
		close(u->fd);
	upload_bytes -= u->size;
	sodium_memzero(u, sizeof *u);
	u->fd = -1;
}

static struct upload *upload_find(struct req *r)
{
	const char *id = r->params[0];
	for (int i = 0; id && i < UPLOADS_MAX; i++) {
		struct upload *u = &uploads[i];
		if (u->used && strlen(id) == strlen(u->id) && bw_ct_eq(u->id, id, strlen(id)) &&
		    u->tenant_id == r->user.tenant_id && u->user_id == r->user.id)
			return u;
	}
	req_error(r, 404, "not_found", "no such upload");
	return NULL;
}

/* Uploads idle for too long are dropped (from the loop's tick). */
void files_tick(void)
{
	int64_t now = bw_mono_ms();
	for (int i = 0; i < UPLOADS_MAX; i++)
		if (uploads[i].used && !uploads[i].busy && now - uploads[i].touched_ms > UPLOAD_IDLE_MS)
			upload_drop(&uploads[i]);
}

static bool may_post(struct req *r, int64_t conv_id, struct chat_conv **out)
{
	struct chat_conv *cv = chat_conv_get(r->srv, r->user.tenant_id, conv_id);
	struct chat_member *m = chat_member_active(cv, r->user.id);
	if (!m) {
		req_error(r, 404, "not_found", "no such conversation");
		return false;
	}
	if (cv->kind == CHAT_ANNOUNCE && m->role < CROLE_ADMIN && !m->poster) {
		req_error(r, 403, "forbidden", "only designated posters may post here");
		return false;
	}
	if (m->muted_until > bw_now()) {
		req_error(r, 403, "muted", "you are muted in this conversation");
		return false;
	}
	*out = cv;
	return true;
}

void h_upload_start(struct req *r)
{
	static const char *const allowed[] = { "name", "size", NULL };
	char *end = NULL;
	long long conv = r->params[0] ? strtoll(r->params[0], &end, 10) : 0;
	const char *name;
	int64_t size;
	if (!end || *end || conv <= 0) {
		req_error(r, 404, "not_found", "no such conversation");
		return;
	}
	if (!req_only(r, allowed) || !req_str(r, "name", true, 1024, &name) ||
	    !req_int(r, "size", true, 0, INT64_MAX, &size))
		return;
	struct chat_conv *cv;
	if (!may_post(r, conv, &cv))
		return;
	if (size > UPLOAD_SIZE_MAX) {
		req_error(r, 413, "too_large", "files are limited to %d MiB", UPLOAD_SIZE_MAX / (1024 * 1024));
		return;
	}
	struct upload *slot = NULL;
	int mine = 0;
	for (int i = 0; i < UPLOADS_MAX; i++) {
		if (!uploads[i].used && !slot)
			slot = &uploads[i];
		else if (uploads[i].used && uploads[i].user_id == r->user.id &&
		         uploads[i].tenant_id == r->user.tenant_id)
			mine++;
	}
	if (!slot || mine >= UPLOADS_PER_USER || upload_bytes + size > UPLOAD_BYTES_MAX) {
		req_header(r, "retry-after:", "5");
		req_error(r, mine >= UPLOADS_PER_USER ? 429 : 503, mine >= UPLOADS_PER_USER ? "rate_limited" : "unavailable",
		          "too many uploads in progress; try again shortly");
		return;
	}
	int fd = memfd_create("bulwark-upload", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		if (fd >= 0)
			close(fd);
		log_err("upload: memfd: %s", strerror(errno));
		req_error(r, 503, "unavailable", "cannot take uploads now");
		return;
	}
	memset(slot, 0, sizeof *slot);
	slot->used = true;
	slot->fd = fd;
	slot->tenant_id = r->user.tenant_id;
	slot->user_id = r->user.id;
	slot->conv_id = conv;
	slot->size = size;
	slot->touched_ms = bw_mono_ms();
	filestore_sanitize_name(name, slot->name, sizeof slot->name);
	uint8_t raw[16];
	bwc_random(raw, sizeof raw);
	bw_b64url_encode(raw, sizeof raw, slot->id);
	upload_bytes += size;
	req_json(r, 201, json_pack("{s:s,s:i,s:s}", "upload_id", slot->id, "chunk_max", UPLOAD_CHUNK_MAX,
	                           "name", slot->name));
}

void h_upload_chunk(struct req *r)
{
	struct upload *u = upload_find(r);
	int64_t off;
	if (!u || !req_query_int(r, "offset", 0, UPLOAD_SIZE_MAX, -1, &off))
		return;
	if (u->busy) {
		req_error(r, 409, "conflict", "the upload is being scanned");
		return;
	}
	if (off != u->received) {
		req_error_ex(r, 409, "wrong_offset", "send the chunk that starts at the received offset",
		             json_pack("{s:I}", "received", (json_int_t)u->received), NULL);
		return;
	}
	if ((int64_t)r->body.len > u->size - u->received) {
		req_error(r, 413, "too_large", "more bytes than the announced size");
		return;
	}
	if (r->body.len && pwrite(u->fd, r->body.data, r->body.len, (off_t)off) != (ssize_t)r->body.len) {
		req_error(r, 503, "unavailable", "cannot store the chunk");
		return;
	}
	u->received += (int64_t)r->body.len;
	u->touched_ms = bw_mono_ms();
	req_json(r, 200, json_pack("{s:I,s:I}", "received", (json_int_t)u->received, "size", (json_int_t)u->size));
}

/* ---- finish: scan and encrypt on a worker, then send the message ---------- */

struct finish_ctx {
	struct upload *u;
	int64_t file_id;
	bool optout;
	char clamd[108], blob[1200], quarantine[1200];
	uint8_t key[CRYPTO_KEY_LEN];
	uint32_t key_version;
	char mime[80];
	char body[CHAT_BODY_MAX + 1];
	char cid[CHAT_CID_MAX + 1];
	bool has_cid;
	int scan_rc, store_rc;
	struct clamav_result verdict;
};

static void finish_ctx_free(void *p)
{
	struct finish_ctx *x = p;
	sodium_memzero(x, sizeof *x);
	free(x);
}

static int mkdirs_for(const char *path)
{
	char dir[1200];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return BW_EINVAL;
	*slash = 0;
	return bw_mkdir_p(dir, 0700);
}

static void finish_work(struct req *r)
{
	struct finish_ctx *x = r->async_ctx;
	struct upload *u = x->u;
	uint8_t head[FILESTORE_SNIFF_LEN];
	ssize_t hn = pread(u->fd, head, sizeof head, 0);
	snprintf(x->mime, sizeof x->mime, "%s", filestore_sniff(head, hn > 0 ? (size_t)hn : 0));
	sodium_memzero(head, sizeof head);
	if (x->optout) {
		x->scan_rc = 0;
		x->verdict.verdict = CLAMAV_CLEAN;
	} else {
		lseek(u->fd, 0, SEEK_SET);
		x->scan_rc = clamav_scan_fd(x->clamd, u->fd, (uint64_t)u->size, CLAMD_TIMEOUT_MS, &x->verdict);
	}
	if (x->scan_rc)
		return;
	const char *dest = x->verdict.verdict == CLAMAV_CLEAN ? x->blob : x->quarantine;
	lseek(u->fd, 0, SEEK_SET);
	x->store_rc = mkdirs_for(dest);
	if (x->store_rc == 0)
		x->store_rc = filestore_encrypt_fd(x->key, x->key_version, u->tenant_id, x->file_id, u->fd,
		                                   (uint64_t)u->size, dest);
}

static int file_row_set(struct req *r, int64_t id, const char *status, const char *sig, const char *mime)
{
	sqlite3_stmt *st = chat_rstmt(r->srv, "UPDATE files SET status = ?1, signature = ?2, mime = ?3"
	                              " WHERE id = ?4 AND tenant_id = ?5");
	if (!st)
		return BW_ESTORE;
	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sig, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, mime, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, id);
	sqlite3_bind_int64(st, 5, r->user.tenant_id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : BW_ESTORE;
}

static void finish_done(struct req *r)
{
	struct finish_ctx *x = r->async_ctx;
	struct upload *u = x->u;
	char object[32], detail[320];
	snprintf(object, sizeof object, "file:%lld", (long long)x->file_id);
	int64_t conv = u->conv_id, size = u->size;
	upload_drop(u);
	x->u = NULL;
	if (x->scan_rc) {
		file_row_set(r, x->file_id, "unscanned", "", x->mime);
		snprintf(detail, sizeof detail, "{\"conversation\":%lld,\"reason\":\"%s\"}", (long long)conv,
		         x->scan_rc == BW_ETOOBIG ? "too large for the scanner" : "scanner unavailable");
		req_audit(r, "chat.file.upload", object, "failure", detail);
		if (x->scan_rc == BW_ETOOBIG)
			req_error(r, 413, "too_large", "the file is larger than the virus scanner accepts");
		else
			req_error(r, 503, "scanner_unavailable",
			          "the virus scanner is not reachable, so the file was not accepted; try again later");
		return;
	}
	if (x->verdict.verdict == CLAMAV_INFECTED) {
		file_row_set(r, x->file_id, "infected", x->verdict.signature, x->mime);
		json_t *dj = json_pack("{s:I,s:s,s:b}", "conversation", (json_int_t)conv,
		                       "signature", x->verdict.signature, "quarantined", x->store_rc == 0);
		char *dt = dj ? json_dumps(dj, JSON_COMPACT) : NULL;
		req_audit(r, "chat.file.infected", object, "denied", dt);
		free(dt);
		json_decref(dj);
		req_error_ex(r, 422, "infected", "the file contains malware and was quarantined; nobody can download it",
		             json_pack("{s:s}", "signature", x->verdict.signature), NULL);
		return;
	}
	if (x->store_rc) {
		file_row_set(r, x->file_id, "unscanned", "", x->mime);
		api_store_error(r, x->store_rc);
		return;
	}
	file_row_set(r, x->file_id, "clean", "", x->mime);
	snprintf(detail, sizeof detail, "{\"conversation\":%lld,\"size\":%lld,\"mime\":\"%s\",\"scanned\":%s}",
	         (long long)conv, (long long)size, x->mime, x->optout ? "false" : "true");
	req_audit(r, "chat.file.upload", object, "success", detail);
	struct chat_send_in in = {
		.conv_id = conv, .file_id = x->file_id, .kind = 1, .body = x->body,
		.body_len = strlen(x->body), .cid = x->has_cid ? x->cid : NULL,
	};
	int status = 0;
	const char *code = NULL, *msg = NULL;
	if (chat_send(r->srv, r->user.tenant_id, &r->user, r->subj.role, &in, r, 0, &status, &code, &msg))
		req_error(r, status, code, "%s", msg);
}

void h_upload_finish(struct req *r)
{
	static const char *const allowed[] = { "cid", "body", NULL };
	struct upload *u = upload_find(r);
	const char *body, *cid;
	if (!u || !req_only(r, allowed) || !req_text(r, "body", false, CHAT_BODY_MAX, &body) ||
	    !req_str(r, "cid", false, CHAT_CID_MAX, &cid))
		return;
	if (u->busy) {
		req_error(r, 409, "conflict", "the upload is already being finished");
		return;
	}
	if (u->received != u->size) {
		req_error_ex(r, 409, "incomplete", "not every byte has arrived",
		             json_pack("{s:I}", "received", (json_int_t)u->received), NULL);
		return;
	}
	struct chat_conv *cv;
	if (!may_post(r, u->conv_id, &cv))
		return;
	struct tenant_policy p;
	accounts_policy_get(r->srv->app, r->user.tenant_id, &p, NULL);
	if (!p.clamav_optout && !r->srv->cfg.clamd_socket[0]) {
		req_error(r, 503, "scanner_unavailable", "no virus scanner is configured; uploads are refused");
		return;
	}
	struct finish_ctx *x = req_ctx_new(r, sizeof *x);
	if (!x)
		return;
	x->u = u;
	x->optout = p.clamav_optout;
	snprintf(x->clamd, sizeof x->clamd, "%s", r->srv->cfg.clamd_socket);
	snprintf(x->body, sizeof x->body, "%s", body ? body : "");
	if (cid) {
		snprintf(x->cid, sizeof x->cid, "%s", cid);
		x->has_cid = true;
	}
	int rc = keys_current(r->srv->app->kr, r->user.tenant_id, KEY_CLASS_DATA, 0, x->key, &x->key_version);
	/* the file row first: its id binds the name and the content */
	sqlite3_stmt *st = rc ? NULL : chat_rstmt(r->srv, "INSERT INTO files(tenant_id, conv_id, uploader, name,"
	    " size, mime, status, key_version, created_at) VALUES(?1,?2,?3,x'',?4,'',"
	    " 'unscanned',?5,?6)");
	if (st) {
		sqlite3_bind_int64(st, 1, r->user.tenant_id);
		sqlite3_bind_int64(st, 2, u->conv_id);
		sqlite3_bind_int64(st, 3, r->user.id);
		sqlite3_bind_int64(st, 4, u->size);
		sqlite3_bind_int64(st, 5, x->key_version);
		sqlite3_bind_int64(st, 6, bw_now());
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
		sqlite3_reset(st);
		x->file_id = sqlite3_last_insert_rowid(store_sqlite_handle(r->srv->app->s));
	} else if (!rc) {
		rc = BW_ESTORE;
	}
	uint8_t *box = NULL;
	size_t bl = 0;
	if (rc == 0)
		rc = keys_seal_alloc(r->srv->app->kr, r->user.tenant_id, KEY_CLASS_DATA, "files", x->file_id,
		                     "name", u->name, strlen(u->name), &box, &bl);
	if (rc == 0 && (st = chat_rstmt(r->srv, "UPDATE files SET name = ?1 WHERE id = ?2 AND tenant_id = ?3"))) {
		sqlite3_bind_blob(st, 1, box, (int)bl, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, x->file_id);
		sqlite3_bind_int64(st, 3, r->user.tenant_id);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
		sqlite3_reset(st);
	}
	free(box);
	if (rc) {
		finish_ctx_free(x);
		api_store_error(r, rc);
		return;
	}
	if (p.clamav_optout) {
		char object[32];
		snprintf(object, sizeof object, "file:%lld", (long long)x->file_id);
		req_audit(r, "chat.file.scan_skipped", object, "success", "{\"reason\":\"tenant opted out\"}");
	}
	snprintf(x->blob, sizeof x->blob, "%s/blobs/%lld/%lld", r->srv->app->data_dir,
	         (long long)r->user.tenant_id, (long long)x->file_id);
	snprintf(x->quarantine, sizeof x->quarantine, "%s/quarantine/%lld/%lld", r->srv->app->data_dir,
	         (long long)r->user.tenant_id, (long long)x->file_id);
	u->busy = true;
	req_async(r, finish_work, finish_done, x, finish_ctx_free);
	if (r->resp_ready)       /* the pool was full: 429 answered */
		u->busy = false;
}

/* ---- download ---------------------------------------------------------------- */

struct dl_ctx {
	uint8_t key[CRYPTO_KEY_LEN];
	int64_t tenant_id, file_id;
	char path[1200];
	struct bw_buf out;
	int rc;
};

static void dl_free(void *p)
{
	struct dl_ctx *x = p;
	bw_buf_free(&x->out, true);
	sodium_memzero(x, sizeof *x);
	free(x);
}

static void dl_work(struct req *r)
{
	struct dl_ctx *x = r->async_ctx;
	struct filestore_reader *rd = NULL;
	uint64_t len = 0;
	x->rc = filestore_reader_open(x->key, x->tenant_id, x->file_id, x->path, &rd, &len);
	if (x->rc)
		return;
	bw_buf_init(&x->out, UPLOAD_SIZE_MAX);
	uint8_t buf[65536];
	for (;;) {
		size_t n = 0;
		if ((x->rc = filestore_reader_next(rd, buf, sizeof buf, &n)) != 0 || n == 0)
			break;
		if ((x->rc = bw_buf_append(&x->out, buf, n)) != 0)
			break;
	}
	sodium_memzero(buf, sizeof buf);
	filestore_reader_close(rd);
}

struct dl_meta { char name[FILESTORE_NAME_MAX]; char mime[80]; };

static void dl_done(struct req *r)
{
	struct dl_ctx *x = r->async_ctx;
	char object[32];
	snprintf(object, sizeof object, "file:%lld", (long long)x->file_id);
	if (x->rc) {
		req_audit(r, "chat.file.download", object, "failure", NULL);
		log_err("download of file %lld failed: %s", (long long)x->file_id, bw_strerror(x->rc));
		req_error(r, x->rc == BW_ECRYPTO ? 500 : 404, x->rc == BW_ECRYPTO ? "internal" : "not_found",
		          "the file cannot be read");
		return;
	}
	req_audit(r, "chat.file.download", object, "success", NULL);
	struct dl_meta *m = (struct dl_meta *)(x + 1);
	/* RFC 6266 / 5987: an ASCII fallback and the UTF-8 name, percent-encoded */
	char ascii[FILESTORE_NAME_MAX], enc[FILESTORE_NAME_MAX * 3 + 1], cd[1200];
	size_t a = 0, e = 0;
	for (const unsigned char *p = (const unsigned char *)m->name; *p; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		             *p == '.' || *p == '-' || *p == '_';
		ascii[a++] = plain ? (char)*p : '_';
		if (plain)
			enc[e++] = (char)*p;
		else
			e += (size_t)snprintf(enc + e, 4, "%%%02X", *p);
	}
	ascii[a] = 0;
	enc[e] = 0;
	snprintf(cd, sizeof cd, "attachment; filename=\"%s\"; filename*=UTF-8''%s", ascii, enc);
	req_header(r, "content-disposition:", cd);
	req_header(r, "cache-control:", "private, no-store");
	/* served as what it was sniffed to be, never as HTML (nosniff is set on
	 * every response); m lives as long as the request */
	if (strncmp(m->mime, "text/", 5) == 0)
		snprintf(m->mime, sizeof m->mime, "text/plain; charset=utf-8");
	req_raw(r, 200, m->mime, &x->out);
}

void h_file_get(struct req *r)
{
	char *end = NULL;
	long long id = r->params[0] ? strtoll(r->params[0], &end, 10) : 0;
	if (!end || *end || id <= 0) {
		req_error(r, 404, "not_found", "no such file");
		return;
	}
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT f.conv_id, f.status, f.mime, f.key_version, f.name,"
	    " (SELECT MAX(m.id) FROM messages m WHERE m.file_id = f.id AND m.recalled_at = 0)"
	    " FROM files f WHERE f.id = ?1 AND f.tenant_id = ?2");
	if (!st) {
		api_store_error(r, BW_ESTORE);
		return;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	int64_t conv = 0, kv = 0, msg = 0;
	char status[16] = "", mime[80] = "";
	uint8_t *namebox = NULL;
	size_t nbl = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		conv = sqlite3_column_int64(st, 0);
		snprintf(status, sizeof status, "%s", (const char *)sqlite3_column_text(st, 1));
		snprintf(mime, sizeof mime, "%s", (const char *)sqlite3_column_text(st, 2));
		kv = sqlite3_column_int64(st, 3);
		nbl = (size_t)sqlite3_column_bytes(st, 4);
		namebox = nbl ? malloc(nbl) : NULL;
		if (namebox)
			memcpy(namebox, sqlite3_column_blob(st, 4), nbl);
		msg = sqlite3_column_int64(st, 5);
	}
	sqlite3_reset(st);
	struct chat_conv *cv = conv ? chat_conv_get(r->srv, r->user.tenant_id, conv) : NULL;
	struct chat_member *me = chat_member_active(cv, r->user.id);
	char object[32];
	snprintf(object, sizeof object, "file:%lld", id);
	if (!me || !msg || strcmp(status, "clean") != 0 ||
	    (!cv->set.history_visible && msg <= me->joined_msg)) {
		free(namebox);
		if (conv)
			req_audit(r, "chat.file.download", object, "denied",
			          strcmp(status, "infected") == 0 ? "{\"reason\":\"infected\"}" : "{\"reason\":\"not visible\"}");
		req_error(r, 404, "not_found", "no such file");
		return;
	}
	struct dl_ctx *x = req_ctx_new(r, sizeof *x + sizeof(struct dl_meta));
	if (!x) {
		free(namebox);
		return;
	}
	struct dl_meta *m = (struct dl_meta *)(x + 1);
	char *name = NULL;
	size_t nl = 0;
	int rc = namebox ? keys_open_alloc(r->srv->app->kr, r->user.tenant_id, KEY_CLASS_DATA, "files", id, "name",
	                                   namebox, nbl, &name, &nl) : BW_ECRYPTO;
	free(namebox);
	if (rc == 0)
		rc = keys_current(r->srv->app->kr, r->user.tenant_id, KEY_CLASS_DATA, (uint32_t)kv, x->key, NULL);
	if (rc) {
		free(name);
		dl_free(x);
		api_store_error(r, rc);
		return;
	}
	snprintf(m->name, sizeof m->name, "%s", name);
	sodium_memzero(name, nl);
	free(name);
	snprintf(m->mime, sizeof m->mime, "%s", mime[0] ? mime : "application/octet-stream");
	x->tenant_id = r->user.tenant_id;
	x->file_id = id;
	snprintf(x->path, sizeof x->path, "%s/blobs/%lld/%lld", r->srv->app->data_dir,
	         (long long)r->user.tenant_id, id);
	req_async(r, dl_work, dl_done, x, dl_free);
}
