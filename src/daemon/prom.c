/* prom.c - the daemon's counters as Prometheus text exposition. */
#include "daemon/prom.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "alert/alert.h"

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
    head(f, name, type, help);
    fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void path_metrics(FILE *f, const struct ds_path_metrics *m)
{
    one(f, "darkscope_frames_total", "counter", "Frames read from the capture source.",
        atomic_load(&m->frames));
    one(f, "darkscope_darknet_packets_total", "counter", "Packets sent to the darknet.",
        atomic_load(&m->darknet));
    one(f, "darkscope_darknet_bytes_total", "counter", "Bytes (on the wire) sent to the darknet.",
        atomic_load(&m->bytes));
    head(f, "darkscope_class_packets_total", "counter",
         "Darknet packets by traffic class (rate() gives per-class rates).");
    for (int i = 0; i < DS_CLASS_COUNT; i++)
        fprintf(f, "darkscope_class_packets_total{class=\"%s\"} %" PRIu64 "\n",
                ds_class_table[i].name, atomic_load(&m->classes[i]));
    head(f, "darkscope_fingerprint_packets_total", "counter",
         "Darknet packets matching each tool or malware fingerprint.");
    for (int i = 0; i < DS_FP_COUNT; i++)
        fprintf(f, "darkscope_fingerprint_packets_total{fingerprint=\"%s\"} %" PRIu64 "\n",
                ds_fingerprints[i]->name, atomic_load(&m->fps[i]));
    one(f, "darkscope_hosts_tracked", "gauge", "Source host profiles held in memory.",
        atomic_load(&m->hosts));
    one(f, "darkscope_registered_packets_total", "counter",
        "Darknet packets that concerned a registered organisation.",
        atomic_load(&m->alert_packets));
    one(f, "darkscope_capture_kernel_received_total", "counter",
        "Live capture: packets the kernel passed to the filter.", atomic_load(&m->kernel_received));
    one(f, "darkscope_capture_kernel_dropped_total", "counter",
        "Live capture: packets the kernel dropped (buffer full).", atomic_load(&m->kernel_dropped));
    one(f, "darkscope_capture_interface_dropped_total", "counter",
        "Live capture: packets the interface or driver dropped.", atomic_load(&m->if_dropped));
    head(f, "darkscope_last_packet_timestamp_seconds", "gauge",
         "Capture time of the newest packet read.");
    uint64_t ts = atomic_load(&m->last_packet_ns);
    fprintf(f, "darkscope_last_packet_timestamp_seconds %" PRIu64 ".%09" PRIu64 "\n",
            ts / 1000000000u, ts % 1000000000u);
}

static void alert_metrics(FILE *f, const struct ds_alerts_stats *a)
{
    head(f, "darkscope_alerts", "gauge", "Alerts held by the alert engine, by state.");
    for (int i = 0; i < 4; i++)
        fprintf(f, "darkscope_alerts{state=\"%s\"} %" PRIu64 "\n", ds_alert_state_names[i],
                atomic_load(&a->by_state[i]));
    one(f, "darkscope_alert_events_total", "counter",
        "Reports from the packet path applied to alerts.", atomic_load(&a->events));
    one(f, "darkscope_alerts_created_total", "counter", "Alerts created.",
        atomic_load(&a->alerts_created));
    one(f, "darkscope_alert_notices_total", "counter", "Single-alert notifications queued.",
        atomic_load(&a->notices));
    one(f, "darkscope_alert_digests_total", "counter", "Digests queued.", atomic_load(&a->digests));
    one(f, "darkscope_outbox_rows_total", "counter",
        "Deliveries written to the outbox (one per contact and notification).",
        atomic_load(&a->outbox_rows));
    one(f, "darkscope_alert_errors_total", "counter", "Store errors of the alert engine.",
        atomic_load(&a->errors));
    one(f, "darkscope_alert_lock_waits_total", "counter",
        "Times the alert engine waited out its busy timeout for the store's write lock.",
        atomic_load(&a->lock_waits));
}

char *ds_prom_render(const struct ds_prom_input *in, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    head(f, "darkscope_info", "gauge", "Build and mode of this process.");
    fprintf(f, "darkscope_info{version=\"%s\",mode=\"%s\"} 1\n", DS_VERSION,
            in->mode ? in->mode : "");
    one(f, "darkscope_start_time_seconds", "gauge", "Unix time the process started.",
        (uint64_t)in->start_unix);
    if (in->path)
        path_metrics(f, in->path);
    if (in->alerts)
        alert_metrics(f, in->alerts);
    if (in->outbox) {
        one(f, "darkscope_outbox_pending", "gauge",
            "Deliveries not yet done (outbox depth, at the last look).",
            atomic_load(&in->outbox->pending));
        one(f, "darkscope_deliveries_total", "counter", "Deliveries done.",
            atomic_load(&in->outbox->delivered));
        one(f, "darkscope_delivery_failures_total", "counter",
            "Delivery attempts that failed (each is retried).", atomic_load(&in->outbox->failures));
    }
    if (in->registry) {
        one(f, "darkscope_registry_organisations", "gauge", "Registered organisations.",
            atomic_load(&in->registry->orgs));
        one(f, "darkscope_registry_ranges", "gauge", "Registered address ranges.",
            atomic_load(&in->registry->ranges));
        one(f, "darkscope_registry_reloads_total", "counter", "Registry snapshots loaded.",
            atomic_load(&in->registry->reloads));
        one(f, "darkscope_registry_errors_total", "counter", "Failed registry reloads.",
            atomic_load(&in->registry->errors));
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}
