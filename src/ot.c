/*
 * ot.c — operational transformation on Quill Deltas (see ot.h for the
 * format, the limits and the ownership rules).
 *
 * This is a transcription of quill-delta 5.1.0 (lib/Delta.ts compose,
 * transform, transformPosition, push, chop, concat; lib/OpIterator.ts;
 * lib/AttributeMap.ts compose and transform) onto a C representation:
 *  - an op owns its UTF-8 text (a growable buffer, so that merging the
 *    adjacent inserts push() produces is amortised linear), its embed
 *    object and its attribute object (jansson values, shared by reference
 *    and never mutated once built, keys in sorted order);
 *  - lengths are UTF-16 code units; the iterator keeps a UTF-16 offset and
 *    the matching byte offset into the current op's text, and refuses
 *    (BW_EINVAL) to cut between the two halves of a surrogate pair, the
 *    one place where quill-delta would produce lone surrogates;
 *  - JavaScript's Infinity (the implicit retain past the end of a delta)
 *    is OT_INF with a flag on the piece.
 * Invariants of every struct ot_delta: no zero-length op, no empty text,
 * attrs NULL or a non-empty object, no attributes on deletes, normalised
 * as Delta.push() leaves it (parse pushes each op; every result is built
 * by push or by appending a suffix of a normalised input, as quill does).
 *
 * Requirement IDs: RG-DOC-a…h context (the co-editing of RG-DOC documents:
 * the server is authoritative, transforms every operation, and rejects
 * malformed or oversize operations with a clear error).
 */
#include "ot.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { OT_INSERT = 1, OT_EMBED, OT_RETAIN, OT_DELETE };

#define OT_INF INT64_MAX
#define OT_SAFE_INT 9007199254740992LL  /* 2^53: JavaScript's exact integers */
#define OT_SCALAR_PAYLOAD 8             /* payload bytes of a number/bool/null */

struct ot_op {
	int type;
	int64_t len;        /* UTF-16 code units (1 for an embed) */
	char *text;         /* OT_INSERT: owned, text_len bytes + NUL */
	size_t text_len;
	size_t text_cap;
	json_t *embed;      /* OT_EMBED: owned reference */
	json_t *attrs;      /* NULL or non-empty object; owned reference */
};

struct ot_delta {
	struct ot_op *ops;
	size_t n;
	size_t cap;
};

/* What OpIterator.next() returns; everything borrowed from the source. */
struct ot_piece {
	int type;
	int64_t len;        /* OT_INF for the retain past the end */
	const char *text;
	size_t text_len;
	json_t *embed;
	json_t *attrs;
};

struct ot_iter {
	const struct ot_delta *d;
	size_t index;
	int64_t offset;     /* UTF-16 units into ops[index] */
	size_t byte_off;    /* the same offset in bytes (text ops) */
};

struct ot_limits {
	size_t ops_max;
	size_t payload_max;
	bool document;
};

static const struct ot_limits ot_change_limits = { OT_OPS_MAX, OT_TEXT_MAX, false };
static const struct ot_limits ot_document_limits = { OT_DOC_OPS_MAX, OT_DOC_MAX, true };

static bool ot_is_insert(int type)
{
	return type == OT_INSERT || type == OT_EMBED;
}

/* ---------------------------------------------------------------- delta */

static void ot_op_clear(struct ot_op *op)
{
	free(op->text);
	if (op->embed)
		json_decref(op->embed);
	if (op->attrs)
		json_decref(op->attrs);
	memset(op, 0, sizeof *op);
}

void ot_free(struct ot_delta *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		ot_op_clear(&d->ops[i]);
	free(d->ops);
	free(d);
}

int ot_new(struct ot_delta **out)
{
	struct ot_delta *d = calloc(1, sizeof *d);
	if (!d)
		return BW_ENOMEM;
	*out = d;
	return 0;
}

size_t ot_op_count(const struct ot_delta *d)
{
	return d->n;
}

/* Room for one more op. */
static int ot_delta_reserve(struct ot_delta *d)
{
	if (d->n < d->cap)
		return 0;
	size_t cap = d->cap ? d->cap * 2 : 8;
	if (cap > SIZE_MAX / sizeof *d->ops)
		return BW_ENOMEM;
	struct ot_op *ops = realloc(d->ops, cap * sizeof *ops);
	if (!ops)
		return BW_ENOMEM;
	d->ops = ops;
	d->cap = cap;
	return 0;
}

/* Appends n bytes to op's text buffer (amortised doubling). */
static int ot_text_append(struct ot_op *op, const char *p, size_t n)
{
	if (n > SIZE_MAX / 4 - op->text_len)
		return BW_ENOMEM;
	size_t need = op->text_len + n + 1;
	if (need > op->text_cap) {
		size_t cap = op->text_cap ? op->text_cap : 16;
		while (cap < need)
			cap *= 2;
		char *t = realloc(op->text, cap);
		if (!t)
			return BW_ENOMEM;
		op->text = t;
		op->text_cap = cap;
	}
	memcpy(op->text + op->text_len, p, n);
	op->text_len += n;
	op->text[op->text_len] = '\0';
	return 0;
}

/* A new op holding copies / references of the piece's contents. */
static int ot_op_from_piece(struct ot_op *op, const struct ot_piece *p)
{
	memset(op, 0, sizeof *op);
	op->type = p->type;
	op->len = p->len;
	if (p->type == OT_INSERT) {
		int rc = ot_text_append(op, p->text, p->text_len);
		if (rc < 0)
			return rc;
	} else if (p->type == OT_EMBED) {
		op->embed = json_incref(p->embed);
	}
	if (p->attrs && p->type != OT_DELETE)
		op->attrs = json_incref(p->attrs);
	return 0;
}

static bool ot_attrs_equal(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return a == b;
	return a == b || json_equal(a, b);
}

/* Appends without merging (the raw ops.push / Array.concat of quill). */
static int ot_delta_append_raw(struct ot_delta *d, const struct ot_piece *p)
{
	int rc = ot_delta_reserve(d);
	if (rc < 0)
		return rc;
	rc = ot_op_from_piece(&d->ops[d->n], p);
	if (rc < 0) {
		ot_op_clear(&d->ops[d->n]);
		return rc;
	}
	d->n++;
	return 0;
}

/*
 * Delta.push(): merges with the last op when possible.  *appended (may be
 * NULL) tells whether the piece became a new last op — exactly when
 * quill's isEqual(delta.ops[delta.ops.length - 1], newOp) holds after it.
 */
static int ot_delta_push(struct ot_delta *d, const struct ot_piece *p, bool *appended)
{
	size_t index = d->n;
	struct ot_op *last = index ? &d->ops[index - 1] : NULL;
	if (appended)
		*appended = false;
	if (last) {
		if (p->type == OT_DELETE && last->type == OT_DELETE) {
			if (last->len > OT_INF - p->len)
				return BW_ETOOBIG;
			last->len += p->len;
			return 0;
		}
		if (last->type == OT_DELETE && ot_is_insert(p->type)) {
			index--;
			last = index ? &d->ops[index - 1] : NULL;
		}
		if (last && ot_attrs_equal(p->attrs, last->attrs)) {
			if (p->type == OT_INSERT && last->type == OT_INSERT) {
				if (last->len > OT_INF - p->len)
					return BW_ETOOBIG;
				int rc = ot_text_append(last, p->text, p->text_len);
				if (rc < 0)
					return rc;
				last->len += p->len;
				return 0;
			}
			if (p->type == OT_RETAIN && last->type == OT_RETAIN) {
				if (last->len > OT_INF - p->len)
					return BW_ETOOBIG;
				last->len += p->len;
				return 0;
			}
		}
	}
	int rc = ot_delta_reserve(d);
	if (rc < 0)
		return rc;
	struct ot_op op;
	rc = ot_op_from_piece(&op, p);
	if (rc < 0) {
		ot_op_clear(&op);
		return rc;
	}
	if (index < d->n)
		memmove(&d->ops[index + 1], &d->ops[index], (d->n - index) * sizeof op);
	d->ops[index] = op;
	d->n++;
	if (appended)
		*appended = index == d->n - 1;
	return 0;
}

/* Delta.chop(): drops a trailing retain without attributes. */
static void ot_delta_chop(struct ot_delta *d)
{
	if (d->n && d->ops[d->n - 1].type == OT_RETAIN && !d->ops[d->n - 1].attrs)
		ot_op_clear(&d->ops[--d->n]);
}

/* ------------------------------------------------------------- iterator */

static void ot_iter_init(struct ot_iter *it, const struct ot_delta *d)
{
	memset(it, 0, sizeof *it);
	it->d = d;
}

static bool ot_iter_has_next(const struct ot_iter *it)
{
	return it->index < it->d->n;
}

static int64_t ot_iter_peek_len(const struct ot_iter *it)
{
	if (it->index < it->d->n)
		return it->d->ops[it->index].len - it->offset;
	return OT_INF;
}

static int ot_iter_peek_type(const struct ot_iter *it)
{
	if (it->index < it->d->n)
		return it->d->ops[it->index].type;
	return OT_RETAIN;
}

/* Bytes of the UTF-8 sequence led by c (input is valid UTF-8). */
static size_t ot_utf8_seq_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c < 0xe0)
		return 2;
	if (c < 0xf0)
		return 3;
	return 4;
}

/*
 * OpIterator.next(length); length 0 means "the rest of the op" (quill's
 * `if (!length) length = Infinity`).  BW_EINVAL when the cut would fall
 * between the halves of a surrogate pair; the iterator is then unusable.
 */
static int ot_iter_next(struct ot_iter *it, int64_t length, struct ot_piece *p)
{
	memset(p, 0, sizeof *p);
	if (it->index >= it->d->n) {
		p->type = OT_RETAIN;
		p->len = OT_INF;
		return 0;
	}
	const struct ot_op *op = &it->d->ops[it->index];
	int64_t rest = op->len - it->offset;
	bool whole = length <= 0 || length >= rest;
	int64_t take = whole ? rest : length;
	size_t end = it->byte_off;
	p->type = op->type;
	p->len = take;
	if (op->type != OT_DELETE)
		p->attrs = op->attrs;
	if (op->type == OT_INSERT) {
		if (whole) {
			end = op->text_len;
		} else {
			int64_t units = 0;
			while (units < take) {
				size_t k = ot_utf8_seq_len((unsigned char)op->text[end]);
				int64_t u = k == 4 ? 2 : 1;
				if (units + u > take)
					return BW_EINVAL;       /* would split a surrogate pair */
				units += u;
				end += k;
			}
		}
		p->text = op->text + it->byte_off;
		p->text_len = end - it->byte_off;
	} else if (op->type == OT_EMBED) {
		p->embed = op->embed;
	}
	if (whole) {
		it->index++;
		it->offset = 0;
		it->byte_off = 0;
	} else {
		it->offset += take;
		it->byte_off = end;
	}
	return 0;
}

/* ----------------------------------------------------------- attributes */

struct ot_kv {
	const char *key;
	json_t *val;        /* borrowed */
};

static int ot_kv_cmp(const void *x, const void *y)
{
	return strcmp(((const struct ot_kv *)x)->key, ((const struct ot_kv *)y)->key);
}

/* A new object of the n pairs with sorted keys; *out NULL when n is 0. */
static int ot_attrs_build(struct ot_kv *kv, size_t n, json_t **out)
{
	if (n == 0) {
		*out = NULL;
		return 0;
	}
	qsort(kv, n, sizeof *kv, ot_kv_cmp);
	json_t *o = json_object();
	if (!o)
		return BW_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (json_object_set(o, kv[i].key, kv[i].val) < 0) {
			json_decref(o);
			return BW_ENOMEM;
		}
	}
	*out = o;
	return 0;
}

/* AttributeMap.compose(a, b, keepNull); *out is a new reference or NULL. */
static int ot_attrs_compose(json_t *a, json_t *b, bool keep_null, json_t **out)
{
	size_t na = a ? json_object_size(a) : 0, nb = b ? json_object_size(b) : 0;
	if (na == 0 && nb == 0) {
		*out = NULL;
		return 0;
	}
	struct ot_kv *kv = calloc(na + nb, sizeof *kv);
	if (!kv)
		return BW_ENOMEM;
	size_t n = 0;
	const char *key;
	json_t *val;
	if (b) {
		json_object_foreach(b, key, val) {
			if (keep_null || !json_is_null(val))
				kv[n++] = (struct ot_kv){ key, val };
		}
	}
	if (a) {
		json_object_foreach(a, key, val) {
			if (!b || !json_object_get(b, key))
				kv[n++] = (struct ot_kv){ key, val };
		}
	}
	int rc = ot_attrs_build(kv, n, out);
	free(kv);
	return rc;
}

/* AttributeMap.transform(a, b, priority); *out is a new reference or NULL. */
static int ot_attrs_transform(json_t *a, json_t *b, bool priority, json_t **out)
{
	if (!a || !b || !priority) {
		*out = b ? json_incref(b) : NULL;
		return 0;
	}
	size_t nb = json_object_size(b);
	struct ot_kv *kv = calloc(nb ? nb : 1, sizeof *kv);
	if (!kv)
		return BW_ENOMEM;
	size_t n = 0;
	const char *key;
	json_t *val;
	json_object_foreach(b, key, val) {
		if (!json_object_get(a, key))
			kv[n++] = (struct ot_kv){ key, val };
	}
	int rc = ot_attrs_build(kv, n, out);
	free(kv);
	return rc;
}

/* -------------------------------------------------------------- compose */

int ot_compose(const struct ot_delta *a, const struct ot_delta *b, struct ot_delta **out)
{
	struct ot_delta *d = NULL;
	struct ot_iter ai, bi;
	struct ot_piece tp, op;
	json_t *attrs = NULL;
	int rc = ot_new(&d);
	if (rc < 0)
		return rc;
	ot_iter_init(&ai, a);
	ot_iter_init(&bi, b);

	/* Leading plain retain of b: copy a's whole inserts it covers. */
	if (b->n && b->ops[0].type == OT_RETAIN && !b->ops[0].attrs) {
		int64_t first_left = b->ops[0].len;
		while (ot_is_insert(ot_iter_peek_type(&ai)) && ot_iter_peek_len(&ai) <= first_left) {
			first_left -= ot_iter_peek_len(&ai);
			if ((rc = ot_iter_next(&ai, 0, &tp)) < 0 ||
			    (rc = ot_delta_append_raw(d, &tp)) < 0)
				goto out;
		}
		if (b->ops[0].len - first_left > 0 &&
		    (rc = ot_iter_next(&bi, b->ops[0].len - first_left, &op)) < 0)
			goto out;
	}

	while (ot_iter_has_next(&ai) || ot_iter_has_next(&bi)) {
		if (ot_is_insert(ot_iter_peek_type(&bi))) {
			if ((rc = ot_iter_next(&bi, 0, &op)) < 0 || (rc = ot_delta_push(d, &op, NULL)) < 0)
				goto out;
			continue;
		}
		if (ot_iter_peek_type(&ai) == OT_DELETE) {
			if ((rc = ot_iter_next(&ai, 0, &tp)) < 0 || (rc = ot_delta_push(d, &tp, NULL)) < 0)
				goto out;
			continue;
		}
		int64_t la = ot_iter_peek_len(&ai), lb = ot_iter_peek_len(&bi);
		int64_t length = la < lb ? la : lb;
		if ((rc = ot_iter_next(&ai, length, &tp)) < 0 || (rc = ot_iter_next(&bi, length, &op)) < 0)
			goto out;
		if (op.type == OT_RETAIN) {
			struct ot_piece np = tp;
			if (tp.type == OT_RETAIN)
				np.len = length;
			/* keep nulls when composing onto a retain, drop them on inserts */
			if ((rc = ot_attrs_compose(tp.attrs, op.attrs, tp.type == OT_RETAIN, &attrs)) < 0)
				goto out;
			np.attrs = attrs;
			bool appended;
			rc = ot_delta_push(d, &np, &appended);
			if (attrs)
				json_decref(attrs);
			attrs = NULL;
			if (rc < 0)
				goto out;
			/* the rest of b is a plain retain: concat the rest of a */
			if (!ot_iter_has_next(&bi) && appended) {
				if (ot_iter_has_next(&ai)) {
					if ((rc = ot_iter_next(&ai, 0, &tp)) < 0 ||
					    (rc = ot_delta_push(d, &tp, NULL)) < 0)
						goto out;
				}
				while (ot_iter_has_next(&ai)) {
					if ((rc = ot_iter_next(&ai, 0, &tp)) < 0 ||
					    (rc = ot_delta_append_raw(d, &tp)) < 0)
						goto out;
				}
				break;
			}
		} else if (op.type == OT_DELETE && tp.type == OT_RETAIN) {
			if ((rc = ot_delta_push(d, &op, NULL)) < 0)
				goto out;
		}
		/* else: insert + delete cancel out */
	}
	ot_delta_chop(d);
	*out = d;
	d = NULL;
out:
	ot_free(d);
	return rc;
}

/* ------------------------------------------------------------ transform */

int ot_transform(const struct ot_delta *a, const struct ot_delta *b, bool priority,
                 struct ot_delta **out)
{
	struct ot_delta *d = NULL;
	struct ot_iter ai, bi;
	struct ot_piece tp, op;
	int rc = ot_new(&d);
	if (rc < 0)
		return rc;
	ot_iter_init(&ai, a);
	ot_iter_init(&bi, b);
	while (ot_iter_has_next(&ai) || ot_iter_has_next(&bi)) {
		if (ot_is_insert(ot_iter_peek_type(&ai)) &&
		    (priority || !ot_is_insert(ot_iter_peek_type(&bi)))) {
			if ((rc = ot_iter_next(&ai, 0, &tp)) < 0)
				goto out;
			struct ot_piece r = { .type = OT_RETAIN, .len = tp.len };
			if ((rc = ot_delta_push(d, &r, NULL)) < 0)
				goto out;
		} else if (ot_is_insert(ot_iter_peek_type(&bi))) {
			if ((rc = ot_iter_next(&bi, 0, &op)) < 0 || (rc = ot_delta_push(d, &op, NULL)) < 0)
				goto out;
		} else {
			int64_t la = ot_iter_peek_len(&ai), lb = ot_iter_peek_len(&bi);
			int64_t length = la < lb ? la : lb;
			if ((rc = ot_iter_next(&ai, length, &tp)) < 0 ||
			    (rc = ot_iter_next(&bi, length, &op)) < 0)
				goto out;
			if (tp.type == OT_DELETE)
				continue;   /* our delete makes theirs redundant or removes their retain */
			if (op.type == OT_DELETE) {
				if ((rc = ot_delta_push(d, &op, NULL)) < 0)
					goto out;
				continue;
			}
			json_t *attrs = NULL;
			if ((rc = ot_attrs_transform(tp.attrs, op.attrs, priority, &attrs)) < 0)
				goto out;
			struct ot_piece r = { .type = OT_RETAIN, .len = length, .attrs = attrs };
			rc = ot_delta_push(d, &r, NULL);
			if (attrs)
				json_decref(attrs);
			if (rc < 0)
				goto out;
		}
	}
	ot_delta_chop(d);
	*out = d;
	d = NULL;
out:
	ot_free(d);
	return rc;
}

int64_t ot_transform_position(const struct ot_delta *d, int64_t index, bool priority)
{
	int64_t offset = 0;
	for (size_t i = 0; i < d->n && offset <= index; i++) {
		int64_t length = d->ops[i].len;
		int type = d->ops[i].type;
		if (type == OT_DELETE) {
			int64_t room = index - offset;  /* >= 0 by the loop condition */
			index -= length < room ? length : room;
			continue;
		}
		if (ot_is_insert(type) && (offset < index || !priority))
			index = index > OT_INF - length ? OT_INF : index + length;
		offset = offset > OT_INF - length ? OT_INF : offset + length;
	}
	return index;
}

/* -------------------------------------------------------------- lengths */

int64_t ot_base_len(const struct ot_delta *d)
{
	int64_t n = 0;
	for (size_t i = 0; i < d->n; i++)
		if (d->ops[i].type == OT_RETAIN || d->ops[i].type == OT_DELETE)
			n = n > OT_INF - d->ops[i].len ? OT_INF : n + d->ops[i].len;
	return n;
}

int64_t ot_target_len(const struct ot_delta *d)
{
	int64_t n = 0;
	for (size_t i = 0; i < d->n; i++)
		if (d->ops[i].type != OT_DELETE)
			n = n > OT_INF - d->ops[i].len ? OT_INF : n + d->ops[i].len;
	return n;
}

bool ot_is_document(const struct ot_delta *d)
{
	for (size_t i = 0; i < d->n; i++)
		if (!ot_is_insert(d->ops[i].type))
			return false;
	return true;
}

static size_t ot_value_payload(const json_t *v)
{
	return json_is_string(v) ? json_string_length(v) : OT_SCALAR_PAYLOAD;
}

static size_t ot_attrs_payload(json_t *attrs)
{
	size_t n = 0;
	const char *key;
	json_t *val;
	if (!attrs)
		return 0;
	json_object_foreach(attrs, key, val)
		n += strlen(key) + ot_value_payload(val);
	return n;
}

/* Payload bytes (see ot.h); saturates at SIZE_MAX. */
static size_t ot_delta_payload(const struct ot_delta *d)
{
	size_t n = 0;
	for (size_t i = 0; i < d->n; i++) {
		const struct ot_op *op = &d->ops[i];
		size_t k = op->text_len + ot_attrs_payload(op->attrs);
		if (op->embed)
			k += ot_attrs_payload(op->embed);
		n = n > SIZE_MAX - k ? SIZE_MAX : n + k;
	}
	return n;
}

int ot_apply(const struct ot_delta *doc, const struct ot_delta *change, struct ot_delta **out)
{
	struct ot_delta *r = NULL;
	if (!ot_is_document(doc) || ot_base_len(change) > ot_target_len(doc))
		return BW_EINVAL;
	int rc = ot_compose(doc, change, &r);
	if (rc < 0)
		return rc;
	if (!ot_is_document(r)) {
		rc = BW_EINVAL;     /* cannot happen given the base-length check */
		goto out;
	}
	if (r->n > OT_DOC_OPS_MAX || ot_delta_payload(r) > OT_DOC_MAX) {
		rc = BW_ETOOBIG;
		goto out;
	}
	for (size_t i = 0; i < r->n; i++) {
		if (r->ops[i].attrs && json_object_size(r->ops[i].attrs) > OT_ATTR_MAX) {
			rc = BW_ETOOBIG;
			goto out;
		}
	}
	*out = r;
	r = NULL;
out:
	ot_free(r);
	return rc;
}

char *ot_text(const struct ot_delta *doc, size_t *len)
{
	static const char obj_repl[] = "\xef\xbf\xbc";     /* U+FFFC */
	size_t n = 0;
	if (!ot_is_document(doc))
		return NULL;
	for (size_t i = 0; i < doc->n; i++)
		n += doc->ops[i].type == OT_INSERT ? doc->ops[i].text_len : 3;
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	size_t off = 0;
	for (size_t i = 0; i < doc->n; i++) {
		if (doc->ops[i].type == OT_INSERT) {
			memcpy(s + off, doc->ops[i].text, doc->ops[i].text_len);
			off += doc->ops[i].text_len;
		} else {
			memcpy(s + off, obj_repl, 3);
			off += 3;
		}
	}
	s[off] = '\0';
	if (len)
		*len = off;
	return s;
}

/* ---------------------------------------------------------------- parse */

/* Valid UTF-8 without NUL; *units gets the UTF-16 length. */
static bool ot_utf8_units(const char *str, size_t n, int64_t *units)
{
	const unsigned char *s = (const unsigned char *)str;
	int64_t u = 0;
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t len;
		unsigned cp, min;
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			u++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; min = 0x80; }
		else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
		else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; min = 0x10000; }
		else return false;
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
		u += len == 4 ? 2 : 1;
	}
	*units = u;
	return true;
}

/* [A-Za-z][A-Za-z0-9_-]{0,63} */
static bool ot_key_valid(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > OT_KEY_MAX)
		return false;
	if (!((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z')))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* A canonical copy of a scalar value (integral reals become integers). */
static int ot_value_copy(json_t *v, bool allow_null, json_t **out)
{
	json_t *c = NULL;
	int64_t units;
	switch (json_typeof(v)) {
	case JSON_STRING:
		if (json_string_length(v) > OT_VALUE_MAX)
			return BW_ETOOBIG;
		if (!ot_utf8_units(json_string_value(v), json_string_length(v), &units))
			return BW_EINVAL;
		c = json_stringn(json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		if (json_integer_value(v) > OT_SAFE_INT || json_integer_value(v) < -OT_SAFE_INT)
			return BW_EINVAL;
		c = json_integer(json_integer_value(v));
		break;
	case JSON_REAL: {
		double x = json_real_value(v);
		if (!isfinite(x))
			return BW_EINVAL;
		if (x >= -(double)OT_SAFE_INT && x <= (double)OT_SAFE_INT &&
		    x == (double)(json_int_t)x)
			c = json_integer((json_int_t)x);     /* 1.0 is 1, -0.0 is 0 */
		else
			c = json_real(x);
		break;
	}
	case JSON_TRUE:
	case JSON_FALSE:
		c = json_boolean(json_is_true(v));
		break;
	case JSON_NULL:
		if (!allow_null)
			return BW_EINVAL;
		c = json_null();
		break;
	default:
		return BW_EINVAL;   /* nested objects and arrays */
	}
	if (!c)
		return BW_ENOMEM;
	*out = c;
	return 0;
}

/* Validates a flat object into a canonical sorted copy (NULL when empty). */
static int ot_parse_flat(json_t *obj, size_t max_keys, bool allow_null, json_t **out)
{
	size_t n = json_object_size(obj);
	if (n > max_keys)
		return BW_ETOOBIG;
	struct ot_kv kv[OT_ATTR_MAX];
	size_t k = 0;
	const char *key;
	json_t *val;
	int rc = 0;
	json_object_foreach(obj, key, val) {
		if (k >= max_keys || k >= OT_ATTR_MAX) {
			rc = BW_ETOOBIG;
			goto out;
		}
		if (!ot_key_valid(key)) {
			rc = BW_EINVAL;
			goto out;
		}
		kv[k].key = key;
		if ((rc = ot_value_copy(val, allow_null, &kv[k].val)) < 0)
			goto out;
		k++;
	}
	rc = ot_attrs_build(kv, k, out);
out:
	for (size_t i = 0; i < k; i++)
		json_decref(kv[i].val);
	return rc;
}

static int ot_parse_count(json_t *v, int64_t *out)
{
	if (!json_is_integer(v))
		return BW_EINVAL;   /* reals, strings, embed retains */
	json_int_t n = json_integer_value(v);
	if (n <= 0)
		return BW_EINVAL;
	if (n > OT_DOC_MAX)
		return BW_ETOOBIG;
	*out = n;
	return 0;
}

/* One op of the input: validated and pushed onto d; *payload grows. */
static int ot_parse_op(json_t *jop, const struct ot_limits *lim, struct ot_delta *d,
                       size_t *payload, int64_t *base)
{
	json_t *ins = NULL, *ret = NULL, *del = NULL, *jattrs = NULL;
	json_t *attrs = NULL, *embed = NULL;
	struct ot_piece p = { 0 };
	const char *key;
	json_t *val;
	int rc = 0;
	if (!json_is_object(jop))
		return BW_EINVAL;
	json_object_foreach(jop, key, val) {
		if (strcmp(key, "insert") == 0)
			ins = val;
		else if (strcmp(key, "retain") == 0)
			ret = val;
		else if (strcmp(key, "delete") == 0)
			del = val;
		else if (strcmp(key, "attributes") == 0)
			jattrs = val;
		else
			return BW_EINVAL;
	}
	if ((ins != NULL) + (ret != NULL) + (del != NULL) != 1)
		return BW_EINVAL;
	if (jattrs && !json_is_null(jattrs)) {
		if (del || !json_is_object(jattrs))
			return BW_EINVAL;
		if ((rc = ot_parse_flat(jattrs, OT_ATTR_MAX, true, &attrs)) < 0)
			return rc;
		*payload += ot_attrs_payload(attrs);
	}
	p.attrs = attrs;
	if (ins && json_is_string(ins)) {
		p.type = OT_INSERT;
		p.text = json_string_value(ins);
		p.text_len = json_string_length(ins);
		if (p.text_len > lim->payload_max) {
			rc = BW_ETOOBIG;
			goto out;
		}
		if (!ot_utf8_units(p.text, p.text_len, &p.len) || p.len == 0) {
			rc = BW_EINVAL;
			goto out;
		}
		*payload += p.text_len;
	} else if (ins && json_is_object(ins)) {
		if (json_object_size(ins) != 1) {
			rc = BW_EINVAL;
			goto out;
		}
		if ((rc = ot_parse_flat(ins, 1, false, &embed)) < 0)
			goto out;
		p.type = OT_EMBED;
		p.len = 1;
		p.embed = embed;
		*payload += ot_attrs_payload(embed);
	} else if (ins) {
		rc = BW_EINVAL;
		goto out;
	} else {
		if (lim->document) {
			rc = BW_EINVAL;     /* a document holds inserts only */
			goto out;
		}
		p.type = ret ? OT_RETAIN : OT_DELETE;
		if ((rc = ot_parse_count(ret ? ret : del, &p.len)) < 0)
			goto out;
		*base += p.len;
		if (*base > OT_DOC_MAX) {
			rc = BW_ETOOBIG;
			goto out;
		}
	}
	if (*payload > lim->payload_max) {
		rc = BW_ETOOBIG;
		goto out;
	}
	rc = ot_delta_push(d, &p, NULL);
out:
	if (attrs)
		json_decref(attrs);
	if (embed)
		json_decref(embed);
	return rc;
}

static int ot_parse_root(json_t *root, const struct ot_limits *lim, struct ot_delta **out)
{
	struct ot_delta *d = NULL;
	json_t *ops = root;
	size_t payload = 0;
	int64_t base = 0;
	int rc;
	if (!root)
		return BW_EINVAL;
	if (json_is_object(root)) {
		if (json_object_size(root) != 1 || !(ops = json_object_get(root, "ops")))
			return BW_EINVAL;
	}
	if (!json_is_array(ops))
		return BW_EINVAL;
	if (json_array_size(ops) > lim->ops_max)
		return BW_ETOOBIG;
	if ((rc = ot_new(&d)) < 0)
		return rc;
	for (size_t i = 0; i < json_array_size(ops); i++)
		if ((rc = ot_parse_op(json_array_get(ops, i), lim, d, &payload, &base)) < 0)
			goto out;
	*out = d;
	d = NULL;
out:
	ot_free(d);
	return rc;
}

static int ot_parse_text(const char *json, size_t len, size_t json_max,
                         const struct ot_limits *lim, struct ot_delta **out)
{
	json_error_t err;
	if (!json)
		return BW_EINVAL;
	if (len > json_max)
		return BW_ETOOBIG;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
	if (!root)
		return BW_EINVAL;
	int rc = ot_parse_root(root, lim, out);
	json_decref(root);
	return rc;
}

int ot_parse(const char *json, size_t len, struct ot_delta **out)
{
	return ot_parse_text(json, len, OT_JSON_MAX, &ot_change_limits, out);
}

int ot_parse_json(json_t *ops, struct ot_delta **out)
{
	return ot_parse_root(ops, &ot_change_limits, out);
}

int ot_parse_document(const char *json, size_t len, struct ot_delta **out)
{
	return ot_parse_text(json, len, OT_DOC_JSON_MAX, &ot_document_limits, out);
}

int ot_parse_document_json(json_t *ops, struct ot_delta **out)
{
	return ot_parse_root(ops, &ot_document_limits, out);
}

/* ---------------------------------------------------------------- dump */

json_t *ot_to_json(const struct ot_delta *d)
{
	json_t *arr = json_array(), *root;
	if (!arr)
		return NULL;
	for (size_t i = 0; i < d->n; i++) {
		const struct ot_op *op = &d->ops[i];
		json_t *o = json_object(), *v;
		if (!o)
			goto fail;
		switch (op->type) {
		case OT_INSERT: v = json_stringn(op->text, op->text_len); break;
		case OT_EMBED: v = json_incref(op->embed); break;
		default: v = json_integer(op->len); break;
		}
		const char *k = op->type == OT_RETAIN ? "retain" : op->type == OT_DELETE ? "delete"
		                                                                          : "insert";
		/* the _new setters take the reference even when they fail */
		if (!v || json_object_set_new(o, k, v) < 0 ||
		    (op->attrs && json_object_set(o, "attributes", op->attrs) < 0)) {
			json_decref(o);
			goto fail;
		}
		if (json_array_append_new(arr, o) < 0)
			goto fail;
	}
	root = json_object();
	if (!root)
		goto fail;
	if (json_object_set_new(root, "ops", arr) < 0) {
		json_decref(root);
		return NULL;
	}
	return root;
fail:
	json_decref(arr);
	return NULL;
}

char *ot_dump(const struct ot_delta *d)
{
	json_t *j = ot_to_json(d);
	if (!j)
		return NULL;
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}
