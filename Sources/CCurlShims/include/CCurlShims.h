#ifndef CCURLSHIMS_H
#define CCURLSHIMS_H

/*
 * Typed, non-variadic wrappers for libcurl's variadic setopt/getinfo calls, which Swift cannot import.
 * Linux only (glibc); every symbol carries the `cwd_` prefix.
 */

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>

/* MARK: libcurl */


CURLcode cwd_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode cwd_curl_setopt_pointer(CURL *handle, CURLoption option, const void *value);
CURLcode cwd_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
typedef size_t (*cwd_curl_data_callback)(char *data, size_t size, size_t count, void *context);
CURLcode cwd_curl_setopt_write_function(CURL *handle, cwd_curl_data_callback callback, void *context);
CURLcode cwd_curl_setopt_header_function(CURL *handle, cwd_curl_data_callback callback, void *context);
typedef int (*cwd_curl_progress_callback)(void *context, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);
/* Installs a progress callback (called about once a second even on an idle transfer); non-zero aborts. */
CURLcode cwd_curl_setopt_progress_function(CURL *handle, cwd_curl_progress_callback callback, void *context);
CURLcode cwd_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
/* CURLINFO_ACTIVESOCKET of a CURLOPT_CONNECT_ONLY handle: the socket to poll between curl_easy_send/recv. */
CURLcode cwd_curl_getinfo_socket(CURL *handle, CURLINFO info, curl_socket_t *value);

#endif
