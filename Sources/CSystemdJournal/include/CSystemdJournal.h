// Why this shim exists: sd_journal_send() is variadic and Swift cannot call C variadic functions, and building
// `struct iovec` arrays from Swift strings is clumsier than passing (pointer, length) pairs. One non-variadic call
// over libsystemd's sd_journal_sendv(); libsystemd speaks journald's native protocol (datagrams on
// /run/systemd/journal/socket, with the memfd fallback for large entries), so this code does not have to.
#ifndef CSYSTEMD_JOURNAL_H
#define CSYSTEMD_JOURNAL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Sends one journal entry: `count` fields, each `FIELD=value` bytes (`fields[i]`, `lengths[i]` bytes; values may
/// hold newlines). Returns 0, or a negative errno.
int cpd_journal_send(const char *const *fields, const size_t *lengths, int count);

#ifdef __cplusplus
}
#endif

#endif
