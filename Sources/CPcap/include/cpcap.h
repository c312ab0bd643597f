#ifndef FLATLINE_CPCAP_H
#define FLATLINE_CPCAP_H
// libpcap, loaded when capture is first used (dlopen), so that the flatline binary needs nothing
// but the C library until someone captures. The types and constants are libpcap's own header's;
// the functions Flatline calls are reached through this table.
#include <pcap/pcap.h>
#include <stddef.h>

#define CPCAP_FUNCTION(name) __typeof__(pcap_##name) * _Nonnull name

struct cpcap_functions {
    CPCAP_FUNCTION(open_offline);
    CPCAP_FUNCTION(open_dead);
    CPCAP_FUNCTION(create);
    CPCAP_FUNCTION(close);
    CPCAP_FUNCTION(datalink);
    CPCAP_FUNCTION(next_ex);
    CPCAP_FUNCTION(dispatch);
    CPCAP_FUNCTION(geterr);
    CPCAP_FUNCTION(dump_open);
    CPCAP_FUNCTION(dump);
    CPCAP_FUNCTION(dump_flush);
    CPCAP_FUNCTION(dump_close);
    CPCAP_FUNCTION(set_snaplen);
    CPCAP_FUNCTION(set_immediate_mode);
    CPCAP_FUNCTION(set_buffer_size);
    CPCAP_FUNCTION(set_timeout);
    CPCAP_FUNCTION(activate);
    CPCAP_FUNCTION(compile);
    CPCAP_FUNCTION(freecode);
    CPCAP_FUNCTION(setfilter);
    CPCAP_FUNCTION(setnonblock);
    CPCAP_FUNCTION(get_selectable_fd);
};

/// The table, loaded once (thread-safe); NULL when libpcap cannot be loaded, with the reason
/// (the library names tried and dlerror's words) in `error` (NUL-terminated, at most `size` bytes).
const struct cpcap_functions * _Nullable cpcap_load(char * _Nonnull error, size_t size);

#endif
