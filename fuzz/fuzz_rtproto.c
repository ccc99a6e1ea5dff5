/*
 * fuzz_rtproto.c — the realtime protocol's client-frame parser
 * (src/rtproto.c): arbitrary bytes must give either a frame that satisfies
 * every documented rule or a clean refusal, never a crash or a leak.
 */
#include "rtproto.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rt_in in;
	const char *code = NULL, *err = NULL;
	int rc = rtproto_parse((const char *)data, size, &in, &code, &err);
	if (rc) {
		if (!code || !err || in.root)
			abort();
		return 0;
	}
	if (in.type < RT_RESUME || in.type > RT_PONG)
		abort();
	if (in.since < 0 || in.conv < 0 || in.msg < 0 || in.reply_to < 0 || in.thread_root < 0)
		abort();
	if (in.type == RT_SEND) {
		size_t cl = strlen(in.cid);
		if (cl < 1 || cl > RTPROTO_CID_MAX || !in.body || in.body_len > RTPROTO_BODY_MAX ||
		    !bw_utf8_valid(in.body, in.body_len, true))
			abort();
	}
	rtproto_free(&in);
	return 0;
}
