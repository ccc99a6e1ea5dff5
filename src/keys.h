/*
 * keys.h — per-tenant data keys and field encryption (WC-STORE, RG-IM-a,
 * RG-DOC-a, PS-PI-h, RG-PI, WC-DESTROY).
 *
 * Each tenant has two key classes: DATA (organisation structure, messages,
 * documents, TOTP secrets) and PII (phone, e-mail, ID-card number).  Keys are
 * generated here, wrapped by keyd under the master key, stored wrapped, and
 * unwrapped into this process's keyring on first use.  The network process
 * never sees the master key; the keyring wipes its keys on close.
 *
 * Field encryption seals a value into a box whose associated data binds
 * (tenant, table, row id, column), so a box copied to another place fails.
 */
#ifndef BW_KEYS_H
#define BW_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include "store.h"

struct keyd;
struct keyring;

int keyring_open(struct store *s, struct keyd *k, struct keyring **out);
void keyring_close(struct keyring *kr);   /* wipes every key */

/* Generates, wraps and stores version 1 of both key classes of a tenant
 * (inside the caller's transaction). */
int keys_tenant_create(struct keyring *kr, int64_t tenant_id);

/* Unwraps every key of the tenant into the ring now (the server does this
 * for all tenants at start and audits it); *loaded = keys newly unwrapped. */
int keys_preload(struct keyring *kr, int64_t tenant_id, int *loaded);

/* Seals plaintext (n <= STORE_FIELD_MAX) into out; n == 0 gives an empty
 * (NULL) box. */
int keys_seal(struct keyring *kr, int64_t tenant_id, int key_class, const char *table,
              int64_t row_id, const char *column, const char *pt, size_t n,
              struct store_box *out);
/* Opens a box into out (capacity out_max, NUL-terminated); an empty box
 * gives "".  BW_ECRYPTO when it does not belong to this place. */
int keys_open(struct keyring *kr, int64_t tenant_id, int key_class, const char *table,
              int64_t row_id, const char *column, const struct store_box *in,
              char *out, size_t out_max);

/* Like keys_seal()/keys_open() for values up to KEYS_BLOB_MAX bytes (message
 * bodies): *box / *pt are malloc'd; the caller frees (and wipes plaintext). */
#define KEYS_BLOB_MAX (256 * 1024)
int keys_seal_alloc(struct keyring *kr, int64_t tenant_id, int key_class, const char *table,
                    int64_t row_id, const char *column, const void *pt, size_t n,
                    uint8_t **box, size_t *box_len);
int keys_open_alloc(struct keyring *kr, int64_t tenant_id, int key_class, const char *table,
                    int64_t row_id, const char *column, const uint8_t *box, size_t box_len,
                    char **pt, size_t *pt_len);
/* A copy of the tenant's current key of a class (for streaming file
 * encryption and key derivation on other threads); the caller wipes it.
 * With version != 0, that version (to open old files). */
int keys_current(struct keyring *kr, int64_t tenant_id, int key_class, uint32_t version,
                 uint8_t key[32], uint32_t *got_version);

/* Masking for display (PS-PI-d, RG-PI): "138****8000", "z***@example.cn",
 * "1101**********1234"; other text keeps its first and last character. */
void keys_mask_phone(const char *in, char *out, size_t out_max);
void keys_mask_email(const char *in, char *out, size_t out_max);
void keys_mask_id_card(const char *in, char *out, size_t out_max);

#endif
