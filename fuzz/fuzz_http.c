/*
 * fuzz_http.c — libFuzzer target for the request-side parsers written in
 * this project: the Cookie header parser (bw_cookie_get) and the API route
 * matcher (api_path_match).  Properties: no crash, no overread, and a match
 * binds only non-empty segments without '/' that fit their buffers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "util.h"

static const char *const patterns[] = {
	"/api/v1/users/*", "/api/v1/users/*/sessions/revoke", "/api/v1/me/sessions/*",
	"/api/v1/health", "/*/*",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	char out[64];
	if (bw_cookie_get(s, "bw_ticket", out, sizeof out) && strlen(out) >= sizeof out)
		abort();
	bw_cookie_get(s, "bw_device", out, 1);
	for (size_t i = 0; i < sizeof patterns / sizeof *patterns; i++) {
		char params[2][API_PARAM_MAX];
		int n = -1;
		if (api_path_match(patterns[i], s, params, &n)) {
			if (n < 0 || n > 2)
				abort();
			for (int k = 0; k < n; k++)
				if (!params[k][0] || strchr(params[k], '/') || strlen(params[k]) >= API_PARAM_MAX)
					abort();
		}
	}
	free(s);
	return 0;
}
