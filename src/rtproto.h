/*
 * rtproto.h — the parser of client frames on the realtime WebSocket
 * (docs/realtime.md): one JSON object per frame, validated completely here
 * before any of it reaches the chat logic (WC-TRANS, IN-SURGE).
 *
 * Rules: a JSON object (duplicate keys refused) of at most WS_RX_MAX bytes
 * with a known "type"; ids are non-negative integers; "cid" is 1–64 of
 * [A-Za-z0-9_-]; "body" is valid UTF-8 of at most RTPROTO_BODY_MAX bytes;
 * members a type does not define are ignored.
 */
#ifndef BW_RTPROTO_H
#define BW_RTPROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTPROTO_BODY_MAX (8 * 1024)
#define RTPROTO_CID_MAX 64

enum rt_type { RT_RESUME = 1, RT_SEND, RT_TYPING, RT_READ, RT_PING, RT_PONG,
               RT_DOC_OPEN, RT_DOC_OP, RT_DOC_CURSOR, RT_DOC_CLOSE };
#define RTPROTO_OID_MAX 64

struct rt_in {
	int type;
	bool has_since;
	int64_t since, conv, msg, reply_to, thread_root;
	char cid[RTPROTO_CID_MAX + 1];
	const char *body;          /* points into root; valid until rtproto_free */
	size_t body_len;
	/* documents (docs/collab.md) */
	int64_t doc, rev, index, length;
	char oid[RTPROTO_OID_MAX + 1];
	json_t *op;                /* the "op" member (object or array), borrowed from root */
	json_t *root;
};

/* 0 with *out filled (free with rtproto_free), or BW_EINVAL / BW_ETOOBIG
 * with *code ("invalid_request", "too_large") and *err (a static message). */
int rtproto_parse(const char *buf, size_t n, struct rt_in *out, const char **code,
                  const char **err);
void rtproto_free(struct rt_in *in);

#endif
