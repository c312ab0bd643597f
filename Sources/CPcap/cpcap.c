// Loads libpcap with dlopen on first use and fills the function table of cpcap.h.
#include "cpcap.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static struct cpcap_functions table;
static const struct cpcap_functions *loaded;
static char failure[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;

// Debian and Ubuntu name the library libpcap.so.0.8, most others libpcap.so.1.
static const char *const names[] = {"libpcap.so.0.8", "libpcap.so.1", "libpcap.so"};

static void load(void) {
    void *library = NULL;
    const char *reason = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !library; i++) {
        library = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!library && i == 0) reason = dlerror();
    }
    if (!library) {
        snprintf(failure, sizeof failure, "libpcap is not installed (%s)", reason ? reason : "not found");
        return;
    }
#define CPCAP_RESOLVE(name) \
    if (!(*(void **)&table.name = dlsym(library, "pcap_" #name))) { \
        snprintf(failure, sizeof failure, "libpcap has no pcap_" #name " (version 1.9 or later is needed)"); \
        return; \
    }
    CPCAP_RESOLVE(open_offline)
    CPCAP_RESOLVE(open_dead)
    CPCAP_RESOLVE(create)
    CPCAP_RESOLVE(close)
    CPCAP_RESOLVE(datalink)
    CPCAP_RESOLVE(next_ex)
    CPCAP_RESOLVE(dispatch)
    CPCAP_RESOLVE(geterr)
    CPCAP_RESOLVE(dump_open)
    CPCAP_RESOLVE(dump)
    CPCAP_RESOLVE(dump_flush)
    CPCAP_RESOLVE(dump_close)
    CPCAP_RESOLVE(set_snaplen)
    CPCAP_RESOLVE(set_immediate_mode)
    CPCAP_RESOLVE(set_buffer_size)
    CPCAP_RESOLVE(set_timeout)
    CPCAP_RESOLVE(activate)
    CPCAP_RESOLVE(compile)
    CPCAP_RESOLVE(freecode)
    CPCAP_RESOLVE(setfilter)
    CPCAP_RESOLVE(setnonblock)
    CPCAP_RESOLVE(get_selectable_fd)
#undef CPCAP_RESOLVE
    loaded = &table;
}

const struct cpcap_functions *cpcap_load(char *error, size_t size) {
    pthread_once(&once, load);
    if (!loaded && size > 0) snprintf(error, size, "%s", failure);
    return loaded;
}
