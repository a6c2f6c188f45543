"""Names typed by people that end up as file names, and the characters no
name or title may carry.

A unit's name, its secretary's title and a round's title become the names
of Word files, of zip entries and of downloads, which are opened on Windows
and Linux alike. The forms refuse what cannot be meant (`unsafe_characters`);
`safe_filename` still makes any name harmless, and `UniqueNames` keeps two
entries of one zip from having the same name, where extracting would let
one report overwrite another.
"""
import re
import unicodedata

# Reserved by Windows in a file name; "/" and "\\" separate folders.
FILE_NAME_FORBIDDEN = re.compile(r'[\\/:*?"<>|]')
FILE_NAME_FORBIDDEN_TEXT = '\\ / : * ? " < > |'
# Bidirectional controls: U+202E makes "文件gpj.exe" read as "文件exe.jpg".
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control (Cc), format (Cf: zero-width and direction marks), surrogate,
# private-use and unassigned characters, and line/paragraph separators.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
WINDOWS_DEVICES = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
                            | {f"{name}{n}" for name in ("COM", "LPT") for n in "123456789¹²³"})
MAX_LENGTH = 120  # characters: well within the 255 both systems allow per name


def unsafe_characters(text):
    """The characters of `text` no name or title may have, each as U+XXXX."""
    found = [c for c in text or "" if c in BIDI_CONTROLS or unicodedata.category(c) in UNSAFE_CATEGORIES]
    return [f"U+{ord(c):04X}" for c in dict.fromkeys(found)]


def unsafe_message(what):
    """The form's message for a name or title with such characters."""
    return f"{what}不能含有控制字符或文字方向控制符（如 U+202E），请删去后重新输入"


def safe_filename(name, fallback="未命名"):
    """`name` as one file name safe on Windows and Linux: no folder
    separators or reserved characters, no control or direction characters,
    no `..`, no trailing dot or space, no device name (CON, NUL.docx …),
    and not too long; the extension is kept."""
    text = "".join("_" if FILE_NAME_FORBIDDEN.match(c) else c for c in str(name) if not unsafe_characters(c))
    text = re.sub(r"\.{2,}", ".", text).strip(" .")
    stem, dot, extension = text.rpartition(".")
    if not dot or not stem or len(extension) > 10:
        stem, dot, extension = text, "", ""
    stem = stem.strip(" .")[:MAX_LENGTH] or fallback
    if stem.split(".")[0].strip().upper() in WINDOWS_DEVICES:
        stem = f"_{stem}"
    return f"{stem}{dot}{extension}"


class UniqueNames:
    """Gives each name once: a name met again gets （2）, （3） … before its
    extension. Compared case-insensitively, as Windows does."""

    def __init__(self):
        self.taken = set()

    def __call__(self, name):
        stem, dot, extension = name.rpartition(".")
        if not dot:
            stem, extension = name, ""
        candidate, n = name, 1
        while candidate.casefold() in self.taken:
            n += 1
            candidate = f"{stem}（{n}）{dot}{extension}"
        self.taken.add(candidate.casefold())
        return candidate
