/*
 * ratelimit.h — per-key token buckets with a bounded table (PS-IA-f,
 * IN-SURGE, RG-BIZ-d): throttles credential checks per client address.
 * The table has a fixed number of slots; when full, the least recently used
 * slot is reused, so an attacker spraying addresses cannot grow memory.
 */
#ifndef BW_RATELIMIT_H
#define BW_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

/* burst tokens, refilled at per_minute tokens per minute, `slots` keys. */
struct ratelimit *ratelimit_create(int burst, int per_minute, int slots);
void ratelimit_destroy(struct ratelimit *r);
/* Takes one token for key at now_ms; false when empty (*retry_after_s set). */
bool ratelimit_take(struct ratelimit *r, const char *key, int64_t now_ms, int *retry_after_s);

/* Returns one token taken by ratelimit_take (a success that should not count). */
void ratelimit_refund(struct ratelimit *r, const char *key);

#endif
