"""A rating of the demo round, for the 述职评议 tests."""
from pbforms.auth import rated_by_default, rating_office
from pbforms.models import Round
from pbforms.rating import logic
from pbforms.rating.models import Rating

GROUPS = [("党委班子成员", 7, 40), ("党员代表", 30, 40), ("群众代表", 20, 20)]


def demo_rating(groups=GROUPS, title="2022年度村党组织书记抓基层党建工作述职评议"):
    round_ = Round.select().order_by(Round.id).first()
    return Rating.start(round_, rating_office(round_), title, groups, rated_by_default(round_), logic.DEFAULT_RULES)


def codes_by_group(rating):
    """{group name: [codes]} of freshly issued codes."""
    issued = {}
    for group, code in rating.issue_codes():
        issued.setdefault(group.name, []).append(code)
    return issued
