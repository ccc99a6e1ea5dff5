/*
 * rtproto.c — client-frame parser of the realtime protocol (see rtproto.h):
 * every frame a client sends on /api/v1/events is validated here, bounded
 * and typed, before chat.c or docs.c sees it (WC-TRANS, IN-SURGE, RG-IM-a,
 * RG-DOC-h).
 */
#include "rtproto.h"
#include "util.h"

#include <string.h>

/* Members a type does not define are ignored (newer clients may add some). */
static const struct { const char *name; int type; } types[] = {
	{ "resume", RT_RESUME }, { "send", RT_SEND }, { "typing", RT_TYPING },
	{ "read", RT_READ }, { "ping", RT_PING }, { "pong", RT_PONG },
	{ "doc.open", RT_DOC_OPEN }, { "doc.op", RT_DOC_OP }, { "doc.cursor", RT_DOC_CURSOR },
	{ "doc.close", RT_DOC_CLOSE },
};

static bool token_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 1 && n <= max &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static bool id_of(json_t *o, const char *key, bool required, int64_t *out)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) {
		*out = 0;
		return !required;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = json_integer_value(v);
	return true;
}

int rtproto_parse(const char *buf, size_t n, struct rt_in *out, const char **code,
                  const char **err)
{
	memset(out, 0, sizeof *out);
	*code = "invalid_request";
	json_error_t jerr;
	json_t *o = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr);
	const char *type = json_is_object(o) ? json_string_value(json_object_get(o, "type")) : NULL;
	size_t t;
	for (t = 0; type && t < BW_ARRAY_LEN(types); t++)
		if (strcmp(type, types[t].name) == 0)
			break;
	if (!type || t == BW_ARRAY_LEN(types)) {
		*err = type ? "unknown type" : "expected a JSON object with a type";
		json_decref(o);
		return BW_EINVAL;
	}
	out->type = types[t].type;
	out->root = o;
	int rc = BW_EINVAL;
	switch (out->type) {
	case RT_RESUME: {
		json_t *s = json_object_get(o, "since");
		out->has_since = s && !json_is_null(s);
		if (out->has_since && !id_of(o, "since", true, &out->since)) {
			*err = "since must be a sequence number";
			goto fail;
		}
		break;
	}
	case RT_SEND: {
		json_t *b = json_object_get(o, "body");
		const char *cid = json_string_value(json_object_get(o, "cid"));
		size_t cl = cid ? strlen(cid) : 0;
		if (!cid || cl < 1 || cl > RTPROTO_CID_MAX ||
		    strspn(cid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != cl) {
			*err = "cid must be 1-64 characters of A-Z a-z 0-9 _ -";
			goto fail;
		}
		memcpy(out->cid, cid, cl + 1);
		if (!id_of(o, "conv", true, &out->conv) || !id_of(o, "reply_to", false, &out->reply_to) ||
		    !id_of(o, "thread_root", false, &out->thread_root)) {
			*err = "conv, reply_to and thread_root must be ids";
			goto fail;
		}
		if (!json_is_string(b)) {
			*err = "body must be a string";
			goto fail;
		}
		out->body = json_string_value(b);
		out->body_len = json_string_length(b);
		if (out->body_len > RTPROTO_BODY_MAX) {
			*code = "too_large";
			*err = "the message is longer than 8 KiB";
			rc = BW_ETOOBIG;
			goto fail;
		}
		if (!bw_utf8_valid(out->body, out->body_len, true)) {
			*err = "the message is not valid text";
			goto fail;
		}
		break;
	}
	case RT_TYPING:
		if (!id_of(o, "conv", true, &out->conv)) {
			*err = "conv must be an id";
			goto fail;
		}
		break;
	case RT_READ:
		if (!id_of(o, "conv", true, &out->conv) || !id_of(o, "msg", true, &out->msg)) {
			*err = "conv and msg must be ids";
			goto fail;
		}
		break;
	case RT_DOC_OPEN:
	case RT_DOC_CLOSE:
		if (!id_of(o, "doc", true, &out->doc)) {
			*err = "doc must be an id";
			goto fail;
		}
		break;
	case RT_DOC_CURSOR:
		if (!id_of(o, "doc", true, &out->doc) || !id_of(o, "index", true, &out->index) ||
		    !id_of(o, "length", false, &out->length)) {
			*err = "doc, index and length must be non-negative integers";
			goto fail;
		}
		break;
	case RT_DOC_OP: {
		const char *oid = json_string_value(json_object_get(o, "oid"));
		if (!token_ok(oid, RTPROTO_OID_MAX)) {
			*err = "oid must be 1-64 characters of A-Z a-z 0-9 _ -";
			goto fail;
		}
		memcpy(out->oid, oid, strlen(oid) + 1);
		if (!id_of(o, "doc", true, &out->doc) || !id_of(o, "rev", true, &out->rev)) {
			*err = "doc and rev must be non-negative integers";
			goto fail;
		}
		out->op = json_object_get(o, "op");
		if (!json_is_object(out->op) && !json_is_array(out->op)) {
			*err = "op must be a delta";
			goto fail;
		}
		break;
	}
	default:
		break;
	}
	return 0;
fail:
	/* keep the cid for the nack when there is one */
	json_decref(o);
	out->root = NULL;
	out->body = NULL;
	out->op = NULL;
	return rc;
}

void rtproto_free(struct rt_in *in)
{
	json_decref(in->root);
	in->root = NULL;
	in->body = NULL;
	in->op = NULL;
}
