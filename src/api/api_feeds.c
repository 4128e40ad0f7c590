/* api_feeds.c - the API's sharing feeds (placeholder until the feeds land). */
#include "api/api_int.h"

void api_feed(struct api_call *c)
{
    api_error(c, 404, "no feed '%.32s'", c->seg[1]);
}
