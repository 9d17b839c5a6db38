#ifndef CHTTPSERVERSHIMS_H
#define CHTTPSERVERSHIMS_H

/*
 * Socket set-up, libmicrohttpd's variadic start call with typed options, TLS checks (GnuTLS) and
 * credentials (libcrypt bcrypt, GnuTLS HMAC and random bytes) for the MicroHTTPServer module.
 * Linux only (glibc); every symbol carries the `cwd_` prefix.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <microhttpd.h>

/* MARK: sockets */


/* Creates, binds and listens on a TCP socket. host may be NULL or "" for every interface.
 * Returns the descriptor, or -1 with errno set and a message in err. */
int cwd_listen_tcp(const char *host, uint16_t port, int backlog, char *err, size_t err_len);
/* Creates, binds and listens on a unix stream socket at path (removing a stale socket file). */
int cwd_listen_unix(const char *path, int backlog, char *err, size_t err_len);
/* The local port a TCP socket is bound to, or -1. */
int cwd_socket_local_port(int fd);

/* MARK: libmicrohttpd */


/* TLS material for cwd_mhd_start_watched. The strings must stay valid until MHD_stop_daemon has returned
 * (libmicrohttpd keeps the pointers). */
struct cwd_mhd_tls {
    const char *cert_pem;    /* server certificate chain, PEM */
    const char *key_pem;     /* its private key, PEM (unencrypted) */
    const char *trust_pem;   /* CA certificates for client certificates, PEM; NULL = no client certificates */
    const char *priorities;  /* GnuTLS priority string, e.g. "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" */
};

/* Connection start/close events, for deadlines libmicrohttpd does not have (its
 * MHD_OPTION_CONNECTION_TIMEOUT is an inactivity timeout: a client sending one byte a second is never
 * cut). fd is the connection's socket, valid until the close event has returned: libmicrohttpd closes
 * it only afterwards, so shutdown(2) on it from another thread is safe while the caller keeps its
 * record under a lock that the close event also takes. */
typedef void (*cwd_mhd_connection_event)(void *context, struct MHD_Connection *connection, int fd, int started);
/* libmicrohttpd's own error messages (failed TLS handshakes, connection limits reached, ...), one
 * line each, formatted and without the trailing newline; instead of its default of printing them to
 * stderr. The text is valid only during the call. */
typedef void (*cwd_mhd_message)(void *context, const char *text);
struct cwd_mhd_watch {
    cwd_mhd_connection_event callback;
    void *context;
    int require_client_certificate; /* set by cwd_mhd_start_watched */
    cwd_mhd_message message;        /* NULL: libmicrohttpd prints to stderr */
};

/* Starts a daemon on an already listening socket, with connection events (watch may be NULL;
 * it must stay valid until MHD_stop_daemon has returned). thread_pool_size 0 = no pool.
 * per_ip_limit 0 = no per-IP limit (use it for unix sockets). tls NULL serves plain HTTP; with
 * tls->trust_pem set, a client certificate that chains to it is required in the TLS handshake
 * (a client without one, or with an untrusted one, fails the handshake). */
struct MHD_Daemon *cwd_mhd_start_watched(unsigned int flags,
                                         int listen_fd,
                                         MHD_AccessHandlerCallback handler,
                                         void *handler_context,
                                         MHD_RequestCompletedCallback completed,
                                         void *completed_context,
                                         unsigned int connection_limit,
                                         unsigned int per_ip_limit,
                                         unsigned int connection_timeout_seconds,
                                         unsigned int thread_pool_size,
                                         size_t connection_memory_limit,
                                         const struct cwd_mhd_tls *tls,
                                         struct cwd_mhd_watch *watch);

/* 1 if the connection is TLS and its peer presented a certificate that verifies against the
 * daemon's trust_pem; 0 otherwise (plain connection, no certificate, or verification failed). */
int cwd_mhd_peer_certificate_verified(struct MHD_Connection *connection);

/* Loads a certificate/key pair (and optional CA file) the way the daemon will, to report problems
 * before starting. Returns 0, or -1 with a message in err. */
int cwd_tls_check_credentials(const char *cert_pem, const char *key_pem, const char *trust_pem,
                              char *err, size_t err_len);

/* MARK: credentials (libcrypt, GnuTLS) */


/* Checks password against a crypt(3) hash (bcrypt $2y$/$2b$/$2a$) with crypt_r, comparing the result in
 * constant time. Returns 1 on a match, 0 on a mismatch, -1 if the hash is not usable. */
int cwd_crypt_check(const char *password, const char *hash);
/* Hashes password with bcrypt ($2b$) at cost (4...31) and a random salt into out (>= 64 bytes).
 * Returns 0, or -1. */
int cwd_bcrypt_hash(const char *password, int cost, char *out, size_t out_len);
/* HMAC-SHA-256 of data under key into out (32 bytes). Returns 0, or -1. */
int cwd_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t data_len, uint8_t *out);
/* Fills out with len random bytes from GnuTLS' generator. Returns 0, or -1. */
int cwd_random_bytes(uint8_t *out, size_t len);

#endif
