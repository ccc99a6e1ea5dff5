/*
 * ratelimit.c — bounded token-bucket table (PS-IA-f, IN-SURGE).  Open
 * addressing on a hash of the key, LRU replacement among a small probe
 * window.  Used only from the event-loop thread.
 */
#include "ratelimit.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RL_KEY_MAX 64
#define RL_PROBE 8

struct rl_slot {
	bool used;
	char key[RL_KEY_MAX];
	double tokens;
	int64_t last_ms;
};

struct ratelimit {
	int burst, per_minute, nslots;
	struct rl_slot *slots;
};

struct ratelimit *ratelimit_create(int burst, int per_minute, int slots)
{
	if (burst < 1 || per_minute < 1 || slots < RL_PROBE)
		return NULL;
	struct ratelimit *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->slots = calloc((size_t)slots, sizeof *r->slots);
	if (!r->slots) {
		free(r);
		return NULL;
	}
	r->burst = burst;
	r->per_minute = per_minute;
	r->nslots = slots;
	return r;
}

void ratelimit_destroy(struct ratelimit *r)
{
	if (r)
		free(r->slots);
	free(r);
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

bool ratelimit_take(struct ratelimit *r, const char *key, int64_t now_ms, int *retry_after_s)
{
	char k[RL_KEY_MAX];
	snprintf(k, sizeof k, "%s", key);
	uint64_t h = fnv1a(k);
	struct rl_slot *slot = NULL, *oldest = NULL;
	for (int i = 0; i < RL_PROBE; i++) {
		struct rl_slot *s = &r->slots[(h + (uint64_t)i) % (uint64_t)r->nslots];
		if (s->used && strcmp(s->key, k) == 0) {
			slot = s;
			break;
		}
		if (!oldest || (oldest->used && (!s->used || s->last_ms < oldest->last_ms)))
			oldest = s;
	}
	if (!slot) {
		slot = oldest;
		slot->used = true;
		memcpy(slot->key, k, sizeof k);
		slot->tokens = r->burst;
		slot->last_ms = now_ms;
	}
	double rate = r->per_minute / 60000.0;   /* tokens per ms */
	if (now_ms > slot->last_ms)
		slot->tokens += (double)(now_ms - slot->last_ms) * rate;
	if (slot->tokens > r->burst)
		slot->tokens = r->burst;
	slot->last_ms = now_ms;
	if (slot->tokens >= 1.0) {
		slot->tokens -= 1.0;
		return true;
	}
	if (retry_after_s)
		*retry_after_s = (int)((1.0 - slot->tokens) / rate / 1000.0) + 1;
	return false;
}

void ratelimit_refund(struct ratelimit *r, const char *key)
{
	char k[RL_KEY_MAX];
	snprintf(k, sizeof k, "%s", key);
	uint64_t h = fnv1a(k);
	for (int i = 0; i < RL_PROBE; i++) {
		struct rl_slot *s = &r->slots[(h + (uint64_t)i) % (uint64_t)r->nslots];
		if (s->used && strcmp(s->key, k) == 0) {
			s->tokens += 1.0;
			if (s->tokens > r->burst)
				s->tokens = r->burst;
			return;
		}
	}
}
