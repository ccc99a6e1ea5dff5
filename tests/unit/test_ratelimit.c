/*
 * test_ratelimit.c — unit tests of the bounded token-bucket table
 * (ratelimit.c; PS-IA-f credential throttling, IN-SURGE): burst then refusal
 * with a retry-after hint, refill over (explicit, fake) time, refund, a
 * spray of many more distinct keys than slots neither grows memory nor stops
 * the table working (LRU reuse), and long keys are truncated safely.
 */
#include "unit.h"
#include "ratelimit.h"
#include "util.h"

#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
#define RL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RL_ASAN 1
#endif
#endif

#ifdef RL_ASAN
/* From the sanitizer runtime (sanitizer/allocator_interface.h, which gcc
 * does not install). */
size_t __sanitizer_get_current_allocated_bytes(void);
#define RL_HAVE_HEAP_STATS 1
#endif

/* Bytes currently allocated by the process (0 when unknown). */
static size_t rl_heap_bytes(void)
{
#ifdef RL_HAVE_HEAP_STATS
	return __sanitizer_get_current_allocated_bytes();
#else
	return 0;
#endif
}

static const int64_t T0 = 1700000000000;   /* a fixed "now" in ms */

TEST(create_rejects_bad_parameters)
{
	CHECK(ratelimit_create(0, 10, 64) == NULL);
	CHECK(ratelimit_create(5, 0, 64) == NULL);
	CHECK(ratelimit_create(-1, 10, 64) == NULL);
	CHECK(ratelimit_create(5, -1, 64) == NULL);
	CHECK(ratelimit_create(5, 10, 0) == NULL);
	CHECK(ratelimit_create(5, 10, -8) == NULL);
	struct ratelimit *r = ratelimit_create(1, 1, 64);
	CHECK(r != NULL);
	ratelimit_destroy(r);
	ratelimit_destroy(NULL);
}

TEST(burst_then_refusal)
{
	struct ratelimit *r = ratelimit_create(5, 6, 64);   /* one token per 10 s */
	CHECK(r != NULL);
	if (!r)
		return;
	int retry = -1;
	for (int i = 0; i < 5; i++)
		CHECK(ratelimit_take(r, "10.0.0.1", T0, &retry));
	CHECK_EQ(retry, -1);               /* untouched on success */
	CHECK(!ratelimit_take(r, "10.0.0.1", T0, &retry));
	CHECK(retry >= 9 && retry <= 11);
	retry = -1;
	CHECK(!ratelimit_take(r, "10.0.0.1", T0, &retry));
	CHECK(retry >= 9 && retry <= 11);
	CHECK(!ratelimit_take(r, "10.0.0.1", T0, NULL));    /* NULL hint allowed */
	/* other keys are independent */
	for (int i = 0; i < 5; i++)
		CHECK(ratelimit_take(r, "10.0.0.2", T0, NULL));
	CHECK(!ratelimit_take(r, "10.0.0.2", T0, NULL));
	CHECK(ratelimit_take(r, "10.0.0.3", T0, NULL));
	ratelimit_destroy(r);
}

TEST(refill_over_time)
{
	struct ratelimit *r = ratelimit_create(3, 60, 64);   /* one token per second */
	if (!r) {
		CHECK(r != NULL);
		return;
	}
	int retry = 0;
	const char *k = "2001:db8::1";
	for (int i = 0; i < 3; i++)
		CHECK(ratelimit_take(r, k, T0, NULL));
	CHECK(!ratelimit_take(r, k, T0, &retry));
	CHECK(retry >= 1 && retry <= 2);   /* whole seconds, rounded up */
	/* half a second: still nothing */
	CHECK(!ratelimit_take(r, k, T0 + 500, &retry));
	CHECK(retry >= 1 && retry <= 2);
	/* one second after the first refusal: one token, then refused again */
	CHECK(ratelimit_take(r, k, T0 + 1000, NULL));
	CHECK(!ratelimit_take(r, k, T0 + 1000, NULL));
	/* waiting the advertised time is always enough */
	CHECK(!ratelimit_take(r, k, T0 + 1000, &retry));
	CHECK(ratelimit_take(r, k, T0 + 1000 + (int64_t)retry * 1000, NULL));
	/* a long pause refills to the burst only, never beyond */
	int64_t t = T0 + 3600 * 1000;
	for (int i = 0; i < 3; i++)
		CHECK(ratelimit_take(r, k, t, NULL));
	CHECK(!ratelimit_take(r, k, t, NULL));
	/* time going backwards gives nothing */
	CHECK(!ratelimit_take(r, k, t - 60000, NULL));
	ratelimit_destroy(r);

	/* slow rate: 1 per minute, retry-after is about a minute */
	r = ratelimit_create(1, 1, 64);
	if (!r)
		return;
	CHECK(ratelimit_take(r, "k", T0, NULL));
	CHECK(!ratelimit_take(r, "k", T0, &retry));
	CHECK(retry >= 59 && retry <= 61);
	CHECK(!ratelimit_take(r, "k", T0 + 30000, &retry));
	CHECK(retry >= 29 && retry <= 31);
	CHECK(ratelimit_take(r, "k", T0 + 60000, NULL));
	ratelimit_destroy(r);
}

TEST(refund)
{
	struct ratelimit *r = ratelimit_create(2, 1, 64);
	if (!r) {
		CHECK(r != NULL);
		return;
	}
	CHECK(ratelimit_take(r, "a", T0, NULL));
	CHECK(ratelimit_take(r, "a", T0, NULL));
	CHECK(!ratelimit_take(r, "a", T0, NULL));
	ratelimit_refund(r, "a");
	CHECK(ratelimit_take(r, "a", T0, NULL));
	CHECK(!ratelimit_take(r, "a", T0, NULL));
	/* refunds never exceed the burst */
	for (int i = 0; i < 10; i++)
		ratelimit_refund(r, "a");
	CHECK(ratelimit_take(r, "a", T0, NULL));
	CHECK(ratelimit_take(r, "a", T0, NULL));
	CHECK(!ratelimit_take(r, "a", T0, NULL));
	/* refunding an unknown key is harmless and creates nothing */
	ratelimit_refund(r, "never-seen");
	ratelimit_refund(r, "");
	CHECK(!ratelimit_take(r, "a", T0, NULL));
	ratelimit_destroy(r);
}

/* Ten times more distinct keys than slots: no allocation at all after
 * create, the table keeps answering, and a key in steady use stays
 * limited. */
TEST(spray_bounded_and_lru_reuse)
{
	enum { SLOTS = 256 };
	struct ratelimit *r = ratelimit_create(3, 1, SLOTS);
	if (!r) {
		CHECK(r != NULL);
		return;
	}
	size_t before = rl_heap_bytes();
	int64_t t = T0;
	char key[64];
	for (int i = 0; i < SLOTS * 10; i++) {
		snprintf(key, sizeof key, "198.51.%d.%d", i / 256, i % 256);
		/* every new key starts with a full burst */
		if (!ratelimit_take(r, key, ++t, NULL)) {
			fprintf(stderr, "  new key %s refused\n", key);
			unit_failed_checks++;
			break;
		}
	}
	size_t after = rl_heap_bytes();
	CHECK_EQ(after, before);
	/* the most recent keys are still tracked: their burst is being used */
	for (int i = SLOTS * 10 - 8; i < SLOTS * 10; i++) {
		snprintf(key, sizeof key, "198.51.%d.%d", i / 256, i % 256);
		CHECK(ratelimit_take(r, key, t, NULL));
		CHECK(ratelimit_take(r, key, t, NULL));
		CHECK(!ratelimit_take(r, key, t, NULL));
	}
	/* an attacker key hammered between sprays stays limited as long as it is
	 * used more recently than the spray slots around it */
	const char *att = "203.0.113.66";
	for (int i = 0; i < 3; i++)
		CHECK(ratelimit_take(r, att, t, NULL));
	for (int round = 0; round < 50; round++) {
		snprintf(key, sizeof key, "spray-%d", round);
		CHECK(ratelimit_take(r, key, ++t, NULL));
		CHECK(!ratelimit_take(r, att, ++t, NULL));
	}
	ratelimit_destroy(r);
}

/* Keys longer than the slot hold are truncated, never overrun; the same
 * long key always maps to the same bucket. */
TEST(long_keys)
{
	struct ratelimit *r = ratelimit_create(2, 1, 64);
	if (!r) {
		CHECK(r != NULL);
		return;
	}
	char big[4096];
	memset(big, 'k', sizeof big - 1);
	big[sizeof big - 1] = 0;
	CHECK(ratelimit_take(r, big, T0, NULL));
	CHECK(ratelimit_take(r, big, T0, NULL));
	CHECK(!ratelimit_take(r, big, T0, NULL));
	ratelimit_refund(r, big);
	CHECK(ratelimit_take(r, big, T0, NULL));
	/* a 45-byte IPv6 text (the longest address form) keeps its own bucket */
	const char *v6a = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
	const char *v6b = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.254";
	CHECK(ratelimit_take(r, v6a, T0, NULL));
	CHECK(ratelimit_take(r, v6a, T0, NULL));
	CHECK(!ratelimit_take(r, v6a, T0, NULL));
	CHECK(ratelimit_take(r, v6b, T0, NULL));
	ratelimit_destroy(r);
}

/* The empty key (a peer whose address could not be read) is limited like
 * any other, not given a fresh bucket on every call. */
TEST(empty_key_is_limited)
{
	struct ratelimit *r = ratelimit_create(2, 1, 64);
	if (!r) {
		CHECK(r != NULL);
		return;
	}
	int refused = 0;
	for (int i = 0; i < 10; i++)
		refused += !ratelimit_take(r, "", T0, NULL);
	CHECK_EQ(refused, 8);
	ratelimit_destroy(r);
}

int main(void)
{
	bw_log_level = BW_LOG_ERR;
	RUN(create_rejects_bad_parameters);
	RUN(burst_then_refusal);
	RUN(refill_over_time);
	RUN(refund);
	RUN(spray_bounded_and_lru_reuse);
	RUN(long_keys);
	RUN(empty_key_is_limited);
	return UNIT_DONE();
}
