/* utf8.h - strict UTF-8 validation for text that goes into JSON, XML and e-mail. */
#ifndef DS_UTF8_H
#define DS_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Whether the n bytes at s are strict UTF-8: no overlong forms, no surrogates, nothing above
 * U+10FFFF (NUL bytes are valid characters here; callers that need C strings check those). */
bool ds_utf8_valid(const char *s, size_t n);

#endif
