/*
 * test_qr.c — qr_svg: document shape (no scripts or references), limits,
 * and that the <path> draws exactly libqrencode's dark modules.  When
 * `zbarimg` (Debian zbar-tools) is installed, the rendered path is also
 * rasterised and decoded back to the input text.
 */
#include "qr.h"
#include "util.h"
#include "unit.h"

#include <qrencode.h>
#include <unistd.h>

static size_t count_substr(const char *s, const char *needle)
{
	size_t c = 0;
	for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
		c++;
	return c;
}

/* Parses viewBox side and the path back into a side x side matrix (malloc'd,
 * caller frees).  Returns the side, or -1 if the SVG is not in the shape
 * qr_svg promises. */
static int svg_to_matrix(const char *svg, unsigned char **out)
{
	int side, side2;
	const char *vb = strstr(svg, "viewBox=\"0 0 ");
	if (!vb || sscanf(vb, "viewBox=\"0 0 %d %d\"", &side, &side2) != 2 ||
	    side != side2 || side <= 0 || side > 200)
		return -1;
	const char *d = strstr(svg, " d=\"");
	if (!d)
		return -1;
	d += 4;
	unsigned char *m = calloc((size_t)side * (size_t)side, 1);
	if (!m)
		return -1;
	while (*d == 'M') {
		int x, y, w, w2, used = 0;
		if (sscanf(d, "M%d %dh%dv1h-%dz%n", &x, &y, &w, &w2, &used) != 4 || used == 0 ||
		    w != w2 || w <= 0 || x < 0 || y < 0 || x + w > side || y >= side) {
			free(m);
			return -1;
		}
		for (int i = 0; i < w; i++) {
			if (m[y * side + x + i]) { /* overlapping runs */
				free(m);
				return -1;
			}
			m[y * side + x + i] = 1;
		}
		d += used;
	}
	if (strncmp(d, "\"/></svg>", 9) != 0) {
		free(m);
		return -1;
	}
	*out = m;
	return side;
}

static void check_svg_shape(const char *svg, size_t len)
{
	CHECK_EQ(strlen(svg), len);
	CHECK(strncmp(svg, "<svg", 4) == 0);
	CHECK(strstr(svg, "viewBox=\"0 0 ") != NULL);
	CHECK(strstr(svg, "shape-rendering=\"crispEdges\"") != NULL);
	CHECK(strstr(svg, "<script") == NULL);
	CHECK(strstr(svg, "href") == NULL);
	CHECK(strstr(svg, "url(") == NULL);
	CHECK(strstr(svg, "<image") == NULL);
	CHECK(strstr(svg, "<foreignObject") == NULL);
	CHECK(strstr(svg, " on") == NULL); /* no event-handler attributes */
	CHECK_EQ(count_substr(svg, "<path"), 1);
	CHECK(len > 6 && strcmp(svg + len - 7, "</svg>\n") == 0);
}

TEST(shape_and_modules)
{
	const char *text = "otpauth://totp/Bulwark:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	                   "&issuer=Bulwark&algorithm=SHA1&digits=6&period=30";
	char *svg = NULL;
	size_t len = 0;
	CHECK_EQ(qr_svg(text, &svg, &len), 0);
	if (!svg)
		return;
	check_svg_shape(svg, len);

	QRcode *ref = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	CHECK(ref != NULL);
	unsigned char *m = NULL;
	int side = svg_to_matrix(svg, &m);
	CHECK(ref && side == ref->width + 2 * QR_QUIET_ZONE);
	if (ref && m && side == ref->width + 2 * QR_QUIET_ZONE) {
		int diff = 0;
		for (int y = 0; y < side; y++)
			for (int x = 0; x < side; x++) {
				int in = x >= QR_QUIET_ZONE && y >= QR_QUIET_ZONE &&
				         x < QR_QUIET_ZONE + ref->width && y < QR_QUIET_ZONE + ref->width;
				int dark = in ? ref->data[(y - QR_QUIET_ZONE) * ref->width +
				                          (x - QR_QUIET_ZONE)] & 1 : 0;
				diff += dark != m[y * side + x];
			}
		CHECK_EQ(diff, 0);
		/* Finder pattern top-left: dark 7x7 ring starting at the quiet zone. */
		CHECK(m[4 * side + 4] && m[4 * side + 10] && m[10 * side + 4] && !m[5 * side + 5] &&
		      m[6 * side + 6]);
		CHECK(!m[3 * side + 4] && !m[4 * side + 3]);
	}
	free(m);
	QRcode_free(ref);
	free(svg);
}

/* Rasterises the SVG's modules at 8 px each into a PGM and asks zbarimg. */
static int zbar_decode(const char *svg, char *out, size_t out_max)
{
	unsigned char *m = NULL;
	int side = svg_to_matrix(svg, &m);
	if (side < 0)
		return -1;
	char path[] = "/tmp/bw_test_qr_XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		free(m);
		return -1;
	}
	FILE *f = fdopen(fd, "w");
	const int s = 8;
	fprintf(f, "P5\n%d %d\n255\n", side * s, side * s);
	for (int y = 0; y < side * s; y++)
		for (int x = 0; x < side * s; x++)
			fputc(m[(y / s) * side + x / s] ? 0 : 255, f);
	fclose(f);
	free(m);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "zbarimg --quiet --raw -Sqrcode.enable=1 %s 2>/dev/null", path);
	FILE *p = popen(cmd, "r");
	size_t got = p ? fread(out, 1, out_max - 1, p) : 0;
	if (p)
		pclose(p);
	unlink(path);
	out[got] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

TEST(decodes_with_zbarimg_if_installed)
{
	if (system("command -v zbarimg >/dev/null 2>&1") != 0) {
		printf("  (zbarimg not installed: decode check skipped)\n");
		return;
	}
	const char *texts[] = {
		("otpauth://totp/%E5%85%AC%E5%8F%B8:%E5%BC%A0%E4%B8%89?secret=GEZDGNBVGY3TQOJQ"
		 "GEZDGNBVGY3TQOJQ&issuer=%E5%85%AC%E5%8F%B8&algorithm=SHA1&digits=6&period=30"),
		"hello",
		"1234567890",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(texts); i++) {
		char *svg = NULL;
		size_t len = 0;
		CHECK_EQ(qr_svg(texts[i], &svg, &len), 0);
		if (!svg)
			continue;
		char got[2048];
		CHECK_EQ(zbar_decode(svg, got, sizeof got), 0);
		CHECK_STR(got, texts[i]);
		free(svg);
	}
}

TEST(limits)
{
	char *svg = (char *)"untouched";
	size_t len = 7;
	CHECK_EQ(qr_svg("", &svg, &len), BW_EINVAL);
	CHECK_EQ(qr_svg(NULL, &svg, &len), BW_EINVAL);
	char big[QR_TEXT_MAX + 2];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK_EQ(qr_svg(big, &svg, &len), BW_ETOOBIG);
	CHECK_STR(svg, "untouched");
	CHECK_EQ(len, 7);

	/* Exactly QR_TEXT_MAX bytes of binary-ish UTF-8 is fine. */
	big[QR_TEXT_MAX] = '\0';
	for (size_t i = 0; i < QR_TEXT_MAX; i++)
		big[i] = (char)('!' + (i * 7) % 90);
	CHECK_EQ(qr_svg(big, &svg, &len), 0);
	if (strcmp(svg, "untouched") != 0) {
		check_svg_shape(svg, len);
		CHECK(len < QR_SVG_MAX);
		unsigned char *m = NULL;
		CHECK(svg_to_matrix(svg, &m) > 0);
		free(m);
		free(svg);
	}
	/* Markup in the text never reaches the SVG. */
	char *svg2 = NULL;
	CHECK_EQ(qr_svg("<script>alert(1)</script>", &svg2, &len), 0);
	if (svg2) {
		check_svg_shape(svg2, len);
		CHECK(strstr(svg2, "alert") == NULL);
		free(svg2);
	}
}

int main(void)
{
	RUN(shape_and_modules);
	RUN(decodes_with_zbarimg_if_installed);
	RUN(limits);
	return UNIT_DONE();
}
