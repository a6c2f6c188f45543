"""`flask --app app rating …`: the 述职评议 from the command line, the same
checks and files as the office's pages."""
import os
from pathlib import Path

import click

from ..auth import rated_by_default, rating_office
from ..exports import under_option
from ..documents.pdf import ConverterError, availability
from ..models import AuditEvent, Round
from . import documents, logic
from .models import Rating, close_rating, enter_paper


@click.group("rating")
def rating_group():
    """述职评议: open a rating, print its slips, enter paper counts, close it, write its result."""


def get_rating(rating_id):
    rating = Rating.get_or_none(Rating.id == rating_id)
    if rating is None:
        raise click.ClickException(f"找不到编号为 {rating_id} 的述职评议")
    return rating


def write(output, body):
    try:
        output.write_bytes(body)
    except OSError as e:
        raise click.ClickException(f"无法写入 {output}：{e.strerror}") from None
    click.echo(f"已写入 {output}")


def suffix_of(output, allowed):
    suffix = output.suffix.lower().lstrip(".")
    if suffix not in allowed:
        raise click.ClickException(f"输出文件应以 {' 或 '.join('.' + a for a in allowed)} 结尾")
    return suffix


@rating_group.command("open")
@click.option("--round", "round_id", type=int, required=True)
@click.option("--title", required=True)
@click.option("--group", "groups", multiple=True, required=True,
              help="评议组：组名=票数:权重（百分数，各组合计 100），如 党员代表=30:40；可给多次")
@click.option("--office", "office_name", default=None,
              help="开评议会的单位（如 青泥镇，评议其下各村）；不写即开启本轮的单位")
def rating_open(round_id, title, groups, office_name):
    """Open a rating of the round's units directly below the office holding
    the meeting (--office, else the round's own office); prints its id."""
    round_ = Round.get_or_none(Round.id == round_id)
    if round_ is None:
        raise click.ClickException(f"找不到编号为 {round_id} 的填报轮次（用 round list 查看）")
    parsed, errors = logic.check_settings(" ".join(title.split()), groups)
    office = under_option(round_, office_name) if office_name else rating_office(round_)
    if not rated_by_default(round_, office):
        errors["round"] = "这一轮没有要评议的单位"
    if errors:
        raise click.ClickException("；".join(errors.values()))
    rating = Rating.start(round_, office, " ".join(title.split()), parsed, rated_by_default(round_, office),
                          logic.DEFAULT_RULES)
    AuditEvent.record("rating_open", None, detail=f"{rating.title}（命令行）")
    click.echo(rating.id)


@rating_group.command("slips")
@click.option("--rating", "rating_id", type=int, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def rating_slips(rating_id, output):
    """New codes for every ballot, on slips (.docx or .pdf); slips printed before stop working."""
    kind = suffix_of(output, ("docx", "pdf"))
    rating = get_rating(rating_id)
    base = os.environ.get("PBFORMS_PUBLIC_URL")
    if not base:
        raise click.ClickException("请先用 PBFORMS_PUBLIC_URL 给出各村手机打开本系统的地址，"
                                   "如 PBFORMS_PUBLIC_URL=http://192.168.1.10:8000，二维码指向这个地址")
    if not rating.is_open:
        raise click.ClickException("评议已结束，不能再生成选票")
    if kind == "pdf" and availability():
        raise click.ClickException(f"无法生成 PDF：{availability()}")
    issued = rating.issue_codes()
    if issued is None:
        raise click.ClickException("已有选票投入，不能重新生成选票（已发出的选票继续有效）")
    body = documents.slips_docx(rating, issued, base.rstrip("/") + "/")
    if kind == "pdf":
        try:
            body = documents.to_pdf(body)
        except ConverterError as e:
            raise click.ClickException(f"无法生成 PDF：{e}") from None
    AuditEvent.record("rating_slips", None, detail=f"{rating.title}（{len(issued)} 张，命令行）")
    write(output, body)


@rating_group.command("close")
@click.option("--rating", "rating_id", type=int, required=True)
def rating_close(rating_id):
    """End the voting; the result can be written from then on."""
    rating = get_rating(rating_id)
    if not rating.is_open:
        raise click.ClickException("这次评议已经结束")
    close_rating(rating)
    AuditEvent.record("rating_close", None, detail=f"{rating.title}（命令行）")
    for group, ok, reason in rating.result().groups:
        click.echo(f"{group.name}：收回 {group.returned}/{group.ballots}，{'有效' if ok else '无效：' + reason}")


@rating_group.command("result")
@click.option("--rating", "rating_id", type=int, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def rating_result(rating_id, output):
    """Write 测评结果汇总表: .xlsx or an official-format .docx, by the file's extension."""
    kind = suffix_of(output, ("xlsx", "docx"))
    rating = get_rating(rating_id)
    if rating.is_open:
        raise click.ClickException("评议结束后才能导出结果（rating close）")
    write(output, documents.result_xlsx(rating) if kind == "xlsx" else documents.result_docx(rating))


@rating_group.command("tally")
@click.option("--rating", "rating_id", type=int, required=True)
@click.option("--group", "group_name", required=True)
@click.option("--unit", "unit_name", required=True)
@click.argument("counts", nargs=-1, required=True)
def rating_tally(rating_id, group_name, unit_name, counts):
    """Enter one group's paper ballots for one unit: 好=N 较好=N 一般=N 差=N (replacing earlier counts)."""
    rating = get_rating(rating_id)
    group = next((g for g in rating.groups() if g.name == group_name), None)
    if group is None:
        raise click.ClickException(f"没有评议组「{group_name}」，可选：{'、'.join(g.name for g in rating.groups())}")
    rated = next((r for r in rating.rated_units() if r.unit.name == unit_name), None)
    if rated is None:
        raise click.ClickException(f"这次评议没有评议单位「{unit_name}」")
    given = {}
    for item in counts:
        grade, _, number = item.partition("=")
        if grade not in rating.grades or not number.isdigit() or len(number) > 4:
            raise click.ClickException(f"「{item}」应写成 等次=票数，等次为 {'、'.join(rating.grades)}")
        given[rating.grades.index(grade)] = int(number)
    error = enter_paper(rating, group, rated, {i: given.get(i, 0) for i in range(len(rating.grades))})
    if error:
        raise click.ClickException(error)
    AuditEvent.record("rating_tally", None, unit=rated.unit, detail=f"{rating.title}：{group.name}（命令行）")
    click.echo(f"已录入{group.name}对{unit_name}的计票：" + "，".join(f"{g} {given.get(i, 0)}"
                                                           for i, g in enumerate(rating.grades)))
