/* research.h - published source prefixes of research / Internet-measurement scanners, and
 * how the generator models each organisation's probes. */
#ifndef DS_RESEARCH_H
#define DS_RESEARCH_H

#include <stddef.h>

/* How a research host probes (a modelling choice per organisation, see research.c). */
enum ds_research_style {
    DS_RS_ZMAP,       /* ZMap <= 4.0: IP ID 54321, TTL 255, window 65535, no options */
    DS_RS_ZMAP_MSS,   /* ZMap 3.x with one MSS 1460 option */
    DS_RS_CUSTOM,     /* own scanner: random IP ID, TTL 64, window 65535, no options */
    DS_RS_UDP_SURVEY, /* amplification surveys: real UDP requests to amp ports */
    DS_RS_COUNT
};

struct ds_research_org {
    const char *name;      /* "censys", ... */
    const char *published; /* where the prefixes are listed */
    const char *const *v4; /* NULL-terminated CIDR strings */
    const char *const *v6; /* NULL-terminated, may be empty */
    double style_weight[DS_RS_COUNT];
    double weight; /* share of research hosts */
};

/* NULL-name terminated. */
extern const struct ds_research_org ds_research_orgs[];
size_t ds_research_org_count(void);

#endif
