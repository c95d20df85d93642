/* Capabilities: parse a comma-separated list of names, then drop all
 * others from every set (bounding, permitted, effective, inheritable,
 * ambient) around the uid change. */
#ifndef TSBOX_CAPS_H
#define TSBOX_CAPS_H

#include <stdint.h>

/* Bit mask of the named capabilities; dies (reports) on an unknown name. */
uint64_t caps_parse(const char *list);
/* Before the uid change: drops the bounding set to keep, asks to keep the
 * permitted set across setuid. */
void caps_drop_bounding(uint64_t keep);
/* After the uid change: permitted, effective and inheritable become keep;
 * ambient is cleared. */
void caps_set(uint64_t keep);

#endif
