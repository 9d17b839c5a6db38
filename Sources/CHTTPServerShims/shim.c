#include "CHTTPServerShims.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <crypt.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

static void cwd_set_error(char *err, size_t err_len, const char *what) {
    if (err != NULL && err_len > 0) {
        snprintf(err, err_len, "%s: %s", what, strerror(errno));
    }
}

int cwd_listen_tcp(const char *host, uint16_t port, int backlog, char *err, size_t err_len) {
    struct addrinfo hints;
    struct addrinfo *result = NULL;
    char service[8];
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    const char *node = (host == NULL || host[0] == '\0') ? NULL : host;
    int rc = getaddrinfo(node, service, &hints, &result);
    if (rc != 0) {
        if (err != NULL && err_len > 0) snprintf(err, err_len, "resolve %s: %s", node ? node : "*", gai_strerror(rc));
        errno = EINVAL;
        return -1;
    }
    /* With no host, prefer the IPv6 wildcard (dual stack) and fall back to IPv4. */
    int fd = -1;
    for (int pass = 0; pass < 2 && fd < 0; pass++) {
        for (struct addrinfo *ai = result; ai != NULL; ai = ai->ai_next) {
            if (node == NULL && pass == 0 && ai->ai_family != AF_INET6) continue;
            if (node == NULL && pass == 1 && ai->ai_family == AF_INET6) continue;
            fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
            if (fd < 0) { cwd_set_error(err, err_len, "socket"); continue; }
            int one = 1;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (ai->ai_family == AF_INET6) {
                int zero = 0;
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
            }
            if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
                cwd_set_error(err, err_len, "bind");
                close(fd); fd = -1; continue;
            }
            if (listen(fd, backlog) != 0) {
                cwd_set_error(err, err_len, "listen");
                close(fd); fd = -1; continue;
            }
            break;
        }
        if (node != NULL) break;
    }
    freeaddrinfo(result);
    return fd;
}

int cwd_listen_unix(const char *path, int backlog, char *err, size_t err_len) {
    struct sockaddr_un addr;
    if (strlen(path) >= sizeof(addr.sun_path)) {
        errno = ENAMETOOLONG;
        cwd_set_error(err, err_len, "unix socket path");
        return -1;
    }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { cwd_set_error(err, err_len, "socket"); return -1; }
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        cwd_set_error(err, err_len, "bind");
        close(fd);
        return -1;
    }
    if (listen(fd, backlog) != 0) {
        cwd_set_error(err, err_len, "listen");
        close(fd);
        return -1;
    }
    return fd;
}

int cwd_socket_local_port(int fd) {
    struct sockaddr_storage addr;
    socklen_t len = sizeof(addr);
    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0) return -1;
    if (addr.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&addr)->sin_port);
    if (addr.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return -1;
}

/* GnuTLS calls this during the handshake once the client's certificate has arrived; non-zero aborts
 * the handshake, so an untrusted certificate never reaches HTTP. */
static int cwd_verify_client_certificate(gnutls_session_t session) {
    unsigned int count = 0;
    if (gnutls_certificate_get_peers(session, &count) == NULL || count == 0) return -1;
    unsigned int status = 0;
    if (gnutls_certificate_verify_peers2(session, &status) != GNUTLS_E_SUCCESS) return -1;
    return status == 0 ? 0 : -1;
}

/* libmicrohttpd only asks for a client certificate (GNUTLS_CERT_REQUEST) when given a trust store, and
 * never checks it. Called for every new connection before its handshake: demand a certificate and
 * verify it inside the handshake, as Go's RequireAndVerifyClientCert does. */
static void cwd_require_client_certificate(void *cls, struct MHD_Connection *connection, void **socket_context,
                                           enum MHD_ConnectionNotificationCode code) {
    (void)cls;
    (void)socket_context;
    if (code != MHD_CONNECTION_NOTIFY_STARTED) return;
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (info == NULL || info->tls_session == NULL) return;
    gnutls_session_t session = (gnutls_session_t)info->tls_session;
    gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
    gnutls_session_set_verify_function(session, cwd_verify_client_certificate);
}

int cwd_mhd_peer_certificate_verified(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (info == NULL || info->tls_session == NULL) return 0;
    return cwd_verify_client_certificate((gnutls_session_t)info->tls_session) == 0 ? 1 : 0;
}

int cwd_tls_check_credentials(const char *cert_pem, const char *key_pem, const char *trust_pem,
                              char *err, size_t err_len) {
    gnutls_certificate_credentials_t cred;
    if (gnutls_certificate_allocate_credentials(&cred) != GNUTLS_E_SUCCESS) {
        snprintf(err, err_len, "cannot allocate TLS credentials");
        return -1;
    }
    int rc = 0;
    gnutls_datum_t cert = { (unsigned char *)cert_pem, (unsigned int)strlen(cert_pem) };
    gnutls_datum_t key = { (unsigned char *)key_pem, (unsigned int)strlen(key_pem) };
    int code = gnutls_certificate_set_x509_key_mem(cred, &cert, &key, GNUTLS_X509_FMT_PEM);
    if (code < 0) {
        snprintf(err, err_len, "certificate and key: %s", gnutls_strerror(code));
        rc = -1;
    } else if (trust_pem != NULL) {
        gnutls_datum_t trust = { (unsigned char *)trust_pem, (unsigned int)strlen(trust_pem) };
        code = gnutls_certificate_set_x509_trust_mem(cred, &trust, GNUTLS_X509_FMT_PEM);
        if (code <= 0) {
            snprintf(err, err_len, "client CA: %s", code < 0 ? gnutls_strerror(code) : "no certificate found");
            rc = -1;
        }
    }
    gnutls_certificate_free_credentials(cred);
    return rc;
}

int cwd_crypt_check(const char *password, const char *hash) {
    /* struct crypt_data is about 32 KiB: too big for a libmicrohttpd thread's stack. */
    struct crypt_data *data = calloc(1, sizeof(*data));
    if (data == NULL) return -1;
    int rc;
    const char *out = crypt_r(password, hash, data);
    if (out == NULL || out[0] == '*') {
        rc = -1;
    } else {
        size_t a = strlen(out), b = strlen(hash);
        unsigned char diff = (unsigned char)(a != b);
        size_t n = a < b ? a : b;
        for (size_t i = 0; i < n; i++) diff |= (unsigned char)(out[i] ^ hash[i]);
        rc = diff == 0 ? 1 : 0;
    }
    explicit_bzero(data, sizeof(*data));
    free(data);
    return rc;
}

int cwd_bcrypt_hash(const char *password, int cost, char *out, size_t out_len) {
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (crypt_gensalt_rn("$2b$", (unsigned long)cost, NULL, 0, setting, sizeof(setting)) == NULL) return -1;
    struct crypt_data *data = calloc(1, sizeof(*data));
    if (data == NULL) return -1;
    int rc = -1;
    const char *hashed = crypt_r(password, setting, data);
    if (hashed != NULL && hashed[0] != '*' && strlen(hashed) < out_len) {
        strcpy(out, hashed);
        rc = 0;
    }
    explicit_bzero(data, sizeof(*data));
    free(data);
    return rc;
}

int cwd_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t data_len, uint8_t *out) {
    return gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, key_len, data, data_len, out) == 0 ? 0 : -1;
}

int cwd_random_bytes(uint8_t *out, size_t len) {
    return gnutls_rnd(GNUTLS_RND_KEY, out, len) == 0 ? 0 : -1;
}

/* One notification callback serves both the client-certificate demand and the connection watch. */
static void cwd_notify_watched(void *cls, struct MHD_Connection *connection, void **socket_context,
                               enum MHD_ConnectionNotificationCode code) {
    struct cwd_mhd_watch *watch = cls;
    if (watch->require_client_certificate) cwd_require_client_certificate(NULL, connection, socket_context, code);
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    watch->callback(watch->context, connection, info != NULL ? (int)info->connect_fd : -1,
                    code == MHD_CONNECTION_NOTIFY_STARTED ? 1 : 0);
}

static void cwd_mhd_external_log(void *cls, const char *format, va_list args) {
    struct cwd_mhd_watch *watch = cls;
    char text[512];
    int n = vsnprintf(text, sizeof(text), format, args);
    if (n < 0) return;
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) text[--len] = 0;
    watch->message(watch->context, text);
}

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
                                         struct cwd_mhd_watch *watch) {
    struct MHD_OptionItem options[16];
    int n = 0;
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, (intptr_t)listen_fd, NULL };
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)connection_limit, NULL };
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)connection_timeout_seconds, NULL };
    if (per_ip_limit > 0) {
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)per_ip_limit, NULL };
    }
    if (thread_pool_size > 1) {
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)thread_pool_size, NULL };
    }
    if (connection_memory_limit > 0) {
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)connection_memory_limit, NULL };
    }
    if (tls != NULL) {
        flags |= MHD_USE_TLS;
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)tls->cert_pem };
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)tls->key_pem };
        if (tls->priorities != NULL) {
            options[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)tls->priorities };
        }
        if (tls->trust_pem != NULL) {
            options[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)tls->trust_pem };
            if (watch != NULL) {
                watch->require_client_certificate = 1;  /* cwd_notify_watched calls it */
            } else {
                options[n++] = (struct MHD_OptionItem){
                    MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)cwd_require_client_certificate, NULL };
            }
        }
    }
    if (watch != NULL) {
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)cwd_notify_watched, watch };
    }
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
    /* Port 0 plus MHD_OPTION_LISTEN_SOCKET: MHD uses the given socket and never binds itself. The
     * external logger must be the first option, or messages about the options go to stderr. */
    if (watch != NULL && watch->message != NULL) {
        return MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_context,
                                MHD_OPTION_EXTERNAL_LOGGER, cwd_mhd_external_log, watch,
                                MHD_OPTION_NOTIFY_COMPLETED, completed, completed_context,
                                MHD_OPTION_ARRAY, options,
                                MHD_OPTION_END);
    }
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_context,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, completed_context,
                            MHD_OPTION_ARRAY, options,
                            MHD_OPTION_END);
}
