"""The demo county: 青泥县 with 青泥镇 (as the demo township always was) and
白石镇 below it, their villages, their accounts, and the county's open 2022
round: 青泥镇 fills the seed's type, its report holding the seed report's
full content; the villages and the community get the village type, empty
as a new round gives it."""
from .db import writing
from .forms import builtin_demo_figures
from .models import Report, Round, Setting, Unit, User, builtin_type

ADMIN = ("admin", "admin2022demo")
COUNTY = ("青泥县", "county")
# (office account, its unit, what it is called), every one with ADMIN's password.
OFFICES = [("county", "青泥县", "县委组织部"), (ADMIN[0], "青泥镇", "镇党建办"), ("baishizhen", "白石镇", "白石镇党建办")]
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
# 白石镇 fills its own report from its office account.
OTHER_TOWNSHIP = ("白石镇", "township", None)
OTHER_UNITS = [
    ("白石村", "village", "baishicun"),
    ("松林村", "village", "songlincun"),
    ("杏花社区", "community", "xinghuashequ"),
]
ROUND_TITLE = "2022年度抓基层党建工作述职"


def accounts():
    """(username, password, what it is) for every demo account."""
    rows = [(login, ADMIN[1], f"管理员（{title}）") for login, _, title in OFFICES]
    rows += [(login, FILLER_PASSWORD, f"填报员（{name}）") for name, _, login in UNITS + OTHER_UNITS]
    return rows


def fill_demo():
    """Create the demo once; returns False when the database already has units."""
    if Unit.select().exists():
        return False
    township_type, village_type = builtin_type("annual_report"), builtin_type("village_report")
    with writing():
        county = Unit.add(name=COUNTY[0], kind=COUNTY[1], secretary_title=Unit.DEFAULT_SECRETARY[COUNTY[1]])
        units = {COUNTY[0]: county}
        for township, below in [(UNITS[0], UNITS[1:]), (OTHER_TOWNSHIP, OTHER_UNITS)]:
            parent = None
            for name, kind, login in [township] + below:
                unit = Unit.add(parent=parent or county, name=name, kind=kind,
                                secretary_title=Unit.DEFAULT_SECRETARY[kind])
                parent, units[name] = parent or unit, unit
                if login:
                    user = User(username=login, display_name=f"{name}填报员", role="filler", unit=unit)
                    user.set_password(FILLER_PASSWORD)
                    user.save()
        for login, unit_name, title in OFFICES:
            office = User(username=login, display_name=title, role="admin", unit=units[unit_name])
            office.set_password(ADMIN[1])
            office.save()
        admin = User.by_username(ADMIN[0])
        Setting.put("demo", "1")
        demo_round = Round.start(ROUND_TITLE, 2022, {"township": township_type, "village": village_type,
                                                      "community": village_type}, office=county)
        township = Report.get(Report.round == demo_round, Report.unit == units[UNITS[0][0]])
        # The seed report: its type's model text, with the seed's figures.
        data = township_type.model_data(township.meta) | builtin_demo_figures("annual_report")
        township.save_data(data, admin, township.version)
    return True
