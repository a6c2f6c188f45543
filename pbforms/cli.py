"""`flask --app app …` commands for the configured database."""
import json
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext

from . import demo
from .auth import unlock
from .backup import backup_command, restore_command
from .db import migrate, writing
from .exports import round_group
from .documents import report_docx
from .forms import read_report_json
from .forms.cli import type_group
from .models import AuditEvent, Conflict, Report, Unit, User
from .documents.pdf import ConverterError, availability, docx_to_pdf
from .text import proofread, word_import
from .township.rounds import round_deadline, round_open
from .township.units import include_in_open_rounds


def init_app(app):
    app.cli.add_command(init_db)
    app.cli.add_command(create_user)
    app.cli.add_command(unit_group)
    app.cli.add_command(unlock_command)
    app.cli.add_command(report_group)
    round_group.add_command(round_open)
    round_group.add_command(round_deadline)
    app.cli.add_command(round_group)
    app.cli.add_command(type_group)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


@click.command("init-db")
@with_appcontext
def init_db():
    """Create or upgrade the database schema."""
    applied = migrate()
    click.echo(f"数据库已就绪：{shown_url(current_app.config['DATABASE_URL'])}（新应用迁移 {len(applied)} 个）")


def shown_url(url):
    """The database URL without its password, fit for a terminal or a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "filler"]), default="filler", show_default=True)
@click.option("--unit", "unit_name", help="填报员所属单位，或管理员所在的党建办的单位（默认最上级单位）的名称，如 青泥村")
@click.option("--name", "display_name", default="", help="显示的姓名")
@click.password_option(prompt="密码", confirmation_prompt="再次输入密码", help="密码（不给出时交互输入）")
def create_user(username, role, unit_name, display_name, password):
    """Create an account."""
    unit = Unit.root()
    if role == "filler" or unit_name:
        unit = Unit.get_or_none(Unit.name == (unit_name or ""))
        if unit is None:
            raise click.ClickException(f"找不到单位「{unit_name or ''}」，请用 --unit 给出已有单位的名称")
    if User.by_username(username):
        raise click.ClickException(f"用户名「{username}」已存在")
    if len(password) < 8:
        raise click.ClickException("密码至少 8 位")
    if password in demo.PASSWORDS:
        raise click.ClickException("不能使用演示密码，请另设一个")
    with writing():
        user = User(username=username, role=role, unit=unit, display_name=display_name)
        user.set_password(password)
        user.save()
    click.echo(f"已创建{User.ROLES[role]}：{username}")


@click.group("unit")
def unit_group():
    """The tree of units: 县（区）→ 乡镇（街道）→ 村／社区."""


@unit_group.command("add")
@click.option("--name", required=True, help="单位名称，如 白石镇")
@click.option("--kind", required=True, type=click.Choice(list(Unit.TREE_KINDS)))
@click.option("--parent", "parent_name", default="", help="上级单位的名称（第一个单位不用给出）")
def unit_add(name, kind, parent_name):
    """Add a unit below its parent; it joins the open rounds that cover it."""
    name = name.strip()
    parent = Unit.get_or_none(Unit.name == parent_name.strip()) if parent_name.strip() else None
    if parent_name.strip() and parent is None:
        raise click.ClickException(f"--parent：找不到单位「{parent_name}」（用 unit list 查看）")
    if parent is None and Unit.root() is not None:
        raise click.ClickException(f"--parent：请给出上级单位（最上级单位是「{Unit.root().name}」）")
    if not name or Unit.select().where(Unit.name == name).exists():
        raise click.ClickException(f"--name：已有名为「{name}」的单位" if name else "--name：请给出单位名称")
    with writing():
        unit = Unit.add(parent=parent, name=name, kind=kind, secretary_title=Unit.DEFAULT_SECRETARY[kind])
        joined = include_in_open_rounds(unit)
        AuditEvent.record("unit_add", None, unit=unit, detail=unit.name)
    click.echo(f"已新增{unit.kind_label}「{unit.name}」。{joined}")


@unit_group.command("list")
def unit_list():
    """The tree, one unit a line, indented by its depth, with its kind."""
    for unit in Unit.ordered().order_by(Unit.path):
        click.echo("  " * len(unit.ancestor_ids) + f"{unit.name}（{unit.kind_label}）"
                   + ("" if unit.active else "（已停用）"))


@click.command("unlock")
@click.argument("username")
def unlock_command(username):
    """Let USERNAME log in again at once, from every address: for the admin
    whose own account is throttled, as no one else can clear it then."""
    dropped = unlock(username)
    AuditEvent.record("throttle_clear", None, detail=f"{username}（命令行）")
    if not User.by_username(username):
        click.echo(f"注意：没有名为「{username}」的账号。", err=True)
    click.echo(f"已解除 {username} 的登录限制（清除 {dropped} 次输错记录）。")


@click.group("report")
def report_group():
    """List, export, import and render reports."""


def get_report(report_id):
    report = Report.with_round_and_unit().where(Report.id == report_id).first()
    if report is None:
        raise click.ClickException(f"找不到编号为 {report_id} 的报告")
    return report


@report_group.command("list")
def report_list():
    """One line per report: id, round, unit, status."""
    for r in Report.with_round_and_unit().order_by(Report.id):
        click.echo(f"{r.id}\t{r.round.title}\t{r.unit.name}\t{r.status_label}")


@report_group.command("export")
@click.option("--report", "report_id", type=int, required=True)
def report_export(report_id):
    """The report's data as JSON on stdout."""
    click.echo(json.dumps(get_report(report_id).data, ensure_ascii=False, indent=2))


@report_group.command("import")
@click.option("--report", "report_id", type=int, required=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def report_import(report_id, file):
    """Replace fields of a report from a JSON file, checked like the form."""
    report = get_report(report_id)
    report_type = report.report_type
    obj, problem = read_report_json(file.read_bytes())
    if problem:
        raise click.ClickException(problem)
    data, errors = report_type.parse_json(obj, report.data)
    if errors:
        for key, message in errors.items():
            label = report_type.by_key[key].label if key in report_type.by_key else key
            click.echo(f"{label}：{message}" if label else message, err=True)
        raise click.ClickException("有错误，未保存任何内容")
    try:
        report.save_data(data, None, report.version, note="从数据文件导入（命令行）")
    except Conflict:
        raise click.ClickException("报告在导入时被修改，未保存，请重试") from None
    click.echo(f"已导入，报告 {report.id} 现为第 {report.version} 版")


@report_group.command("import-docx")
@click.option("--report", "report_id", type=int, required=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def report_import_docx(report_id, file):
    """Fill a report from a Word file (.docx), as 从 Word 导入 does; prints what went where."""
    report = get_report(report_id)
    report_type = report.report_type
    try:
        result = word_import.import_docx(report_type, report.meta, file.read_bytes(), file.name)
    except word_import.Unreadable as e:
        raise click.ClickException(str(e)) from None
    for line in word_import.describe(report_type, result):
        click.echo(line)
    if not result.values:
        raise click.ClickException("文件中没有找到可以放入报告的内容，未保存")
    values = {key: value for key, value in result.values.items()
              if not (result.other_year and key in result.figure_keys)}  # another year's figures stay out
    data, errors = report_type.parse_json(values, report.data)
    if errors:
        raise click.ClickException("导入的内容有误，未保存：" + "；".join(errors.values()))
    if data == report.data:
        click.echo("内容与报告现在的内容相同，未保存")
        return
    try:
        report.save_data(data, None, report.version, note="从 Word 导入（命令行）")
    except Conflict:
        raise click.ClickException("报告在导入时被修改，未保存，请重试") from None
    click.echo(f"已导入，报告 {report.id} 现为第 {report.version} 版")


@report_group.command("check")
@click.option("--report", "report_id", type=int, required=True)
def report_check(report_id):
    """Proof-read a report: one finding per line (field, rule, excerpt,
    suggestion, and the sentence before and after a fix that changes a
    number); exit status 1 when there are findings, 0 when none. Findings
    the clerk marked 核对无误 are only counted on the last line."""
    report = get_report(report_id)
    report_type = report.report_type
    every = proofread.all_findings(report.findings_in(report.data), report_type)
    found = [x for x in every if not x.confirmed]
    for x in found:
        field = report_type.by_key[x.key].label + (f"（{x.place}）" if x.place else "")
        change = f"\t原句：{x.before}\t改后：{x.after}" if x.before else ""
        click.echo(f"{field}\t{x.rule.name}\t{x.excerpt}\t{x.suggestion}{change}")
    confirmed = f"（另有 {len(every) - len(found)} 处已核对无误）" if len(every) > len(found) else ""
    if found:
        click.echo(f"共 {len(found)} 处{confirmed}", err=True)
        raise SystemExit(1)
    click.echo(f"没有发现问题{confirmed}")


@report_group.command("docx")
@click.option("--report", "report_id", type=int, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def report_docx_command(report_id, output):
    """Write the report's official Word document."""
    body = report_docx(get_report(report_id))
    try:
        output.write_bytes(body)
    except OSError as e:
        raise click.ClickException(f"无法写入 {output}：{e.strerror}") from None
    click.echo(f"已写入 {output}")




@report_group.command("pdf")
@click.option("--report", "report_id", type=int, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def report_pdf_command(report_id, output):
    """Write the report as PDF, laid out by LibreOffice (which must be installed)."""
    report = get_report(report_id)
    problem = availability()
    if problem:
        raise click.ClickException(f"无法生成 PDF：{problem}")
    try:
        body = docx_to_pdf(report_docx(report))
    except ConverterError as e:
        raise click.ClickException(f"无法生成 PDF：{e}") from None
    try:
        output.write_bytes(body)
    except OSError as e:
        raise click.ClickException(f"无法写入 {output}：{e.strerror}") from None
    click.echo(f"已写入 {output}")
