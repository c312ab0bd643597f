#ifndef FLATLINE_CPCAP_SHIM_H
#define FLATLINE_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
