/*
 * unit.h — the tiny unit-test harness.  Each tests/unit/test_*.c defines
 * tests with TEST(name) and lists them in main via RUN(name); the binary
 * prints "N passed, N failed" and exits non-zero when anything failed.
 */
#ifndef BW_UNIT_H
#define BW_UNIT_H
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static int unit_failed_checks;
static int unit_passed, unit_failed;

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
	unit_failed_checks++; } } while (0)
#define CHECK_EQ(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) { fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", \
	__FILE__, __LINE__, #a, _a, #b, _b); unit_failed_checks++; } } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); \
	if (!_a || !_b || strcmp(_a, _b) != 0) { fprintf(stderr, \
	"  %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, _a ? _a : "(null)", \
	_b ? _b : "(null)"); unit_failed_checks++; } } while (0)
#define CHECK_MEM(a, b, n) do { if (memcmp((a), (b), (n)) != 0) { \
	fprintf(stderr, "  %s:%d: memory %s != %s\n", __FILE__, __LINE__, #a, #b); \
	unit_failed_checks++; } } while (0)

#define TEST(name) static void test_##name(void)
#define RUN(name) do { int _before = unit_failed_checks; test_##name(); \
	if (unit_failed_checks == _before) { unit_passed++; printf("ok - %s\n", #name); } \
	else { unit_failed++; printf("FAIL - %s\n", #name); } } while (0)
#define UNIT_DONE() (printf("%d passed, %d failed\n", unit_passed, unit_failed), \
	unit_failed ? 1 : 0)
#endif
