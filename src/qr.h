/*
 * qr.h — QR codes as small standalone SVG images, used to show the TOTP
 * provisioning URI (otpauth://…) to a user enrolling an authenticator app.
 *
 * Serves PS-IA-b (second-factor enrolment).
 */
#ifndef BW_QR_H
#define BW_QR_H

#include <stddef.h>

#define QR_TEXT_MAX 1024        /* bytes of input text */
#define QR_QUIET_ZONE 4         /* modules of white border (ISO/IEC 18004) */
#define QR_SVG_MAX (1024 * 1024) /* hard cap on the produced SVG */

/* Encodes the NUL-terminated text (1..QR_TEXT_MAX bytes) with libqrencode
 * (error-correction level M, 8-bit mode) and renders it as one SVG document:
 * a white background, one <path> with the dark modules, a quiet zone of
 * QR_QUIET_ZONE modules, a viewBox in module units and
 * shape-rendering="crispEdges"; no scripts, no external references.
 * On success *svg_out is a malloc'd NUL-terminated string of *svg_len bytes
 * which the caller frees with free(); when the text was secret (a TOTP URI
 * is) the caller wipes it first (sodium_memzero).
 * Returns 0, BW_EINVAL (NULL or empty text), BW_ETOOBIG (text over
 * QR_TEXT_MAX) or BW_ENOMEM; the out-parameters are untouched on error. */
int qr_svg(const char *text, char **svg_out, size_t *svg_len);

#endif
