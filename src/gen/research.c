/* research.c - published source prefixes of research / Internet-measurement scanners.
 *
 * A small fixed list for the generator (the macro-analysis issue adds a maintained list
 * file). Each prefix comes from the organisation's own page as mirrored by MISP's
 * warninglists (github.com/MISP/misp-warninglists, lists/<name>/list.json):
 *   censys-scanning  - Censys's "opt out of data collection" FAQ
 *   shodan-scanning  - Shodan crawler addresses (a subset)
 *   driftnet         - internet-measurement.com/#ips
 * and, for Shadowserver and RWTH Aachen, the ranges those organisations publish for their
 * scanners (also collected in mushorg/glutton's scanner list).
 * The probe style per organisation is a modelling choice, not a published fact.
 */
#include "gen/research.h"

static const char *const censys_v4[] = {"162.142.125.0/24", "167.94.138.0/24",  "167.94.145.0/24",
                                        "167.94.146.0/24",  "167.248.133.0/24", "199.45.154.0/24",
                                        "199.45.155.0/24",  "206.168.34.0/24",  NULL};
static const char *const censys_v6[] = {"2602:80d:1003::/112", "2602:80d:1004::/112", NULL};
static const char *const shodan_v4[] = {
    "198.20.69.74/32", "198.20.69.98/32",  "71.6.135.131/32", "66.240.205.34/32",
    "207.90.244.0/24", "216.117.2.176/28", "86.54.31.32/28",  NULL};
static const char *const shadowserver_v4[] = {"184.105.139.64/26", "184.105.247.192/26",
                                              "216.218.206.64/26", "74.82.47.0/26",
                                              "65.49.20.64/26",    NULL};
static const char *const driftnet_v4[] = {"87.236.176.0/24", "193.163.125.0/24", "185.247.137.0/24",
                                          "195.96.139.0/24", NULL};
static const char *const driftnet_v6[] = {"2a06:4880::/29", NULL};
static const char *const rwth_v4[] = {"137.226.113.0/26", NULL};
static const char *const none[] = {NULL};

const struct ds_research_org ds_research_orgs[] = {
    {.name = "censys",
     .published = "MISP warninglists censys-scanning (Censys opt-out FAQ)",
     .v4 = censys_v4,
     .v6 = censys_v6,
     .style_weight = {[DS_RS_ZMAP] = 1, [DS_RS_ZMAP_MSS] = 3},
     .weight = 4},
    {.name = "shodan",
     .published = "MISP warninglists shodan-scanning",
     .v4 = shodan_v4,
     .v6 = none,
     .style_weight = {[DS_RS_CUSTOM] = 3, [DS_RS_UDP_SURVEY] = 1},
     .weight = 2},
    {.name = "shadowserver",
     .published = "Shadowserver's published scanner ranges",
     .v4 = shadowserver_v4,
     .v6 = none,
     .style_weight = {[DS_RS_ZMAP] = 2, [DS_RS_UDP_SURVEY] = 2},
     .weight = 3},
    {.name = "driftnet",
     .published = "MISP warninglists driftnet (internet-measurement.com)",
     .v4 = driftnet_v4,
     .v6 = driftnet_v6,
     .style_weight = {[DS_RS_CUSTOM] = 1},
     .weight = 2},
    {.name = "rwth-aachen",
     .published = "RWTH Aachen research scanner range",
     .v4 = rwth_v4,
     .v6 = none,
     .style_weight = {[DS_RS_ZMAP] = 1},
     .weight = 1},
    {.name = NULL},
};

size_t ds_research_org_count(void)
{
    size_t n = 0;
    while (ds_research_orgs[n].name)
        n++;
    return n;
}
