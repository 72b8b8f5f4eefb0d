/* pv_time — see pv_time.h. */
#include "core/common/pv_time.h"

#include <ctype.h>
#include <stdio.h>
#include <time.h>

int64_t pv_wall_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t pv_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void pv_format_rfc3339_us(int64_t us, char out[32]) {
  time_t secs = (time_t)(us / 1000000);
  long frac = (long)(us % 1000000);
  if (frac < 0) {
    frac += 1000000;
    secs -= 1;
  }
  struct tm tm;
  gmtime_r(&secs, &tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%06ldZ", frac);
}

/* Reads exactly n digits. */
static bool take_digits(const char **s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++, (*s)++) {
    if (!isdigit((unsigned char)**s)) return false;
    v = v * 10 + (**s - '0');
  }
  *out = v;
  return true;
}

/* A fraction ".ddd" (1 to 9 digits) as µs, truncated; none is 0. */
static bool take_fraction(const char **s, int64_t *us) {
  *us = 0;
  if (**s != '.') return true;
  (*s)++;
  int digits = 0;
  int64_t scale = 100000;
  while (isdigit((unsigned char)**s)) {
    if (++digits > 9) return false;
    *us += (**s - '0') * scale;
    scale /= 10;
    (*s)++;
  }
  return digits > 0;
}

/* RFC 3339 ("2024-05-01T12:00:00Z", a fraction and a ±HH:MM offset allowed;
 * 't', 'z' and a space for 'T' too) → µs since the epoch. */
bool pv_parse_rfc3339_us(const char *s, int64_t *out_us) {
  struct tm tm = {0};
  int year, mon, day, hour, min, sec, off_h = 0, off_m = 0, sign = 0;
  int64_t frac;
  if (!take_digits(&s, 4, &year) || *s++ != '-' || !take_digits(&s, 2, &mon) || *s++ != '-' ||
      !take_digits(&s, 2, &day))
    return false;
  if (*s != 'T' && *s != 't' && *s != ' ') return false;
  s++;
  if (!take_digits(&s, 2, &hour) || *s++ != ':' || !take_digits(&s, 2, &min) || *s++ != ':' ||
      !take_digits(&s, 2, &sec) || !take_fraction(&s, &frac))
    return false;
  if (*s == 'Z' || *s == 'z') {
    s++;
  } else if (*s == '+' || *s == '-') {
    sign = *s++ == '+' ? 1 : -1;
    if (!take_digits(&s, 2, &off_h) || *s++ != ':' || !take_digits(&s, 2, &off_m) ||
        off_h > 23 || off_m > 59)
      return false;
  } else {
    return false;
  }
  if (*s || mon < 1 || mon > 12 || day < 1 || hour > 23 || min > 59 || sec > 59) return false;
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  time_t t = timegm(&tm);
  if (tm.tm_mday != day || tm.tm_mon != mon - 1) return false; /* 31 February */
  *out_us = ((int64_t)t - sign * (off_h * 3600 + off_m * 60)) * 1000000 + frac;
  return true;
}

/* Unix seconds ("1714564800", "1714564800.25", "@1714564800") → µs. */
bool pv_parse_unix_us(const char *s, int64_t *out_us) {
  if (*s == '@') s++;
  uint64_t secs = 0;
  int digits = 0;
  for (; isdigit((unsigned char)*s); s++) {
    /* 10^12 seconds is year 33658: far past any event, far below overflow. */
    if (++digits > 12) return false;
    secs = secs * 10 + (uint64_t)(*s - '0');
  }
  int64_t frac;
  if (!digits || !take_fraction(&s, &frac) || *s) return false;
  *out_us = (int64_t)secs * 1000000 + frac;
  return true;
}
