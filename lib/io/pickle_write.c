/* pickle_write.c: see pickle_write.h. */
#include "io/pickle_write.h"

#include <stdint.h>
#include <string.h>

int pk_write_str_list(FILE *f, const char *const *s, size_t n)
{
    int bad = fwrite("\x80\x02]", 1, 3, f) != 3;
    for (size_t i = 0; i < n && !bad; i += 1000) {
        bad |= fputc('(', f) == EOF;
        for (size_t j = i; j < n && j < i + 1000 && !bad; j++) {
            size_t len = strlen(s[j]);
            unsigned char hdr[5] = {'X', (unsigned char)len, (unsigned char)(len >> 8),
                                    (unsigned char)(len >> 16), (unsigned char)(len >> 24)};
            bad |= fwrite(hdr, 1, 5, f) != 5 || fwrite(s[j], 1, len, f) != len;
        }
        bad |= fputc('e', f) == EOF;
    }
    bad |= fputc('.', f) == EOF;
    return bad ? -1 : 0;
}
