/*
 * docs.h — collaborative documents: permissions, the in-memory editing
 * session of each open document (authoritative operational transformation
 * over Quill Deltas, src/ot.c), encrypted storage of operations, snapshots
 * and versions, trash (RG-DOC-a/b/c/g/h, WC-STORE; docs/collab.md).
 *
 * Threads: loop thread only, except writer_job run() callbacks.
 *
 * Invariants:
 *  - Revisions of a document are dense (1, 2, 3 …). An op is acknowledged
 *    and shown to others only after it is committed (encrypted) by the
 *    store writer; ops reach subscribers in revision order.
 *  - Document content, titles, ops, snapshots, versions and folder names
 *    are AEAD boxes under the tenant's data key bound to their row (ops to
 *    the document id and their revision).
 *  - If a commit fails the session is dropped and every editor is told to
 *    reload (doc.reset): memory never runs ahead of the store for long.
 */
#ifndef BW_DOCS_H
#define BW_DOCS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "server.h"

enum doc_role { DROLE_NONE = 0, DROLE_VIEWER, DROLE_COMMENTER, DROLE_EDITOR, DROLE_OWNER };

#define DOCS_TITLE_MAX 200
#define DOCS_RING 1000              /* ops kept in memory to transform against */
#define DOCS_SNAPSHOT_EVERY 100     /* revisions between automatic versions */

struct docs;
struct rt_in;

int docs_open(struct srv *s, struct docs **out);
void docs_close(struct docs *d);

const char *docs_role_name(int r);
int docs_role_parse(const char *s);

/* The caller's role on a live (not trashed unless with_trash) document of
 * their tenant; DROLE_NONE when it does not exist or they have none. */
int docs_role_of(struct srv *s, int64_t tenant_id, int64_t user_id, int64_t doc_id, bool with_trash);

/* False when the user's only access is a "no download" share link. */
bool docs_download_allowed(struct srv *s, int64_t tenant_id, int64_t user_id, int64_t doc_id);
/* Transforms a (index, length) anchor made at revision `rev` to the current
 * revision (for comments); false when the ops are no longer available. */
bool docs_anchor_now(struct srv *s, int64_t tenant_id, int64_t doc_id, int64_t *index, int64_t *length,
                     int64_t *rev);
/* Sends a frame to everyone who has the document open. Steals o. */
void docs_notify(struct srv *s, int64_t doc_id, json_t *o);

/* JSON of a document row for a user (my_role set).  NULL when missing. */
json_t *docs_json(struct srv *s, int64_t tenant_id, int64_t doc_id, int64_t user_id);

/* The document's current content and revision (from the open session, or
 * loaded).  *content is a new reference. */
int docs_content(struct srv *s, int64_t tenant_id, int64_t doc_id, json_t **content, int64_t *rev);

/* Replaces the content by `content` as a new revision by user (version
 * restore, import): the difference is applied through the session so
 * editors see it; 0 or BW_E*.  The result arrives through done(rc, rev). */
int docs_set_content(struct srv *s, int64_t tenant_id, int64_t doc_id, int64_t user_id,
                     json_t *content, struct req *r, void (*done)(struct req *r, int rc, int64_t rev));

/* Tells every editor of a document to reload and forgets the session. */
void docs_reset(struct srv *s, int64_t doc_id, const char *reason);

/* Realtime frames (RT_DOC_*) and socket lifecycle, from chat_ws_frame. */
void docs_ws_frame(struct srv *s, struct ws_conn *c, const struct rt_in *in);
void docs_ws_closed(struct srv *s, struct ws_conn *c);

/* Trash expiry (from the loop's housekeeping). */
void docs_tick(struct srv *s);

#endif
