#include "CWatchdogShims.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zlib.h>

CURLcode cwd_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode cwd_curl_setopt_pointer(CURL *handle, CURLoption option, const void *value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode cwd_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode cwd_curl_setopt_write_function(CURL *handle, cwd_curl_data_callback callback, void *context) {
    CURLcode code = curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(handle, CURLOPT_WRITEDATA, context);
}

CURLcode cwd_curl_setopt_header_function(CURL *handle, cwd_curl_data_callback callback, void *context) {
    CURLcode code = curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(handle, CURLOPT_HEADERDATA, context);
}

CURLcode cwd_curl_setopt_progress_function(CURL *handle, cwd_curl_progress_callback callback, void *context) {
    CURLcode code = curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
    if (code != CURLE_OK) return code;
    code = curl_easy_setopt(handle, CURLOPT_XFERINFODATA, context);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
}

CURLcode cwd_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

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

struct MHD_Daemon *cwd_mhd_start(unsigned int flags,
                                 int listen_fd,
                                 MHD_AccessHandlerCallback handler,
                                 void *handler_context,
                                 MHD_RequestCompletedCallback completed,
                                 void *completed_context,
                                 unsigned int connection_limit,
                                 unsigned int per_ip_limit,
                                 unsigned int connection_timeout_seconds,
                                 unsigned int thread_pool_size,
                                 size_t connection_memory_limit) {
    struct MHD_OptionItem options[8];
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
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
    /* Port 0 plus MHD_OPTION_LISTEN_SOCKET: MHD uses the given socket and never binds itself. */
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_context,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, completed_context,
                            MHD_OPTION_ARRAY, options,
                            MHD_OPTION_END);
}

int cwd_gzip(const uint8_t *input, size_t input_len, int level, uint8_t **output, size_t *output_len) {
    z_stream stream;
    memset(&stream, 0, sizeof(stream));
    /* windowBits 15 + 16 selects the gzip wrapper. */
    if (deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    uLong bound = deflateBound(&stream, (uLong)input_len) + 32;
    uint8_t *buffer = malloc(bound);
    if (buffer == NULL) { deflateEnd(&stream); return -1; }
    stream.next_in = (Bytef *)input;
    stream.avail_in = (uInt)input_len;
    stream.next_out = buffer;
    stream.avail_out = (uInt)bound;
    int rc = deflate(&stream, Z_FINISH);
    if (rc != Z_STREAM_END) { free(buffer); deflateEnd(&stream); return -1; }
    *output_len = stream.total_out;
    *output = buffer;
    deflateEnd(&stream);
    return 0;
}

void cwd_free(void *pointer) { free(pointer); }
