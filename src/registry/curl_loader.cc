// libcurl loaded when a registry is first used, not when berth starts: Debian ships no
// libcurl.a berth could link statically (it needs nghttp2, rtmp, ssh2, psl, gssapi, ldap
// archives Debian lacks), and linking the shared one would make every berth command load ~30
// libraries (`berth version` included). These definitions of the few curl functions http.cc
// calls forward to libcurl.so.4, opened with dlopen on first use.
#include "base/error.h"

#define CURL_DISABLE_TYPECHECK 1  // curl.h would make curl_easy_setopt a macro
#include <curl/curl.h>
#include <dlfcn.h>

#include <cstdarg>
#include <mutex>

namespace {

struct Curl {
    void* lib = nullptr;
    CURLcode (*global_init)(long);
    CURL* (*easy_init)();
    void (*easy_cleanup)(CURL*);
    void (*easy_reset)(CURL*);
    CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
    CURLcode (*easy_perform)(CURL*);
    CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
    const char* (*easy_strerror)(CURLcode);
    curl_slist* (*slist_append)(curl_slist*, const char*);
    void (*slist_free_all)(curl_slist*);
};

template <typename F>
void bind(void* lib, F& f, const char* name) {
    f = reinterpret_cast<F>(::dlsym(lib, name));
    if (!f) throw berth::Error(std::string("libcurl.so.4 lacks ") + name, "install Debian's libcurl4");
}

const Curl& curl() {
    static Curl c;
    static std::once_flag once;
    std::call_once(once, [] {
        c.lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
        if (!c.lib)
            throw berth::Error(std::string("berth needs libcurl to talk to registries: ") + ::dlerror(),
                               "install it: apt-get install libcurl4");
        bind(c.lib, c.global_init, "curl_global_init");
        bind(c.lib, c.easy_init, "curl_easy_init");
        bind(c.lib, c.easy_cleanup, "curl_easy_cleanup");
        bind(c.lib, c.easy_reset, "curl_easy_reset");
        bind(c.lib, c.easy_setopt, "curl_easy_setopt");
        bind(c.lib, c.easy_perform, "curl_easy_perform");
        bind(c.lib, c.easy_getinfo, "curl_easy_getinfo");
        bind(c.lib, c.easy_strerror, "curl_easy_strerror");
        bind(c.lib, c.slist_append, "curl_slist_append");
        bind(c.lib, c.slist_free_all, "curl_slist_free_all");
    });
    return c;
}

}  // namespace

extern "C" {

CURLcode curl_global_init(long flags) { return curl().global_init(flags); }
CURL* curl_easy_init() { return curl().easy_init(); }
void curl_easy_cleanup(CURL* h) { curl().easy_cleanup(h); }
void curl_easy_reset(CURL* h) { curl().easy_reset(h); }
CURLcode curl_easy_perform(CURL* h) { return curl().easy_perform(h); }
const char* curl_easy_strerror(CURLcode c) { return curl().easy_strerror(c); }
curl_slist* curl_slist_append(curl_slist* l, const char* s) { return curl().slist_append(l, s); }
void curl_slist_free_all(curl_slist* l) { curl().slist_free_all(l); }

// An option's argument type follows from its number (curl.h's CURLOPTTYPE_* ranges).
CURLcode curl_easy_setopt(CURL* h, CURLoption opt, ...) {
    va_list ap;
    va_start(ap, opt);
    CURLcode rc;
    if (opt < CURLOPTTYPE_OBJECTPOINT) rc = curl().easy_setopt(h, opt, va_arg(ap, long));
    else if (opt >= CURLOPTTYPE_OFF_T && opt < CURLOPTTYPE_BLOB) rc = curl().easy_setopt(h, opt, va_arg(ap, curl_off_t));
    else rc = curl().easy_setopt(h, opt, va_arg(ap, void*));
    va_end(ap);
    return rc;
}

// Every CURLINFO_* takes a pointer to where the answer goes.
CURLcode curl_easy_getinfo(CURL* h, CURLINFO info, ...) {
    va_list ap;
    va_start(ap, info);
    void* out = va_arg(ap, void*);
    va_end(ap);
    return curl().easy_getinfo(h, info, out);
}

}  // extern "C"
