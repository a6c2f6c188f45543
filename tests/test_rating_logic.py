"""The rules of a 述职评议 (pbforms/rating/logic.py): codes, group settings,
quorum, weighted score, 等次 and rank."""
import pytest

from pbforms.rating import logic
from pbforms.rating.logic import DEFAULT_RULES, Group, tally


def test_a_code_uses_no_look_alike_characters_and_has_at_least_40_bits():
    codes = {logic.new_code() for _ in range(200)}
    assert len(codes) == 200
    assert not set("".join(codes)) & set("01OIL")
    assert len(logic.ALPHABET) ** logic.CODE_LENGTH >= 2 ** 40


@pytest.mark.parametrize("typed, expected", [
    ("abcde-fghjk", "ABCDEFGHJK"), (" ABCDE FGHJK ", "ABCDEFGHJK"), ("ABCDE－FGHJK", "ABCDEFGHJK"),
    ("ABCDEFGHJ", None), ("ABCDEFGHJ0", None), ("ABCDEFGHJKM", None), ("", None), (None, None),
])
def test_a_typed_code_ignores_case_spaces_and_dashes(typed, expected):
    assert logic.typed_code(typed) == expected


@pytest.mark.parametrize("specs, groups, error", [
    (["党委班子成员=7:40", "党员代表=30:40", "群众代表=20:20"],
     [("党委班子成员", 7, 40), ("党员代表", 30, 40), ("群众代表", 20, 20)], None),
    (["党员代表 = 30 ： 100%"], [("党员代表", 30, 100)], None),
    (["党员代表=30:40", "群众代表=20:20"], None, "各组权重之和应为 100%，现在是 60%"),
    (["党员代表=3:100"], None, "每组至少 5 张"),
    (["党员代表30:100"], None, "应写成 组名=票数:权重"),
    (["党员代表=10:50", "党员代表=10:50"], None, "组名「党员代表」重复了"),
    ([], None, "请至少设置一个评议组"),
])
def test_group_settings_are_read_or_refused_in_chinese(specs, groups, error):
    parsed, errors = logic.parse_groups(specs)
    if error:
        assert any(error in e for e in errors), errors
    else:
        assert errors == [] and parsed == groups


def result_of(per_group, returned=None, groups=((1, "甲组", 10, 50), (2, "乙组", 10, 50))):
    """One unit's result: `per_group` {group id: [好, 较好, 一般, 差]}."""
    made = [Group(i, name, ballots, weight, (returned or {}).get(i, sum(per_group.get(i, [0]))))
            for i, name, ballots, weight in groups]
    counts = {(g, 1, grade): n for g, ns in per_group.items() for grade, n in enumerate(ns)}
    return tally(made, [(1, "青泥村")], counts, DEFAULT_RULES)


@pytest.mark.parametrize("per_group, score, level", [
    ({1: [10, 0, 0, 0], 2: [10, 0, 0, 0]}, 100.0, "好"),
    ({1: [8, 2, 0, 0], 2: [10, 0, 0, 0]}, 98.0, "好"),
    ({1: [5, 5, 0, 0], 2: [5, 5, 0, 0]}, 90.0, "好"),
    ({1: [4, 6, 0, 0], 2: [5, 5, 0, 0]}, 89.0, "较好"),
    ({1: [0, 10, 0, 0], 2: [0, 10, 0, 0]}, 80.0, "较好"),
    ({1: [0, 0, 10, 0], 2: [0, 9, 1, 0]}, 69.0, "一般"),
    ({1: [0, 0, 5, 5], 2: [0, 0, 10, 0]}, 45.0, "差"),
    # 差 reaches a third of one group's ballots: 差 whatever the score.
    ({1: [6, 0, 0, 4], 2: [10, 0, 0, 0]}, 80.0, "差"),
    ({1: [7, 0, 0, 3], 2: [10, 0, 0, 0]}, 85.0, "较好"),
])
def test_weighted_score_and_level(per_group, score, level):
    unit = result_of(per_group).units[0]
    assert (unit.score, unit.level) == (score, level)


def test_good_rate_is_the_first_two_grades_over_the_ballots():
    unit = result_of({1: [3, 4, 2, 1], 2: [5, 5, 0, 0]}).units[0]
    assert unit.ballots == 20
    assert unit.good_rate == pytest.approx(17 / 20)


@pytest.mark.parametrize("ballots, returned, valid", [
    (30, 20, True), (30, 19, False), (7, 5, True), (7, 4, False), (5, 5, True), (6, 4, False), (6, 5, True),
])
def test_a_group_needs_two_thirds_of_its_ballots_and_at_least_five(ballots, returned, valid):
    group = Group(1, "党员代表", ballots, 100, returned)
    ok, reason = logic.group_validity(group, DEFAULT_RULES)
    assert ok == valid
    assert ("不足法定票数" in reason) == (not valid)


def test_an_invalid_group_counts_for_nothing_and_the_others_weights_are_scaled():
    result = result_of({1: [10, 0, 0, 0], 2: [0, 0, 0, 4]}, returned={1: 10, 2: 4})
    (first, ok1, _), (second, ok2, reason) = result.groups
    assert (ok1, ok2) == (True, False)
    assert "收回 4 张，不足法定票数 7 张" in reason
    assert result.units[0].score == 100.0 and result.units[0].level == "好"


def test_ranks_share_a_place_on_equal_scores():
    groups = [Group(1, "甲组", 10, 100, 10)]
    counts = {}
    for rated, ns in {1: [5, 5, 0, 0], 2: [10, 0, 0, 0], 3: [5, 5, 0, 0], 4: [0, 0, 10, 0]}.items():
        counts.update({(1, rated, g): n for g, n in enumerate(ns)})
    result = tally(groups, [(1, "甲"), (2, "乙"), (3, "丙"), (4, "丁")], counts, DEFAULT_RULES)
    assert [u.rank for u in result.units] == [2, 1, 2, 4]


def test_the_rules_are_said_in_words():
    text = "".join(result_of({1: [1, 0, 0, 0]}).rule_lines)
    for words in ("甲组（10 票，权重 50%）", "好 100 分", "90 分及以上为好", "1/3", "2/3", "不少于 5 张"):
        assert words in text


def test_the_default_rules_read_back_as_they_are_shown():
    assert logic.parse_rules(logic.rules_texts(DEFAULT_RULES)) == (DEFAULT_RULES, {})


DEFAULT_TEXTS = logic.rules_texts(DEFAULT_RULES)


@pytest.mark.parametrize("changes, field, message", [
    ({"grades": "好=100 好=80"}, "grades", "等次名称不能重复"),
    ({"grades": "好=80 较好=100"}, "grades", "等次应从高到低排列"),
    ({"grades": "好"}, "grades", "应写成 等次=分值"),
    ({"grades": "好=100"}, "grades", "等次应有 2 至 6 个"),
    ({"levels": "好=90 较好=80"}, "levels", "请依次给出 好、较好、一般 的最低得分"),
    ({"levels": "好=90 较好=95 一般=60"}, "levels", "最低得分应逐个降低"),
    ({"levels": "好=90 较好=80 差=60"}, "levels", "等次为 好、较好、一般"),
    ({"poor_share": "三分之一"}, "poor_share", "差票比例应写成分数"),
    ({"quorum_share": "3/2"}, "quorum_share", "法定票数比例应写成分数"),
])
def test_wrong_rules_are_refused_next_to_their_field(changes, field, message):
    rules, errors = logic.parse_rules({**DEFAULT_TEXTS, **changes})
    assert rules is None
    assert message in errors[field]


def test_other_grades_and_levels_are_tallied_by_their_own_rules():
    rules, _ = logic.parse_rules({"grades": "优秀=100 合格=70 不合格=0", "levels": "优秀=85 合格=60",
                                  "poor_share": "1/2", "quorum_share": "1/2"})
    groups = [Group(1, "甲组", 10, 100, 5)]
    counts = {(1, 1, 0): 3, (1, 1, 1): 2, (1, 1, 2): 0}
    result = tally(groups, [(1, "青泥村")], counts, rules)
    assert result.groups[0][1]  # 5 of 10, at least 5: valid under 1/2
    assert (result.units[0].score, result.units[0].level) == (88.0, "优秀")
