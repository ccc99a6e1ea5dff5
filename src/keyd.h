/*
 * keyd.h — the key process (privilege separation; WC-STORE, PS-CRY, PS-IA-b).
 *
 * keyd holds the installation master key and the audit signing key.  It is a
 * child process connected to its client by a socketpair; it never parses
 * HTTP or JSON.  It answers four typed, size-checked requests:
 *
 *   WRAP   (tenant id, key class, key version, 32-byte data key) -> sealed box
 *   UNWRAP (tenant id, key class, key version, sealed box)        -> data key
 *   SIGN   (domain-separated message <= 1 KiB)                    -> signature
 *   PUBKEY ()                                                     -> public key
 *
 * Wire format, both directions: u32 request id, u16 op (or status in a
 * reply), u16 payload length (<= KEYD_PAYLOAD_MAX), payload.  A reply carries
 * the id of its request; a mismatch is treated as a broken key process.
 *
 * Key file (DIR/keys/master.key, mode 0600): "BWK1" ‖ suite byte ‖ 32-byte
 * master key ‖ u8 sec_len ‖ signing secret ‖ u8 pub_len ‖ public key.
 *
 * keyd disables core dumps (PR_SET_DUMPABLE 0, RLIMIT_CORE 0), locks its
 * memory (mlockall), drops privileges like the server, and runs under its own
 * seccomp allow-list (read/write on its channel, getrandom, mmap without
 * PROT_EXEC, exit — see sandbox.c).  It ignores SIGINT/SIGTERM and leaves
 * when its channel closes or its parent dies.  Frames are one SOCK_SEQPACKET
 * record each, integers big-endian; an unsolicited frame with id 0 reports
 * whether start-up (key file checks, self-test) succeeded.
 */
#ifndef BW_KEYD_H
#define BW_KEYD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "crypto.h"

#define KEYD_PAYLOAD_MAX 2048
#define KEYD_SIGN_MSG_MAX 1024

enum keyd_op { KEYD_WRAP = 1, KEYD_UNWRAP = 2, KEYD_SIGN = 3, KEYD_PUBKEY = 4 };
enum keyd_key_class { KEY_CLASS_DATA = 1, KEY_CLASS_PII = 2 };

/* Creates DIR/keys/master.key with a fresh master key and signing key pair
 * for the selected suite (bwc_init must have run).  BW_EEXIST if present. */
int keyd_keyfile_create(const char *data_dir);

struct keyd;   /* client handle, opaque */

/* Forks the key process for data_dir.  It loads the key file, then serves.
 * run_as_uid/gid: when >= 0 and we are root, keyd drops to them after
 * loading the key.  Returns a client handle in *out (free with keyd_stop). */
int keyd_start(const char *data_dir, long run_as_uid, long run_as_gid, struct keyd **out);
/* Closes the channel, waits for the process.  NULL is allowed. */
void keyd_stop(struct keyd *k);
pid_t keyd_pid(const struct keyd *k);

/* Client calls; thread-safe (serialised by a mutex), synchronous. */
int keyd_wrap(struct keyd *k, int64_t tenant_id, int key_class, uint32_t version,
              const uint8_t dek[CRYPTO_KEY_LEN], uint8_t *box, size_t box_max,
              size_t *box_len);
int keyd_unwrap(struct keyd *k, int64_t tenant_id, int key_class, uint32_t version,
                const uint8_t *box, size_t box_len, uint8_t dek[CRYPTO_KEY_LEN]);
int keyd_sign(struct keyd *k, const void *msg, size_t n, uint8_t *sig,
              size_t sig_max, size_t *sig_len);
int keyd_pubkey(struct keyd *k, uint8_t *pub, size_t pub_max, size_t *pub_len);

/* Verifies a signature made by keyd_sign (keyd prefixes every message it
 * signs with a fixed domain-separation string, so it is no general signing
 * oracle; this applies the same prefix).  0 valid, BW_ECRYPTO otherwise. */
int keyd_checkpoint_verify(const uint8_t *pub, size_t pub_len, const void *msg, size_t n,
                           const uint8_t *sig, size_t sig_len);

/* Reads the public signing key from DIR/keys/audit.pub (written at init;
 * operators should also keep a copy elsewhere). */
int keyd_read_pubkey_file(const char *data_dir, uint8_t *pub, size_t pub_max, size_t *pub_len);

/* The parser of one keyd frame (exposed for the fuzz target and tests).
 * Returns the total frame length consumed (> 0), 0 when more bytes are
 * needed, or BW_EINVAL for a malformed frame. */
struct keyd_frame {
	uint32_t id;
	uint16_t op;
	uint16_t len;
	const uint8_t *payload;
};
int keyd_frame_parse(const uint8_t *p, size_t n, struct keyd_frame *out);

/* Serve one request already parsed (exposed for tests/fuzzing with a key
 * context). */
struct keyd_keys {
	uint8_t master[CRYPTO_KEY_LEN];
	uint8_t sign_sec[CRYPTO_SEC_MAX];
	size_t sign_sec_len;
	uint8_t sign_pub[CRYPTO_PUB_MAX];
	size_t sign_pub_len;
};
/* Writes the reply payload to out (capacity KEYD_PAYLOAD_MAX); returns the
 * reply status (0 ok, negative BW_E*) and sets *out_len. */
int keyd_handle(const struct keyd_keys *keys, const struct keyd_frame *req,
                uint8_t *out, size_t *out_len);

#endif
