/* render.h - prints a report's JSON value as JSON, CSV or an aligned text table. */
#ifndef DS_RENDER_H
#define DS_RENDER_H

#include <jansson.h>
#include <stdio.h>

#include "analyze/report.h"

/*
 * JSON: the value itself, indented. Table: an object's scalar members as "name  value" lines,
 * then each array of objects as a table under its name; a top-level array as one table.
 * CSV: the top-level array, or the object's array member named `csv_list` (the report's main
 * list), as a header row and one row per element. 0 or -EIO.
 */
int ds_render(FILE *f, enum ds_format fmt, json_t *v, const char *csv_list);

#endif
