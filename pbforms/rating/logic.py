"""The rules of a 述职评议, as pure functions: codes, group settings, and
the tally from counts to each unit's weighted score, 等次 and rank.

The default rules are the ones counties commonly use: grades 好／较好／一般／差
scoring 100／80／60／0; 等次 by the weighted score (≥ 90 好, ≥ 80 较好,
≥ 60 一般, else 差), and 差 whenever 差 votes reach a third of a group's
ballots for that unit; a group is valid when at least two thirds of its
ballots came back, and never fewer than five.
"""
import math
import re
import secrets
from fractions import Fraction
from typing import NamedTuple

from ..documents.official import plan_of
from ..filenames import unsafe_characters, unsafe_message

# No 0/O, 1/I/L: nothing a rater could misread on a slip.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10  # 31^10 ≈ 2^49.5
MIN_BALLOTS = 5

DEFAULT_RULES = {
    "grades": [{"name": "好", "score": 100}, {"name": "较好", "score": 80},
               {"name": "一般", "score": 60}, {"name": "差", "score": 0}],
    # (lowest weighted score, grade index), highest first; below the last: the last grade.
    "levels": [[90, 0], [80, 1], [60, 2]],
    # The last grade whenever its votes reach this share of a group's ballots for the unit.
    "poor_share": [1, 3],
    # A group counts when this share of its ballots came back, and at least quorum_min.
    "quorum_share": [2, 3],
    "quorum_min": MIN_BALLOTS,
}


def new_code():
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def shown_code(code):
    """As printed on a slip: two groups of five."""
    return f"{code[:5]}-{code[5:]}"


def typed_code(text):
    """A code as a rater typed it: case, spaces and dashes do not matter.
    None when it cannot be a code at all."""
    code = re.sub(r"[\s\-－—]", "", text or "").upper()
    return code if len(code) == CODE_LENGTH and set(code) <= set(ALPHABET) else None


def secretary_name(report):
    """The name its report gives its secretary: the last field of the
    document's name line (述职人姓名), as the printed report shows it."""
    name_line = plan_of(report.report_type).name_line
    return str(report.data.get(name_line[-1]) or "").strip() if name_line else ""


GROUP_SPEC = re.compile(r"^\s*(?P<name>[^=]+?)\s*=\s*(?P<count>\d{1,4})\s*[:：]\s*(?P<weight>\d{1,3})\s*%?\s*$")


def parse_groups(specs):
    """[(name, ballots, weight)] from lines like 党员代表=30:40, and a list of
    messages in Chinese for what is wrong (empty when all is right)."""
    groups, errors = [], []
    for spec in specs:
        if not spec.strip():
            continue
        match = GROUP_SPEC.match(spec)
        if not match:
            errors.append(f"「{spec.strip()}」应写成 组名=票数:权重，如 党员代表=30:40")
            continue
        name, count, weight = match["name"].strip(), int(match["count"]), int(match["weight"])
        if len(name) > 30:
            errors.append(f"组名「{name[:30]}…」最多 30 个字")
        elif any(name == g[0] for g in groups):
            errors.append(f"组名「{name}」重复了")
        elif count < MIN_BALLOTS:
            errors.append(f"{name}只有 {count} 张选票：每组至少 {MIN_BALLOTS} 张，票太少无法保证无记名")
        elif weight <= 0:
            errors.append(f"{name}的权重应大于 0")
        else:
            groups.append((name, count, weight))
    if not groups and not errors:
        errors.append("请至少设置一个评议组，如 党员代表=30:40")
    elif groups and not errors and sum(g[2] for g in groups) != 100:
        errors.append(f"各组权重之和应为 100%，现在是 {sum(g[2] for g in groups)}%")
    return groups, errors


PAIR = re.compile(r"^(?P<name>[^=\s]+)\s*=\s*(?P<number>\d{1,3})$")
SHARE = re.compile(r"^\s*(?P<top>\d{1,2})\s*/\s*(?P<bottom>\d{1,2})\s*$")


def rules_texts(rules):
    """The rules as the settings form shows them."""
    grades = rules["grades"]
    return {"grades": " ".join(f"{g['name']}={g['score']}" for g in grades),
            "levels": " ".join(f"{grades[index]['name']}={low}" for low, index in rules["levels"]),
            "poor_share": "{}/{}".format(*rules["poor_share"]),
            "quorum_share": "{}/{}".format(*rules["quorum_share"])}


def parse_rules(texts):
    """(rules, {form field: message}) from the settings form's texts (rules_texts' shape)."""
    errors = {}
    grades = []
    for item in (texts.get("grades") or "").split():
        match = PAIR.match(item)
        if not match or int(match["number"]) > 100:
            errors["grades"] = f"「{item}」应写成 等次=分值（0 至 100），如 好=100"
            break
        grades.append({"name": match["name"][:10], "score": int(match["number"])})
    if "grades" not in errors:
        names = [g["name"] for g in grades]
        if not 2 <= len(grades) <= 6:
            errors["grades"] = "等次应有 2 至 6 个，如 好=100 较好=80 一般=60 差=0"
        elif len(set(names)) != len(names):
            errors["grades"] = "等次名称不能重复"
        elif any(a["score"] <= b["score"] for a, b in zip(grades, grades[1:])):
            errors["grades"] = "等次应从高到低排列，分值逐个降低"
    levels = []
    if "grades" not in errors:
        names = [g["name"] for g in grades]
        for item in (texts.get("levels") or "").split():
            match = PAIR.match(item)
            if not match or match["name"] not in names[:-1] or int(match["number"]) > 100:
                errors["levels"] = (f"「{item}」应写成 等次=最低得分，等次为 {'、'.join(names[:-1])}"
                                    f"（{names[-1]}是其余的）")
                break
            levels.append([int(match["number"]), names.index(match["name"])])
        if "levels" not in errors and [index for _, index in levels] != list(range(len(names) - 1)):
            errors["levels"] = f"请依次给出 {'、'.join(names[:-1])} 的最低得分，如 {rules_texts(DEFAULT_RULES)['levels']}"
        elif "levels" not in errors and any(a[0] <= b[0] for a, b in zip(levels, levels[1:])):
            errors["levels"] = "最低得分应逐个降低"
    shares = {}
    for key, label in (("poor_share", "差票比例"), ("quorum_share", "法定票数比例")):
        match = SHARE.match(texts.get(key) or "")
        if not match or not 0 < int(match["top"]) <= int(match["bottom"]):
            errors[key] = f"{label}应写成分数，如 {rules_texts(DEFAULT_RULES)[key]}"
        else:
            shares[key] = [int(match["top"]), int(match["bottom"])]
    if errors:
        return None, errors
    return {"grades": grades, "levels": levels, **shares, "quorum_min": MIN_BALLOTS}, {}


def check_settings(title, group_lines):
    """(groups, errors keyed by form field) of a rating's settings, for the page and the command alike."""
    errors = {}
    if not title:
        errors["title"] = "请填写评议名称，如 2022年度村党组织书记抓基层党建工作述职评议"
    elif len(title) > 80:
        errors["title"] = "评议名称最多 80 个字"
    elif unsafe_characters(title):
        errors["title"] = unsafe_message("评议名称")
    groups, group_errors = parse_groups(group_lines)
    if group_errors:
        errors["groups"] = "；".join(group_errors)
    return groups, errors


def group_spec(name, ballots, weight):
    return f"{name}={ballots}:{weight}"


class Group(NamedTuple):
    id: int
    name: str
    ballots: int
    weight: int
    returned: int


def quorum(group, rules):
    share = Fraction(*rules["quorum_share"])
    return max(math.ceil(group.ballots * share), rules["quorum_min"])


def group_validity(group, rules):
    """(valid, reason) of a group's turnout."""
    needed = quorum(group, rules)
    if group.returned < needed:
        return False, (f"收回 {group.returned} 张，不足法定票数 {needed} 张"
                       f"（发出 {group.ballots} 张的{rules['quorum_share'][0]}/{rules['quorum_share'][1]}，"
                       f"且不少于 {rules['quorum_min']} 张），本组不计入结果")
    return True, ""


class UnitResult(NamedTuple):
    rated_id: int
    name: str
    counts: dict  # {group id: [n per grade]}
    grade_counts: list  # [n per grade] over the valid groups
    ballots: int  # counted ballots of the valid groups
    good_rate: float | None  # (first two grades) / ballots
    score: float | None  # weighted over the valid groups
    level: str
    rank: int | None
    poor_groups: tuple  # names of groups where the last grade reached its share


class Result(NamedTuple):
    groups: list  # [(Group, valid, reason)]
    units: list  # [UnitResult], in the rating's order
    rule_lines: list  # the rules applied, in words


def tally(groups, units, counts, rules):
    """The result of `counts` {(group id, rated id, grade index): n} for
    `units` [(rated id, name)] under `rules`. Invalid groups count for
    nothing; the valid ones' weights are scaled to sum to 100%."""
    grades = rules["grades"]
    checked = [(g, *group_validity(g, rules)) for g in groups]
    valid = [g for g, ok, _ in checked if ok]
    total_weight = sum(g.weight for g in valid)
    poor = Fraction(*rules["poor_share"])
    rows = []
    for rated_id, name in units:
        per_group = {g.id: [counts.get((g.id, rated_id, i), 0) for i in range(len(grades))] for g in groups}
        ballots = sum(sum(per_group[g.id]) for g in valid)
        good = sum(sum(per_group[g.id][:2]) for g in valid)
        score = None
        if total_weight and all(sum(per_group[g.id]) for g in valid):
            score = sum(Fraction(g.weight, total_weight)
                        * Fraction(sum(n * grade["score"] for n, grade in zip(per_group[g.id], grades)),
                                   sum(per_group[g.id])) for g in valid)
        poor_groups = tuple(g.name for g in valid if sum(per_group[g.id])
                            and per_group[g.id][-1] >= poor * sum(per_group[g.id]))
        if score is None:
            level = ""
        elif poor_groups:
            level = grades[-1]["name"]
        else:
            level = next((grades[index]["name"] for low, index in rules["levels"] if score >= low),
                         grades[-1]["name"])
        grade_counts = [sum(per_group[g.id][i] for g in valid) for i in range(len(grades))]
        rows.append(UnitResult(rated_id, name, per_group, grade_counts, ballots,
                               float(Fraction(good, ballots)) if ballots else None,
                               round(float(score), 2) if score is not None else None, level, None, poor_groups))
    scores = sorted((r.score for r in rows if r.score is not None), reverse=True)
    rows = [r._replace(rank=scores.index(r.score) + 1 if r.score is not None else None) for r in rows]
    return Result(checked, rows, rule_lines(groups, rules))


def rule_lines(groups, rules):
    """The settings in words, for the result's page and documents."""
    grades = rules["grades"]
    levels = "，".join(f"{low} 分及以上为{grades[index]['name']}" for low, index in rules["levels"])
    share = rules["quorum_share"]
    poor = rules["poor_share"]
    return [
        "评议组：" + "；".join(f"{g.name}（{g.ballots} 票，权重 {g.weight}%）" for g in groups) + "。",
        "等次得分：" + "、".join(f"{g['name']} {g['score']} 分" for g in grades) + "。",
        f"综合得分为各有效组平均得分按权重加权（有组无效时，其余各组权重按比例折算）；{levels}，"
        f"不足 {rules['levels'][-1][0]} 分为{grades[-1]['name']}；任一组中“{grades[-1]['name']}”票达到该组票数的 "
        f"{poor[0]}/{poor[1]} 的，评为{grades[-1]['name']}。",
        f"好评率 =（{grades[0]['name']}＋{grades[1]['name']}）票数 ÷ 有效票数。"
        f"每组收回选票不少于发出的 {share[0]}/{share[1]} 且不少于 {rules['quorum_min']} 张为有效。",
    ]
