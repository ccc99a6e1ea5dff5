/*
 * ot.h — operational transformation on Quill's Delta format, bit-for-bit
 * the semantics of the npm package quill-delta 5.1.0 (Delta.compose,
 * Delta.transform, Delta.transformPosition, AttributeMap.compose/transform).
 * The server is authoritative for co-edited documents and runs these on
 * every operation a client sends (RG-DOC-a…h context: the co-editing of
 * RG-DOC; tests/ot/differential.mjs checks the equivalence with quill-delta).
 *
 * A delta is a list of ops:
 *   {"insert": "text"}            text, valid UTF-8, no NUL, not empty
 *   {"insert": {"image": "x"}}    an embed: an object with exactly one key,
 *                                 whose value is a string, number or bool
 *   {"retain": n}                 n >= 1, a JSON integer
 *   {"delete": n}                 n >= 1, a JSON integer, no attributes
 * each insert/retain with optional "attributes": a flat object of at most
 * OT_ATTR_MAX keys whose values are strings, numbers (integers within
 * +-2^53, or finite reals), booleans or null.  "attributes": {} is the
 * same as no attributes.  Keys (attribute names and embed types) match
 * [A-Za-z][A-Za-z0-9_-]{0,63}.  Retains of embed objects ({"retain":{..}})
 * are not supported and are rejected.
 *
 * Lengths and positions are UTF-16 code units, exactly like JavaScript
 * (an astral character counts 2, an embed 1).  Text is kept as UTF-8.
 * quill-delta would happily split a surrogate pair when an op boundary
 * falls inside one, producing lone surrogates; here any operation that
 * would split a pair fails with BW_EINVAL instead (so the result either
 * equals quill-delta's or is an error, and only where quill-delta itself
 * split a pair).
 *
 * Parsed deltas are normalised the way quill-delta's Delta.push() does
 * (adjacent inserts/retains with equal attributes merged, adjacent
 * deletes merged, an insert that follows a delete moved before it), so
 * ot_dump(ot_parse(x)) is canonical and parse/dump is idempotent.  Output
 * attribute objects have their keys sorted.
 *
 * Limits (all rejected with BW_ETOOBIG, malformed input with BW_EINVAL):
 * "payload" bytes are the UTF-8 bytes of inserted text plus the bytes of
 * every attribute key and string value and of embed keys and string
 * values (8 bytes for a number/bool/null), counted per op — a bound on
 * the serialised size.
 *
 * Memory: every struct ot_delta * returned is owned by the caller and
 * freed with ot_free(); strings returned are malloc'd, freed with free().
 * Deltas are immutable after creation and may be read from several
 * threads at once (results share attribute objects with their inputs by
 * reference; jansson 2.14's reference counts are atomic and dumping does
 * not mark values).  Out-parameters are written only on success.
 */
#ifndef BW_OT_H
#define BW_OT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define OT_OPS_MAX 10000                /* ops in one change */
#define OT_TEXT_MAX (1024 * 1024)       /* payload bytes of one change */
#define OT_DOC_MAX (4 * 1024 * 1024)    /* payload bytes of a document; also
                                           the largest retain/delete count
                                           and change base length */
#define OT_DOC_OPS_MAX (256 * 1024)     /* ops in a document */
#define OT_ATTR_MAX 16                  /* attributes per op (parsed input
                                           and ot_apply results) */
#define OT_KEY_MAX 64                   /* bytes of an attribute/embed key */
#define OT_VALUE_MAX 8192               /* bytes of an attribute/embed value */
#define OT_JSON_MAX (8 * 1024 * 1024)   /* bytes of a change's JSON text */
#define OT_DOC_JSON_MAX (32 * 1024 * 1024) /* bytes of a document's JSON */

struct ot_delta;

/* Parses a change from {"ops":[...]} or [...] (len bytes, need not be
 * NUL-terminated) and validates everything: types, keys, limits, UTF-8,
 * no zero-length ops, flat attributes.  *out is owned by the caller. */
int ot_parse(const char *json, size_t len, struct ot_delta **out);
/* Same from an already parsed array (or {"ops":[...]} object); ops is
 * borrowed (not stolen). */
int ot_parse_json(json_t *ops, struct ot_delta **out);
/* Parses a stored document: inserts only, OT_DOC_* limits. */
int ot_parse_document(const char *json, size_t len, struct ot_delta **out);
int ot_parse_document_json(json_t *ops, struct ot_delta **out);

/* {"ops":[...]}, compact, canonical; malloc'd (caller frees), NULL on
 * allocation failure. */
char *ot_dump(const struct ot_delta *d);
/* The same as a new jansson value (caller json_decref()s); NULL on ENOMEM. */
json_t *ot_to_json(const struct ot_delta *d);
void ot_free(struct ot_delta *d);

/* An empty delta (also the empty document); BW_ENOMEM only. */
int ot_new(struct ot_delta **out);

/* a.compose(b): the result, normalised like quill-delta (trailing plain
 * retain chopped).  BW_EINVAL when it would split a surrogate pair. */
int ot_compose(const struct ot_delta *a, const struct ot_delta *b, struct ot_delta **out);
/* a.transform(b, priority): b rewritten to apply after a; priority true
 * means a's inserts win ties (a happened "first").  Never splits text. */
int ot_transform(const struct ot_delta *a, const struct ot_delta *b, bool priority,
                 struct ot_delta **out);
/* d.transformPosition(index, priority) (quill-delta semantics, including
 * for indices past the end; saturates instead of overflowing). */
int64_t ot_transform_position(const struct ot_delta *d, int64_t index, bool priority);

int64_t ot_base_len(const struct ot_delta *d);   /* retains + deletes */
int64_t ot_target_len(const struct ot_delta *d); /* retains + inserts */
bool ot_is_document(const struct ot_delta *d);   /* only inserts */
size_t ot_op_count(const struct ot_delta *d);

/* doc.compose(change) for a document: BW_EINVAL when doc is not a
 * document, when change's base length exceeds the document's length
 * (quill-delta allows retain past the end; the server must not) or when a
 * surrogate pair would be split; BW_ETOOBIG when the result exceeds
 * OT_DOC_MAX payload, OT_DOC_OPS_MAX ops or OT_ATTR_MAX attributes on an
 * op.  *out (a document) is owned by the caller. */
int ot_apply(const struct ot_delta *doc, const struct ot_delta *change, struct ot_delta **out);

/* Plain text of a document (embeds as U+FFFC), malloc'd UTF-8 with a NUL
 * after *len bytes; NULL when d is not a document or on ENOMEM. */
char *ot_text(const struct ot_delta *doc, size_t *len);

#endif
