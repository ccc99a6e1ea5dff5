/*
 * chat.c — instant messaging core: the conversation cache, writer
 * operations with their events, message sends, event JSON, fan-out and
 * resume of the per-user event streams (docs/realtime.md).
 *
 * Requirement IDs: RG-IM-a (encrypted storage), RG-IM-b (group settings, in
 * api_chat.c), RG-IM-c (recall), RG-DATA-b, WC-STORE, WC-TRANS, IN-SURGE
 * (send rate limits, bounded queues), IN-PHISH/MI-3 (links checked on send).
 *
 * Invariants (see chat.h): events are written only by the writer thread;
 * the loop delivers committed events in seq order; each connection gets an
 * event at most once (ws_conn.cursor) and never before its resume.
 */
#include "chat.h"
#include "api.h"
#include "docs.h"
#include "keys.h"
#include "keyd.h"
#include "linkcheck.h"
#include "markdown.h"
#include "rtproto.h"
#include "search.h"
#include "util.h"

#include <libwebsockets.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define CONV_BUCKETS 4096
#define CONV_CACHE_MAX 50000
#define RSTMT_SLOTS 128
#define RATE_SLOTS 8192
#define TENANT_SEND_PER_S 5000           /* IN-SURGE: per-tenant ceiling */
#define SEARCH_KEYS 64
#define PRESENCE_GROUP_MAX 100           /* presence only to small conversations */
#define LINKS_MAX 16

struct rstmt_slot { const char *sql; sqlite3_stmt *st; };
struct rate_slot { int64_t key; double tokens; int64_t last_ms; };
struct skey_slot { int64_t tenant_id; uint8_t key[CRYPTO_KEY_LEN]; };
struct blocklist_slot { int64_t tenant_id; int64_t loaded_ms; struct linkcheck_list *list; };

struct chat {
	struct srv *srv;
	sqlite3 *db;                          /* the loop's connection (reads) */
	struct chat_conv *buckets[CONV_BUCKETS];
	size_t nconv;
	struct rstmt_slot rst[RSTMT_SLOTS];
	int64_t seq_now;                      /* newest delivered seq */
	int64_t next_msg_id;
	struct rate_slot user_rate[RATE_SLOTS];
	struct rate_slot tenant_rate[256];
	struct skey_slot skeys[SEARCH_KEYS];
	struct blocklist_slot blocklists[64];
	int64_t last_retention_ms;
};

static struct chat *C(struct srv *s) { return s->chat; }

/* ---- small helpers ------------------------------------------------------ */

static const char *const kind_names[] = { "", "direct", "group", "channel", "announce" };
static const char *const role_names[] = { "", "member", "admin", "owner" };

const char *chat_kind_name(int k)
{
	return k >= CHAT_DIRECT && k <= CHAT_ANNOUNCE ? kind_names[k] : "unknown";
}

int chat_kind_parse(const char *s)
{
	for (int k = CHAT_DIRECT; s && k <= CHAT_ANNOUNCE; k++)
		if (strcmp(s, kind_names[k]) == 0)
			return k;
	return 0;
}

const char *chat_role_name(int r)
{
	return r >= CROLE_MEMBER && r <= CROLE_OWNER ? role_names[r] : "member";
}

static int role_parse(const char *s)
{
	for (int r = CROLE_MEMBER; s && r <= CROLE_OWNER; r++)
		if (strcmp(s, role_names[r]) == 0)
			return r;
	return 0;
}

sqlite3_stmt *chat_rstmt(struct srv *s, const char *sql)
{
	struct chat *c = C(s);
	size_t h = ((uintptr_t)sql >> 3) % RSTMT_SLOTS;
	for (size_t i = 0; i < RSTMT_SLOTS; i++) {
		struct rstmt_slot *sl = &c->rst[(h + i) % RSTMT_SLOTS];
		if (sl->sql == sql) {
			sqlite3_reset(sl->st);
			sqlite3_clear_bindings(sl->st);
			return sl->st;
		}
		if (!sl->sql) {
			if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &sl->st, NULL) != SQLITE_OK) {
				log_err("chat: prepare failed: %s", sqlite3_errmsg(c->db));
				return NULL;
			}
			sl->sql = sql;
			return sl->st;
		}
	}
	log_err("chat: statement cache full");
	return NULL;
}

/* Token bucket per key: rate per minute, burst = rate / 4 (at least 10). */
static bool rate_take(struct rate_slot *slots, size_t nslots, int64_t key, double per_min,
                      double burst, int *retry_s)
{
	int64_t now = bw_mono_ms();
	struct rate_slot *sl = &slots[((uint64_t)key * UINT64_C(0x9E3779B97F4A7C15) >> 40) % nslots];
	if (sl->key != key) {
		sl->key = key;
		sl->tokens = burst;
		sl->last_ms = now;
	}
	sl->tokens += (double)(now - sl->last_ms) * per_min / 60000.0;
	if (sl->tokens > burst)
		sl->tokens = burst;
	sl->last_ms = now;
	if (sl->tokens < 1.0) {
		*retry_s = (int)((1.0 - sl->tokens) * 60.0 / per_min) + 1;
		return false;
	}
	sl->tokens -= 1.0;
	return true;
}

/* ---- settings ----------------------------------------------------------- */

void chat_settings_default(struct chat_settings *st, int kind)
{
	memset(st, 0, sizeof *st);
	st->invite_members = kind == CHAT_GROUP || kind == CHAT_CHANNEL;
	st->guests = false;
	st->join_approval = false;
	st->history_visible = true;
	st->forward = true;
	st->copy = true;
	st->watermark = false;
	st->member_limit = kind == CHAT_DIRECT ? 2 : 1000;
	st->retention_days = 0;
}

json_t *chat_settings_json(const struct chat_settings *st)
{
	return json_pack("{s:s,s:b,s:b,s:b,s:b,s:b,s:b,s:i,s:i}",
	                 "invite", st->invite_members ? "members" : "admins",
	                 "guests", st->guests, "join_approval", st->join_approval,
	                 "history_visible", st->history_visible, "forward", st->forward,
	                 "copy", st->copy, "watermark", st->watermark,
	                 "member_limit", st->member_limit, "retention_days", st->retention_days);
}

char *chat_settings_dump(const struct chat_settings *st)
{
	json_t *o = chat_settings_json(st);
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	return s;
}

int chat_settings_apply(struct chat_settings *st, json_t *o, const char **bad)
{
	struct chat_settings n = *st;
	const char *key;
	json_t *v;
	if (!json_is_object(o)) {
		*bad = "settings";
		return BW_EINVAL;
	}
	json_object_foreach(o, key, v) {
		*bad = key;
		bool *flag = NULL;
		if (strcmp(key, "guests") == 0) flag = &n.guests;
		else if (strcmp(key, "join_approval") == 0) flag = &n.join_approval;
		else if (strcmp(key, "history_visible") == 0) flag = &n.history_visible;
		else if (strcmp(key, "forward") == 0) flag = &n.forward;
		else if (strcmp(key, "copy") == 0) flag = &n.copy;
		else if (strcmp(key, "watermark") == 0) flag = &n.watermark;
		if (flag) {
			if (!json_is_boolean(v))
				return BW_EINVAL;
			*flag = json_is_true(v);
		} else if (strcmp(key, "invite") == 0) {
			const char *x = json_string_value(v);
			if (!x || (strcmp(x, "members") != 0 && strcmp(x, "admins") != 0))
				return BW_EINVAL;
			n.invite_members = strcmp(x, "members") == 0;
		} else if (strcmp(key, "member_limit") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 2 ||
			    json_integer_value(v) > CHAT_MEMBERS_MAX)
				return BW_EINVAL;
			n.member_limit = (int)json_integer_value(v);
		} else if (strcmp(key, "retention_days") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 36500)
				return BW_EINVAL;
			n.retention_days = (int)json_integer_value(v);
		} else {
			return BW_EINVAL;
		}
	}
	*bad = NULL;
	*st = n;
	return 0;
}

static void settings_parse(struct chat_settings *st, int kind, const char *txt)
{
	chat_settings_default(st, kind);
	json_t *o = txt ? json_loads(txt, 0, NULL) : NULL;
	const char *bad;
	if (o)
		chat_settings_apply(st, o, &bad);
	json_decref(o);
}

/* ---- conversation cache ------------------------------------------------- */

static void conv_free(struct chat_conv *cv)
{
	free(cv->m);
	free(cv);
}

static int member_cmp(const void *a, const void *b)
{
	int64_t x = ((const struct chat_member *)a)->user_id, y = ((const struct chat_member *)b)->user_id;
	return x < y ? -1 : x > y;
}

static struct chat_conv *conv_load(struct srv *s, int64_t tenant_id, int64_t id)
{
	sqlite3_stmt *st = chat_rstmt(s, "SELECT kind, settings, created_by, created_at, dissolved_at,"
	                              " legal_hold FROM conversations WHERE id = ?1 AND tenant_id = ?2");
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant_id);
	if (sqlite3_step(st) != SQLITE_ROW)
		return NULL;
	struct chat_conv *cv = calloc(1, sizeof *cv);
	if (!cv)
		return NULL;
	cv->id = id;
	cv->tenant_id = tenant_id;
	cv->kind = chat_kind_parse((const char *)sqlite3_column_text(st, 0));
	settings_parse(&cv->set, cv->kind, (const char *)sqlite3_column_text(st, 1));
	cv->created_by = sqlite3_column_int64(st, 2);
	cv->created_at = sqlite3_column_int64(st, 3);
	cv->dissolved_at = sqlite3_column_int64(st, 4);
	cv->legal_hold = sqlite3_column_int64(st, 5) != 0;
	sqlite3_reset(st);
	st = chat_rstmt(s, "SELECT user_id, role, status, poster, muted_until, joined_seq, joined_msg"
	                " FROM conv_members WHERE conv_id = ?1 AND tenant_id = ?2 ORDER BY user_id");
	if (!st) {
		conv_free(cv);
		return NULL;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant_id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (cv->n == cv->cap) {
			int cap = cv->cap ? cv->cap * 2 : 8;
			struct chat_member *m = realloc(cv->m, (size_t)cap * sizeof *m);
			if (!m) {
				sqlite3_reset(st);
				conv_free(cv);
				return NULL;
			}
			cv->m = m;
			cv->cap = cap;
		}
		struct chat_member *m = &cv->m[cv->n++];
		m->user_id = sqlite3_column_int64(st, 0);
		m->role = (uint8_t)role_parse((const char *)sqlite3_column_text(st, 1));
		m->status = strcmp((const char *)sqlite3_column_text(st, 2), "active") == 0
		          ? CSTAT_ACTIVE : CSTAT_PENDING;
		m->poster = sqlite3_column_int64(st, 3) != 0;
		m->muted_until = sqlite3_column_int64(st, 4);
		m->joined_seq = sqlite3_column_int64(st, 5);
		m->joined_msg = sqlite3_column_int64(st, 6);
	}
	sqlite3_reset(st);
	qsort(cv->m, (size_t)cv->n, sizeof *cv->m, member_cmp);
	return cv;
}

static void conv_cache_clear(struct chat *c)
{
	for (size_t i = 0; i < CONV_BUCKETS; i++) {
		while (c->buckets[i]) {
			struct chat_conv *cv = c->buckets[i];
			c->buckets[i] = cv->hnext;
			conv_free(cv);
		}
	}
	c->nconv = 0;
}

struct chat_conv *chat_conv_get(struct srv *s, int64_t tenant_id, int64_t conv_id)
{
	struct chat *c = C(s);
	size_t h = (uint64_t)conv_id % CONV_BUCKETS;
	for (struct chat_conv *cv = c->buckets[h]; cv; cv = cv->hnext)
		if (cv->id == conv_id)
			return cv->tenant_id == tenant_id ? cv : NULL;
	if (conv_id <= 0)
		return NULL;
	struct chat_conv *cv = conv_load(s, tenant_id, conv_id);
	if (!cv)
		return NULL;
	if (c->nconv >= CONV_CACHE_MAX)
		conv_cache_clear(c);
	cv->hnext = c->buckets[h];
	c->buckets[h] = cv;
	c->nconv++;
	return cv;
}

void chat_conv_forget(struct srv *s, int64_t conv_id)
{
	struct chat *c = C(s);
	struct chat_conv **pp = &c->buckets[(uint64_t)conv_id % CONV_BUCKETS];
	while (*pp) {
		if ((*pp)->id == conv_id) {
			struct chat_conv *cv = *pp;
			*pp = cv->hnext;
			conv_free(cv);
			c->nconv--;
			return;
		}
		pp = &(*pp)->hnext;
	}
}

struct chat_member *chat_member_find(struct chat_conv *cv, int64_t user_id)
{
	struct chat_member key = { .user_id = user_id };
	return cv ? bsearch(&key, cv->m, (size_t)cv->n, sizeof *cv->m, member_cmp) : NULL;
}

struct chat_member *chat_member_active(struct chat_conv *cv, int64_t user_id)
{
	if (!cv || cv->dissolved_at)
		return NULL;
	struct chat_member *m = chat_member_find(cv, user_id);
	return m && m->status == CSTAT_ACTIVE ? m : NULL;
}

/* ---- keys for search ----------------------------------------------------- */

int chat_search_key(struct srv *s, int64_t tenant_id, uint8_t key[32])
{
	struct chat *c = C(s);
	struct skey_slot *sl = &c->skeys[(uint64_t)tenant_id % SEARCH_KEYS];
	if (sl->tenant_id != tenant_id) {
		uint8_t dk[CRYPTO_KEY_LEN];
		int rc = keys_current(s->app->kr, tenant_id, KEY_CLASS_DATA, 0, dk, NULL);
		if (rc)
			return rc;
		search_key_derive(dk, sl->key);
		sodium_memzero(dk, sizeof dk);
		sl->tenant_id = tenant_id;
	}
	memcpy(key, sl->key, CRYPTO_KEY_LEN);
	return 0;
}

/* ---- link safety ---------------------------------------------------------- */

static struct linkcheck_list *blocklist_get(struct srv *s, int64_t tenant_id)
{
	struct chat *c = C(s);
	struct blocklist_slot *sl = &c->blocklists[(uint64_t)tenant_id % 64];
	int64_t now = bw_mono_ms();
	if (sl->tenant_id == tenant_id && sl->list && now - sl->loaded_ms < 5000)
		return sl->list;
	struct linkcheck_list *l = NULL;
	if (linkcheck_list_new(&l) != 0)
		return sl->tenant_id == tenant_id ? sl->list : NULL;
	sqlite3_stmt *st = chat_rstmt(s, "SELECT entry FROM link_blocklist WHERE tenant_id = ?1");
	if (st) {
		sqlite3_bind_int64(st, 1, tenant_id);
		while (sqlite3_step(st) == SQLITE_ROW)
			linkcheck_list_add(l, (const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
	}
	linkcheck_list_free(sl->list);
	sl->list = l;
	sl->tenant_id = tenant_id;
	sl->loaded_ms = now;
	return l;
}

void chat_blocklist_forget(struct srv *s, int64_t tenant_id)
{
	struct blocklist_slot *sl = &C(s)->blocklists[(uint64_t)tenant_id % 64];
	if (sl->tenant_id == tenant_id)
		sl->loaded_ms = 0;
}

/* Checks the links of a body; returns a JSON array (may be empty) and sets
 * *worst to the worst verdict.  Caller owns the array. */
static json_t *links_check(struct srv *s, int64_t tenant_id, const char *body, size_t len,
                           int *worst)
{
	struct linkcheck_url urls[LINKS_MAX];
	json_t *arr = json_array();
	*worst = LINK_OK;
	int n = linkcheck_extract(body, len, urls, LINKS_MAX);
	if (n <= 0)
		return arr;
	struct tenant_policy p;
	accounts_policy_get(s->app, tenant_id, &p, NULL);
	const char *trusted[TENANT_TRUSTED_MAX];
	for (int i = 0; i < p.trusted_domains_n; i++)
		trusted[i] = p.trusted_domains[i];
	struct linkcheck_list *bl = blocklist_get(s, tenant_id);
	for (int i = 0; i < n; i++) {
		struct linkcheck_result res;
		if (linkcheck_url_check(bl, trusted, p.trusted_domains_n, &urls[i], body, &res) != 0)
			continue;
		if ((int)res.verdict > *worst)
			*worst = (int)res.verdict;
		char url[LINKCHECK_URL_MAX + 1];
		size_t ul = urls[i].len < LINKCHECK_URL_MAX ? urls[i].len : LINKCHECK_URL_MAX;
		memcpy(url, body + urls[i].off, ul);
		url[ul] = 0;
		const char *verdict = res.verdict == LINK_MALICIOUS ? "malicious"
		                    : res.verdict == LINK_LOOKALIKE ? "lookalike" : "ok";
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s}", "url", url,
		                      "host", urls[i].host, "host_unicode", urls[i].host_unicode,
		                      "verdict", verdict, "reason", res.reason));
	}
	return arr;
}

/* ---- message JSON --------------------------------------------------------- */

static json_t *reactions_json(struct srv *s, int64_t msg_id)
{
	json_t *o = json_object();
	sqlite3_stmt *st = chat_rstmt(s, "SELECT emoji, user_id FROM reactions WHERE msg_id = ?1"
	                              " ORDER BY emoji, user_id");
	if (!st)
		return o;
	sqlite3_bind_int64(st, 1, msg_id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *e = (const char *)sqlite3_column_text(st, 0);
		json_t *a = json_object_get(o, e);
		if (!a) {
			a = json_array();
			json_object_set_new(o, e, a);
		}
		json_array_append_new(a, json_integer(sqlite3_column_int64(st, 1)));
	}
	sqlite3_reset(st);
	return o;
}

static json_t *file_json(struct srv *s, int64_t tenant_id, int64_t file_id)
{
	sqlite3_stmt *st = chat_rstmt(s, "SELECT name, size, mime, status FROM files"
	                              " WHERE id = ?1 AND tenant_id = ?2");
	if (!st)
		return json_null();
	sqlite3_bind_int64(st, 1, file_id);
	sqlite3_bind_int64(st, 2, tenant_id);
	json_t *o = json_null();
	if (sqlite3_step(st) == SQLITE_ROW) {
		char *name = NULL;
		size_t nl;
		if (keys_open_alloc(s->app->kr, tenant_id, KEY_CLASS_DATA, "files", file_id, "name",
		                    sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
		                    &name, &nl) == 0) {
			o = json_pack("{s:I,s:s,s:I,s:s,s:s}", "id", (json_int_t)file_id, "name", name,
			              "size", (json_int_t)sqlite3_column_int64(st, 1),
			              "mime", (const char *)sqlite3_column_text(st, 2),
			              "status", (const char *)sqlite3_column_text(st, 3));
			sodium_memzero(name, nl);
			free(name);
		}
	}
	sqlite3_reset(st);
	return o ? o : json_null();
}

/* Builds the message JSON from a plaintext body (NULL when recalled). */
static json_t *message_json_from(struct srv *s, int64_t tenant_id, int64_t id, int64_t conv_id,
                                 int64_t sender, const char *kind, const char *body,
                                 size_t body_len, int64_t reply_to, int64_t thread_root,
                                 int64_t file_id, bool forwarded, int64_t created_at,
                                 int64_t edited_at, int64_t recalled_at, int64_t recalled_by)
{
	json_t *o = json_pack("{s:I,s:I,s:I,s:s,s:I,s:I,s:I,s:I,s:b,s:b}",
	                      "id", (json_int_t)id, "conv", (json_int_t)conv_id,
	                      "sender", (json_int_t)sender, "kind", kind,
	                      "created_at", (json_int_t)created_at, "edited_at", (json_int_t)edited_at,
	                      "reply_to", (json_int_t)reply_to, "thread_root", (json_int_t)thread_root,
	                      "recalled", recalled_at != 0, "forwarded", forwarded);
	if (!o)
		return NULL;
	if (recalled_at) {
		json_object_set_new(o, "recalled_by", json_integer(recalled_by));
		json_object_set_new(o, "body", json_string(""));
		json_object_set_new(o, "html", json_string(""));
		json_object_set_new(o, "links", json_array());
		json_object_set_new(o, "reactions", json_object());
		json_object_set_new(o, "file", json_null());
		return o;
	}
	char *html = NULL;
	size_t hl = 0;
	json_object_set_new(o, "body", json_stringn(body ? body : "", body ? body_len : 0));
	if (body && markdown_render(body, body_len, &html, &hl) == 0) {
		json_object_set_new(o, "html", json_stringn(html, hl));
		free(html);
	} else {
		json_object_set_new(o, "html", json_string(""));
	}
	int worst;
	json_object_set_new(o, "links", body ? links_check(s, tenant_id, body, body_len, &worst)
	                                     : json_array());
	json_object_set_new(o, "reactions", reactions_json(s, id));
	json_object_set_new(o, "file", file_id ? file_json(s, tenant_id, file_id) : json_null());
	return o;
}

#define MSG_COLS "id, conv_id, sender_id, kind, body, reply_to, thread_root, file_id, forwarded," \
	" created_at, edited_at, recalled_at, recalled_by"

static json_t *message_json_row(struct srv *s, int64_t tenant_id, sqlite3_stmt *st)
{
	int64_t id = sqlite3_column_int64(st, 0);
	char *body = NULL;
	size_t bl = 0;
	int64_t recalled = sqlite3_column_int64(st, 11);
	if (!recalled && sqlite3_column_type(st, 4) == SQLITE_BLOB &&
	    keys_open_alloc(s->app->kr, tenant_id, KEY_CLASS_DATA, "messages", id, "body",
	                    sqlite3_column_blob(st, 4), (size_t)sqlite3_column_bytes(st, 4),
	                    &body, &bl) != 0) {
		log_err("chat: message %lld does not decrypt", (long long)id);
		return NULL;
	}
	json_t *o = message_json_from(s, tenant_id, id, sqlite3_column_int64(st, 1),
	                              sqlite3_column_int64(st, 2),
	                              (const char *)sqlite3_column_text(st, 3), body, bl,
	                              sqlite3_column_int64(st, 5), sqlite3_column_int64(st, 6),
	                              sqlite3_column_int64(st, 7), sqlite3_column_int64(st, 8) != 0,
	                              sqlite3_column_int64(st, 9), sqlite3_column_int64(st, 10),
	                              recalled, sqlite3_column_int64(st, 12));
	if (body) {
		sodium_memzero(body, bl);
		free(body);
	}
	return o;
}

json_t *chat_message_json(struct srv *s, int64_t tenant_id, int64_t msg_id)
{
	sqlite3_stmt *st = chat_rstmt(s, "SELECT " MSG_COLS " FROM messages WHERE id = ?1 AND tenant_id = ?2");
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, msg_id);
	sqlite3_bind_int64(st, 2, tenant_id);
	json_t *o = sqlite3_step(st) == SQLITE_ROW ? message_json_row(s, tenant_id, st) : NULL;
	sqlite3_reset(st);
	return o;
}

/* Messages of a conversation, oldest first (history paging). */
json_t *chat_history(struct srv *s, int64_t tenant_id, int64_t conv_id, int64_t before,
                     int64_t after_floor, int64_t thread, int limit, bool *has_more)
{
	sqlite3_stmt *st = thread
		? chat_rstmt(s, "SELECT " MSG_COLS " FROM messages WHERE conv_id = ?1 AND tenant_id = ?2"
		             " AND id < ?3 AND id > ?4 AND (thread_root = ?5 OR id = ?5)"
		             " ORDER BY id DESC LIMIT ?6")
		: chat_rstmt(s, "SELECT " MSG_COLS " FROM messages WHERE conv_id = ?1 AND tenant_id = ?2"
		             " AND id < ?3 AND id > ?4 AND ?5 = 0 ORDER BY id DESC LIMIT ?6");
	json_t *arr = json_array();
	*has_more = false;
	if (!st)
		return arr;
	sqlite3_bind_int64(st, 1, conv_id);
	sqlite3_bind_int64(st, 2, tenant_id);
	sqlite3_bind_int64(st, 3, before > 0 ? before : INT64_MAX);
	sqlite3_bind_int64(st, 4, after_floor);
	sqlite3_bind_int64(st, 5, thread);
	sqlite3_bind_int64(st, 6, limit + 1);
	int n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n++ == limit) {
			*has_more = true;
			break;
		}
		json_t *m = message_json_row(s, tenant_id, st);
		if (m)
			json_array_insert_new(arr, 0, m);
	}
	sqlite3_reset(st);
	return arr;
}

/* ---- conversation JSON ---------------------------------------------------- */

static json_t *user_brief(struct srv *s, int64_t tenant_id, int64_t user_id)
{
	struct store_user u;
	struct store *st = s->app->s;
	if (st->ops->user_get(st, tenant_id, user_id, &u) != 0)
		return json_null();
	char name[STORE_FIELD_MAX + 1] = "";
	keys_open(s->app->kr, tenant_id, KEY_CLASS_DATA, "users", u.id, "display_name",
	          &u.display_name, name, sizeof name);
	return json_pack("{s:I,s:s,s:s,s:b}", "id", (json_int_t)u.id, "username", u.username,
	                 "display_name", name[0] ? name : u.username, "online", chat_user_online(u.id));
}

json_t *chat_conv_json(struct srv *s, struct chat_conv *cv, int64_t user_id)
{
	sqlite3_stmt *st = chat_rstmt(s, "SELECT name, topic, last_msg_id, last_activity FROM conversations"
	                              " WHERE id = ?1 AND tenant_id = ?2");
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, cv->id);
	sqlite3_bind_int64(st, 2, cv->tenant_id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return NULL;
	}
	char *name = NULL, *topic = NULL;
	size_t nl = 0, tl = 0;
	if (sqlite3_column_type(st, 0) == SQLITE_BLOB)
		keys_open_alloc(s->app->kr, cv->tenant_id, KEY_CLASS_DATA, "conversations", cv->id, "name",
		                sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &name, &nl);
	if (sqlite3_column_type(st, 1) == SQLITE_BLOB)
		keys_open_alloc(s->app->kr, cv->tenant_id, KEY_CLASS_DATA, "conversations", cv->id, "topic",
		                sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), &topic, &tl);
	int64_t last_msg = sqlite3_column_int64(st, 2), last_activity = sqlite3_column_int64(st, 3);
	sqlite3_reset(st);
	int active = 0;
	for (int i = 0; i < cv->n; i++)
		active += cv->m[i].status == CSTAT_ACTIVE;
	json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:i,s:b,s:b}",
	                      "id", (json_int_t)cv->id, "kind", chat_kind_name(cv->kind),
	                      "name", name ? name : "", "topic", topic ? topic : "",
	                      "created_by", (json_int_t)cv->created_by,
	                      "created_at", (json_int_t)cv->created_at,
	                      "last_activity", (json_int_t)last_activity,
	                      "settings", chat_settings_json(&cv->set), "member_count", active,
	                      "dissolved", cv->dissolved_at != 0, "legal_hold", cv->legal_hold);
	free(name);
	free(topic);
	if (!o || !user_id)
		return o;
	struct chat_member *m = chat_member_find(cv, user_id);
	int64_t read = 0, unread = 0;
	if (m) {
		sqlite3_stmt *q = chat_rstmt(s, "SELECT read_msg FROM conv_members WHERE conv_id = ?1 AND user_id = ?2");
		if (q) {
			sqlite3_bind_int64(q, 1, cv->id);
			sqlite3_bind_int64(q, 2, user_id);
			if (sqlite3_step(q) == SQLITE_ROW)
				read = sqlite3_column_int64(q, 0);
			sqlite3_reset(q);
		}
		q = chat_rstmt(s, "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE conv_id = ?1"
		               " AND id > ?2 AND sender_id != ?3 AND recalled_at = 0 LIMIT 1000)");
		if (q) {
			sqlite3_bind_int64(q, 1, cv->id);
			sqlite3_bind_int64(q, 2, read > m->joined_msg || cv->set.history_visible ? read : m->joined_msg);
			sqlite3_bind_int64(q, 3, user_id);
			if (sqlite3_step(q) == SQLITE_ROW)
				unread = sqlite3_column_int64(q, 0);
			sqlite3_reset(q);
		}
	}
	bool can_post = m && m->status == CSTAT_ACTIVE && !cv->dissolved_at &&
	                (cv->kind != CHAT_ANNOUNCE || m->role >= CROLE_ADMIN || m->poster);
	json_object_set_new(o, "my_role", json_string(m ? chat_role_name(m->role) : "none"));
	json_object_set_new(o, "my_status", json_string(!m ? "none" : m->status == CSTAT_ACTIVE ? "active" : "pending"));
	json_object_set_new(o, "can_post", json_boolean(can_post));
	json_object_set_new(o, "muted_until", json_integer(m ? m->muted_until : 0));
	json_object_set_new(o, "unread", json_integer(unread));
	json_object_set_new(o, "last_read", json_integer(read));
	json_t *lm = NULL;
	if (last_msg && m && m->status == CSTAT_ACTIVE &&
	    (cv->set.history_visible || last_msg > m->joined_msg))
		lm = chat_message_json(s, cv->tenant_id, last_msg);
	json_object_set_new(o, "last_msg", lm ? lm : json_null());
	json_t *peer = json_null();
	if (cv->kind == CHAT_DIRECT)
		for (int i = 0; i < cv->n; i++)
			if (cv->m[i].user_id != user_id) {
				json_decref(peer);
				peer = user_brief(s, cv->tenant_id, cv->m[i].user_id);
			}
	json_object_set_new(o, "peer", peer);
	return o;
}

/* ---- events ----------------------------------------------------------------- */

/* The frame of an event for delivery; per-user fields only for events
 * addressed to one user.  NULL when there is nothing to send. */
static json_t *event_json(struct srv *s, int64_t tenant_id, const struct chat_op_event *e)
{
	json_t *o = json_pack("{s:s,s:I,s:s,s:I}", "type", "event", "seq", (json_int_t)e->seq,
	                      "kind", e->kind, "conv", (json_int_t)e->conv_id);
	if (!o)
		return NULL;
	json_t *detail = e->detail[0] ? json_loads(e->detail, 0, NULL) : NULL;
	if (strcmp(e->kind, "message") == 0 || strcmp(e->kind, "message.edit") == 0) {
		json_t *m = chat_message_json(s, tenant_id, e->msg_id);
		if (!m) {
			json_decref(o);
			json_decref(detail);
			return NULL;
		}
		json_object_set_new(o, "msg", m);
	} else if (strcmp(e->kind, "message.recall") == 0) {
		json_object_set_new(o, "msg_id", json_integer(e->msg_id));
		json_object_set_new(o, "by", json_integer(e->actor));
	} else if (strcmp(e->kind, "reaction") == 0) {
		json_object_set_new(o, "msg_id", json_integer(e->msg_id));
		json_object_set_new(o, "reactions", reactions_json(s, e->msg_id));
	} else if (strcmp(e->kind, "conv.new") == 0 || strcmp(e->kind, "conv.update") == 0 ||
	           strcmp(e->kind, "conv.member") == 0) {
		struct chat_conv *cv = chat_conv_get(s, tenant_id, e->conv_id);
		json_t *cj = cv ? chat_conv_json(s, cv, e->target_user) : NULL;
		json_object_set_new(o, "conversation", cj ? cj : json_null());
	}
	if (json_is_object(detail))
		json_object_update_missing(o, detail);
	json_decref(detail);
	return o;
}

static void deliver_to(struct ws_conn *c, int64_t seq, struct rt_frame *f)
{
	if (c->mode != WS_LIVE || c->closing || seq <= c->cursor)
		return;
	c->cursor = seq;
	ws_send(c, f);
}

void chat_event_deliver(struct srv *s, int64_t tenant_id, const struct chat_op_event *e)
{
	struct chat *c = C(s);
	if (e->seq > c->seq_now)
		c->seq_now = e->seq;
	json_t *o = event_json(s, tenant_id, e);
	if (!o)
		return;
	struct rt_frame *f = rt_frame_json(o);
	if (!f)
		return;
	if (e->target_user) {
		for (struct ws_conn *w = ws_user_bucket(e->target_user); w; w = w->unext)
			if (w->user_id == e->target_user && w->tenant_id == tenant_id)
				deliver_to(w, e->seq, f);
	} else {
		struct chat_conv *cv = chat_conv_get(s, tenant_id, e->conv_id);
		for (int i = 0; cv && i < cv->n; i++) {
			const struct chat_member *m = &cv->m[i];
			if (m->status != CSTAT_ACTIVE || e->seq <= m->joined_seq)
				continue;
			for (struct ws_conn *w = ws_user_bucket(m->user_id); w; w = w->unext)
				if (w->user_id == m->user_id && w->tenant_id == tenant_id)
					deliver_to(w, e->seq, f);
		}
	}
	rt_frame_unref(f);
}

int64_t chat_seq_now(struct srv *s)
{
	return s->chat ? C(s)->seq_now : 0;
}

/* ---- writer operations --------------------------------------------------------- */

static void op_free(struct chat_op *op)
{
	if (op->free_ctx && op->ctx)
		op->free_ctx(op->ctx);
	if (op->req)
		req_release(op->req);
	free(op);
}

static int op_run(struct writer_job *j, sqlite3 *db)
{
	struct chat_op *op = (struct chat_op *)j;
	op->nev = 0;
	return op->run(op, db);
}

static void op_done(struct writer_job *j, int rc)
{
	struct chat_op *op = (struct chat_op *)j;
	struct srv *s = op->srv;
	for (int i = 0; i < op->nforget; i++)
		chat_conv_forget(s, op->forget[i]);
	if (rc == 0)
		for (int i = 0; i < op->nev; i++)
			chat_event_deliver(s, op->tenant_id, &op->ev[i]);
	/* answering a request whose connection went away is harmless: the
	 * response is dropped when the request is released */
	if (op->finish)
		op->finish(op, rc);
	op_free(op);
}

struct chat_op *chat_op_new(struct srv *s, struct req *r, int64_t tenant_id, int64_t user_id,
                            int (*run)(struct chat_op *, sqlite3 *),
                            void (*finish)(struct chat_op *, int))
{
	struct chat_op *op = calloc(1, sizeof *op);
	if (!op)
		return NULL;
	op->job.run = op_run;
	op->job.done = op_done;
	op->srv = s;
	op->tenant_id = tenant_id;
	op->user_id = user_id;
	op->run = run;
	op->finish = finish;
	if (r) {
		op->req = r;
		req_hold(r);
	}
	return op;
}

int chat_op_submit(struct chat_op *op)
{
	int rc = writer_submit(op->srv->writer, &op->job);
	if (rc) {
		if (op->req) {
			req_header(op->req, "retry-after:", "1");
			req_error(op->req, 503, "unavailable", "the server is busy; try again shortly");
		}
		op_free(op);
	}
	return rc;
}

int chat_op_event(struct chat_op *op, sqlite3 *db, int64_t conv_id, int64_t target_user,
                  const char *kind, int64_t msg_id, const char *detail)
{
	if (op->nev >= CHAT_OP_EVENTS)
		return BW_ETOOBIG;
	sqlite3_stmt *st = writer_stmt(db, "INSERT INTO events(tenant_id, conv_id, target_user, kind,"
	                               " msg_id, actor, detail, created_at) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)");
	if (!st)
		return BW_ESTORE;
	sqlite3_bind_int64(st, 1, op->tenant_id);
	sqlite3_bind_int64(st, 2, conv_id);
	sqlite3_bind_int64(st, 3, target_user);
	sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, msg_id);
	sqlite3_bind_int64(st, 6, op->user_id);
	sqlite3_bind_text(st, 7, detail ? detail : "{}", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, bw_now());
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return writer_sqlite_err(db, rc);
	struct chat_op_event *e = &op->ev[op->nev++];
	e->seq = sqlite3_last_insert_rowid(db);
	e->conv_id = conv_id;
	e->target_user = target_user;
	e->msg_id = msg_id;
	e->actor = op->user_id;
	snprintf(e->kind, sizeof e->kind, "%s", kind);
	snprintf(e->detail, sizeof e->detail, "%s", detail ? detail : "");
	return 0;
}

/* ---- message bodies: sealed to their row, indexed blind ------------------------ */

int chat_body_seal(struct srv *s, int64_t tenant_id, int64_t msg_id, const char *body, size_t len,
                   uint8_t **box, size_t *box_len, struct search_terms *terms)
{
	int rc = keys_seal_alloc(s->app->kr, tenant_id, KEY_CLASS_DATA, "messages", msg_id, "body",
	                         body, len, box, box_len);
	if (rc)
		return rc;
	uint8_t skey[CRYPTO_KEY_LEN];
	terms->n = 0;
	if (chat_search_key(s, tenant_id, skey) == 0) {
		if (search_index_terms(skey, body, len, terms) != 0)
			terms->n = 0;     /* unsearchable text is still a message */
		sodium_memzero(skey, sizeof skey);
	}
	return 0;
}

int chat_terms_insert(sqlite3 *db, int64_t tenant_id, int64_t msg_id, int64_t conv_id,
                      const struct search_terms *t)
{
	sqlite3_stmt *st = writer_stmt(db, "INSERT OR IGNORE INTO search_terms(tenant_id, term, msg_id, conv_id)"
	                               " VALUES(?1,?2,?3,?4)");
	for (int i = 0; i < t->n; i++) {
		if (st) {
			sqlite3_bind_int64(st, 1, tenant_id);
			sqlite3_bind_blob(st, 2, t->term[i], SEARCH_TERM_LEN, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, msg_id);
			sqlite3_bind_int64(st, 4, conv_id);
		}
		int rc = writer_step(db, st);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- sending ------------------------------------------------------------------ */

struct send_ctx {
	int64_t conv_id, msg_id, reply_to, thread_root, file_id, created_at;
	char cid[CHAT_CID_MAX + 1];
	bool has_cid, forwarded;
	int kind;
	int link_flag;
	uint8_t *box;
	size_t box_len;
	struct search_terms terms;
	int64_t dup_id;
};

static void send_ctx_free(void *p)
{
	struct send_ctx *x = p;
	free(x->box);
	sodium_memzero(&x->terms, sizeof x->terms);
	free(x);
}

static int send_run(struct chat_op *op, sqlite3 *db)
{
	struct send_ctx *x = op->ctx;
	sqlite3_stmt *st = writer_stmt(db, "INSERT INTO messages(id, tenant_id, conv_id, sender_id, cid,"
	    " kind, body, reply_to, thread_root, file_id, forwarded, link_flag, created_at)"
	    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13) ON CONFLICT DO NOTHING");
	if (!st)
		return BW_ESTORE;
	sqlite3_bind_int64(st, 1, x->msg_id);
	sqlite3_bind_int64(st, 2, op->tenant_id);
	sqlite3_bind_int64(st, 3, x->conv_id);
	sqlite3_bind_int64(st, 4, op->user_id);
	if (x->has_cid)
		sqlite3_bind_text(st, 5, x->cid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, x->kind ? "file" : "text", -1, SQLITE_STATIC);
	if (x->box_len)
		sqlite3_bind_blob(st, 7, x->box, (int)x->box_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, x->reply_to);
	sqlite3_bind_int64(st, 9, x->thread_root);
	sqlite3_bind_int64(st, 10, x->file_id);
	sqlite3_bind_int64(st, 11, x->forwarded);
	sqlite3_bind_int64(st, 12, x->link_flag);
	sqlite3_bind_int64(st, 13, x->created_at);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return writer_sqlite_err(db, rc);
	if (sqlite3_changes(db) == 0) {
		/* the same cid again: acknowledge the stored message, store nothing */
		st = writer_stmt(db, "SELECT id FROM messages WHERE sender_id = ?1 AND cid = ?2");
		if (!st)
			return BW_ESTORE;
		sqlite3_bind_int64(st, 1, op->user_id);
		sqlite3_bind_text(st, 2, x->cid, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		x->dup_id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_reset(st);
		return x->dup_id ? 0 : BW_ESTORE;
	}
	if ((rc = chat_terms_insert(db, op->tenant_id, x->msg_id, x->conv_id, &x->terms)) != 0)
		return rc;
	if ((rc = chat_op_event(op, db, x->conv_id, 0, "message", x->msg_id, NULL)) != 0)
		return rc;
	op->out_seq = op->ev[0].seq;
	st = writer_stmt(db, "UPDATE conversations SET last_msg_id = MAX(last_msg_id, ?1),"
	                 " last_activity = ?2 WHERE id = ?3 AND tenant_id = ?4");
	if (!st)
		return BW_ESTORE;
	sqlite3_bind_int64(st, 1, x->msg_id);
	sqlite3_bind_int64(st, 2, x->created_at);
	sqlite3_bind_int64(st, 3, x->conv_id);
	sqlite3_bind_int64(st, 4, op->tenant_id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return writer_sqlite_err(db, rc);
	st = writer_stmt(db, "UPDATE conv_members SET read_msg = MAX(read_msg, ?1)"
	                 " WHERE conv_id = ?2 AND user_id = ?3");
	if (!st)
		return BW_ESTORE;
	sqlite3_bind_int64(st, 1, x->msg_id);
	sqlite3_bind_int64(st, 2, x->conv_id);
	sqlite3_bind_int64(st, 3, op->user_id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : writer_sqlite_err(db, rc);
}

static void send_finish(struct chat_op *op, int rc)
{
	struct srv *s = op->srv;
	struct send_ctx *x = op->ctx;
	int64_t id = x->dup_id ? x->dup_id : x->msg_id;
	json_t *msg = rc == 0 ? chat_message_json(s, op->tenant_id, id) : NULL;
	if (op->conn_serial) {
		struct ws_conn *c = ws_by_serial(op->user_id, op->conn_serial);
		if (c) {
			json_t *f = msg
				? json_pack("{s:s,s:s,s:I,s:O}", "type", "ack", "cid", x->cid,
				            "seq", (json_int_t)op->out_seq, "msg", msg)
				: json_pack("{s:s,s:s,s:s,s:s}", "type", "nack", "cid", x->cid,
				            "code", "unavailable", "message", "storage busy; send again");
			ws_send_json(c, f);
		}
	} else if (op->req) {
		if (msg)
			req_json(op->req, x->dup_id ? 200 : 201,
			         json_pack("{s:O,s:I}", "message", msg, "seq", (json_int_t)op->out_seq));
		else
			api_store_error(op->req, rc ? rc : BW_ESTORE);
	}
	json_decref(msg);
}

static bool cid_valid(const char *cid)
{
	size_t n = strlen(cid);
	return n >= 1 && n <= CHAT_CID_MAX &&
	       strspn(cid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

int chat_send(struct srv *s, int64_t tenant_id, const struct store_user *u, int role,
              const struct chat_send_in *in, struct req *r, uint64_t conn_serial,
              int *status, const char **code, const char **message)
{
	struct chat *c = C(s);
#define REFUSE(st_, code_, msg_) do { *status = (st_); *code = (code_); *message = (msg_); \
	return BW_EPERM; } while (0)
	if (in->body_len > CHAT_BODY_MAX)
		REFUSE(413, "too_large", "the message is longer than 8 KiB");
	if (!bw_utf8_valid(in->body, in->body_len, true))
		REFUSE(400, "invalid_request", "the message is not valid text");
	if (in->body_len == 0 && !in->file_id)
		REFUSE(400, "invalid_request", "the message is empty");
	if (in->cid && !cid_valid(in->cid))
		REFUSE(400, "invalid_request", "cid must be 1-64 characters of A-Z a-z 0-9 _ -");
	struct chat_conv *cv = chat_conv_get(s, tenant_id, in->conv_id);
	struct chat_member *m = chat_member_active(cv, u->id);
	if (!m)
		REFUSE(404, "not_found", "no such conversation");
	if (cv->kind == CHAT_ANNOUNCE && m->role < CROLE_ADMIN && !m->poster)
		REFUSE(403, "forbidden", "only designated posters may post in this announcement channel");
	if (m->muted_until > bw_now())
		REFUSE(403, "muted", "you are muted in this conversation");
	struct tenant_policy p;
	accounts_policy_get(s->app, tenant_id, &p, NULL);
	int retry = 1;
	if (!rate_take(c->user_rate, RATE_SLOTS, u->id, p.chat_rate_per_min,
	               p.chat_rate_per_min / 4.0 > 10 ? p.chat_rate_per_min / 4.0 : 10, &retry) ||
	    !rate_take(c->tenant_rate, 256, tenant_id, TENANT_SEND_PER_S * 60.0,
	               TENANT_SEND_PER_S, &retry)) {
		char rbuf[16];   /* req_header copies it */
		snprintf(rbuf, sizeof rbuf, "%d", retry);
		if (r)
			req_header(r, "retry-after:", rbuf);
		REFUSE(429, "rate_limited", "you are sending too fast; wait a moment");
	}
	/* @all only for owners and admins of the conversation */
	char names[8][MARKDOWN_NAME_MAX + 1];
	int nn = 0;
	bool all = false;
	if (in->body_len && markdown_mentions(in->body, in->body_len, names, 8, &nn, &all) == 0 &&
	    all && m->role < CROLE_ADMIN && cv->n > 2)
		REFUSE(403, "forbidden", "only owners and admins may mention @all");
	/* replies and threads stay inside the conversation */
	for (int k = 0; k < 2; k++) {
		int64_t ref = k ? in->thread_root : in->reply_to;
		if (!ref)
			continue;
		sqlite3_stmt *st = chat_rstmt(s, "SELECT 1 FROM messages WHERE id = ?1 AND conv_id = ?2");
		if (!st)
			REFUSE(500, "internal", "internal error");
		sqlite3_bind_int64(st, 1, ref);
		sqlite3_bind_int64(st, 2, in->conv_id);
		bool ok = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_reset(st);
		if (!ok)
			REFUSE(400, "invalid_request", "reply_to / thread_root must be a message of this conversation");
	}
	int worst = LINK_OK;
	if (in->body_len) {
		json_t *links = links_check(s, tenant_id, in->body, in->body_len, &worst);
		json_decref(links);
		if (worst == LINK_MALICIOUS && p.link_block)
			REFUSE(422, "blocked_link", "the message contains a link on the organisation's blocklist");
	}
	struct send_ctx *x = calloc(1, sizeof *x);
	if (!x)
		REFUSE(500, "internal", "out of memory");
	x->conv_id = in->conv_id;
	x->msg_id = ++c->next_msg_id;
	x->reply_to = in->reply_to;
	x->thread_root = in->thread_root;
	x->file_id = in->file_id;
	x->forwarded = in->forwarded;
	x->kind = in->kind;
	x->link_flag = worst;
	x->created_at = bw_now();
	if (in->cid) {
		snprintf(x->cid, sizeof x->cid, "%s", in->cid);
		x->has_cid = true;
	}
	int rc = in->body_len ? chat_body_seal(s, tenant_id, x->msg_id, in->body, in->body_len, &x->box,
	                                       &x->box_len, &x->terms) : 0;
	if (rc) {
		send_ctx_free(x);
		REFUSE(500, "internal", "cannot encrypt the message");
	}
	struct chat_op *op = chat_op_new(s, r, tenant_id, u->id, send_run, send_finish);
	if (!op) {
		send_ctx_free(x);
		REFUSE(500, "internal", "out of memory");
	}
	op->ctx = x;
	op->free_ctx = send_ctx_free;
	op->conn_serial = conn_serial;
	if (writer_submit(s->writer, &op->job) != 0) {
		op_free(op);
		if (r)
			req_header(r, "retry-after:", "1");
		REFUSE(503, "unavailable", "the server is busy; try again shortly");
	}
	return 0;
#undef REFUSE
}

/* ---- the WebSocket protocol ------------------------------------------------------ */

static void ws_error(struct ws_conn *c, const char *code, const char *msg)
{
	ws_send_json(c, json_pack("{s:s,s:s,s:s}", "type", "error", "code", code, "message", msg));
}

/* One page of the backlog; switches the socket live when it is complete. */
void chat_ws_pump(struct srv *s, struct ws_conn *c)
{
	if (c->mode != WS_CATCHUP || c->closing)
		return;
	sqlite3_stmt *st = chat_rstmt(s,
		"SELECT seq, conv_id, target_user, kind, msg_id, actor, detail FROM ("
		" SELECT e.seq, e.conv_id, e.target_user, e.kind, e.msg_id, e.actor, e.detail"
		"  FROM conv_members m JOIN events e ON e.conv_id = m.conv_id"
		"  WHERE m.user_id = ?2 AND m.tenant_id = ?3 AND m.status = 'active'"
		"  AND e.seq > ?1 AND e.seq > m.joined_seq AND e.target_user = 0"
		" UNION ALL"
		" SELECT seq, conv_id, target_user, kind, msg_id, actor, detail FROM events"
		"  WHERE target_user = ?2 AND tenant_id = ?3 AND seq > ?1"
		") ORDER BY seq LIMIT ?4");
	if (!st) {
		ws_close(c, 1011, "internal");
		return;
	}
	sqlite3_bind_int64(st, 1, c->cursor);
	sqlite3_bind_int64(st, 2, c->user_id);
	sqlite3_bind_int64(st, 3, c->tenant_id);
	sqlite3_bind_int64(st, 4, CHAT_RESUME_PAGE);
	struct chat_op_event *evs = calloc(CHAT_RESUME_PAGE, sizeof *evs);
	int n = 0;
	while (evs && n < CHAT_RESUME_PAGE && sqlite3_step(st) == SQLITE_ROW) {
		struct chat_op_event *e = &evs[n++];
		e->seq = sqlite3_column_int64(st, 0);
		e->conv_id = sqlite3_column_int64(st, 1);
		e->target_user = sqlite3_column_int64(st, 2);
		snprintf(e->kind, sizeof e->kind, "%s", (const char *)sqlite3_column_text(st, 3));
		e->msg_id = sqlite3_column_int64(st, 4);
		e->actor = sqlite3_column_int64(st, 5);
		snprintf(e->detail, sizeof e->detail, "%s", (const char *)sqlite3_column_text(st, 6));
	}
	sqlite3_reset(st);
	if (!evs) {
		ws_close(c, 1011, "internal");
		return;
	}
	bool full = false;
	for (int i = 0; i < n && !c->closing; i++) {
		/* a page never overflows the queue: the rest follows when it drains */
		if (c->q_bytes > WS_QUEUE_BYTES / 2 || c->q_frames > WS_QUEUE_FRAMES / 2) {
			full = true;
			break;
		}
		json_t *o = event_json(s, c->tenant_id, &evs[i]);
		c->cursor = evs[i].seq;
		if (o)
			ws_send_json(c, o);
	}
	free(evs);
	if (full && !c->closing)
		lws_callback_on_writable(c->wsi);
	else if (n < CHAT_RESUME_PAGE && !c->closing) {
		c->mode = WS_LIVE;
		char done[96];
		snprintf(done, sizeof done, "{\"type\":\"resumed\",\"seq\":%lld}", (long long)c->cursor);
		ws_send_text(c, done);
	}
	/* otherwise the next page follows when the queue has drained
	 * (ws_writeable calls back here) */
}

static void ws_nack(struct ws_conn *c, const char *cid, const char *code, const char *msg)
{
	ws_send_json(c, json_pack("{s:s,s:s,s:s,s:s}", "type", "nack", "cid", cid ? cid : "",
	                          "code", code, "message", msg));
}

static void ws_frame_send(struct srv *s, struct ws_conn *c, const struct rt_in *m)
{
	struct chat_send_in in = {
		.conv_id = m->conv, .reply_to = m->reply_to, .thread_root = m->thread_root,
		.body = m->body, .body_len = m->body_len, .cid = m->cid,
	};
	struct store_user u;
	memset(&u, 0, sizeof u);
	u.id = c->user_id;
	u.tenant_id = c->tenant_id;
	int status;
	const char *code, *msg;
	if (chat_send(s, c->tenant_id, &u, c->role, &in, NULL, c->serial, &status, &code, &msg) != 0)
		ws_nack(c, m->cid, code, msg);
}

/* read pointer: stored by the writer; the receipt goes to the members */
struct read_ctx { int64_t conv_id, msg_id; };

static int read_run(struct chat_op *op, sqlite3 *db)
{
	struct read_ctx *x = op->ctx;
	sqlite3_stmt *st = writer_stmt(db, "UPDATE conv_members SET read_msg = MAX(read_msg, ?1)"
	                               " WHERE conv_id = ?2 AND user_id = ?3 AND tenant_id = ?4");
	if (!st)
		return BW_ESTORE;
	sqlite3_bind_int64(st, 1, x->msg_id);
	sqlite3_bind_int64(st, 2, x->conv_id);
	sqlite3_bind_int64(st, 3, op->user_id);
	sqlite3_bind_int64(st, 4, op->tenant_id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : writer_sqlite_err(db, rc);
}

static void conv_broadcast(struct srv *s, struct chat_conv *cv, int64_t except_user, const char *txt)
{
	struct rt_frame *f = rt_frame_new(txt, strlen(txt));
	if (!f)
		return;
	for (int i = 0; i < cv->n; i++) {
		const struct chat_member *m = &cv->m[i];
		if (m->status != CSTAT_ACTIVE || m->user_id == except_user)
			continue;
		for (struct ws_conn *w = ws_user_bucket(m->user_id); w; w = w->unext)
			if (w->user_id == m->user_id && w->tenant_id == cv->tenant_id && w->mode == WS_LIVE)
				ws_send(w, f);
	}
	rt_frame_unref(f);
}

static void read_finish(struct chat_op *op, int rc)
{
	struct read_ctx *x = op->ctx;
	if (rc)
		return;
	struct chat_conv *cv = chat_conv_get(op->srv, op->tenant_id, x->conv_id);
	if (!cv || cv->n > PRESENCE_GROUP_MAX * 10)
		return;
	char t[160];
	snprintf(t, sizeof t, "{\"type\":\"receipt\",\"conv\":%lld,\"user\":%lld,\"msg\":%lld}",
	         (long long)x->conv_id, (long long)op->user_id, (long long)x->msg_id);
	conv_broadcast(op->srv, cv, 0, t);
}

int chat_mark_read(struct srv *s, int64_t tenant_id, int64_t user_id, int64_t conv_id,
                   int64_t msg_id)
{
	struct chat_op *op = chat_op_new(s, NULL, tenant_id, user_id, read_run, read_finish);
	struct read_ctx *x = calloc(1, sizeof *x);
	if (!op || !x) {
		free(op);
		free(x);
		return BW_ENOMEM;
	}
	x->conv_id = conv_id;
	x->msg_id = msg_id;
	op->ctx = x;
	op->free_ctx = free;
	return writer_submit(s->writer, &op->job) ? (op_free(op), BW_EBUSY) : 0;
}

void chat_ws_frame(struct srv *s, struct ws_conn *c, const struct rt_in *m)
{
	switch (m->type) {
	case RT_RESUME:
		if (c->mode != WS_WAIT_RESUME) {
			ws_error(c, "invalid_request", "resume once per connection");
			return;
		}
		if (m->has_since) {
			c->cursor = m->since;
			c->mode = WS_CATCHUP;
			chat_ws_pump(s, c);
		} else {
			c->cursor = C(s)->seq_now;
			c->mode = WS_LIVE;
			char done[96];
			snprintf(done, sizeof done, "{\"type\":\"resumed\",\"seq\":%lld}", (long long)c->cursor);
			ws_send_text(c, done);
		}
		return;
	case RT_SEND:
		ws_frame_send(s, c, m);
		return;
	case RT_TYPING:
	case RT_READ: {
		struct chat_conv *cv = chat_conv_get(s, c->tenant_id, m->conv);
		if (!chat_member_active(cv, c->user_id)) {
			ws_error(c, "not_found", "no such conversation");
			return;
		}
		if (m->type == RT_TYPING) {
			if (cv->n > PRESENCE_GROUP_MAX * 10)
				return;   /* no typing storms in very large groups */
			char t[128];
			snprintf(t, sizeof t, "{\"type\":\"typing\",\"conv\":%lld,\"user\":%lld}",
			         (long long)m->conv, (long long)c->user_id);
			conv_broadcast(s, cv, c->user_id, t);
		} else if (m->msg > 0 && chat_mark_read(s, c->tenant_id, c->user_id, m->conv, m->msg) != 0) {
			ws_error(c, "unavailable", "busy; try again");
		}
		return;
	}
	case RT_DOC_OPEN:
	case RT_DOC_OP:
	case RT_DOC_CURSOR:
	case RT_DOC_CLOSE:
		docs_ws_frame(s, c, m);
		return;
	default:
		ws_error(c, "invalid_request", "unknown type");
	}
}

/* Presence: first socket of a user opened / last one closed, told to the
 * members of their small conversations. */
static void presence(struct srv *s, struct ws_conn *c, bool online)
{
	for (struct ws_conn *w = ws_user_bucket(c->user_id); w; w = w->unext)
		if (w != c && w->user_id == c->user_id && !w->closing)
			return;   /* another socket of the user is still there */
	sqlite3_stmt *st = chat_rstmt(s, "SELECT m.conv_id FROM conv_members m WHERE m.user_id = ?1"
	                              " AND m.tenant_id = ?2 AND m.status = 'active' LIMIT 200");
	if (!st)
		return;
	sqlite3_bind_int64(st, 1, c->user_id);
	sqlite3_bind_int64(st, 2, c->tenant_id);
	int64_t convs[200];
	int n = 0;
	while (n < 200 && sqlite3_step(st) == SQLITE_ROW)
		convs[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	char t[96];
	snprintf(t, sizeof t, "{\"type\":\"presence\",\"user\":%lld,\"online\":%s}",
	         (long long)c->user_id, online ? "true" : "false");
	for (int i = 0; i < n; i++) {
		struct chat_conv *cv = chat_conv_get(s, c->tenant_id, convs[i]);
		if (cv && cv->n <= PRESENCE_GROUP_MAX)
			conv_broadcast(s, cv, c->user_id, t);
	}
}

void chat_ws_opened(struct srv *s, struct ws_conn *c)
{
	presence(s, c, true);
}

void chat_ws_closed(struct srv *s, struct ws_conn *c)
{
	if (s->chat)
		presence(s, c, false);
}

bool chat_user_online(int64_t user_id)
{
	for (struct ws_conn *w = ws_user_bucket(user_id); w; w = w->unext)
		if (w->user_id == user_id && !w->closing)
			return true;
	return false;
}

/* ---- lifecycle ------------------------------------------------------------------- */

int chat_open(struct srv *s, struct chat **out)
{
	struct chat *c = calloc(1, sizeof *c);
	if (!c)
		return BW_ENOMEM;
	c->srv = s;
	c->db = store_sqlite_handle(s->app->s);
	s->chat = c;
	sqlite3_stmt *st = chat_rstmt(s, "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0),"
	                              " COALESCE((SELECT MAX(seq) FROM events), 0)");
	if (!st || sqlite3_step(st) != SQLITE_ROW) {
		log_err("chat: cannot read the message counters");
		if (st)
			sqlite3_reset(st);
		s->chat = NULL;
		free(c);
		return BW_ESTORE;
	}
	c->next_msg_id = sqlite3_column_int64(st, 0);
	c->seq_now = sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	*out = c;
	return 0;
}

void chat_close(struct chat *c)
{
	if (!c)
		return;
	conv_cache_clear(c);
	for (size_t i = 0; i < RSTMT_SLOTS; i++)
		if (c->rst[i].st)
			sqlite3_finalize(c->rst[i].st);
	for (size_t i = 0; i < BW_ARRAY_LEN(c->blocklists); i++)
		linkcheck_list_free(c->blocklists[i].list);
	sodium_memzero(c->skeys, sizeof c->skeys);
	c->srv->chat = NULL;
	free(c);
}

/* ---- retention (RG-DATA-b): expired messages and files are destroyed ------------ */

#define PURGE_BATCH 5000
#define PURGE_CONVS 64

struct purge_ctx {
	int64_t tenant_days;
	char data_dir[1024];
	int nconv;
	int64_t conv[PURGE_CONVS], count[PURGE_CONVS];
	int nfiles;
	int64_t files[PURGE_BATCH];
};

static int purge_run(struct chat_op *op, sqlite3 *db)
{
	struct purge_ctx *x = op->ctx;
	int64_t now = bw_now();
	sqlite3_stmt *st = writer_stmt(db, "SELECT id, CASE WHEN json_extract(settings, '$.retention_days') > 0"
	    " THEN json_extract(settings, '$.retention_days') ELSE ?2 END FROM conversations"
	    " WHERE tenant_id = ?1 AND legal_hold = 0");
	if (!st)
		return BW_ESTORE;
	sqlite3_bind_int64(st, 1, op->tenant_id);
	sqlite3_bind_int64(st, 2, x->tenant_days);
	int64_t convs[512][2];
	int n = 0;
	while (n < 512 && sqlite3_step(st) == SQLITE_ROW) {
		int64_t days = sqlite3_column_int64(st, 1);
		if (days <= 0)
			continue;
		convs[n][0] = sqlite3_column_int64(st, 0);
		convs[n][1] = now - days * 86400;
		n++;
	}
	sqlite3_reset(st);
	static const char *const del[] = {
		"DELETE FROM search_terms WHERE msg_id IN (SELECT id FROM messages WHERE conv_id = ?1"
		" AND created_at < ?2 ORDER BY id LIMIT 5000)",
		"DELETE FROM reactions WHERE msg_id IN (SELECT id FROM messages WHERE conv_id = ?1"
		" AND created_at < ?2 ORDER BY id LIMIT 5000)",
		"UPDATE files SET status = 'purged', name = x'' WHERE id IN (SELECT file_id FROM messages"
		" WHERE conv_id = ?1 AND created_at < ?2 AND file_id != 0 ORDER BY id LIMIT 5000)",
		"DELETE FROM events WHERE conv_id = ?1 AND created_at < ?2",
		/* last: its change count is the number of messages destroyed */
		"DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE conv_id = ?1"
		" AND created_at < ?2 ORDER BY id LIMIT 5000)",
	};
	for (int i = 0; i < n && x->nconv < PURGE_CONVS; i++) {
		st = writer_stmt(db, "SELECT file_id FROM messages WHERE conv_id = ?1 AND created_at < ?2"
		                 " AND file_id != 0 ORDER BY id LIMIT 5000");
		if (!st)
			return BW_ESTORE;
		sqlite3_bind_int64(st, 1, convs[i][0]);
		sqlite3_bind_int64(st, 2, convs[i][1]);
		while (x->nfiles < PURGE_BATCH && sqlite3_step(st) == SQLITE_ROW)
			x->files[x->nfiles++] = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		for (size_t k = 0; k < BW_ARRAY_LEN(del); k++) {
			st = writer_stmt(db, del[k]);
			if (!st)
				return BW_ESTORE;
			sqlite3_bind_int64(st, 1, convs[i][0]);
			sqlite3_bind_int64(st, 2, convs[i][1]);
			int rc = sqlite3_step(st);
			sqlite3_reset(st);
			if (rc != SQLITE_DONE)
				return writer_sqlite_err(db, rc);
		}
		int ch = sqlite3_changes(db);
		if (ch > 0) {
			x->conv[x->nconv] = convs[i][0];
			x->count[x->nconv++] = ch;
		}
	}
	return 0;
}

void chat_file_unlink(const char *data_dir, int64_t tenant_id, int64_t file_id);

static void purge_finish(struct chat_op *op, int rc)
{
	struct purge_ctx *x = op->ctx;
	struct actor ac;
	actor_system(&ac, "system:retention");
	ac.source = "local";
	for (int i = 0; rc == 0 && i < x->nfiles; i++)
		chat_file_unlink(x->data_dir, op->tenant_id, x->files[i]);
	for (int i = 0; i < x->nconv; i++) {
		char object[32], detail[96];
		snprintf(object, sizeof object, "conversation:%lld", (long long)x->conv[i]);
		snprintf(detail, sizeof detail, "{\"messages\":%lld,\"files\":%d}",
		         (long long)x->count[i], x->nfiles);
		app_audit(op->srv->app, &ac, op->tenant_id, "chat.retention.purge", object,
		          rc ? "failure" : "success", detail);
		chat_conv_forget(op->srv, x->conv[i]);
	}
}

struct purge_walk { struct srv *s; };

static int purge_tenant(void *arg, const struct store_tenant *t)
{
	struct purge_walk *w = arg;
	struct tenant_policy p;
	accounts_policy_get(w->s->app, t->id, &p, NULL);
	struct chat_op *op = chat_op_new(w->s, NULL, t->id, 0, purge_run, purge_finish);
	struct purge_ctx *x = calloc(1, sizeof *x);
	if (!op || !x) {
		free(op);
		free(x);
		return 0;
	}
	x->tenant_days = p.chat_retention_days;
	snprintf(x->data_dir, sizeof x->data_dir, "%s", w->s->app->data_dir);
	op->ctx = x;
	op->free_ctx = free;
	if (writer_submit(w->s->writer, &op->job) != 0)
		op_free(op);
	return 0;
}

void chat_tick(struct srv *s)
{
	struct chat *c = C(s);
	if (!c || !s->writer)
		return;
#ifdef BW_TESTING
	const int64_t every = 2000;        /* tests drive retention with the test clock */
#else
	const int64_t every = 60000;
#endif
	files_tick();
	int64_t mono = bw_mono_ms();
	if (mono - c->last_retention_ms < every)
		return;
	c->last_retention_ms = mono;
	struct purge_walk w = { s };
	s->app->s->ops->tenant_list(s->app->s, purge_tenant, &w);
}
