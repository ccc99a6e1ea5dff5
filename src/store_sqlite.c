/*
 * store_sqlite.c — the SQLite storage backend (WC-STORE, PS-IA-a, PS-IA-b,
 * PS-IA-f, PS-LOG-c, PS-LOG-d, RG-OPS-b, WC-TICKET, RG-DATA-d).
 *
 * Implements struct store_ops (store.h) over one SQLite database file,
 * DIR/bulwark.db, opened in WAL mode.  The invariants this file keeps:
 *
 *  - Tenant isolation in the query itself: every statement that reads or
 *    changes a tenant-owned row carries `tenant_id = ?` in its WHERE clause,
 *    and cross-row references (user -> department, department -> parent,
 *    device -> user, ticket -> user and device, recovery code -> user) are
 *    composite foreign keys that include tenant_id, so the database itself
 *    refuses a row that points into another tenant.  A call with another
 *    tenant's id gets BW_ENOENT and changes nothing.
 *  - Ids of tenants, users, departments and devices come from AUTOINCREMENT
 *    and are never reused, even after deletes or reopen (PS-IA-a).
 *  - Parameterised SQL only; every statement text is a constant below.
 *    Every statement is prepared once per handle, on first use
 *    (SQLITE_PREPARE_PERSISTENT), and reset + unbound after every use.
 *  - Texts that do not fit their struct buffers are refused (BW_ETOOBIG)
 *    when written and when read back; nothing is silently truncated.
 *    Boxes of length 0 are stored as NULL.
 *  - The audit trail is append-only in the schema: triggers refuse UPDATE of
 *    audit and audit_checkpoints, refuse DELETE unless audit_purge() has
 *    opened the purge gate inside its own transaction, and refuse an insert
 *    whose seq is not the last seq + 1 (PS-LOG-c).  The triggers stop
 *    application bugs; tampering with the file itself is detected by the
 *    hash chain and the signed checkpoints (audit.c).
 *  - Versioned migrations in meta('schema_version'), one transaction each;
 *    a database newer than this code is refused.
 *  - The file and its -wal/-shm companions are mode 0600; secure_delete is
 *    on, so deleted rows (revoked tickets, purged audit, re-set recovery
 *    codes) are overwritten in the file rather than left in free pages.
 *
 * Threads: a handle is used by one thread at a time (SQLITE_OPEN_NOMUTEX);
 * open one handle per thread.
 * Memory: store_sqlite_open() allocates the handle; ops->close() frees it.
 * Nothing else here returns memory the caller must free.
 */
#include "store.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#define STORE_SQLITE_FILE "bulwark.db"
#define STORE_SQLITE_APP_ID 1113017137   /* 0x42574b31, "BWK1", in the file header */
#define STORE_STR_(x) #x
#define STORE_STR(x) STORE_STR_(x)
#define STORE_SQLITE_MIN_VERSION 3037000 /* STRICT tables; RETURNING is 3.35 */
#define STORE_META_KEY_MAX 64
#define STORE_META_VALUE_MAX 4096
#define STORE_POLICY_MAX 65536           /* policy JSON text, bytes */
#define STORE_RECOVERY_MAX 64            /* recovery codes per user */
#define STORE_LIST_MAX 10000             /* page size ceiling for listings */
#define STORE_REASON_MAX 31              /* struct store_ticket.revoked_reason */

/* ------------------------------------------------------------------------
 * Schema: each entry is one migration, applied in its own transaction.
 * Never edit an entry that has shipped; append a new one.
 * ------------------------------------------------------------------------ */
static const char *const store_sqlite_migrations[] = {
	/* 1: the initial schema */
	"CREATE TABLE meta(\n"
	"  key TEXT PRIMARY KEY NOT NULL,\n"
	"  value TEXT NOT NULL\n"
	") WITHOUT ROWID, STRICT;\n"
	"CREATE TABLE tenants(\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  name TEXT NOT NULL COLLATE NOCASE UNIQUE,\n"
	"  created_at INTEGER NOT NULL\n"
	") STRICT;\n"
	"CREATE TABLE tenant_keys(\n"
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id),\n"
	"  key_class INTEGER NOT NULL CHECK(key_class > 0),\n"
	"  version INTEGER NOT NULL CHECK(version BETWEEN 0 AND 4294967295),\n"
	"  wrapped BLOB NOT NULL CHECK(length(wrapped) BETWEEN 1 AND 128),\n"
	"  created_at INTEGER NOT NULL,\n"
	"  PRIMARY KEY(tenant_id, key_class, version)\n"
	") WITHOUT ROWID, STRICT;\n"
	"CREATE TABLE policies(\n"
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id),\n"
	"  version INTEGER NOT NULL CHECK(version > 0),\n"
	"  json TEXT NOT NULL,\n"
	"  updated_by INTEGER NOT NULL,\n"
	"  updated_at INTEGER NOT NULL,\n"
	"  PRIMARY KEY(tenant_id, version)\n"
	") WITHOUT ROWID, STRICT;\n"
	"CREATE TABLE departments(\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id),\n"
	"  parent_id INTEGER CHECK(parent_id IS NULL OR parent_id <> id),\n"
	"  name BLOB,\n"
	"  created_at INTEGER NOT NULL,\n"
	"  UNIQUE(tenant_id, id),\n"
	"  FOREIGN KEY(tenant_id, parent_id) REFERENCES departments(tenant_id, id)\n"
	") STRICT;\n"
	"CREATE TABLE users(\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id),\n"
	"  username TEXT NOT NULL COLLATE NOCASE,\n"
	"  role TEXT NOT NULL,\n"
	"  status INTEGER NOT NULL CHECK(status IN (1, 2)),\n"
	"  dept_id INTEGER,\n"
	"  display_name BLOB,\n"
	"  email BLOB,\n"
	"  phone BLOB,\n"
	"  id_card BLOB,\n"
	"  pw_hash TEXT NOT NULL,\n"
	"  pw_changed_at INTEGER NOT NULL,\n"
	"  must_change_pw INTEGER NOT NULL CHECK(must_change_pw IN (0, 1)),\n"
	"  failed_count INTEGER NOT NULL CHECK(failed_count >= 0),\n"
	"  locked_until INTEGER NOT NULL,\n"
	"  totp_secret BLOB,\n"
	"  totp_enabled INTEGER NOT NULL CHECK(totp_enabled IN (0, 1)),\n"
	"  totp_last_step INTEGER NOT NULL,\n"
	"  created_at INTEGER NOT NULL,\n"
	"  last_login_at INTEGER NOT NULL,\n"
	"  UNIQUE(tenant_id, username),\n"
	"  UNIQUE(tenant_id, id),\n"
	"  CHECK(totp_enabled = 0 OR totp_secret IS NOT NULL),\n"
	"  FOREIGN KEY(tenant_id, dept_id) REFERENCES departments(tenant_id, id)\n"
	") STRICT;\n"
	"CREATE TABLE recovery_codes(\n"
	"  tenant_id INTEGER NOT NULL,\n"
	"  user_id INTEGER NOT NULL,\n"
	"  code_hash BLOB NOT NULL CHECK(length(code_hash) = 32),\n"
	"  used_at INTEGER,\n"
	"  PRIMARY KEY(user_id, code_hash),\n"
	"  FOREIGN KEY(tenant_id, user_id) REFERENCES users(tenant_id, id)\n"
	") WITHOUT ROWID, STRICT;\n"
	"CREATE TABLE devices(\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  tenant_id INTEGER NOT NULL,\n"
	"  user_id INTEGER NOT NULL,\n"
	"  device_hash BLOB NOT NULL CHECK(length(device_hash) = 32),\n"
	"  name TEXT NOT NULL,\n"
	"  user_agent TEXT NOT NULL,\n"
	"  first_ip TEXT NOT NULL,\n"
	"  last_ip TEXT NOT NULL,\n"
	"  first_seen INTEGER NOT NULL,\n"
	"  last_seen INTEGER NOT NULL,\n"
	"  UNIQUE(tenant_id, user_id, device_hash),\n"
	"  UNIQUE(tenant_id, user_id, id),\n"
	"  FOREIGN KEY(tenant_id, user_id) REFERENCES users(tenant_id, id)\n"
	") STRICT;\n"
	"CREATE TABLE tickets(\n"
	"  hash BLOB PRIMARY KEY NOT NULL CHECK(length(hash) = 32),\n"
	"  tenant_id INTEGER NOT NULL,\n"
	"  user_id INTEGER NOT NULL,\n"
	"  device_id INTEGER,\n"
	"  scope INTEGER NOT NULL CHECK(scope IN (1, 2, 3)),\n"
	"  created_at INTEGER NOT NULL,\n"
	"  last_seen INTEGER NOT NULL,\n"
	"  expires_at INTEGER NOT NULL,\n"
	"  ip TEXT NOT NULL,\n"
	"  revoked_at INTEGER,\n"
	"  revoked_reason TEXT,\n"
	"  FOREIGN KEY(tenant_id, user_id) REFERENCES users(tenant_id, id),\n"
	"  FOREIGN KEY(tenant_id, user_id, device_id)\n"
	"    REFERENCES devices(tenant_id, user_id, id)\n"
	") WITHOUT ROWID, STRICT;\n"
	"CREATE INDEX tickets_user ON tickets(tenant_id, user_id);\n"
	"CREATE TABLE audit(\n"
	"  seq INTEGER PRIMARY KEY CHECK(seq > 0),\n"
	"  ts_ms INTEGER NOT NULL,\n"
	"  tenant_id INTEGER NOT NULL,\n"
	"  event TEXT NOT NULL,\n"
	"  subject TEXT NOT NULL,\n"
	"  object TEXT NOT NULL,\n"
	"  outcome TEXT NOT NULL,\n"
	"  source TEXT NOT NULL,\n"
	"  device TEXT NOT NULL,\n"
	"  request_id TEXT NOT NULL,\n"
	"  detail TEXT NOT NULL,\n"
	"  prev_hash BLOB NOT NULL CHECK(length(prev_hash) = 32),\n"
	"  hash BLOB NOT NULL CHECK(length(hash) = 32)\n"
	") STRICT;\n"
	"CREATE INDEX audit_tenant ON audit(tenant_id, seq);\n"
	"CREATE TABLE audit_checkpoints(\n"
	"  seq INTEGER PRIMARY KEY CHECK(seq > 0),\n"
	"  hash BLOB NOT NULL CHECK(length(hash) = 32),\n"
	"  ts_ms INTEGER NOT NULL,\n"
	"  sig BLOB NOT NULL CHECK(length(sig) BETWEEN 1 AND 80)\n"
	") STRICT;\n"
	/* Holds one row only while audit_purge() runs, inside its transaction. */
	"CREATE TABLE audit_purge_gate(upto INTEGER NOT NULL) STRICT;\n"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit\n"
	"BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;\n"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit\n"
	"WHEN OLD.seq > COALESCE((SELECT MAX(upto) FROM audit_purge_gate), 0)\n"
	"BEGIN SELECT RAISE(ABORT, 'audit records are removed only by retention purge'); END;\n"
	"CREATE TRIGGER audit_seq_next BEFORE INSERT ON audit\n"
	"WHEN NEW.seq IS NOT COALESCE((SELECT MAX(seq) FROM audit),\n"
	"                             (SELECT MAX(seq) FROM audit_checkpoints), 0) + 1\n"
	"BEGIN SELECT RAISE(ABORT, 'audit seq must follow the last record'); END;\n"
	"CREATE TRIGGER checkpoint_no_update BEFORE UPDATE ON audit_checkpoints\n"
	"BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;\n"
	"CREATE TRIGGER checkpoint_no_delete BEFORE DELETE ON audit_checkpoints\n"
	"WHEN OLD.seq >= COALESCE((SELECT MAX(upto) FROM audit_purge_gate), 0)\n"
	"BEGIN SELECT RAISE(ABORT, 'audit checkpoints are removed only by retention purge'); END;\n"
	"PRAGMA application_id = " STORE_STR(STORE_SQLITE_APP_ID) ";\n",
	/* 2: chat — conversations, members, messages, events (docs/realtime.md) */
	"CREATE TABLE conversations(\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id),\n"
	"  kind TEXT NOT NULL CHECK(kind IN ('direct','group','channel','announce')),\n"
	"  name BLOB,\n"                       /* box, KEY_CLASS_DATA */
	"  topic BLOB,\n"                      /* box, KEY_CLASS_DATA */
	"  direct_key TEXT,\n"                 /* 'low:high' user ids of a direct chat */
	"  settings TEXT NOT NULL,\n"          /* JSON of switches; no user content */
	"  created_by INTEGER NOT NULL,\n"
	"  created_at INTEGER NOT NULL,\n"
	"  dissolved_at INTEGER NOT NULL DEFAULT 0,\n"
	"  legal_hold INTEGER NOT NULL DEFAULT 0,\n"
	"  last_msg_id INTEGER NOT NULL DEFAULT 0,\n"
	"  last_activity INTEGER NOT NULL DEFAULT 0\n"
	") STRICT;\n"
	"CREATE UNIQUE INDEX conversations_direct ON conversations(tenant_id, direct_key)\n"
	"  WHERE direct_key IS NOT NULL;\n"
	"CREATE INDEX conversations_tenant ON conversations(tenant_id, kind);\n"
	"CREATE TABLE conv_members(\n"
	"  conv_id INTEGER NOT NULL REFERENCES conversations(id),\n"
	"  user_id INTEGER NOT NULL REFERENCES users(id),\n"
	"  tenant_id INTEGER NOT NULL,\n"
	"  role TEXT NOT NULL CHECK(role IN ('owner','admin','member')),\n"
	"  status TEXT NOT NULL CHECK(status IN ('active','pending')),\n"
	"  poster INTEGER NOT NULL DEFAULT 0,\n"
	"  muted_until INTEGER NOT NULL DEFAULT 0,\n"
	"  joined_at INTEGER NOT NULL,\n"
	"  joined_seq INTEGER NOT NULL DEFAULT 0,\n"
	"  joined_msg INTEGER NOT NULL DEFAULT 0,\n"
	"  read_msg INTEGER NOT NULL DEFAULT 0,\n"
	"  PRIMARY KEY(conv_id, user_id)\n"
	") WITHOUT ROWID, STRICT;\n"
	"CREATE INDEX conv_members_user ON conv_members(user_id, conv_id);\n"
	"CREATE TABLE files(\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id),\n"
	"  conv_id INTEGER NOT NULL REFERENCES conversations(id),\n"
	"  uploader INTEGER NOT NULL,\n"
	"  name BLOB NOT NULL,\n"              /* box */
	"  size INTEGER NOT NULL,\n"
	"  mime TEXT NOT NULL,\n"
	"  status TEXT NOT NULL CHECK(status IN ('clean','infected','unscanned','purged')),\n"
	"  signature TEXT NOT NULL DEFAULT '',\n"
	"  key_version INTEGER NOT NULL,\n"
	"  created_at INTEGER NOT NULL\n"
	") STRICT;\n"
	"CREATE TABLE messages(\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  tenant_id INTEGER NOT NULL,\n"
	"  conv_id INTEGER NOT NULL REFERENCES conversations(id),\n"
	"  sender_id INTEGER NOT NULL,\n"
	"  cid TEXT,\n"
	"  kind TEXT NOT NULL CHECK(kind IN ('text','file','system')),\n"
	"  body BLOB,\n"                       /* box; NULL once recalled or purged */
	"  reply_to INTEGER NOT NULL DEFAULT 0,\n"
	"  thread_root INTEGER NOT NULL DEFAULT 0,\n"
	"  file_id INTEGER NOT NULL DEFAULT 0,\n"
	"  forwarded INTEGER NOT NULL DEFAULT 0,\n"
	"  link_flag INTEGER NOT NULL DEFAULT 0,\n"
	"  created_at INTEGER NOT NULL,\n"
	"  edited_at INTEGER NOT NULL DEFAULT 0,\n"
	"  recalled_at INTEGER NOT NULL DEFAULT 0,\n"
	"  recalled_by INTEGER NOT NULL DEFAULT 0\n"
	") STRICT;\n"
	"CREATE INDEX messages_conv ON messages(conv_id, id);\n"
	"CREATE INDEX messages_thread ON messages(thread_root, id) WHERE thread_root != 0;\n"
	"CREATE UNIQUE INDEX messages_cid ON messages(sender_id, cid) WHERE cid IS NOT NULL;\n"
	"CREATE TABLE reactions(\n"
	"  msg_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,\n"
	"  user_id INTEGER NOT NULL,\n"
	"  emoji TEXT NOT NULL,\n"
	"  tenant_id INTEGER NOT NULL,\n"
	"  PRIMARY KEY(msg_id, user_id, emoji)\n"
	") WITHOUT ROWID, STRICT;\n"
	"CREATE TABLE events(\n"
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  tenant_id INTEGER NOT NULL,\n"
	"  conv_id INTEGER NOT NULL,\n"
	"  target_user INTEGER NOT NULL DEFAULT 0,\n"   /* 0: every member */
	"  kind TEXT NOT NULL,\n"
	"  msg_id INTEGER NOT NULL DEFAULT 0,\n"
	"  actor INTEGER NOT NULL DEFAULT 0,\n"
	"  detail TEXT NOT NULL DEFAULT '{}',\n"        /* ids and switches only */
	"  created_at INTEGER NOT NULL\n"
	") STRICT;\n"
	"CREATE INDEX events_conv ON events(conv_id, seq);\n"
	"CREATE INDEX events_target ON events(target_user, seq) WHERE target_user != 0;\n"
	"CREATE TABLE search_terms(\n"
	"  tenant_id INTEGER NOT NULL,\n"
	"  term BLOB NOT NULL,\n"              /* keyed hash of a token (search.h) */
	"  msg_id INTEGER NOT NULL,\n"
	"  conv_id INTEGER NOT NULL,\n"
	"  PRIMARY KEY(tenant_id, term, msg_id)\n"
	") WITHOUT ROWID, STRICT;\n"
	"CREATE INDEX search_terms_msg ON search_terms(msg_id);\n"
	"CREATE TABLE link_blocklist(\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id),\n"
	"  entry TEXT NOT NULL,\n"
	"  created_by INTEGER NOT NULL,\n"
	"  created_at INTEGER NOT NULL,\n"
	"  UNIQUE(tenant_id, entry)\n"
	") STRICT;\n",
	/* 3: documents (docs/collab.md) */
	"CREATE TABLE folders(\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id),\n"
	"  parent_id INTEGER NOT NULL DEFAULT 0,\n"
	"  name BLOB NOT NULL,\n"                 /* box */
	"  created_by INTEGER NOT NULL,\n"
	"  created_at INTEGER NOT NULL\n"
	") STRICT;\n"
	"CREATE TABLE documents(\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id),\n"
	"  folder_id INTEGER NOT NULL DEFAULT 0,\n"
	"  title BLOB,\n"                         /* box */
	"  owner INTEGER NOT NULL,\n"
	"  classification TEXT NOT NULL DEFAULT 'internal',\n"
	"  rev INTEGER NOT NULL DEFAULT 0,\n"
	"  snapshot BLOB,\n"                      /* box of the content at snapshot_rev */
	"  snapshot_rev INTEGER NOT NULL DEFAULT 0,\n"
	"  created_at INTEGER NOT NULL,\n"
	"  updated_at INTEGER NOT NULL,\n"
	"  deleted_at INTEGER NOT NULL DEFAULT 0,\n"
	"  deleted_by INTEGER NOT NULL DEFAULT 0\n"
	") STRICT;\n"
	"CREATE INDEX documents_tenant ON documents(tenant_id, folder_id);\n"
	"CREATE TABLE doc_ops(\n"
	"  doc_id INTEGER NOT NULL REFERENCES documents(id),\n"
	"  rev INTEGER NOT NULL,\n"
	"  tenant_id INTEGER NOT NULL,\n"
	"  user_id INTEGER NOT NULL,\n"
	"  op BLOB NOT NULL,\n"                   /* box */
	"  created_at INTEGER NOT NULL,\n"
	"  PRIMARY KEY(doc_id, rev)\n"
	") WITHOUT ROWID, STRICT;\n"
	"CREATE TABLE doc_versions(\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  doc_id INTEGER NOT NULL REFERENCES documents(id),\n"
	"  tenant_id INTEGER NOT NULL,\n"
	"  rev INTEGER NOT NULL,\n"
	"  content BLOB NOT NULL,\n"              /* box */
	"  label BLOB,\n"                         /* box */
	"  created_by INTEGER NOT NULL,\n"
	"  created_at INTEGER NOT NULL\n"
	") STRICT;\n"
	"CREATE INDEX doc_versions_doc ON doc_versions(doc_id, id);\n"
	"CREATE TABLE doc_grants(\n"
	"  doc_id INTEGER NOT NULL REFERENCES documents(id),\n"
	"  tenant_id INTEGER NOT NULL,\n"
	"  kind TEXT NOT NULL CHECK(kind IN ('user','dept','tenant')),\n"
	"  subject INTEGER NOT NULL,\n"
	"  role TEXT NOT NULL CHECK(role IN ('owner','editor','commenter','viewer')),\n"
	"  PRIMARY KEY(doc_id, kind, subject)\n"
	") WITHOUT ROWID, STRICT;\n",
	/* 4: document share links, link access, comments */
	"CREATE TABLE doc_links(\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id),\n"
	"  doc_id INTEGER NOT NULL REFERENCES documents(id),\n"
	"  token_hash BLOB NOT NULL UNIQUE,\n"     /* hash of the 128-bit token */
	"  role TEXT NOT NULL CHECK(role IN ('viewer','commenter','editor')),\n"
	"  scope TEXT NOT NULL CHECK(scope IN ('users','depts','tenant','guests')),\n"
	"  scope_ids TEXT NOT NULL DEFAULT '[]',\n"
	"  expires_at INTEGER NOT NULL DEFAULT 0,\n"
	"  pw_hash TEXT NOT NULL DEFAULT '',\n"
	"  no_download INTEGER NOT NULL DEFAULT 0,\n"
	"  created_by INTEGER NOT NULL,\n"
	"  created_at INTEGER NOT NULL,\n"
	"  revoked_at INTEGER NOT NULL DEFAULT 0\n"
	") STRICT;\n"
	"CREATE INDEX doc_links_doc ON doc_links(doc_id);\n"
	"CREATE TABLE doc_link_access(\n"
	"  link_id INTEGER NOT NULL REFERENCES doc_links(id),\n"
	"  user_id INTEGER NOT NULL,\n"
	"  tenant_id INTEGER NOT NULL,\n"
	"  granted_at INTEGER NOT NULL,\n"
	"  PRIMARY KEY(link_id, user_id)\n"
	") WITHOUT ROWID, STRICT;\n"
	"CREATE INDEX doc_link_access_user ON doc_link_access(user_id);\n"
	"CREATE TABLE doc_comments(\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  tenant_id INTEGER NOT NULL REFERENCES tenants(id),\n"
	"  doc_id INTEGER NOT NULL REFERENCES documents(id),\n"
	"  parent_id INTEGER NOT NULL DEFAULT 0,\n"
	"  author INTEGER NOT NULL,\n"
	"  body BLOB NOT NULL,\n"                  /* box */
	"  anchor_index INTEGER NOT NULL DEFAULT 0,\n"
	"  anchor_length INTEGER NOT NULL DEFAULT 0,\n"
	"  anchor_rev INTEGER NOT NULL DEFAULT 0,\n"
	"  resolved INTEGER NOT NULL DEFAULT 0,\n"
	"  created_at INTEGER NOT NULL\n"
	") STRICT;\n"
	"CREATE INDEX doc_comments_doc ON doc_comments(doc_id, id);\n",
};

#define STORE_SQLITE_SCHEMA_VERSION ((int64_t)BW_ARRAY_LEN(store_sqlite_migrations))

/* ------------------------------------------------------------------------
 * Prepared-statement cache
 * ------------------------------------------------------------------------ */
#define USER_COLS "id, tenant_id, username, role, status, dept_id, display_name, " \
	"email, phone, id_card, pw_hash, pw_changed_at, must_change_pw, failed_count, " \
	"locked_until, totp_secret, totp_enabled, totp_last_step, created_at, last_login_at"
#define DEVICE_COLS "id, tenant_id, user_id, device_hash, name, user_agent, " \
	"first_ip, last_ip, first_seen, last_seen"
#define TICKET_COLS "hash, tenant_id, user_id, device_id, scope, created_at, " \
	"last_seen, expires_at, ip, revoked_at, revoked_reason"
#define AUDIT_COLS "seq, ts_ms, tenant_id, event, subject, object, outcome, " \
	"source, device, request_id, detail, prev_hash, hash"

enum store_stmt {
	ST_BEGIN, ST_BEGIN_IMMEDIATE, ST_COMMIT, ST_ROLLBACK,
	ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO,
	ST_META_GET, ST_META_SET,
	ST_TENANT_CREATE, ST_TENANT_GET, ST_TENANT_BY_NAME, ST_TENANT_LIST,
	ST_TKEY_PUT, ST_TKEY_GET,
	ST_POLICY_GET, ST_POLICY_PUT,
	ST_USER_CREATE, ST_USER_GET, ST_USER_BY_NAME, ST_USER_UPDATE, ST_USER_LIST,
	ST_USER_COUNT_ROLE, ST_USER_EXISTS,
	ST_RECOVERY_CLEAR, ST_RECOVERY_ADD, ST_RECOVERY_USE, ST_RECOVERY_REMAINING,
	ST_DEPT_CREATE, ST_DEPT_UPDATE, ST_DEPT_CYCLE, ST_DEPT_LIST, ST_DEPT_GET,
	ST_DEVICE_TOUCH, ST_DEVICE_INSERT, ST_DEVICE_FIND, ST_DEVICE_LIST,
	ST_TICKET_INSERT, ST_TICKET_GET, ST_TICKET_TOUCH, ST_TICKET_SCOPE,
	ST_TICKET_REVOKE, ST_TICKET_STATE, ST_TICKET_REVOKE_USER, ST_TICKET_LIST_USER,
	ST_TICKET_GC,
	ST_AUDIT_LAST, ST_AUDIT_HASH, ST_AUDIT_INSERT, ST_AUDIT_SCAN, ST_AUDIT_QUERY, ST_AUDIT_COUNT, ST_AUDIT_COUNT_TENANT,
	ST_CKPT_INSERT, ST_CKPT_GET, ST_CKPT_LAST, ST_CKPT_SCAN,
	ST_PURGE_GATE_OPEN, ST_PURGE_AUDIT, ST_PURGE_CKPT, ST_PURGE_GATE_CLOSE,
	ST_COUNT_
};

static const char *const store_sqlite_sql[ST_COUNT_] = {
	[ST_BEGIN] = "BEGIN DEFERRED",
	[ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT bw_op",
	[ST_RELEASE] = "RELEASE bw_op",
	[ST_ROLLBACK_TO] = "ROLLBACK TO bw_op",

	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?",
	[ST_META_SET] = "INSERT INTO meta(key, value) VALUES(?, ?) "
		"ON CONFLICT(key) DO UPDATE SET value = excluded.value",

	[ST_TENANT_CREATE] = "INSERT INTO tenants(name, created_at) VALUES(?, ?)",
	[ST_TENANT_GET] = "SELECT id, name, created_at FROM tenants WHERE id = ?",
	[ST_TENANT_BY_NAME] = "SELECT id, name, created_at FROM tenants WHERE name = ?",
	[ST_TENANT_LIST] = "SELECT id, name, created_at FROM tenants ORDER BY id",
	[ST_TKEY_PUT] = "INSERT INTO tenant_keys(tenant_id, key_class, version, wrapped, "
		"created_at) VALUES(?, ?, ?, ?, ?)",
	[ST_TKEY_GET] = "SELECT tenant_id, key_class, version, wrapped, created_at "
		"FROM tenant_keys WHERE tenant_id = ? ORDER BY key_class, version",
	[ST_POLICY_GET] = "SELECT version, json FROM policies WHERE tenant_id = ? "
		"ORDER BY version DESC LIMIT 1",
	/* JSON is checked here rather than in a CHECK constraint: the JSON
	 * functions are not usable in the schema with trusted_schema=OFF. */
	[ST_POLICY_PUT] = "INSERT INTO policies(tenant_id, version, json, updated_by, "
		"updated_at) SELECT ?1, v, ?2, ?3, ?4 FROM (SELECT COALESCE(MAX(version), 0) "
		"+ 1 AS v FROM policies WHERE tenant_id = ?1) "
		"WHERE json_valid(?2) AND json_type(?2) = 'object' RETURNING version",

	[ST_USER_CREATE] = "INSERT INTO users(tenant_id, username, role, status, dept_id, "
		"display_name, email, phone, id_card, pw_hash, pw_changed_at, must_change_pw, "
		"failed_count, locked_until, totp_secret, totp_enabled, totp_last_step, "
		"created_at, last_login_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
		"?, ?, ?, ?, ?)",
	[ST_USER_GET] = "SELECT " USER_COLS " FROM users WHERE tenant_id = ? AND id = ?",
	[ST_USER_BY_NAME] = "SELECT " USER_COLS " FROM users WHERE tenant_id = ? "
		"AND username = ?",
	[ST_USER_UPDATE] = "UPDATE users SET role = ?, status = ?, dept_id = ?, "
		"display_name = ?, email = ?, phone = ?, id_card = ?, pw_hash = ?, "
		"pw_changed_at = ?, must_change_pw = ?, failed_count = ?, locked_until = ?, "
		"totp_secret = ?, totp_enabled = ?, totp_last_step = ?, last_login_at = ? "
		"WHERE tenant_id = ? AND id = ?",
	[ST_USER_LIST] = "SELECT " USER_COLS " FROM users WHERE tenant_id = ? AND id > ? "
		"ORDER BY id LIMIT ?",
	[ST_USER_COUNT_ROLE] = "SELECT COUNT(*) FROM users WHERE tenant_id = ? "
		"AND role = ? AND (? = 0 OR status = 1)",
	[ST_USER_EXISTS] = "SELECT 1 FROM users WHERE tenant_id = ? AND id = ?",

	[ST_RECOVERY_CLEAR] = "DELETE FROM recovery_codes WHERE tenant_id = ? AND user_id = ?",
	[ST_RECOVERY_ADD] = "INSERT INTO recovery_codes(tenant_id, user_id, code_hash) "
		"VALUES(?, ?, ?)",
	[ST_RECOVERY_USE] = "UPDATE recovery_codes SET used_at = ? WHERE tenant_id = ? "
		"AND user_id = ? AND code_hash = ? AND used_at IS NULL",
	[ST_RECOVERY_REMAINING] = "SELECT COUNT(*) FROM recovery_codes WHERE tenant_id = ? "
		"AND user_id = ? AND used_at IS NULL",

	[ST_DEPT_CREATE] = "INSERT INTO departments(tenant_id, parent_id, name, created_at) "
		"VALUES(?, ?, ?, ?)",
	[ST_DEPT_UPDATE] = "UPDATE departments SET parent_id = ?, name = ? "
		"WHERE tenant_id = ? AND id = ?",
	/* 1 when department ?3 is ?1 or one of its ancestors (in tenant ?2):
	 * making ?3 the parent of ?1 would close a loop.  UNION, not UNION
	 * ALL, so even a damaged tree with a loop terminates. */
	[ST_DEPT_CYCLE] = "WITH RECURSIVE anc(id) AS (SELECT ?3 UNION "
		"SELECT d.parent_id FROM departments d JOIN anc ON d.id = anc.id "
		"WHERE d.tenant_id = ?2 AND d.parent_id IS NOT NULL) "
		"SELECT EXISTS(SELECT 1 FROM anc WHERE id = ?1)",
	[ST_DEPT_LIST] = "SELECT id, tenant_id, parent_id, name, created_at FROM departments "
		"WHERE tenant_id = ? ORDER BY id",
	[ST_DEPT_GET] = "SELECT id, tenant_id, parent_id, name, created_at FROM departments "
		"WHERE tenant_id = ? AND id = ?",

	[ST_DEVICE_TOUCH] = "UPDATE devices SET name = CASE WHEN ?1 <> '' THEN ?1 ELSE name END, "
		"user_agent = ?2, last_ip = ?3, last_seen = MAX(last_seen, ?4) "
		"WHERE tenant_id = ?5 AND user_id = ?6 AND device_hash = ?7",
	[ST_DEVICE_INSERT] = "INSERT INTO devices(tenant_id, user_id, device_hash, name, "
		"user_agent, first_ip, last_ip, first_seen, last_seen) "
		"VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_DEVICE_FIND] = "SELECT " DEVICE_COLS " FROM devices WHERE tenant_id = ? "
		"AND user_id = ? AND device_hash = ?",
	[ST_DEVICE_LIST] = "SELECT " DEVICE_COLS " FROM devices WHERE tenant_id = ? "
		"AND user_id = ? ORDER BY id",

	[ST_TICKET_INSERT] = "INSERT INTO tickets(hash, tenant_id, user_id, device_id, scope, "
		"created_at, last_seen, expires_at, ip, revoked_at, revoked_reason) "
		"VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
	[ST_TICKET_GET] = "SELECT " TICKET_COLS " FROM tickets WHERE hash = ?",
	[ST_TICKET_TOUCH] = "UPDATE tickets SET last_seen = MAX(last_seen, ?) "
		"WHERE hash = ? AND revoked_at IS NULL",
	[ST_TICKET_SCOPE] = "UPDATE tickets SET scope = ? WHERE hash = ? AND revoked_at IS NULL",
	[ST_TICKET_REVOKE] = "UPDATE tickets SET revoked_at = ?, revoked_reason = ? "
		"WHERE tenant_id = ? AND hash = ? AND revoked_at IS NULL",
	[ST_TICKET_STATE] = "SELECT revoked_at FROM tickets WHERE tenant_id = ? AND hash = ?",
	[ST_TICKET_REVOKE_USER] = "UPDATE tickets SET revoked_at = ?, revoked_reason = ? "
		"WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL "
		"AND expires_at > ? AND (? IS NULL OR hash <> ?)",
	[ST_TICKET_LIST_USER] = "SELECT " TICKET_COLS " FROM tickets WHERE tenant_id = ? "
		"AND user_id = ? AND revoked_at IS NULL AND expires_at > ? "
		"ORDER BY created_at, hash",
	[ST_TICKET_GC] = "DELETE FROM tickets WHERE expires_at < ?1 "
		"OR (revoked_at IS NOT NULL AND revoked_at < ?1)",

	[ST_AUDIT_LAST] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
	[ST_AUDIT_HASH] = "SELECT hash FROM audit WHERE seq = ?",
	[ST_AUDIT_INSERT] = "INSERT INTO audit(" AUDIT_COLS ") "
		"VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_AUDIT_SCAN] = "SELECT " AUDIT_COLS " FROM audit WHERE seq >= ? ORDER BY seq",
	/* installation-wide records (tenant 0) of the server, the audit trail
	 * and the installation keys are part of every tenant's view */
	[ST_AUDIT_QUERY] = "SELECT " AUDIT_COLS " FROM audit WHERE (tenant_id = ?1 "
		"OR (?9 = 1 AND tenant_id = 0 AND ((event >= 'server.' AND event < 'server/') "
		"OR (event >= 'audit.' AND event < 'audit/') OR (event >= 'key.' AND event < 'key/')))) "
		"AND seq < ?2 AND ts_ms >= ?3 AND ts_ms <= ?4 "
		"AND (?5 IS NULL OR event >= ?5) AND (?6 IS NULL OR event < ?6) "
		"AND (?7 IS NULL OR subject = ?7) ORDER BY seq DESC LIMIT ?8",
	[ST_AUDIT_COUNT] = "SELECT COUNT(*), COALESCE(MIN(seq), 0) FROM audit",
	[ST_AUDIT_COUNT_TENANT] = "SELECT COUNT(*) FROM audit WHERE tenant_id = ?",

	[ST_CKPT_INSERT] = "INSERT INTO audit_checkpoints(seq, hash, ts_ms, sig) "
		"VALUES(?, ?, ?, ?)",
	[ST_CKPT_GET] = "SELECT seq, hash, ts_ms, sig FROM audit_checkpoints WHERE seq = ?",
	[ST_CKPT_LAST] = "SELECT seq, hash, ts_ms, sig FROM audit_checkpoints "
		"ORDER BY seq DESC LIMIT 1",
	[ST_CKPT_SCAN] = "SELECT seq, hash, ts_ms, sig FROM audit_checkpoints "
		"WHERE seq >= ? ORDER BY seq",
	[ST_PURGE_GATE_OPEN] = "INSERT INTO audit_purge_gate(upto) VALUES(?)",
	[ST_PURGE_AUDIT] = "DELETE FROM audit WHERE seq <= ?",
	[ST_PURGE_CKPT] = "DELETE FROM audit_checkpoints WHERE seq < ?",
	[ST_PURGE_GATE_CLOSE] = "DELETE FROM audit_purge_gate",
};

struct store_sqlite {
	struct store base;             /* first: (struct store *) casts to this */
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT_];
};

static struct store_sqlite *store_sqlite_of(struct store *s)
{
	return (struct store_sqlite *)s;
}

/* Maps an SQLite result code (extended codes are on) to BW_E*; logs the
 * ones that are not an expected outcome of bad input. */
static int store_sqlite_err(struct store_sqlite *ss, int rc, const char *what)
{
	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return BW_EEXIST;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return BW_ENOENT;       /* the referenced row is not in this tenant */
	case SQLITE_CONSTRAINT_CHECK:
	case SQLITE_CONSTRAINT_NOTNULL:
	case SQLITE_CONSTRAINT_DATATYPE:
		return BW_EINVAL;
	case SQLITE_CONSTRAINT_TRIGGER:
		log_warn("store: %s refused: %s", what, sqlite3_errmsg(ss->db));
		return BW_EPERM;
	}
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		log_warn("store: %s: database busy", what);
		return BW_EBUSY;
	case SQLITE_NOMEM:
		return BW_ENOMEM;
	case SQLITE_TOOBIG:
		return BW_ETOOBIG;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		log_err("store: %s: %s", what, sqlite3_errmsg(ss->db));
		return BW_ECORRUPT;
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
		log_err("store: %s: %s", what, sqlite3_errmsg(ss->db));
		return BW_EIO;
	}
	log_err("store: %s: %s (%d)", what, sqlite3_errmsg(ss->db), rc);
	return BW_ESTORE;
}

/* Returns the cached statement `id`, preparing it on first use.  The caller
 * must pass it to store_stmt_done() on every path.  A statement still
 * running (a callback re-entering the same listing) is refused. */
static int store_stmt(struct store_sqlite *ss, enum store_stmt id, sqlite3_stmt **out)
{
	sqlite3_stmt *st = ss->stmt[id];
	if (st == NULL) {
		int rc = sqlite3_prepare_v3(ss->db, store_sqlite_sql[id], -1,
		                            SQLITE_PREPARE_PERSISTENT, &st, NULL);
		if (rc != SQLITE_OK)
			return store_sqlite_err(ss, rc, "prepare");
		ss->stmt[id] = st;
	} else if (sqlite3_stmt_busy(st)) {
		log_err("store: statement %d re-entered from a callback", (int)id);
		return BW_EBUSY;
	}
	*out = st;
	return 0;
}

/* Resets a cached statement and drops its bindings (which may point at
 * caller memory bound with SQLITE_STATIC). */
static void store_stmt_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Steps a statement that returns no rows. */
static int store_step_done(struct store_sqlite *ss, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_ROW) {
		log_err("store: %s returned a row unexpectedly", what);
		return BW_ESTORE;
	}
	return store_sqlite_err(ss, rc, what);
}

/* Runs one cached statement without parameters (transaction control). */
static int store_exec_cached(struct store_sqlite *ss, enum store_stmt id, const char *what)
{
	sqlite3_stmt *st;
	int rc = store_stmt(ss, id, &st);
	if (rc != 0)
		return rc;
	rc = store_step_done(ss, st, what);
	store_stmt_done(st);
	return rc;
}

/* ------------------------------------------------------------------------
 * Binding: positional, in order.  The first failure sticks in b->rc and
 * later calls do nothing, so a run of binds is checked once at the end.
 * Texts and blobs are bound SQLITE_STATIC: they must outlive the step,
 * and store_stmt_done() unbinds them before the call returns.
 * ------------------------------------------------------------------------ */
struct store_bind {
	struct store_sqlite *ss;
	sqlite3_stmt *st;
	int i;
	int rc;
};

static void store_bind_init(struct store_bind *b, struct store_sqlite *ss, sqlite3_stmt *st)
{
	b->ss = ss;
	b->st = st;
	b->i = 0;
	b->rc = 0;
}

static void store_bind_check(struct store_bind *b, int rc)
{
	if (rc != SQLITE_OK && b->rc == 0)
		b->rc = store_sqlite_err(b->ss, rc, "bind");
}

static void bind_i64(struct store_bind *b, int64_t v)
{
	b->i++;
	if (b->rc == 0)
		store_bind_check(b, sqlite3_bind_int64(b->st, b->i, v));
}

/* 0 is stored as NULL (no department, no device, not revoked). */
static void bind_id_or_null(struct store_bind *b, int64_t v)
{
	b->i++;
	if (b->rc == 0)
		store_bind_check(b, v == 0 ? sqlite3_bind_null(b->st, b->i)
		                           : sqlite3_bind_int64(b->st, b->i, v));
}

static void bind_null(struct store_bind *b)
{
	b->i++;
	if (b->rc == 0)
		store_bind_check(b, sqlite3_bind_null(b->st, b->i));
}

/* A NUL-terminated text of at most max bytes; NULL or longer: an error. */
static void bind_text(struct store_bind *b, const char *s, size_t max)
{
	b->i++;
	if (b->rc != 0)
		return;
	if (s == NULL) {
		b->rc = BW_EINVAL;
		return;
	}
	size_t n = strnlen(s, max + 1);
	if (n > max) {
		b->rc = BW_ETOOBIG;
		return;
	}
	store_bind_check(b, sqlite3_bind_text(b->st, b->i, s, (int)n, SQLITE_STATIC));
}

/* A struct's fixed char array: it must hold its NUL terminator. */
#define bind_array(b, arr) bind_text((b), (arr), sizeof(arr) - 1)

static void bind_blob(struct store_bind *b, const void *p, size_t n)
{
	b->i++;
	if (b->rc == 0)
		store_bind_check(b, sqlite3_bind_blob(b->st, b->i, p, (int)n, SQLITE_STATIC));
}

static void bind_hash(struct store_bind *b, const uint8_t h[CRYPTO_HASH_LEN])
{
	bind_blob(b, h, CRYPTO_HASH_LEN);
}

/* A box: len 0 is NULL; len past STORE_BOX_MAX is refused. */
static void bind_box(struct store_bind *b, const struct store_box *box)
{
	if (b->rc == 0 && box->len > STORE_BOX_MAX) {
		b->i++;
		b->rc = BW_ETOOBIG;
		return;
	}
	if (box->len == 0)
		bind_null(b);
	else
		bind_blob(b, box->data, box->len);
}

/* ------------------------------------------------------------------------
 * Reading columns, in order; the first failure sticks in c->rc.
 * ------------------------------------------------------------------------ */
struct store_cols {
	sqlite3_stmt *st;
	int i;
	int rc;
};

static void store_cols_init(struct store_cols *c, sqlite3_stmt *st)
{
	c->st = st;
	c->i = 0;
	c->rc = 0;
}

static int64_t col_i64(struct store_cols *c)
{
	return sqlite3_column_int64(c->st, c->i++);   /* NULL reads as 0 */
}

/* Copies a text column into out[out_max] with its NUL; NULL reads as "".
 * A text that does not fit is BW_ETOOBIG, never truncated. */
static void col_text(struct store_cols *c, char *out, size_t out_max)
{
	int i = c->i++;
	if (c->rc != 0)
		return;
	if (sqlite3_column_type(c->st, i) == SQLITE_NULL) {
		out[0] = '\0';
		return;
	}
	const unsigned char *t = sqlite3_column_text(c->st, i);
	int n = sqlite3_column_bytes(c->st, i);
	if (t == NULL) {
		c->rc = BW_ENOMEM;
		return;
	}
	if (n < 0 || (size_t)n >= out_max) {
		c->rc = BW_ETOOBIG;
		return;
	}
	memcpy(out, t, (size_t)n);
	out[n] = '\0';
}

#define col_array(c, arr) col_text((c), (arr), sizeof(arr))

/* A blob of up to max bytes; NULL reads as length 0. */
static void col_blob(struct store_cols *c, uint8_t *out, size_t max, size_t *len)
{
	int i = c->i++;
	if (c->rc != 0)
		return;
	if (sqlite3_column_type(c->st, i) == SQLITE_NULL) {
		*len = 0;
		return;
	}
	const void *p = sqlite3_column_blob(c->st, i);
	int n = sqlite3_column_bytes(c->st, i);
	if (n < 0 || (size_t)n > max) {
		c->rc = BW_ETOOBIG;
		return;
	}
	if (n > 0 && p == NULL) {
		c->rc = BW_ENOMEM;
		return;
	}
	if (n > 0)
		memcpy(out, p, (size_t)n);
	*len = (size_t)n;
}

static void col_box(struct store_cols *c, struct store_box *box)
{
	col_blob(c, box->data, sizeof box->data, &box->len);
}

/* A hash column must be exactly CRYPTO_HASH_LEN bytes. */
static void col_hash(struct store_cols *c, uint8_t out[CRYPTO_HASH_LEN])
{
	size_t n = 0;
	col_blob(c, out, CRYPTO_HASH_LEN, &n);
	if (c->rc == 0 && n != CRYPTO_HASH_LEN)
		c->rc = BW_ECORRUPT;
}

/* ------------------------------------------------------------------------
 * Internal atomicity for operations of several statements: a transaction
 * of its own when the caller has none (BEGIN IMMEDIATE, so a read followed
 * by a write cannot fail to upgrade), a savepoint inside the caller's.
 * ------------------------------------------------------------------------ */
static int store_op_begin(struct store_sqlite *ss, bool *own)
{
	*own = sqlite3_get_autocommit(ss->db) != 0;
	return store_exec_cached(ss, *own ? ST_BEGIN_IMMEDIATE : ST_SAVEPOINT, "begin op");
}

/* Commits (rc == 0) or undoes (rc != 0) what store_op_begin started;
 * returns rc, or the commit's error. */
static int store_op_end(struct store_sqlite *ss, bool own, int rc)
{
	if (own) {
		if (rc == 0)
			rc = store_exec_cached(ss, ST_COMMIT, "commit op");
		if (rc != 0 && !sqlite3_get_autocommit(ss->db))
			(void)store_exec_cached(ss, ST_ROLLBACK, "rollback op");
		return rc;
	}
	if (rc != 0)
		(void)store_exec_cached(ss, ST_ROLLBACK_TO, "rollback to op");
	int rc2 = store_exec_cached(ss, ST_RELEASE, "release op");
	return rc != 0 ? rc : rc2;
}

static int store_clamp_limit(int limit)
{
	return limit < 1 ? 1 : limit > STORE_LIST_MAX ? STORE_LIST_MAX : limit;
}

/* ------------------------------------------------------------------------
 * Transactions and metadata
 * ------------------------------------------------------------------------ */
static int sq_begin(struct store *s, bool immediate)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	if (!sqlite3_get_autocommit(ss->db))
		return BW_ECONFLICT;           /* no nested transactions */
	return store_exec_cached(ss, immediate ? ST_BEGIN_IMMEDIATE : ST_BEGIN, "begin");
}

static int sq_commit(struct store *s)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	if (sqlite3_get_autocommit(ss->db))
		return BW_ECONFLICT;           /* nothing to commit */
	return store_exec_cached(ss, ST_COMMIT, "commit");
}

static void sq_rollback(struct store *s)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	if (!sqlite3_get_autocommit(ss->db))
		(void)store_exec_cached(ss, ST_ROLLBACK, "rollback");
}

static int sq_meta_get(struct store *s, const char *key, char *out, size_t out_max)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (out == NULL || out_max == 0)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_META_GET, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_text(&b, key, STORE_META_KEY_MAX);
	if ((rc = b.rc) != 0)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		struct store_cols c;
		store_cols_init(&c, st);
		col_text(&c, out, out_max);
		rc = c.rc;
	} else if (rc == SQLITE_DONE) {
		rc = BW_ENOENT;
	} else {
		rc = store_sqlite_err(ss, rc, "meta_get");
	}
out:
	store_stmt_done(st);
	return rc;
}

static int sq_meta_set(struct store *s, const char *key, const char *value)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (key == NULL || key[0] == '\0')
		return BW_EINVAL;
	if (strcmp(key, "schema_version") == 0)
		return BW_EPERM;               /* owned by the migrations */
	if ((rc = store_stmt(ss, ST_META_SET, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_text(&b, key, STORE_META_KEY_MAX);
	bind_text(&b, value, STORE_META_VALUE_MAX);
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "meta_set");
	store_stmt_done(st);
	return rc;
}

/* ------------------------------------------------------------------------
 * Tenants, tenant keys, policies
 * ------------------------------------------------------------------------ */
static int sq_tenant_create(struct store *s, const char *name, int64_t now, int64_t *id)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (name == NULL || name[0] == '\0')
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_TENANT_CREATE, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_text(&b, name, STORE_NAME_MAX);
	bind_i64(&b, now);
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "tenant_create");
	if (rc == 0 && id != NULL)
		*id = sqlite3_last_insert_rowid(ss->db);
	store_stmt_done(st);
	return rc;
}

static void store_row_tenant(struct store_cols *c, struct store_tenant *t)
{
	t->id = col_i64(c);
	col_array(c, t->name);
	t->created_at = col_i64(c);
}

/* Steps a single-row lookup: 0 with the row ready, BW_ENOENT, or an error. */
static int store_step_row(struct store_sqlite *ss, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return BW_ENOENT;
	return store_sqlite_err(ss, rc, what);
}

static int store_tenant_one(struct store_sqlite *ss, sqlite3_stmt *st, struct store_tenant *out)
{
	struct store_tenant t;
	struct store_cols c;
	memset(&t, 0, sizeof t);
	if (out == NULL)
		return BW_EINVAL;
	int rc = store_step_row(ss, st, "tenant_get");
	if (rc != 0)
		return rc;
	store_cols_init(&c, st);
	store_row_tenant(&c, &t);
	if (c.rc == 0)
		*out = t;
	return c.rc;
}

static int sq_tenant_get(struct store *s, int64_t id, struct store_tenant *out)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if ((rc = store_stmt(ss, ST_TENANT_GET, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, id);
	rc = b.rc != 0 ? b.rc : store_tenant_one(ss, st, out);
	store_stmt_done(st);
	return rc;
}

static int sq_tenant_get_by_name(struct store *s, const char *name, struct store_tenant *out)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if ((rc = store_stmt(ss, ST_TENANT_BY_NAME, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_text(&b, name, STORE_NAME_MAX);
	rc = b.rc != 0 ? b.rc : store_tenant_one(ss, st, out);
	store_stmt_done(st);
	return rc;
}

static int sq_tenant_list(struct store *s, store_tenant_cb cb, void *arg)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	int rc;
	if (cb == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_TENANT_LIST, &st)) != 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_tenant t;
		struct store_cols c;
		memset(&t, 0, sizeof t);
		store_cols_init(&c, st);
		store_row_tenant(&c, &t);
		if ((rc = c.rc) != 0 || (rc = cb(arg, &t)) != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : store_sqlite_err(ss, rc, "tenant_list");
out:
	store_stmt_done(st);
	return rc;
}

static int sq_tenant_key_put(struct store *s, const struct store_tenant_key *k)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (k == NULL || k->tenant_id <= 0 || k->key_class <= 0)
		return BW_EINVAL;
	if (k->wrapped_len == 0 || k->wrapped_len > STORE_WRAPPED_MAX)
		return k->wrapped_len == 0 ? BW_EINVAL : BW_ETOOBIG;
	if ((rc = store_stmt(ss, ST_TKEY_PUT, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, k->tenant_id);
	bind_i64(&b, k->key_class);
	bind_i64(&b, (int64_t)k->version);
	bind_blob(&b, k->wrapped, k->wrapped_len);
	bind_i64(&b, k->created_at);
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "tenant_key_put");
	store_stmt_done(st);
	return rc;
}

static int sq_tenant_keys_get(struct store *s, int64_t tenant_id,
                              struct store_tenant_key *out, size_t out_max, size_t *n)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	size_t count = 0;
	int rc;
	if ((out == NULL && out_max > 0) || n == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_TKEY_GET, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, tenant_id);
	if ((rc = b.rc) != 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_cols c;
		if (count == out_max) {
			rc = BW_ETOOBIG;
			goto out;
		}
		struct store_tenant_key *k = &out[count];
		store_cols_init(&c, st);
		k->tenant_id = col_i64(&c);
		k->key_class = (int)col_i64(&c);
		k->version = (uint32_t)col_i64(&c);
		col_blob(&c, k->wrapped, sizeof k->wrapped, &k->wrapped_len);
		k->created_at = col_i64(&c);
		if ((rc = c.rc) != 0)
			goto out;
		count++;
	}
	rc = rc == SQLITE_DONE ? 0 : store_sqlite_err(ss, rc, "tenant_keys_get");
	if (rc == 0)
		*n = count;
out:
	store_stmt_done(st);
	return rc;
}

static int sq_policy_get(struct store *s, int64_t tenant_id, char *json, size_t json_max,
                         int64_t *version)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (json == NULL || json_max == 0)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_POLICY_GET, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, tenant_id);
	if ((rc = b.rc) != 0 || (rc = store_step_row(ss, st, "policy_get")) != 0)
		goto out;
	struct store_cols c;
	store_cols_init(&c, st);
	int64_t v = col_i64(&c);
	col_text(&c, json, json_max);
	if ((rc = c.rc) == 0 && version != NULL)
		*version = v;
out:
	store_stmt_done(st);
	return rc;
}

static int sq_policy_put(struct store *s, int64_t tenant_id, const char *json,
                         int64_t by_user, int64_t now, int64_t *version)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (tenant_id <= 0)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_POLICY_PUT, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, tenant_id);
	bind_text(&b, json, STORE_POLICY_MAX);
	bind_i64(&b, by_user);
	bind_i64(&b, now);
	if ((rc = b.rc) != 0)
		goto out;
	/* One statement computes max + 1 and inserts, so it is atomic on its
	 * own; RETURNING yields no row when the JSON is not an object. */
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t v = sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			rc = 0;
			if (version != NULL)
				*version = v;
		} else {
			rc = store_sqlite_err(ss, rc, "policy_put");
		}
	} else if (rc == SQLITE_DONE) {
		rc = BW_EINVAL;
	} else {
		rc = store_sqlite_err(ss, rc, "policy_put");
	}
out:
	store_stmt_done(st);
	return rc;
}

/* ------------------------------------------------------------------------
 * Users
 * ------------------------------------------------------------------------ */

/* Checks the fields of u that the store writes.  The texts must hold their
 * NUL within their arrays (bind_array checks that too). */
static int store_user_check(const struct store_user *u)
{
	if (u == NULL || u->tenant_id <= 0)
		return BW_EINVAL;
	if (strnlen(u->username, sizeof u->username) == sizeof u->username ||
	    strnlen(u->role, sizeof u->role) == sizeof u->role ||
	    strnlen(u->pw_hash, sizeof u->pw_hash) == sizeof u->pw_hash)
		return BW_ETOOBIG;
	if (u->username[0] == '\0' || u->role[0] == '\0')
		return BW_EINVAL;
	if (u->status != USER_ACTIVE && u->status != USER_DISABLED)
		return BW_EINVAL;
	if (u->dept_id < 0 || u->failed_count < 0)
		return BW_EINVAL;
	if (u->totp_enabled && u->totp_secret.len == 0)
		return BW_EINVAL;
	return 0;
}

static int sq_user_create(struct store *s, struct store_user *u)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if ((rc = store_user_check(u)) != 0)
		return rc;
	if ((rc = store_stmt(ss, ST_USER_CREATE, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, u->tenant_id);
	bind_array(&b, u->username);
	bind_array(&b, u->role);
	bind_i64(&b, u->status);
	bind_id_or_null(&b, u->dept_id);
	bind_box(&b, &u->display_name);
	bind_box(&b, &u->email);
	bind_box(&b, &u->phone);
	bind_box(&b, &u->id_card);
	bind_array(&b, u->pw_hash);
	bind_i64(&b, u->pw_changed_at);
	bind_i64(&b, u->must_change_pw ? 1 : 0);
	bind_i64(&b, u->failed_count);
	bind_i64(&b, u->locked_until);
	bind_box(&b, &u->totp_secret);
	bind_i64(&b, u->totp_enabled ? 1 : 0);
	bind_i64(&b, u->totp_last_step);
	bind_i64(&b, u->created_at);
	bind_i64(&b, u->last_login_at);
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "user_create");
	if (rc == 0)
		u->id = sqlite3_last_insert_rowid(ss->db);
	store_stmt_done(st);
	return rc;
}

static void store_row_user(struct store_cols *c, struct store_user *u)
{
	u->id = col_i64(c);
	u->tenant_id = col_i64(c);
	col_array(c, u->username);
	col_array(c, u->role);
	u->status = (int)col_i64(c);
	u->dept_id = col_i64(c);
	col_box(c, &u->display_name);
	col_box(c, &u->email);
	col_box(c, &u->phone);
	col_box(c, &u->id_card);
	col_array(c, u->pw_hash);
	u->pw_changed_at = col_i64(c);
	u->must_change_pw = col_i64(c) != 0;
	u->failed_count = (int)col_i64(c);
	u->locked_until = col_i64(c);
	col_box(c, &u->totp_secret);
	u->totp_enabled = col_i64(c) != 0;
	u->totp_last_step = col_i64(c);
	u->created_at = col_i64(c);
	u->last_login_at = col_i64(c);
}

/* Reads the one row of a user lookup into *out (only on success).  The
 * temporary copy holds the password verifier and is wiped. */
static int store_user_one(struct store_sqlite *ss, sqlite3_stmt *st, struct store_user *out)
{
	struct store_user u;
	struct store_cols c;
	memset(&u, 0, sizeof u);
	if (out == NULL)
		return BW_EINVAL;
	int rc = store_step_row(ss, st, "user_get");
	if (rc != 0)
		return rc;
	store_cols_init(&c, st);
	store_row_user(&c, &u);
	if (c.rc == 0)
		*out = u;
	explicit_bzero(&u, sizeof u);
	return c.rc;
}

static int sq_user_get(struct store *s, int64_t tenant_id, int64_t id, struct store_user *out)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if ((rc = store_stmt(ss, ST_USER_GET, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, tenant_id);
	bind_i64(&b, id);
	rc = b.rc != 0 ? b.rc : store_user_one(ss, st, out);
	store_stmt_done(st);
	return rc;
}

static int sq_user_get_by_name(struct store *s, int64_t tenant_id, const char *username,
                               struct store_user *out)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if ((rc = store_stmt(ss, ST_USER_BY_NAME, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, tenant_id);
	bind_text(&b, username, STORE_NAME_MAX);
	rc = b.rc != 0 ? b.rc : store_user_one(ss, st, out);
	store_stmt_done(st);
	return rc;
}

static int sq_user_update(struct store *s, const struct store_user *u)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if ((rc = store_user_check(u)) != 0)
		return rc;
	if ((rc = store_stmt(ss, ST_USER_UPDATE, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_array(&b, u->role);
	bind_i64(&b, u->status);
	bind_id_or_null(&b, u->dept_id);
	bind_box(&b, &u->display_name);
	bind_box(&b, &u->email);
	bind_box(&b, &u->phone);
	bind_box(&b, &u->id_card);
	bind_array(&b, u->pw_hash);
	bind_i64(&b, u->pw_changed_at);
	bind_i64(&b, u->must_change_pw ? 1 : 0);
	bind_i64(&b, u->failed_count);
	bind_i64(&b, u->locked_until);
	bind_box(&b, &u->totp_secret);
	bind_i64(&b, u->totp_enabled ? 1 : 0);
	bind_i64(&b, u->totp_last_step);
	bind_i64(&b, u->last_login_at);
	bind_i64(&b, u->tenant_id);
	bind_i64(&b, u->id);
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "user_update");
	if (rc == 0 && sqlite3_changes(ss->db) == 0)
		rc = BW_ENOENT;
	store_stmt_done(st);
	return rc;
}

static int sq_user_list(struct store *s, int64_t tenant_id, int64_t after_id, int limit,
                        store_user_cb cb, void *arg)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	struct store_user u;
	int rc;
	if (cb == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_USER_LIST, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, tenant_id);
	bind_i64(&b, after_id);
	bind_i64(&b, store_clamp_limit(limit));
	memset(&u, 0, sizeof u);
	if ((rc = b.rc) != 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_cols c;
		store_cols_init(&c, st);
		store_row_user(&c, &u);
		if ((rc = c.rc) != 0 || (rc = cb(arg, &u)) != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : store_sqlite_err(ss, rc, "user_list");
out:
	explicit_bzero(&u, sizeof u);
	store_stmt_done(st);
	return rc;
}

static int sq_user_count_role(struct store *s, int64_t tenant_id, const char *role,
                              bool active_only, int64_t *n)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (n == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_USER_COUNT_ROLE, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, tenant_id);
	bind_text(&b, role, STORE_ROLE_MAX);
	bind_i64(&b, active_only ? 1 : 0);
	if ((rc = b.rc) == 0 && (rc = store_step_row(ss, st, "user_count_role")) == 0)
		*n = sqlite3_column_int64(st, 0);
	store_stmt_done(st);
	return rc;
}

/* ------------------------------------------------------------------------
 * Recovery codes
 * ------------------------------------------------------------------------ */

/* 0 when the user exists in the tenant, else BW_ENOENT. */
static int store_user_exists(struct store_sqlite *ss, int64_t tenant_id, int64_t user_id)
{
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if ((rc = store_stmt(ss, ST_USER_EXISTS, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, tenant_id);
	bind_i64(&b, user_id);
	rc = b.rc != 0 ? b.rc : store_step_row(ss, st, "user_exists");
	store_stmt_done(st);
	return rc;
}

static int store_recovery_replace(struct store_sqlite *ss, int64_t tenant_id, int64_t user_id,
                                  const uint8_t (*hashes)[CRYPTO_HASH_LEN], size_t n)
{
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if ((rc = store_user_exists(ss, tenant_id, user_id)) != 0)
		return rc;
	if ((rc = store_stmt(ss, ST_RECOVERY_CLEAR, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, tenant_id);
	bind_i64(&b, user_id);
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "recovery_clear");
	store_stmt_done(st);
	if (rc != 0)
		return rc;
	if ((rc = store_stmt(ss, ST_RECOVERY_ADD, &st)) != 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		store_bind_init(&b, ss, st);
		bind_i64(&b, tenant_id);
		bind_i64(&b, user_id);
		bind_hash(&b, hashes[i]);
		rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "recovery_add");
		store_stmt_done(st);
	}
	return rc;
}

static int sq_recovery_set(struct store *s, int64_t tenant_id, int64_t user_id,
                           const uint8_t (*hashes)[CRYPTO_HASH_LEN], size_t n)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	bool own;
	int rc;
	if (n > STORE_RECOVERY_MAX)
		return BW_ETOOBIG;
	if (n > 0 && hashes == NULL)
		return BW_EINVAL;
	if ((rc = store_op_begin(ss, &own)) != 0)
		return rc;
	rc = store_recovery_replace(ss, tenant_id, user_id, hashes, n);
	return store_op_end(ss, own, rc);
}

static int sq_recovery_use(struct store *s, int64_t tenant_id, int64_t user_id,
                           const uint8_t hash[CRYPTO_HASH_LEN], int64_t now)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (hash == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_RECOVERY_USE, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, now);
	bind_i64(&b, tenant_id);
	bind_i64(&b, user_id);
	bind_hash(&b, hash);
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "recovery_use");
	if (rc == 0 && sqlite3_changes(ss->db) != 1)
		rc = BW_ENOENT;
	store_stmt_done(st);
	return rc;
}

static int sq_recovery_remaining(struct store *s, int64_t tenant_id, int64_t user_id,
                                 int64_t *n)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (n == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_RECOVERY_REMAINING, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, tenant_id);
	bind_i64(&b, user_id);
	if ((rc = b.rc) == 0 && (rc = store_step_row(ss, st, "recovery_remaining")) == 0)
		*n = sqlite3_column_int64(st, 0);
	store_stmt_done(st);
	return rc;
}

/* ------------------------------------------------------------------------
 * Departments
 * ------------------------------------------------------------------------ */
static int sq_dept_create(struct store *s, struct store_dept *d)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (d == NULL || d->tenant_id <= 0 || d->parent_id < 0)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_DEPT_CREATE, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, d->tenant_id);
	bind_id_or_null(&b, d->parent_id);
	bind_box(&b, &d->name);
	bind_i64(&b, d->created_at);
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "dept_create");
	if (rc == 0)
		d->id = sqlite3_last_insert_rowid(ss->db);
	store_stmt_done(st);
	return rc;
}

/* The steps of a department update, inside store_op_begin/end: refuse a
 * parent that would make the tree a loop, then write name and parent. */
static int store_dept_update(struct store_sqlite *ss, const struct store_dept *d)
{
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (d->parent_id != 0) {
		if ((rc = store_stmt(ss, ST_DEPT_CYCLE, &st)) != 0)
			return rc;
		store_bind_init(&b, ss, st);
		bind_i64(&b, d->id);
		bind_i64(&b, d->tenant_id);
		bind_i64(&b, d->parent_id);
		if ((rc = b.rc) == 0 && (rc = store_step_row(ss, st, "dept_cycle")) == 0 &&
		    sqlite3_column_int64(st, 0) != 0)
			rc = BW_EINVAL;
		store_stmt_done(st);
		if (rc != 0)
			return rc;
	}
	if ((rc = store_stmt(ss, ST_DEPT_UPDATE, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_id_or_null(&b, d->parent_id);
	bind_box(&b, &d->name);
	bind_i64(&b, d->tenant_id);
	bind_i64(&b, d->id);
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "dept_update");
	if (rc == 0 && sqlite3_changes(ss->db) == 0)
		rc = BW_ENOENT;
	store_stmt_done(st);
	return rc;
}

static int sq_dept_update(struct store *s, const struct store_dept *d)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	bool own;
	int rc;
	if (d == NULL || d->tenant_id <= 0 || d->id <= 0 || d->parent_id < 0)
		return BW_EINVAL;
	if (d->parent_id == d->id)
		return BW_EINVAL;
	if ((rc = store_op_begin(ss, &own)) != 0)
		return rc;
	rc = store_dept_update(ss, d);
	return store_op_end(ss, own, rc);
}

static void store_row_dept(struct store_cols *c, struct store_dept *d)
{
	d->id = col_i64(c);
	d->tenant_id = col_i64(c);
	d->parent_id = col_i64(c);
	col_box(c, &d->name);
	d->created_at = col_i64(c);
}

static int sq_dept_list(struct store *s, int64_t tenant_id, store_dept_cb cb, void *arg)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (cb == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_DEPT_LIST, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, tenant_id);
	if ((rc = b.rc) != 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_dept d;
		struct store_cols c;
		memset(&d, 0, sizeof d);
		store_cols_init(&c, st);
		store_row_dept(&c, &d);
		if ((rc = c.rc) != 0 || (rc = cb(arg, &d)) != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : store_sqlite_err(ss, rc, "dept_list");
out:
	store_stmt_done(st);
	return rc;
}

static int sq_dept_get(struct store *s, int64_t tenant_id, int64_t id, struct store_dept *out)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (out == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_DEPT_GET, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, tenant_id);
	bind_i64(&b, id);
	if ((rc = b.rc) == 0 && (rc = store_step_row(ss, st, "dept_get")) == 0) {
		struct store_dept d;
		struct store_cols c;
		memset(&d, 0, sizeof d);
		store_cols_init(&c, st);
		store_row_dept(&c, &d);
		if ((rc = c.rc) == 0)
			*out = d;
	}
	store_stmt_done(st);
	return rc;
}

/* ------------------------------------------------------------------------
 * Devices
 * ------------------------------------------------------------------------ */
static void store_row_device(struct store_cols *c, struct store_device *d)
{
	d->id = col_i64(c);
	d->tenant_id = col_i64(c);
	d->user_id = col_i64(c);
	col_hash(c, d->device_hash);
	col_array(c, d->name);
	col_array(c, d->user_agent);
	col_array(c, d->first_ip);
	col_array(c, d->last_ip);
	d->first_seen = col_i64(c);
	d->last_seen = col_i64(c);
}

/* The three steps of an upsert, inside store_op_begin/end: refresh the
 * existing row (user agent, last address, last seen), or insert a new one;
 * then read the stored row back into *d. */
static int store_device_upsert(struct store_sqlite *ss, struct store_device *d, bool *created)
{
	sqlite3_stmt *st;
	struct store_bind b;
	bool fresh = false;
	int rc;
	if ((rc = store_stmt(ss, ST_DEVICE_TOUCH, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_array(&b, d->name);
	bind_array(&b, d->user_agent);
	bind_array(&b, d->last_ip);
	bind_i64(&b, d->last_seen);
	bind_i64(&b, d->tenant_id);
	bind_i64(&b, d->user_id);
	bind_hash(&b, d->device_hash);
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "device_touch");
	if (rc == 0 && sqlite3_changes(ss->db) == 0)
		fresh = true;
	store_stmt_done(st);
	if (rc != 0)
		return rc;
	if (fresh) {
		if ((rc = store_stmt(ss, ST_DEVICE_INSERT, &st)) != 0)
			return rc;
		store_bind_init(&b, ss, st);
		bind_i64(&b, d->tenant_id);
		bind_i64(&b, d->user_id);
		bind_hash(&b, d->device_hash);
		bind_array(&b, d->name);
		bind_array(&b, d->user_agent);
		bind_text(&b, d->first_ip[0] != '\0' ? d->first_ip : d->last_ip,
		          sizeof d->first_ip - 1);
		bind_array(&b, d->last_ip);
		bind_i64(&b, d->first_seen != 0 ? d->first_seen : d->last_seen);
		bind_i64(&b, d->last_seen);
		rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "device_insert");
		store_stmt_done(st);
		if (rc != 0)
			return rc;
	}
	if ((rc = store_stmt(ss, ST_DEVICE_FIND, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, d->tenant_id);
	bind_i64(&b, d->user_id);
	bind_hash(&b, d->device_hash);
	if ((rc = b.rc) == 0 && (rc = store_step_row(ss, st, "device_find")) == 0) {
		struct store_device row;
		struct store_cols c;
		memset(&row, 0, sizeof row);
		store_cols_init(&c, st);
		store_row_device(&c, &row);
		if ((rc = c.rc) == 0) {
			*d = row;
			if (created != NULL)
				*created = fresh;
		}
	}
	store_stmt_done(st);
	return rc;
}

static int sq_device_upsert(struct store *s, struct store_device *d, bool *created)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	bool own;
	int rc;
	if (d == NULL || d->tenant_id <= 0 || d->user_id <= 0)
		return BW_EINVAL;
	if (strnlen(d->name, sizeof d->name) == sizeof d->name ||
	    strnlen(d->user_agent, sizeof d->user_agent) == sizeof d->user_agent ||
	    strnlen(d->first_ip, sizeof d->first_ip) == sizeof d->first_ip ||
	    strnlen(d->last_ip, sizeof d->last_ip) == sizeof d->last_ip)
		return BW_ETOOBIG;
	if ((rc = store_op_begin(ss, &own)) != 0)
		return rc;
	rc = store_device_upsert(ss, d, created);
	return store_op_end(ss, own, rc);
}

static int sq_device_list(struct store *s, int64_t tenant_id, int64_t user_id,
                          store_device_cb cb, void *arg)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (cb == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_DEVICE_LIST, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, tenant_id);
	bind_i64(&b, user_id);
	if ((rc = b.rc) != 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_device d;
		struct store_cols c;
		memset(&d, 0, sizeof d);
		store_cols_init(&c, st);
		store_row_device(&c, &d);
		if ((rc = c.rc) != 0 || (rc = cb(arg, &d)) != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : store_sqlite_err(ss, rc, "device_list");
out:
	store_stmt_done(st);
	return rc;
}

/* ------------------------------------------------------------------------
 * Tickets
 * ------------------------------------------------------------------------ */
static bool store_scope_valid(int scope)
{
	return scope == TICKET_FULL || scope == TICKET_PASSWORD_CHANGE ||
	       scope == TICKET_MFA_ENROL;
}

static int sq_ticket_insert(struct store *s, const struct store_ticket *t)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (t == NULL || t->tenant_id <= 0 || t->user_id <= 0 || t->device_id < 0 ||
	    !store_scope_valid(t->scope) || t->revoked_at != 0)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_TICKET_INSERT, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_hash(&b, t->hash);
	bind_i64(&b, t->tenant_id);
	bind_i64(&b, t->user_id);
	bind_id_or_null(&b, t->device_id);
	bind_i64(&b, t->scope);
	bind_i64(&b, t->created_at);
	bind_i64(&b, t->last_seen);
	bind_i64(&b, t->expires_at);
	bind_array(&b, t->ip);
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "ticket_insert");
	store_stmt_done(st);
	return rc;
}

static void store_row_ticket(struct store_cols *c, struct store_ticket *t)
{
	col_hash(c, t->hash);
	t->tenant_id = col_i64(c);
	t->user_id = col_i64(c);
	t->device_id = col_i64(c);
	t->scope = (int)col_i64(c);
	t->created_at = col_i64(c);
	t->last_seen = col_i64(c);
	t->expires_at = col_i64(c);
	col_array(c, t->ip);
	t->revoked_at = col_i64(c);
	col_array(c, t->revoked_reason);
}

static int sq_ticket_get(struct store *s, const uint8_t hash[CRYPTO_HASH_LEN],
                         struct store_ticket *out)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (hash == NULL || out == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_TICKET_GET, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_hash(&b, hash);
	if ((rc = b.rc) == 0 && (rc = store_step_row(ss, st, "ticket_get")) == 0) {
		struct store_ticket t;
		struct store_cols c;
		memset(&t, 0, sizeof t);
		store_cols_init(&c, st);
		store_row_ticket(&c, &t);
		if ((rc = c.rc) == 0)
			*out = t;
	}
	store_stmt_done(st);
	return rc;
}

/* Runs a one-row UPDATE of a live ticket by hash; BW_ENOENT when no live
 * ticket has that hash. */
static int store_ticket_update(struct store_sqlite *ss, enum store_stmt id, int64_t v,
                               const uint8_t hash[CRYPTO_HASH_LEN], const char *what)
{
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (hash == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, id, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, v);
	bind_hash(&b, hash);
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, what);
	if (rc == 0 && sqlite3_changes(ss->db) == 0)
		rc = BW_ENOENT;
	store_stmt_done(st);
	return rc;
}

static int sq_ticket_touch(struct store *s, const uint8_t hash[CRYPTO_HASH_LEN], int64_t now)
{
	return store_ticket_update(store_sqlite_of(s), ST_TICKET_TOUCH, now, hash, "ticket_touch");
}

static int sq_ticket_set_scope(struct store *s, const uint8_t hash[CRYPTO_HASH_LEN], int scope)
{
	if (!store_scope_valid(scope))
		return BW_EINVAL;
	return store_ticket_update(store_sqlite_of(s), ST_TICKET_SCOPE, scope, hash,
	                           "ticket_set_scope");
}

/* Revoking an already revoked ticket of the tenant succeeds and keeps the
 * first revocation's time and reason; another tenant's ticket: BW_ENOENT. */
static int sq_ticket_revoke(struct store *s, int64_t tenant_id,
                            const uint8_t hash[CRYPTO_HASH_LEN], int64_t now, const char *why)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (hash == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_TICKET_REVOKE, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, now);
	bind_text(&b, why != NULL ? why : "", STORE_REASON_MAX);
	bind_i64(&b, tenant_id);
	bind_hash(&b, hash);
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "ticket_revoke");
	bool changed = rc == 0 && sqlite3_changes(ss->db) == 1;
	store_stmt_done(st);
	if (rc != 0 || changed)
		return rc;
	/* Nothing changed: already revoked (fine) or not this tenant's. */
	if ((rc = store_stmt(ss, ST_TICKET_STATE, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, tenant_id);
	bind_hash(&b, hash);
	rc = b.rc != 0 ? b.rc : store_step_row(ss, st, "ticket_state");
	store_stmt_done(st);
	return rc;
}

static int sq_ticket_revoke_user(struct store *s, int64_t tenant_id, int64_t user_id,
                                 const uint8_t *keep, int64_t now, const char *why, int *n)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if ((rc = store_stmt(ss, ST_TICKET_REVOKE_USER, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, now);
	bind_text(&b, why != NULL ? why : "", STORE_REASON_MAX);
	bind_i64(&b, tenant_id);
	bind_i64(&b, user_id);
	bind_i64(&b, now);
	if (keep != NULL) {
		bind_hash(&b, keep);
		bind_hash(&b, keep);
	} else {
		bind_null(&b);
		bind_null(&b);
	}
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "ticket_revoke_user");
	if (rc == 0 && n != NULL)
		*n = sqlite3_changes(ss->db);
	store_stmt_done(st);
	return rc;
}

static int sq_ticket_list_user(struct store *s, int64_t tenant_id, int64_t user_id,
                               int64_t now, store_ticket_cb cb, void *arg)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (cb == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_TICKET_LIST_USER, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, tenant_id);
	bind_i64(&b, user_id);
	bind_i64(&b, now);
	if ((rc = b.rc) != 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_ticket t;
		struct store_cols c;
		memset(&t, 0, sizeof t);
		store_cols_init(&c, st);
		store_row_ticket(&c, &t);
		if ((rc = c.rc) != 0 || (rc = cb(arg, &t)) != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : store_sqlite_err(ss, rc, "ticket_list_user");
out:
	store_stmt_done(st);
	return rc;
}

static int sq_ticket_gc(struct store *s, int64_t before)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if ((rc = store_stmt(ss, ST_TICKET_GC, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, before);
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "ticket_gc");
	store_stmt_done(st);
	return rc;
}

/* ------------------------------------------------------------------------
 * Audit trail
 * ------------------------------------------------------------------------ */
static void store_row_checkpoint(struct store_cols *c, struct store_checkpoint *k)
{
	k->seq = col_i64(c);
	col_hash(c, k->hash);
	k->ts_ms = col_i64(c);
	col_blob(c, k->sig, sizeof k->sig, &k->sig_len);
}

/* One-row checkpoint lookup by a cached statement with its bindings done. */
static int store_checkpoint_one(struct store_sqlite *ss, sqlite3_stmt *st,
                                struct store_checkpoint *out)
{
	struct store_checkpoint k;
	struct store_cols c;
	memset(&k, 0, sizeof k);
	int rc = store_step_row(ss, st, "checkpoint_get");
	if (rc != 0)
		return rc;
	store_cols_init(&c, st);
	store_row_checkpoint(&c, &k);
	if (c.rc == 0)
		*out = k;
	return c.rc;
}

static int sq_checkpoint_last(struct store *s, struct store_checkpoint *out)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	int rc;
	if (out == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_CKPT_LAST, &st)) != 0)
		return rc;
	rc = store_checkpoint_one(ss, st, out);
	store_stmt_done(st);
	return rc;
}

/* The newest record's seq and hash; BW_ENOENT when the table holds no
 * record (a fresh store, or everything purged: the caller then continues
 * the chain from checkpoint_last()). */
static int sq_audit_last(struct store *s, int64_t *seq, uint8_t hash[CRYPTO_HASH_LEN])
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	int rc;
	if (seq == NULL || hash == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_AUDIT_LAST, &st)) != 0)
		return rc;
	rc = store_step_row(ss, st, "audit_last");
	if (rc == 0) {
		uint8_t h[CRYPTO_HASH_LEN];
		struct store_cols c;
		store_cols_init(&c, st);
		int64_t v = col_i64(&c);
		col_hash(&c, h);
		if ((rc = c.rc) == 0) {
			*seq = v;
			memcpy(hash, h, CRYPTO_HASH_LEN);
		}
	}
	store_stmt_done(st);
	return rc;
}

static int sq_audit_insert(struct store *s, const struct store_audit *r)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (r == NULL || r->seq <= 0)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_AUDIT_INSERT, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, r->seq);
	bind_i64(&b, r->ts_ms);
	bind_i64(&b, r->tenant_id);
	bind_array(&b, r->event);
	bind_array(&b, r->subject);
	bind_array(&b, r->object);
	bind_array(&b, r->outcome);
	bind_array(&b, r->source);
	bind_array(&b, r->device);
	bind_array(&b, r->request_id);
	bind_array(&b, r->detail);
	bind_hash(&b, r->prev_hash);
	bind_hash(&b, r->hash);
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "audit_insert");
	if (rc == BW_EPERM)
		rc = BW_ECONFLICT;    /* the trigger: seq is not last + 1 */
	store_stmt_done(st);
	return rc;
}

static void store_row_audit(struct store_cols *c, struct store_audit *r)
{
	r->seq = col_i64(c);
	r->ts_ms = col_i64(c);
	r->tenant_id = col_i64(c);
	col_array(c, r->event);
	col_array(c, r->subject);
	col_array(c, r->object);
	col_array(c, r->outcome);
	col_array(c, r->source);
	col_array(c, r->device);
	col_array(c, r->request_id);
	col_array(c, r->detail);
	col_hash(c, r->prev_hash);
	col_hash(c, r->hash);
}

/* Feeds every row of a bound audit statement to cb. */
static int store_audit_rows(struct store_sqlite *ss, sqlite3_stmt *st, store_audit_cb cb,
                            void *arg, const char *what)
{
	struct store_audit r;
	int rc;
	memset(&r, 0, sizeof r);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_cols c;
		store_cols_init(&c, st);
		store_row_audit(&c, &r);
		if ((rc = c.rc) != 0 || (rc = cb(arg, &r)) != 0)
			return rc;
	}
	return rc == SQLITE_DONE ? 0 : store_sqlite_err(ss, rc, what);
}

static int sq_audit_scan(struct store *s, int64_t from_seq, store_audit_cb cb, void *arg)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (cb == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_AUDIT_SCAN, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, from_seq);
	rc = b.rc != 0 ? b.rc : store_audit_rows(ss, st, cb, arg, "audit_scan");
	store_stmt_done(st);
	return rc;
}

/* The smallest string greater than every string that starts with prefix:
 * the prefix with its last byte below 0xff incremented and the rest cut.
 * Returns false when there is none (empty, or all 0xff bytes). */
static bool store_prefix_upper(const char *prefix, char *out, size_t out_max)
{
	size_t n = strnlen(prefix, out_max);
	if (n >= out_max)
		return false;
	memcpy(out, prefix, n + 1);
	while (n > 0) {
		unsigned char last = (unsigned char)out[n - 1];
		if (last != 0xff) {
			out[n - 1] = (char)(last + 1);
			out[n] = '\0';
			return true;
		}
		n--;
	}
	return false;
}

static int sq_audit_query(struct store *s, const struct store_audit_filter *f,
                          store_audit_cb cb, void *arg)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	char upper[sizeof ((struct store_audit *)0)->event];
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (f == NULL || cb == NULL || f->before_seq < 0)
		return BW_EINVAL;
	const char *prefix = f->event_prefix;
	if (prefix != NULL && prefix[0] == '\0')
		prefix = NULL;
	bool has_upper = false;
	if (prefix != NULL) {
		if (strnlen(prefix, sizeof upper) >= sizeof upper)
			return BW_ETOOBIG;
		has_upper = store_prefix_upper(prefix, upper, sizeof upper);
	}
	if ((rc = store_stmt(ss, ST_AUDIT_QUERY, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, f->tenant_id);
	bind_i64(&b, f->before_seq > 0 ? f->before_seq : INT64_MAX);
	bind_i64(&b, f->since_ms > 0 ? f->since_ms : INT64_MIN);
	bind_i64(&b, f->until_ms > 0 ? f->until_ms : INT64_MAX);
	if (prefix != NULL)
		bind_text(&b, prefix, sizeof upper - 1);
	else
		bind_null(&b);
	if (has_upper)
		bind_text(&b, upper, sizeof upper - 1);
	else
		bind_null(&b);
	if (f->subject != NULL)
		bind_text(&b, f->subject, STORE_TEXT_MAX);
	else
		bind_null(&b);
	bind_i64(&b, store_clamp_limit(f->limit));
	bind_i64(&b, f->with_installation ? 1 : 0);
	rc = b.rc != 0 ? b.rc : store_audit_rows(ss, st, cb, arg, "audit_query");
	store_stmt_done(st);
	return rc;
}

static int sq_checkpoint_insert(struct store *s, const struct store_checkpoint *k)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (k == NULL || k->seq <= 0 || k->sig_len == 0)
		return BW_EINVAL;
	if (k->sig_len > CRYPTO_SIG_MAX)
		return BW_ETOOBIG;
	/* A checkpoint signs an existing record: its seq and hash must match. */
	if ((rc = store_stmt(ss, ST_AUDIT_HASH, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, k->seq);
	if ((rc = b.rc) == 0 && (rc = store_step_row(ss, st, "audit_hash")) == 0) {
		struct store_cols c;
		uint8_t h[CRYPTO_HASH_LEN];
		store_cols_init(&c, st);
		col_hash(&c, h);
		if ((rc = c.rc) == 0 && memcmp(h, k->hash, CRYPTO_HASH_LEN) != 0)
			rc = BW_ECONFLICT;
	}
	store_stmt_done(st);
	if (rc != 0)
		return rc;
	if ((rc = store_stmt(ss, ST_CKPT_INSERT, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, k->seq);
	bind_hash(&b, k->hash);
	bind_i64(&b, k->ts_ms);
	bind_blob(&b, k->sig, k->sig_len);
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, "checkpoint_insert");
	store_stmt_done(st);
	return rc;
}

static int sq_checkpoint_get(struct store *s, int64_t seq, struct store_checkpoint *out)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (out == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_CKPT_GET, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, seq);
	rc = b.rc != 0 ? b.rc : store_checkpoint_one(ss, st, out);
	store_stmt_done(st);
	return rc;
}

static int sq_checkpoint_scan(struct store *s, int64_t from_seq,
                              int (*cb)(void *arg, const struct store_checkpoint *c),
                              void *arg)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if (cb == NULL)
		return BW_EINVAL;
	if ((rc = store_stmt(ss, ST_CKPT_SCAN, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, from_seq);
	if ((rc = b.rc) != 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_checkpoint k;
		struct store_cols c;
		memset(&k, 0, sizeof k);
		store_cols_init(&c, st);
		store_row_checkpoint(&c, &k);
		if ((rc = c.rc) != 0 || (rc = cb(arg, &k)) != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : store_sqlite_err(ss, rc, "checkpoint_scan");
out:
	store_stmt_done(st);
	return rc;
}

/* Runs one cached statement with a single integer parameter. */
static int store_exec_i64(struct store_sqlite *ss, enum store_stmt id, int64_t v,
                          const char *what)
{
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if ((rc = store_stmt(ss, id, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, v);
	rc = b.rc != 0 ? b.rc : store_step_done(ss, st, what);
	store_stmt_done(st);
	return rc;
}

/* The steps of a purge, inside store_op_begin/end: the anchoring
 * checkpoint must exist; open the gate the delete triggers look at; delete
 * records <= upto and checkpoints < upto; close the gate. */
static int store_audit_purge(struct store_sqlite *ss, int64_t upto_seq)
{
	struct store_checkpoint anchor;
	int rc = sq_checkpoint_get(&ss->base, upto_seq, &anchor);
	if (rc != 0)
		return rc;
	if ((rc = store_exec_i64(ss, ST_PURGE_GATE_OPEN, upto_seq, "purge gate")) != 0 ||
	    (rc = store_exec_i64(ss, ST_PURGE_AUDIT, upto_seq, "purge audit")) != 0 ||
	    (rc = store_exec_i64(ss, ST_PURGE_CKPT, upto_seq, "purge checkpoints")) != 0)
		return rc;
	return store_exec_cached(ss, ST_PURGE_GATE_CLOSE, "purge gate close");
}

static int sq_audit_purge(struct store *s, int64_t upto_seq)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	bool own;
	int rc;
	if (upto_seq <= 0)
		return BW_EINVAL;
	if ((rc = store_op_begin(ss, &own)) != 0)
		return rc;
	rc = store_audit_purge(ss, upto_seq);
	return store_op_end(ss, own, rc);
}

static int sq_audit_count(struct store *s, int64_t *n, int64_t *first_seq)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	int rc;
	if ((rc = store_stmt(ss, ST_AUDIT_COUNT, &st)) != 0)
		return rc;
	if ((rc = store_step_row(ss, st, "audit_count")) == 0) {
		if (n != NULL)
			*n = sqlite3_column_int64(st, 0);
		if (first_seq != NULL)
			*first_seq = sqlite3_column_int64(st, 1);
	}
	store_stmt_done(st);
	return rc;
}

static int sq_audit_count_tenant(struct store *s, int64_t tenant_id, int64_t *n)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	sqlite3_stmt *st;
	struct store_bind b;
	int rc;
	if ((rc = store_stmt(ss, ST_AUDIT_COUNT_TENANT, &st)) != 0)
		return rc;
	store_bind_init(&b, ss, st);
	bind_i64(&b, tenant_id);
	rc = b.rc != 0 ? b.rc : store_step_row(ss, st, "audit_count_tenant");
	if (rc == 0)
		*n = sqlite3_column_int64(st, 0);
	store_stmt_done(st);
	return rc;
}

/* ------------------------------------------------------------------------
 * Open, migrate, close
 * ------------------------------------------------------------------------ */
static void sq_close(struct store *s)
{
	struct store_sqlite *ss = store_sqlite_of(s);
	if (ss == NULL)
		return;
	if (ss->db != NULL) {
		if (!sqlite3_get_autocommit(ss->db))
			(void)sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
		for (size_t i = 0; i < BW_ARRAY_LEN(ss->stmt); i++)
			sqlite3_finalize(ss->stmt[i]);
		(void)sqlite3_exec(ss->db, "PRAGMA optimize", NULL, NULL, NULL);
		int rc = sqlite3_close(ss->db);
		if (rc != SQLITE_OK)
			log_err("store: close: %s", sqlite3_errstr(rc));
	}
	free(ss);
}

/* Runs a PRAGMA (or any single statement) and, when `expect` is not NULL,
 * checks that its first result column equals it (case-insensitive). */
static int store_pragma(struct store_sqlite *ss, const char *sql, const char *expect)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(ss->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sqlite_err(ss, rc, sql);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		if (expect != NULL && (v == NULL || strcasecmp(v, expect) != 0)) {
			log_err("store: %s gave \"%s\", expected \"%s\"", sql, v ? v : "", expect);
			rc = BW_ESTORE;
		} else {
			rc = 0;
		}
	} else if (rc == SQLITE_DONE) {
		rc = expect == NULL ? 0 : BW_ESTORE;
		if (rc != 0)
			log_err("store: %s returned nothing", sql);
	} else {
		rc = store_sqlite_err(ss, rc, sql);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Reads an integer-valued single-row query; *v is 0 when there is no row. */
static int store_query_i64(struct store_sqlite *ss, const char *sql, int64_t *v)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(ss->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sqlite_err(ss, rc, "query");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		*v = 0;
		rc = 0;
	} else {
		rc = store_sqlite_err(ss, rc, "query");
	}
	sqlite3_finalize(st);
	return rc;
}

/* The schema version recorded in meta; 0 for a database without one. */
static int store_schema_version(struct store_sqlite *ss, int64_t *version)
{
	int64_t has_meta;
	int rc = store_query_i64(ss, "SELECT COUNT(*) FROM sqlite_schema "
	                         "WHERE type = 'table' AND name = 'meta'", &has_meta);
	if (rc != 0)
		return rc;
	if (!has_meta) {
		*version = 0;
		return 0;
	}
	return store_query_i64(ss, "SELECT CAST(value AS INTEGER) FROM meta "
	                       "WHERE key = 'schema_version'", version);
}

/* A database newer than this code is refused: its schema may carry
 * invariants this build does not know to keep. */
static int store_version_check(int64_t version)
{
	if (version >= 0 && version <= STORE_SQLITE_SCHEMA_VERSION)
		return 0;
	log_err("store: database schema version %lld is not one this build knows "
	        "(up to %lld); refusing to open it",
	        (long long)version, (long long)STORE_SQLITE_SCHEMA_VERSION);
	return BW_ESTORE;
}

static int store_migrate(struct store_sqlite *ss)
{
	int64_t version, app_id;
	int rc = store_query_i64(ss, "PRAGMA application_id", &app_id);
	if (rc != 0)
		return rc;
	if (app_id != 0 && app_id != STORE_SQLITE_APP_ID) {
		log_err("store: %s is not a Bulwark database (application_id %lld)",
		        STORE_SQLITE_FILE, (long long)app_id);
		return BW_ESTORE;
	}
	/* The common case, an up-to-date database, takes no write lock. */
	if ((rc = store_schema_version(ss, &version)) != 0)
		return rc;
	if ((rc = store_version_check(version)) != 0 || version == STORE_SQLITE_SCHEMA_VERSION)
		return rc;
	for (;;) {
		if ((rc = store_exec_cached(ss, ST_BEGIN_IMMEDIATE, "migrate begin")) != 0)
			return rc;
		/* Read again under the write lock: another process may have
		 * migrated meanwhile. */
		if ((rc = store_schema_version(ss, &version)) != 0 ||
		    (rc = store_version_check(version)) != 0)
			goto fail;
		if (version == STORE_SQLITE_SCHEMA_VERSION)
			return store_exec_cached(ss, ST_COMMIT, "migrate commit");
		char *msg = NULL;
		rc = sqlite3_exec(ss->db, store_sqlite_migrations[version], NULL, NULL, &msg);
		if (rc != SQLITE_OK) {
			log_err("store: migration %lld failed: %s", (long long)version + 1,
			        msg != NULL ? msg : sqlite3_errstr(rc));
			sqlite3_free(msg);
			rc = BW_ESTORE;
			goto fail;
		}
		char sql[128];
		snprintf(sql, sizeof sql, "INSERT INTO meta(key, value) "
		         "VALUES('schema_version', '%lld') ON CONFLICT(key) "
		         "DO UPDATE SET value = excluded.value", (long long)version + 1);
		if ((rc = store_pragma(ss, sql, NULL)) != 0)
			goto fail;
		if ((rc = store_exec_cached(ss, ST_COMMIT, "migrate commit")) != 0)
			goto fail;
		log_info("store: schema migrated to version %lld", (long long)version + 1);
	}
fail:
	if (!sqlite3_get_autocommit(ss->db))
		(void)store_exec_cached(ss, ST_ROLLBACK, "migrate rollback");
	return rc;
}

/* Tightens path to 0600 when it exists with group or other access. */
static int store_fix_mode(const char *path)
{
	struct stat sb;
	if (lstat(path, &sb) != 0)
		return errno == ENOENT ? 0 : BW_EIO;
	if (!S_ISREG(sb.st_mode)) {
		log_err("store: %s is not a regular file", path);
		return BW_EIO;
	}
	if ((sb.st_mode & 077) == 0)
		return 0;
	log_warn("store: %s had mode %03o; setting 0600", path, (unsigned)(sb.st_mode & 0777));
	return chmod(path, 0600) == 0 ? 0 : BW_EIO;
}

static int store_fix_modes(const char *db_path)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < BW_ARRAY_LEN(suffixes); i++) {
		char p[PATH_MAX];
		int n = snprintf(p, sizeof p, "%s%s", db_path, suffixes[i]);
		if (n < 0 || (size_t)n >= sizeof p)
			return BW_ETOOBIG;
		int rc = store_fix_mode(p);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static const struct store_ops store_sqlite_ops;

sqlite3 *store_sqlite_handle(struct store *s)
{
	return store_sqlite_of(s)->db;
}

/* Opens the connection and applies the settings and migrations; on error
 * the caller closes ss. */
static int store_sqlite_setup(struct store_sqlite *ss, const char *path, bool create)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW |
	            SQLITE_OPEN_EXRESCODE | (create ? SQLITE_OPEN_CREATE : 0);
	int rc = sqlite3_open_v2(path, &ss->db, flags, NULL);
	if (rc != SQLITE_OK) {
		log_err("store: cannot open %s: %s", path,
		        ss->db != NULL ? sqlite3_errmsg(ss->db) : sqlite3_errstr(rc));
		return (rc & 0xff) == SQLITE_CANTOPEN ? BW_EIO : BW_ESTORE;
	}
	sqlite3_extended_result_codes(ss->db, 1);
	if ((rc = store_fix_modes(path)) != 0)
		return rc;
	if (sqlite3_db_config(ss->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL) != SQLITE_OK ||
	    sqlite3_db_config(ss->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL) != SQLITE_OK ||
	    sqlite3_db_config(ss->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL) != SQLITE_OK ||
	    sqlite3_db_config(ss->db, SQLITE_DBCONFIG_DQS_DML, 0, NULL) != SQLITE_OK ||
	    sqlite3_db_config(ss->db, SQLITE_DBCONFIG_DQS_DDL, 0, NULL) != SQLITE_OK)
		return BW_ESTORE;
	sqlite3_busy_timeout(ss->db, 5000);
	if ((rc = store_pragma(ss, "PRAGMA busy_timeout = 5000", "5000")) != 0 ||
	    (rc = store_pragma(ss, "PRAGMA journal_mode = WAL", "wal")) != 0 ||
	    (rc = store_pragma(ss, "PRAGMA synchronous = NORMAL", NULL)) != 0 ||
	    (rc = store_pragma(ss, "PRAGMA synchronous", "1")) != 0 ||
	    (rc = store_pragma(ss, "PRAGMA foreign_keys = ON", NULL)) != 0 ||
	    (rc = store_pragma(ss, "PRAGMA foreign_keys", "1")) != 0 ||
	    (rc = store_pragma(ss, "PRAGMA secure_delete = ON", "1")) != 0 ||
	    (rc = store_pragma(ss, "PRAGMA trusted_schema = OFF", NULL)) != 0 ||
	    (rc = store_pragma(ss, "PRAGMA trusted_schema", "0")) != 0)
		return rc;
	if ((rc = store_migrate(ss)) != 0)
		return rc;
	return store_fix_modes(path);
}

int store_sqlite_open(const char *data_dir, bool create, struct store **out)
{
	char path[PATH_MAX];
	struct stat sb;
	if (data_dir == NULL || out == NULL)
		return BW_EINVAL;
	if (sqlite3_libversion_number() < STORE_SQLITE_MIN_VERSION) {
		log_err("store: SQLite %s is too old (need 3.37 or later)", sqlite3_libversion());
		return BW_ESTORE;
	}
	int n = snprintf(path, sizeof path, "%s/%s", data_dir, STORE_SQLITE_FILE);
	if (n < 0 || (size_t)n >= sizeof path)
		return BW_ETOOBIG;
	if (!create && stat(path, &sb) != 0)
		return errno == ENOENT ? BW_ENOENT : BW_EIO;

	struct store_sqlite *ss = calloc(1, sizeof *ss);
	if (ss == NULL)
		return BW_ENOMEM;
	ss->base.ops = &store_sqlite_ops;
	/* The database, -wal and -shm are created 0600 (SQLite gives the
	 * companions the database's mode); umask is process-wide, so this is
	 * meant for start-up, before other threads create files. */
	mode_t old_mask = umask(077);
	int rc = store_sqlite_setup(ss, path, create);
	umask(old_mask);
	if (rc != 0) {
		sq_close(&ss->base);
		return rc;
	}
	*out = &ss->base;
	return 0;
}

static const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.meta_get = sq_meta_get,
	.meta_set = sq_meta_set,
	.tenant_create = sq_tenant_create,
	.tenant_get = sq_tenant_get,
	.tenant_get_by_name = sq_tenant_get_by_name,
	.tenant_list = sq_tenant_list,
	.tenant_key_put = sq_tenant_key_put,
	.tenant_keys_get = sq_tenant_keys_get,
	.policy_get = sq_policy_get,
	.policy_put = sq_policy_put,
	.user_create = sq_user_create,
	.user_get = sq_user_get,
	.user_get_by_name = sq_user_get_by_name,
	.user_update = sq_user_update,
	.user_list = sq_user_list,
	.user_count_role = sq_user_count_role,
	.recovery_set = sq_recovery_set,
	.recovery_use = sq_recovery_use,
	.recovery_remaining = sq_recovery_remaining,
	.dept_create = sq_dept_create,
	.dept_update = sq_dept_update,
	.dept_list = sq_dept_list,
	.dept_get = sq_dept_get,
	.device_upsert = sq_device_upsert,
	.device_list = sq_device_list,
	.ticket_insert = sq_ticket_insert,
	.ticket_get = sq_ticket_get,
	.ticket_touch = sq_ticket_touch,
	.ticket_set_scope = sq_ticket_set_scope,
	.ticket_revoke = sq_ticket_revoke,
	.ticket_revoke_user = sq_ticket_revoke_user,
	.ticket_list_user = sq_ticket_list_user,
	.ticket_gc = sq_ticket_gc,
	.audit_last = sq_audit_last,
	.audit_insert = sq_audit_insert,
	.audit_scan = sq_audit_scan,
	.audit_query = sq_audit_query,
	.checkpoint_insert = sq_checkpoint_insert,
	.checkpoint_get = sq_checkpoint_get,
	.checkpoint_last = sq_checkpoint_last,
	.checkpoint_scan = sq_checkpoint_scan,
	.audit_purge = sq_audit_purge,
	.audit_count = sq_audit_count,
	.audit_count_tenant = sq_audit_count_tenant,
};
