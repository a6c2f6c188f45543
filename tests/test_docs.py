"""The Chinese deployment guide (docs/部署说明.md, issue 23) is linked from
the README, gives the README's commands as they are, and explains every
setting the program reads."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
GUIDE_PATH = ROOT / "docs" / "部署说明.md"
GUIDE = GUIDE_PATH.read_text(encoding="utf-8")
# What a command in the README starts with.
PROGRAMS = ("python3 ", "python ", "py ", ".venv/bin/", "flask ", "pip ", "createuser ", "createdb ", "apt-get ")


def one_line(text):
    return " ".join(text.split())


def readme_commands():
    """Every command the README gives: the lines of its code blocks and its
    inline code that start with a program, without their trailing comments."""
    blocks = [line.strip() for line in README.splitlines() if line.startswith("    ")]
    spans = [one_line(span) for span in re.findall(r"`([^`]+)`", README)]
    commands = [re.split(r"\s+#\s", text)[0].strip() for text in blocks + spans]
    return sorted({command for command in commands if command.startswith(PROGRAMS)})


def test_the_readme_links_the_guide():
    assert "(docs/部署说明.md)" in README


def test_the_readme_has_commands_to_check():
    assert len(readme_commands()) >= 20


@pytest.mark.parametrize("command", readme_commands())
def test_the_guide_gives_the_readme_command_as_it_is(command):
    assert one_line(command) in one_line(GUIDE)


SETTINGS = sorted({name for path in [ROOT / "app.py", *(ROOT / "pbforms").rglob("*.py")]
                   for name in re.findall(r"PBFORMS_[A-Z_]+", path.read_text(encoding="utf-8"))})


@pytest.mark.parametrize("setting", SETTINGS)
def test_the_guide_explains_every_setting(setting):
    assert re.search(rf"^\| `{setting}` \|", GUIDE, re.M), f"no row for {setting} in the guide's table of settings"
