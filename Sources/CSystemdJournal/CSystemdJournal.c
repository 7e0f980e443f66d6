#include "CSystemdJournal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/uio.h>
// The entry carries the Swift caller's CODE_FILE/CODE_LINE; without this, sd-journal.h's macro would add this file's too.
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

int cpd_journal_send(const char *const *fields, const size_t *lengths, int count) {
    if (count <= 0 || fields == NULL || lengths == NULL) return -EINVAL;
    struct iovec *iov = calloc((size_t)count, sizeof(struct iovec));
    if (iov == NULL) return -ENOMEM;
    for (int i = 0; i < count; i++) {
        iov[i].iov_base = (void *)fields[i];
        iov[i].iov_len = lengths[i];
    }
    int r = sd_journal_sendv(iov, count);
    free(iov);
    return r;
}
