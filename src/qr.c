/*
 * qr.c — QR code to SVG with libqrencode.
 *
 * Serves PS-IA-b (TOTP enrolment: the otpauth:// URI carrying the shared
 * secret is shown as a QR code the user scans).
 *
 * Invariants:
 * - Input is bounded (QR_TEXT_MAX bytes) and the output has a hard maximum
 *   (QR_SVG_MAX); the largest symbol (version 40) needs well under it.
 * - The SVG is measured first and then written into one exact-size
 *   allocation (no realloc leaves a copy of a secret-bearing image).
 * - The SVG is built only from numbers and fixed strings: no input text is
 *   copied into it, so it cannot carry markup, scripts or references.
 * - The text may be secret: libqrencode's module matrix is wiped before it
 *   is freed.
 */
#include "qr.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <qrencode.h>
#include <sodium.h>
#include <string.h>

/* Output in two passes: with p == NULL only len is counted, so the SVG is
 * allocated once at its exact size and no realloc leaves an unwiped copy of
 * the (secret-bearing) image behind. */
struct qr_out {
	char *p;
	size_t len;
	size_t cap;     /* bytes at p, including room for the NUL */
};

static void qr_emit(struct qr_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void qr_emit(struct qr_out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = o->p ? vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap)
	             : vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort(); /* only fixed formats with integers reach here */
	o->len += (size_t)n;
	if (o->p && o->len >= o->cap)
		abort(); /* the second pass wrote more than the first counted */
}

/* The whole document; dark modules as one rectangle "M x y h n v1 h -n z"
 * per horizontal run, shifted by the quiet zone. */
static void qr_render(struct qr_out *o, const QRcode *qr)
{
	int side = qr->width + 2 * QR_QUIET_ZONE;
	qr_emit(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
	        "width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\">"
	        "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
	        side, side, side * 4, side * 4, side, side);
	for (int y = 0; y < qr->width; y++) {
		const unsigned char *row = qr->data + (size_t)y * (size_t)qr->width;
		int x = 0;
		while (x < qr->width) {
			if (!(row[x] & 1)) {
				x++;
				continue;
			}
			int x0 = x;
			while (x < qr->width && (row[x] & 1))
				x++;
			qr_emit(o, "M%d %dh%dv1h-%dz", x0 + QR_QUIET_ZONE, y + QR_QUIET_ZONE,
			        x - x0, x - x0);
		}
	}
	qr_emit(o, "\"/></svg>\n");
}

int qr_svg(const char *text, char **svg_out, size_t *svg_len)
{
	if (!text || !svg_out || !svg_len)
		return BW_EINVAL;
	size_t n = strnlen(text, QR_TEXT_MAX + 1);
	if (n == 0)
		return BW_EINVAL;
	if (n > QR_TEXT_MAX)
		return BW_ETOOBIG;

	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!qr) {
		int e = errno;
		log_err("qr: QRcode_encodeString: %s", strerror(e));
		return e == ENOMEM ? BW_ENOMEM : e == ERANGE ? BW_ETOOBIG : BW_EINVAL;
	}
	int rc = 0;
	struct qr_out o = { NULL, 0, 0 };
	qr_render(&o, qr);
	if (o.len >= QR_SVG_MAX) {
		rc = BW_ETOOBIG;
		goto out;
	}
	o.cap = o.len + 1;
	o.len = 0;
	o.p = malloc(o.cap);
	if (!o.p) {
		rc = BW_ENOMEM;
		goto out;
	}
	qr_render(&o, qr);
	if (o.len + 1 != o.cap)
		abort(); /* both passes render the same matrix */
	*svg_out = o.p;
	*svg_len = o.len;
out:
	sodium_memzero(qr->data, (size_t)qr->width * (size_t)qr->width);
	QRcode_free(qr);
	return rc;
}
