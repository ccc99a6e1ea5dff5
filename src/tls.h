/*
 * tls.h — the server certificate (RG-APP-e, RG-COMM-a, PS-COM-a/c).
 * When no certificate is configured, `bulwark init` generates a self-signed
 * ECDSA P-256 certificate for localhost, 127.0.0.1 and ::1, valid 825 days.
 */
#ifndef BW_TLS_H
#define BW_TLS_H

/* Writes cert_path (0644) and key_path (0600).  BW_EEXIST if cert exists. */
int tls_selfsigned_create(const char *cert_path, const char *key_path, const char *cn);

#endif
