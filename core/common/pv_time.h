/*
 * pv_time — clocks. Wall time (µs since the Unix epoch) for event
 * timestamps; a monotonic clock (ns) for durations and deadlines.
 * Thread: any.
 */
#ifndef PV_TIME_H
#define PV_TIME_H

#include <stdbool.h>
#include <stdint.h>

int64_t pv_wall_us(void);
uint64_t pv_mono_ns(void);
/* Formats µs since the epoch as RFC 3339 UTC with microseconds
 * ("2026-11-26T09:02:41.123456Z") into out (at least 32 bytes). */
void pv_format_rfc3339_us(int64_t us, char out[32]);

/* RFC 3339 ("2024-05-01T12:00:00Z"; a fraction and a ±HH:MM offset allowed,
 * 't', 'z' and a space for 'T' too) → µs since the epoch. False for
 * anything else, impossible dates (31 February) included. */
bool pv_parse_rfc3339_us(const char *s, int64_t *out_us);
/* Unix seconds ("1714564800", "1714564800.25", "@1714564800") → µs. */
bool pv_parse_unix_us(const char *s, int64_t *out_us);

#endif
