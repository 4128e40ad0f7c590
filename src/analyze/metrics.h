/* metrics.h - counters the packet path publishes for the daemon's metrics endpoint (atomics:
 * written by the analysis threads, read by the HTTP thread). */
#ifndef DS_PATH_METRICS_H
#define DS_PATH_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "classify/classify.h"
#include "classify/fingerprint.h"

struct ds_path_metrics {
    _Atomic uint64_t frames;  /* frames read (the reader) */
    _Atomic uint64_t darknet; /* darknet packets counted (the shards) */
    _Atomic uint64_t bytes;
    _Atomic uint64_t classes[DS_CLASS_COUNT];
    _Atomic uint64_t fps[DS_FP_COUNT];
    _Atomic uint64_t hosts;         /* profiles held now, all shards */
    _Atomic uint64_t alert_packets; /* packets that concerned a registered organisation */
    _Atomic uint64_t kernel_received, kernel_dropped, if_dropped; /* live capture */
    _Atomic uint64_t last_packet_ns; /* packet time of the newest frame */
};

#endif
