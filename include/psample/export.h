/* Symbol visibility for the shared library. */
#ifndef PSAMPLE_EXPORT_H
#define PSAMPLE_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define PS_API __attribute__((visibility("default")))
#else
#define PS_API
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PS_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define PS_PRINTF(fmt_index, first_arg)
#endif

#endif
