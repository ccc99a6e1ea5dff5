/*
 * chat.h — instant messaging: conversations, members, messages, recall and
 * the per-user ordered event streams of docs/realtime.md (RG-IM-a/b/c,
 * RG-DATA-b, WC-STORE, WC-TRANS, IN-SURGE).
 *
 * Threads: everything here runs on the event-loop thread except the
 * writer_job run() callbacks (chat.c keeps those apart and they touch only
 * their job and the writer's connection).
 *
 * Invariants:
 *  - Every row this module writes that changes what a member sees is written
 *    by the store-writer (writer.h) together with its `events` row, so event
 *    seq order is commit order; the loop fans events out in that order.
 *  - Message bodies, conversation names/topics and file names are AEAD boxes
 *    under the tenant's DATA key bound to (tenant, table, row, column).
 *  - A user sees a conversation's events only while an active member and
 *    only after the seq at which they joined.
 */
#ifndef BW_CHAT_H
#define BW_CHAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "server.h"
#include "writer.h"

#define CHAT_BODY_MAX (8 * 1024)        /* bytes of Markdown per message */
#define CHAT_NAME_MAX 128               /* conversation name, bytes */
#define CHAT_TOPIC_MAX 250
#define CHAT_CID_MAX 64
#define CHAT_MEMBERS_MAX 5000           /* hard ceiling of member_limit */
#define CHAT_RESUME_PAGE 100

enum chat_kind { CHAT_DIRECT = 1, CHAT_GROUP, CHAT_CHANNEL, CHAT_ANNOUNCE };
enum chat_role { CROLE_MEMBER = 1, CROLE_ADMIN, CROLE_OWNER };
enum chat_status { CSTAT_ACTIVE = 1, CSTAT_PENDING };

struct chat_settings {
	bool invite_members;      /* members may invite (else owner/admins) */
	bool guests;              /* guests may join */
	bool join_approval;       /* joins wait for an owner/admin */
	bool history_visible;     /* new members see earlier messages */
	bool forward, copy;       /* forwarding out of / copying from the group */
	bool watermark;           /* clients overlay a watermark */
	int member_limit;
	int retention_days;       /* 0: tenant policy */
};

struct chat_member {
	int64_t user_id;
	uint8_t role, status;
	bool poster;
	int64_t muted_until;
	int64_t joined_seq, joined_msg;
};

/* A conversation as the loop caches it (members sorted by user id). */
struct chat_conv {
	int64_t id, tenant_id;
	int kind;
	struct chat_settings set;
	int64_t created_by, created_at, dissolved_at;
	bool legal_hold;
	int n, cap;
	struct chat_member *m;
	struct chat_conv *hnext;
};

struct chat;

int chat_open(struct srv *s, struct chat **out);
void chat_close(struct chat *c);

/* Cached conversation of the tenant (loaded on first use); NULL when it
 * does not exist in this tenant.  Valid until the next writer completion. */
struct chat_conv *chat_conv_get(struct srv *s, int64_t tenant_id, int64_t conv_id);
struct chat_member *chat_member_find(struct chat_conv *cv, int64_t user_id);
/* Active member (not pending) of a live conversation. */
struct chat_member *chat_member_active(struct chat_conv *cv, int64_t user_id);
void chat_conv_forget(struct srv *s, int64_t conv_id);

/* --- realtime, called by http.c ---------------------------------------- */
/* A client frame, parsed and validated by rtproto_parse(). */
struct rt_in;
void chat_ws_frame(struct srv *s, struct ws_conn *c, const struct rt_in *in);
/* Called when a catching-up connection's queue has room: sends the next
 * backlog page or switches it live. */
void chat_ws_pump(struct srv *s, struct ws_conn *c);
void chat_ws_opened(struct srv *s, struct ws_conn *c);
void chat_ws_closed(struct srv *s, struct ws_conn *c);
/* The newest seq the loop has delivered. */
int64_t chat_seq_now(struct srv *s);

/* --- used by api_chat.c -------------------------------------------------- */
/* An operation run by the writer: up to CHAT_OP_EVENTS events are inserted
 * by its run() through chat_op_event(); done() fans them out, then calls
 * the op's finish() (respond, audit) and frees the op. */
#define CHAT_OP_EVENTS 8
struct chat_op_event { int64_t seq, conv_id, target_user, msg_id, actor; char kind[20]; char detail[160]; };
struct chat_op {
	struct writer_job job;
	struct srv *srv;
	struct req *req;              /* held until finish; may be NULL (WS) */
	uint64_t conn_serial;         /* WS origin of a send (0: none) */
	int64_t tenant_id, user_id;
	int (*run)(struct chat_op *op, sqlite3 *db);
	void (*finish)(struct chat_op *op, int rc);
	void (*free_ctx)(void *ctx);
	void *ctx;
	int nev;
	struct chat_op_event ev[CHAT_OP_EVENTS];
	int64_t forget[4];            /* conversation cache entries to drop */
	int nforget;
	int64_t out_id, out_seq;      /* generic results */
};
struct chat_op *chat_op_new(struct srv *s, struct req *r, int64_t tenant_id, int64_t user_id,
                            int (*run)(struct chat_op *, sqlite3 *),
                            void (*finish)(struct chat_op *, int));
/* Submits; on BW_EBUSY the op is freed and the request answered 503. */
int chat_op_submit(struct chat_op *op);
/* Inserts an event row (writer thread, inside run). */
int chat_op_event(struct chat_op *op, sqlite3 *db, int64_t conv_id, int64_t target_user,
                  const char *kind, int64_t msg_id, const char *detail);

/* Messages.  Sends validate, encrypt and queue; ack comes from the writer. */
struct chat_send_in {
	int64_t conv_id, reply_to, thread_root, file_id;
	const char *body; size_t body_len;
	const char *cid;              /* may be NULL */
	bool forwarded;
	int kind;                     /* 0 text, 1 file */
};
/* Validates rights and limits and queues the message.  On refusal returns
 * <0 and fills code/message (HTTP status in *status); origin is a request
 * (REST) or a connection serial (WS). */
int chat_send(struct srv *s, int64_t tenant_id, const struct store_user *u, int role,
              const struct chat_send_in *in, struct req *r, uint64_t conn_serial,
              int *status, const char **code, const char **message);

/* JSON of a message row, for user (NULL when gone).  Caller owns. */
json_t *chat_message_json(struct srv *s, int64_t tenant_id, int64_t msg_id);
/* JSON of a conversation for a user (per-user fields when user_id != 0). */
json_t *chat_conv_json(struct srv *s, struct chat_conv *cv, int64_t user_id);

/* Helpers shared with api_chat.c */
const char *chat_kind_name(int k);
int chat_kind_parse(const char *s);
const char *chat_role_name(int r);
void chat_settings_default(struct chat_settings *st, int kind);
json_t *chat_settings_json(const struct chat_settings *st);
/* Applies the members of a JSON object; BW_EINVAL with *bad naming the key */
int chat_settings_apply(struct chat_settings *st, json_t *o, const char **bad);
char *chat_settings_dump(const struct chat_settings *st);   /* malloc'd */
/* The loop's read connection and its statement cache. */
sqlite3_stmt *chat_rstmt(struct srv *s, const char *sql);
/* The tenant's search key (derived from its DATA key). */
int chat_search_key(struct srv *s, int64_t tenant_id, uint8_t key[32]);
/* Fans out a committed event (used by files and retention too). */
void chat_event_deliver(struct srv *s, int64_t tenant_id, const struct chat_op_event *e);

/* Moves the user's read pointer (stored by the writer; a receipt goes to
 * the members).  0 or BW_EBUSY. */
int chat_mark_read(struct srv *s, int64_t tenant_id, int64_t user_id, int64_t conv_id,
                   int64_t msg_id);
/* History, oldest first: ids < before (0: newest) and > floor. */
json_t *chat_history(struct srv *s, int64_t tenant_id, int64_t conv_id, int64_t before,
                     int64_t floor, int64_t thread, int limit, bool *has_more);
bool chat_user_online(int64_t user_id);
void chat_blocklist_forget(struct srv *s, int64_t tenant_id);

/* Seals a message body to its row and computes its blind-index terms
 * (*box malloc'd; the caller frees it and wipes terms). */
struct search_terms;
int chat_body_seal(struct srv *s, int64_t tenant_id, int64_t msg_id, const char *body, size_t len,
                   uint8_t **box, size_t *box_len, struct search_terms *terms);
/* Writer thread: stores a message's search terms. */
int chat_terms_insert(sqlite3 *db, int64_t tenant_id, int64_t msg_id, int64_t conv_id,
                      const struct search_terms *t);

/* Periodic work (retention, expired uploads); from the loop's tick. */
void chat_tick(struct srv *s);

#endif
