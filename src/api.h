/*
 * api.h — handler declarations shared by api.c (routing), api_auth.c
 * (sign-in, tickets, MFA, own sessions) and api_admin.c (users, departments,
 * policy, audit).  Requirement IDs: see each .c file.
 */
#ifndef BW_API_H
#define BW_API_H

#include "server.h"

typedef void (*api_handler)(struct req *r);

/* api_auth.c */
void h_health(struct req *r);
void h_login(struct req *r);
void h_logout(struct req *r);
void h_session(struct req *r);
void h_password(struct req *r);
void h_totp_enrol(struct req *r);
void h_totp_confirm(struct req *r);
void h_totp_disable(struct req *r);
void h_recovery_regen(struct req *r);
void h_me_sessions(struct req *r);
void h_me_session_delete(struct req *r);
void h_me_devices(struct req *r);

/* api_admin.c */
void h_users_list(struct req *r);
void h_users_create(struct req *r);
void h_user_get(struct req *r);
void h_user_disable(struct req *r);
void h_user_enable(struct req *r);
void h_user_unlock(struct req *r);
void h_user_reset_password(struct req *r);
void h_user_role(struct req *r);
void h_user_mfa_reset(struct req *r);
void h_user_sessions(struct req *r);
void h_user_sessions_revoke(struct req *r);
void h_depts_list(struct req *r);
void h_depts_create(struct req *r);
void h_policy_get(struct req *r);
void h_policy_put(struct req *r);
void h_audit_list(struct req *r);
void h_audit_verify(struct req *r);
void h_audit_export(struct req *r);

/* Route matching (api.c): '*' binds one non-empty path segment of
 * < API_PARAM_MAX bytes into params (at most 2).  Exposed for the fuzz target. */
bool api_path_match(const char *pattern, const char *path, char params[2][API_PARAM_MAX], int *nparams);

/* shared helpers (api_auth.c) */
json_t *api_sessions_json(struct req *r, int64_t user_id, const uint8_t *current);
/* Revokes tickets of a user (except keep), closes their sockets, audits. */
int api_revoke_user_sessions(struct req *r, int64_t user_id, const uint8_t *keep,
                             const char *why, int *n);
/* Counts a failed credential check against the address. */
void api_credential_failed(struct req *r);
/* Loads a user of the caller's tenant by the path parameter; replies 404. */
bool api_load_target(struct req *r, struct store_user *u);
/* The i-th '*' of the path as a positive id; answers 404 itself. */
bool api_path_id(struct req *r, int i, int64_t *out);
/* Audits a document operation (object "document:<id>"). */
void api_audit_doc(struct req *r, const char *event, int64_t doc, const char *outcome, const char *detail);

/* api_chat.c */
void h_directory(struct req *r);
void h_convs_list(struct req *r);
void h_convs_create(struct req *r);
void h_conv_get(struct req *r);
void h_conv_patch(struct req *r);
void h_conv_delete(struct req *r);
void h_conv_hold(struct req *r);
void h_conv_members(struct req *r);
void h_conv_members_add(struct req *r);
void h_conv_join(struct req *r);
void h_conv_member_patch(struct req *r);
void h_conv_member_delete(struct req *r);
void h_conv_transfer(struct req *r);
void h_conv_messages(struct req *r);
void h_conv_messages_post(struct req *r);
void h_conv_read(struct req *r);
void h_msg_patch(struct req *r);
void h_msg_recall(struct req *r);
void h_msg_reactions(struct req *r);
void h_msg_forward(struct req *r);
void h_search(struct req *r);
void h_blocklist_list(struct req *r);
void h_blocklist_add(struct req *r);
void h_blocklist_import(struct req *r);
void h_blocklist_delete(struct req *r);
/* api_docs.c */
void h_folders_list(struct req *r);
void h_folders_create(struct req *r);
void h_folder_patch(struct req *r);
void h_folder_delete(struct req *r);
void h_docs_list(struct req *r);
void h_docs_create(struct req *r);
void h_doc_get(struct req *r);
void h_doc_patch(struct req *r);
void h_doc_delete(struct req *r);
void h_doc_duplicate(struct req *r);
void h_doc_restore(struct req *r);
void h_doc_purge(struct req *r);
void h_doc_perms_get(struct req *r);
void h_doc_perms_put(struct req *r);
void h_doc_versions(struct req *r);
void h_doc_version_create(struct req *r);
void h_doc_version_get(struct req *r);
void h_doc_version_restore(struct req *r);

/* api_doclinks.c */
void h_doc_labels(struct req *r);
void h_doc_import(struct req *r);
void h_doc_policy(struct req *r);
void h_doc_classify(struct req *r);
void h_doc_event(struct req *r);
void h_doc_export(struct req *r);
void h_doc_links_list(struct req *r);
void h_doc_links_create(struct req *r);
void h_doc_link_revoke(struct req *r);
void h_doc_link_open(struct req *r);
void h_doc_comments(struct req *r);
void h_doc_comment_create(struct req *r);
void h_doc_comment_patch(struct req *r);

/* api_files.c */
void h_upload_start(struct req *r);
void h_upload_chunk(struct req *r);
void h_upload_finish(struct req *r);
void h_file_get(struct req *r);
void files_tick(void);
void chat_file_unlink(const char *data_dir, int64_t tenant_id, int64_t file_id);
/* Maps a BW_E* from the store to a reply. */
void api_store_error(struct req *r, int rc);

#endif
