/*
 * pv_time — clocks. Wall time (µs since the Unix epoch) for event
 * timestamps; a monotonic clock (ns) for durations and deadlines.
 * Thread: any.
 */
#ifndef PV_TIME_H
#define PV_TIME_H

#include <stdint.h>

int64_t pv_wall_us(void);
uint64_t pv_mono_ns(void);
/* Formats µs since the epoch as RFC 3339 UTC with microseconds
 * ("2026-11-26T09:02:41.123456Z") into out (at least 32 bytes). */
void pv_format_rfc3339_us(int64_t us, char out[32]);

#endif
