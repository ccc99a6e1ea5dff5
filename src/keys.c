/*
 * keys.c — tenant data-key ring and field sealing (WC-STORE, RG-IM-a,
 * RG-DOC-a, PS-PI-h, RG-PI).  See keys.h.
 *
 * The ring is a small array (tenants × classes × versions seen by this
 * process); unwrapping goes through keyd once per key per process lifetime.
 */
#include "keys.h"
#include "keyd.h"
#include "util.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define KEYRING_MAX 4096

struct ring_key {
	int64_t tenant_id;
	int key_class;
	uint32_t version;
	uint8_t key[CRYPTO_KEY_LEN];
};

struct keyring {
	struct store *s;
	struct keyd *k;
	pthread_mutex_t mu;
	struct ring_key *keys;   /* sodium_malloc'd: guarded, locked, wiped */
	size_t n;
};

int keyring_open(struct store *s, struct keyd *k, struct keyring **out)
{
	struct keyring *kr = calloc(1, sizeof *kr);
	if (!kr)
		return BW_ENOMEM;
	kr->keys = sodium_allocarray(KEYRING_MAX, sizeof *kr->keys);
	if (!kr->keys) {
		free(kr);
		return BW_ENOMEM;
	}
	kr->s = s;
	kr->k = k;
	pthread_mutex_init(&kr->mu, NULL);
	*out = kr;
	return 0;
}

void keyring_close(struct keyring *kr)
{
	if (!kr)
		return;
	sodium_free(kr->keys);   /* wipes */
	pthread_mutex_destroy(&kr->mu);
	free(kr);
}

/* Finds (loading through keyd if needed) a key; version 0 = newest.
 * Called with the mutex held. */
static int ring_get(struct keyring *kr, int64_t tenant, int cls, uint32_t version,
                    uint32_t *ver_out, uint8_t key[CRYPTO_KEY_LEN])
{
	for (int pass = 0; pass < 2; pass++) {
		const struct ring_key *best = NULL;
		for (size_t i = 0; i < kr->n; i++) {
			const struct ring_key *r = &kr->keys[i];
			if (r->tenant_id != tenant || r->key_class != cls)
				continue;
			if (version ? r->version == version : (!best || r->version > best->version))
				best = r;
		}
		/* a known key is used as is; versions are added only by rotation,
		 * which resets the ring (not yet implemented: one version) */
		if (best) {
			memcpy(key, best->key, CRYPTO_KEY_LEN);
			*ver_out = best->version;
			return 0;
		}
		if (pass == 1)
			break;
		/* (re)load this tenant's wrapped keys; newer versions may exist */
		struct store_tenant_key *wk = calloc(64, sizeof *wk);
		size_t n = 0;
		if (!wk)
			return BW_ENOMEM;
		int rc = kr->s->ops->tenant_keys_get(kr->s, tenant, wk, 64, &n);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			bool have = false;
			for (size_t j = 0; j < kr->n && !have; j++)
				have = kr->keys[j].tenant_id == tenant &&
				       kr->keys[j].key_class == wk[i].key_class &&
				       kr->keys[j].version == wk[i].version;
			if (have)
				continue;
			if (kr->n == KEYRING_MAX) {
				rc = BW_ENOMEM;
				break;
			}
			struct ring_key *r = &kr->keys[kr->n];
			rc = keyd_unwrap(kr->k, tenant, wk[i].key_class, wk[i].version,
			                 wk[i].wrapped, wk[i].wrapped_len, r->key);
			if (rc) {
				log_err("keys: unwrap of tenant %lld class %d v%u failed: %s",
				        (long long)tenant, wk[i].key_class, wk[i].version, bw_strerror(rc));
				break;
			}
			r->tenant_id = tenant;
			r->key_class = wk[i].key_class;
			r->version = wk[i].version;
			kr->n++;
		}
		free(wk);
		if (rc)
			return rc;
	}
	return BW_ENOENT;
}

int keys_preload(struct keyring *kr, int64_t tenant_id, int *loaded)
{
	uint8_t key[CRYPTO_KEY_LEN];
	uint32_t ver;
	pthread_mutex_lock(&kr->mu);
	size_t before = kr->n;
	int rc = ring_get(kr, tenant_id, KEY_CLASS_DATA, 0, &ver, key);
	if (rc == 0)
		rc = ring_get(kr, tenant_id, KEY_CLASS_PII, 0, &ver, key);
	*loaded = (int)(kr->n - before);
	pthread_mutex_unlock(&kr->mu);
	sodium_memzero(key, sizeof key);
	return rc;
}

int keys_tenant_create(struct keyring *kr, int64_t tenant_id)
{
	static const int classes[] = { KEY_CLASS_DATA, KEY_CLASS_PII };
	int rc = 0;
	pthread_mutex_lock(&kr->mu);
	for (size_t i = 0; i < BW_ARRAY_LEN(classes) && rc == 0; i++) {
		uint8_t dek[CRYPTO_KEY_LEN];
		struct store_tenant_key tk;
		memset(&tk, 0, sizeof tk);
		bwc_random(dek, sizeof dek);
		tk.tenant_id = tenant_id;
		tk.key_class = classes[i];
		tk.version = 1;
		tk.created_at = bw_now();
		rc = keyd_wrap(kr->k, tenant_id, classes[i], 1, dek, tk.wrapped,
		               sizeof tk.wrapped, &tk.wrapped_len);
		if (rc == 0)
			rc = kr->s->ops->tenant_key_put(kr->s, &tk);
		sodium_memzero(dek, sizeof dek);
	}
	pthread_mutex_unlock(&kr->mu);
	return rc;
}

int keys_seal(struct keyring *kr, int64_t tenant_id, int key_class, const char *table,
              int64_t row_id, const char *column, const char *pt, size_t n,
              struct store_box *out)
{
	if (n == 0) {
		out->len = 0;
		return 0;
	}
	if (n > STORE_FIELD_MAX)
		return BW_ETOOBIG;
	uint8_t aad[CRYPTO_AAD_MAX], key[CRYPTO_KEY_LEN];
	int aad_len = bwc_aad(aad, tenant_id, table, row_id, column);
	if (aad_len < 0)
		return aad_len;
	uint32_t ver = 0;
	pthread_mutex_lock(&kr->mu);
	int rc = ring_get(kr, tenant_id, key_class, 0, &ver, key);
	pthread_mutex_unlock(&kr->mu);
	if (rc == 0) {
		rc = bwc_box_seal(key, ver, aad, (size_t)aad_len, pt, n, out->data);
		if (rc == 0)
			out->len = bwc_box_len(n);
	}
	sodium_memzero(key, sizeof key);
	return rc;
}

int keys_open(struct keyring *kr, int64_t tenant_id, int key_class, const char *table,
              int64_t row_id, const char *column, const struct store_box *in,
              char *out, size_t out_max)
{
	if (out_max == 0)
		return BW_EINVAL;
	if (in->len == 0) {
		out[0] = 0;
		return 0;
	}
	uint32_t ver;
	size_t n;
	int rc = bwc_box_peek(in->data, in->len, &ver, &n);
	if (rc)
		return rc;
	if (n >= out_max)
		return BW_ETOOBIG;
	uint8_t aad[CRYPTO_AAD_MAX], key[CRYPTO_KEY_LEN];
	int aad_len = bwc_aad(aad, tenant_id, table, row_id, column);
	if (aad_len < 0)
		return aad_len;
	uint32_t got;
	pthread_mutex_lock(&kr->mu);
	rc = ring_get(kr, tenant_id, key_class, ver, &got, key);
	pthread_mutex_unlock(&kr->mu);
	if (rc == 0)
		rc = bwc_box_open(key, aad, (size_t)aad_len, in->data, in->len, (uint8_t *)out);
	sodium_memzero(key, sizeof key);
	if (rc == 0)
		out[n] = 0;
	else
		out[0] = 0;
	return rc;
}

int keys_seal_alloc(struct keyring *kr, int64_t tenant_id, int key_class, const char *table,
                    int64_t row_id, const char *column, const void *pt, size_t n,
                    uint8_t **box, size_t *box_len)
{
	if (n > KEYS_BLOB_MAX)
		return BW_ETOOBIG;
	uint8_t aad[CRYPTO_AAD_MAX], key[CRYPTO_KEY_LEN];
	int aad_len = bwc_aad(aad, tenant_id, table, row_id, column);
	if (aad_len < 0)
		return aad_len;
	uint8_t *out = malloc(bwc_box_len(n));
	if (!out)
		return BW_ENOMEM;
	uint32_t ver = 0;
	pthread_mutex_lock(&kr->mu);
	int rc = ring_get(kr, tenant_id, key_class, 0, &ver, key);
	pthread_mutex_unlock(&kr->mu);
	if (rc == 0)
		rc = bwc_box_seal(key, ver, aad, (size_t)aad_len, pt, n, out);
	sodium_memzero(key, sizeof key);
	if (rc) {
		free(out);
		return rc;
	}
	*box = out;
	*box_len = bwc_box_len(n);
	return 0;
}

int keys_open_alloc(struct keyring *kr, int64_t tenant_id, int key_class, const char *table,
                    int64_t row_id, const char *column, const uint8_t *box, size_t box_len,
                    char **pt, size_t *pt_len)
{
	uint32_t ver;
	size_t n;
	int rc = bwc_box_peek(box, box_len, &ver, &n);
	if (rc)
		return rc;
	if (n > KEYS_BLOB_MAX)
		return BW_ETOOBIG;
	uint8_t aad[CRYPTO_AAD_MAX], key[CRYPTO_KEY_LEN];
	int aad_len = bwc_aad(aad, tenant_id, table, row_id, column);
	if (aad_len < 0)
		return aad_len;
	char *out = malloc(n + 1);
	if (!out)
		return BW_ENOMEM;
	uint32_t got;
	pthread_mutex_lock(&kr->mu);
	rc = ring_get(kr, tenant_id, key_class, ver, &got, key);
	pthread_mutex_unlock(&kr->mu);
	if (rc == 0)
		rc = bwc_box_open(key, aad, (size_t)aad_len, box, box_len, (uint8_t *)out);
	sodium_memzero(key, sizeof key);
	if (rc) {
		sodium_memzero(out, n + 1);
		free(out);
		return rc;
	}
	out[n] = 0;
	*pt = out;
	*pt_len = n;
	return 0;
}

int keys_current(struct keyring *kr, int64_t tenant_id, int key_class, uint32_t version,
                 uint8_t key[32], uint32_t *got_version)
{
	uint32_t got = 0;
	uint8_t k[CRYPTO_KEY_LEN];
	pthread_mutex_lock(&kr->mu);
	int rc = ring_get(kr, tenant_id, key_class, version, &got, k);
	pthread_mutex_unlock(&kr->mu);
	if (rc == 0) {
		memcpy(key, k, CRYPTO_KEY_LEN);
		if (got_version)
			*got_version = got;
	}
	sodium_memzero(k, sizeof k);
	return rc;
}

/* Keeps `head` leading and `tail` trailing code points, stars in between. */
static void mask_keep(const char *in, size_t head, size_t tail, char *out, size_t out_max)
{
	size_t n = strlen(in), cps = bw_utf8_count(in, n), o = 0, cp = 0;
	if (out_max == 0)
		return;
	if (cps <= head + tail) {
		head = cps > 2 ? 1 : 0;
		tail = cps > 2 ? 1 : 0;
	}
	for (size_t i = 0; i < n; ) {
		size_t len = 1;
		while (i + len < n && ((unsigned char)in[i + len] & 0xc0) == 0x80)
			len++;
		bool keep = cp < head || cp >= cps - tail;
		if (keep) {
			if (o + len >= out_max)
				break;
			memcpy(out + o, in + i, len);
			o += len;
		} else if (o + 1 < out_max) {
			out[o++] = '*';
		}
		i += len;
		cp++;
	}
	out[o] = 0;
}

void keys_mask_phone(const char *in, char *out, size_t out_max)
{
	mask_keep(in, 3, 4, out, out_max);
}

void keys_mask_id_card(const char *in, char *out, size_t out_max)
{
	mask_keep(in, 4, 4, out, out_max);
}

void keys_mask_email(const char *in, char *out, size_t out_max)
{
	const char *at = strchr(in, '@');
	if (!at || at == in) {
		mask_keep(in, 1, 1, out, out_max);
		return;
	}
	if (out_max == 0)
		return;
	/* first code point of the local part, three stars, the domain; stops at
	 * a code-point boundary when out is too small */
	size_t o = 0, first = 1;
	while (in + first < at && ((unsigned char)in[first] & 0xc0) == 0x80)
		first++;
	if (first + 3 < out_max) {
		memcpy(out, in, first);
		memcpy(out + first, "***", 3);
		o = first + 3;
		for (const char *p = at; *p; ) {
			size_t len = 1;
			while (p[len] && ((unsigned char)p[len] & 0xc0) == 0x80)
				len++;
			if (o + len >= out_max)
				break;
			memcpy(out + o, p, len);
			o += len;
			p += len;
		}
	}
	out[o] = 0;
}
