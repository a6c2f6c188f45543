"""A rating of the demo round, for the 述职评议 tests."""
from pbforms.auth import rated_by_default
from pbforms.models import Round, Unit
from pbforms.rating import logic
from pbforms.rating.models import Rating

GROUPS = [("党委班子成员", 7, 40), ("党员代表", 30, 40), ("群众代表", 20, 20)]


def demo_rating(groups=GROUPS, title="2022年度村党组织书记抓基层党建工作述职评议"):
    """青泥镇's 述职评议会 on the demo round: its villages' secretaries rated."""
    round_ = Round.select().order_by(Round.id).first()
    office = Unit.get(Unit.name == "青泥镇")
    return Rating.start(round_, office, title, groups, rated_by_default(round_, office), logic.DEFAULT_RULES)


def codes_by_group(rating):
    """{group name: [codes]} of freshly issued codes."""
    issued = {}
    for group, code in rating.issue_codes():
        issued.setdefault(group.name, []).append(code)
    return issued
