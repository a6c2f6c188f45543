"""The demo township: 青泥镇 and its villages, their accounts, and an open
2022 round: the township fills the seed's type, its report holding the seed
report's full content; the villages and the community get the village type,
empty as a new round gives it."""
from .db import writing
from .forms import builtin_demo_figures
from .models import Report, Round, Setting, Unit, User, builtin_type

ADMIN = ("admin", "admin2022demo")
FILLER_PASSWORD = "demo2022"
# Printed in the README and at start: they open accounts only on a database
# the demo created (`python app.py --demo`), and nobody may choose one.
PASSWORDS = {ADMIN[1], FILLER_PASSWORD}


def is_demo_database():
    """Whether this database holds the demo township, written when it was
    created and kept in the database, so every app process agrees."""
    return Setting.get_value("demo") == "1"


UNITS = [
    ("青泥镇", "township", "qingnizhen"),
    ("青泥村", "village", "qingnicun"),
    ("柳湾村", "village", "liuwancun"),
    ("石桥村", "village", "shiqiaocun"),
    ("东坡村", "village", "dongpocun"),
    ("河西村", "village", "hexicun"),
    ("新华社区", "community", "xinhuashequ"),
]
ROUND_TITLE = "2022年度抓基层党建工作述职"


def accounts():
    """(username, password, what it is) for every demo account."""
    rows = [(ADMIN[0], ADMIN[1], "管理员（镇党建办）")]
    rows += [(login, FILLER_PASSWORD, f"填报员（{name}）") for name, _, login in UNITS]
    return rows


def fill_demo():
    """Create the demo once; returns False when the database already has units."""
    if Unit.select().exists():
        return False
    township_type, village_type = builtin_type("annual_report"), builtin_type("village_report")
    with writing():
        for position, (name, kind, login) in enumerate(UNITS):
            unit = Unit.create(name=name, kind=kind, secretary_title=Unit.DEFAULT_SECRETARY[kind],
                               position=position)
            user = User(username=login, display_name=f"{name}填报员", role="filler", unit=unit)
            user.set_password(FILLER_PASSWORD)
            user.save()
        admin = User(username=ADMIN[0], display_name="镇党建办", role="admin")
        admin.set_password(ADMIN[1])
        admin.save()
        Setting.put("demo", "1")
        demo_round = Round.start(ROUND_TITLE, 2022, {"township": township_type, "village": village_type,
                                                      "community": village_type})
        township = Report.get(Report.round == demo_round, Report.unit == Unit.get(Unit.kind == "township"))
        # The seed report: its type's model text, with the seed's figures.
        data = township_type.model_data(township.meta) | builtin_demo_figures("annual_report")
        township.save_data(data, admin, township.version)
    return True
