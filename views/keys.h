/*
 * Key codes of the browser, independent of curses so that the views and
 * their tests never include it.  A key is an int: a Unicode code point
 * for printable characters, 1 .. 31 for control characters (Ctrl-D is
 * QS_KEY_CTRL('d')), and the QS_KEY_* values above the Unicode range for
 * the keys that have no character.  display.c translates curses codes to
 * these.
 */
#ifndef QS_KEYS_H
#define QS_KEYS_H

#include <stddef.h>

#define QS_KEY_CTRL(c) ((c) & 0x1f)

/* Keys without a character.  QS_KEY_NAMES below must list them in this order. */
enum qs_key_special {
    QS_KEY_BASE = 0x110000,
    QS_KEY_UP = QS_KEY_BASE,
    QS_KEY_DOWN,
    QS_KEY_LEFT,
    QS_KEY_RIGHT,
    QS_KEY_PGUP,
    QS_KEY_PGDN,
    QS_KEY_HOME,
    QS_KEY_END,
    QS_KEY_ENTER,
    QS_KEY_ESC,
    QS_KEY_TAB,
    QS_KEY_BTAB,
    QS_KEY_BACKSPACE,
    QS_KEY_DELETE,
    QS_KEY_RESIZE,       /* the terminal changed size */
    QS_KEY_MOUSE,        /* a mouse event, see struct qs_mouse */
    QS_KEY_LAST
};

/* Printed names of the special keys, in enum order, for help, docs and scripts. */
#define QS_KEY_NAMES \
    "Up", "Down", "Left", "Right", "PgUp", "PgDn", "Home", "End", "Enter", "Esc", \
    "Tab", "S-Tab", "Backspace", "Delete", "Resize", "Mouse"

/* What a mouse event did, at which screen cell. */
enum qs_mouse_kind {
    QS_MOUSE_CLICK,
    QS_MOUSE_DOUBLE_CLICK,
    QS_MOUSE_WHEEL_UP,
    QS_MOUSE_WHEEL_DOWN
};

struct qs_mouse {
    enum qs_mouse_kind kind;
    int y;
    int x;
};

/*
 * Write the name of "key" to "buf" ("j", "G", "Space", "C-d", "Enter",
 * "PgDn", "?"): the form the help screen, the manual page and key
 * scripts use.  Returns "buf".
 */
const char *qs_key_name(int key, char *buf, size_t size);

/*
 * Parse one key name as qs_key_name writes it (also "<Enter>" with angle
 * brackets and "Space").  Returns the key, or -1 when "name" is not one.
 */
int qs_key_parse(const char *name);

#endif
