/*
 * Names of keys, for the help view, the manual page and key scripts.
 */
#include "config.h"
#include "keys.h"

#include <stdio.h>
#include <string.h>

static const char *const special_names[] = { QS_KEY_NAMES };

_Static_assert(sizeof(special_names) / sizeof(special_names[0]) == QS_KEY_LAST - QS_KEY_BASE,
               "QS_KEY_NAMES must name every special key");

/* Encode code point "cp" as UTF-8 into "buf" (at least 5 bytes). */
static void
utf8_encode(unsigned cp, char *buf)
{
    if (cp < 0x80) {
        buf[0] = (char)cp;
        buf[1] = 0;
    } else if (cp < 0x800) {
        buf[0] = (char)(0xc0 | (cp >> 6));
        buf[1] = (char)(0x80 | (cp & 0x3f));
        buf[2] = 0;
    } else if (cp < 0x10000) {
        buf[0] = (char)(0xe0 | (cp >> 12));
        buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        buf[2] = (char)(0x80 | (cp & 0x3f));
        buf[3] = 0;
    } else {
        buf[0] = (char)(0xf0 | (cp >> 18));
        buf[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        buf[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        buf[3] = (char)(0x80 | (cp & 0x3f));
        buf[4] = 0;
    }
}

const char *
qs_key_name(int key, char *buf, size_t size)
{
    char utf8[8];

    if (key >= QS_KEY_BASE && key < QS_KEY_LAST)
        snprintf(buf, size, "%s", special_names[key - QS_KEY_BASE]);
    else if (key == ' ')
        snprintf(buf, size, "Space");
    else if (key == 0x7f)
        snprintf(buf, size, "Backspace");
    else if (key > 0 && key < 0x20)
        snprintf(buf, size, "C-%c", key + 'a' - 1);
    else if (key > 0x20 && key < 0x110000) {
        utf8_encode((unsigned)key, utf8);
        snprintf(buf, size, "%s", utf8);
    } else
        snprintf(buf, size, "?");
    return buf;
}

/* Decode one UTF-8 character filling all of "text", or -1. */
static int
utf8_single(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t len = strlen(text);
    unsigned cp;
    size_t need;

    if (len == 1 && s[0] < 0x80)
        return s[0];
    if ((s[0] & 0xe0) == 0xc0) {
        cp = s[0] & 0x1f;
        need = 2;
    } else if ((s[0] & 0xf0) == 0xe0) {
        cp = s[0] & 0x0f;
        need = 3;
    } else if ((s[0] & 0xf8) == 0xf0) {
        cp = s[0] & 0x07;
        need = 4;
    } else
        return -1;
    if (len != need)
        return -1;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    return (int)cp;
}

int
qs_key_parse(const char *name)
{
    char inner[32];
    size_t len = strlen(name);

    if (len >= 2 && name[0] == '<' && name[len - 1] == '>' && len - 2 < sizeof(inner)) {
        memcpy(inner, name + 1, len - 2);
        inner[len - 2] = 0;
        name = inner;
    }
    if (name[0] == 0)
        return -1;
    for (int i = 0; i < QS_KEY_LAST - QS_KEY_BASE; i++)
        if (strcmp(name, special_names[i]) == 0)
            return QS_KEY_BASE + i;
    if (strcmp(name, "Space") == 0)
        return ' ';
    if (strcmp(name, "Return") == 0)
        return QS_KEY_ENTER;
    if (strncmp(name, "C-", 2) == 0 && name[2] >= 'a' && name[2] <= 'z' && name[3] == 0)
        return QS_KEY_CTRL(name[2]);
    return utf8_single(name);
}
