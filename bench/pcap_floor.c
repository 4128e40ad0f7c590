/* pcap_floor.c - the benchmark floor: a minimal libpcap pcap_next_ex counting loop. */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_pcap_floor FILE.pcap\n");
        return 2;
    }
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[1], errbuf);
    if (!p) {
        fprintf(stderr, "bench_pcap_floor: %s\n", errbuf);
        return 1;
    }
    struct pcap_pkthdr *h;
    const unsigned char *d;
    unsigned long long n = 0, bytes = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
        n++;
        bytes += h->caplen;
    }
    if (rc == PCAP_ERROR)
        fprintf(stderr, "bench_pcap_floor: %s\n", pcap_geterr(p));
    printf("%llu packets %llu bytes\n", n, bytes);
    pcap_close(p);
    return rc == PCAP_ERROR;
}
