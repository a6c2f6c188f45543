"""`flask --app app type …`: the report types from the command line.

The `type` group lives here so every command about types (list, and the
字段表's export and import) sits in one place.
"""
from pathlib import Path

import click

from ..models import ReportTypeRecord
from .sheet import SheetRefused, read_sheet, write_sheet


@click.group("type")
def type_group():
    """List report types; export and import their 字段表."""


@type_group.command("list")
def type_list():
    """One line per type: id, name, newest version, rounds using it."""
    for record in ReportTypeRecord.ordered():
        rounds = [f"{r.id} {r.title}" for r in record.rounds_using()]
        state = "（已停用）" if record.retired else ""
        click.echo(f"{record.id}\t{record.name}{state}\t第 {record.newest_version().number} 版\t"
                   + ("使用它的轮次：" + "；".join(rounds) if rounds else "尚无轮次使用"))


def type_record(type_id):
    record = ReportTypeRecord.get_or_none(ReportTypeRecord.id == type_id)
    if record is None:
        raise click.ClickException(f"找不到编号为 {type_id} 的报告类型；用 type list 查看编号")
    return record


@type_group.command("export")
@click.option("--type", "type_id", type=int, required=True, help="报告类型编号（type list 列出）")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="写入的 .xlsx 文件")
def type_export(type_id, output):
    """Write the 字段表 (.xlsx) of a type's newest version."""
    record = type_record(type_id)
    try:
        output.write_bytes(write_sheet(record.newest().definition))
    except OSError as e:
        raise click.ClickException(f"无法写入 {output}：{e.strerror}") from None
    click.echo(f"已写入 {output}（{record.name} 第 {record.newest().version} 版）", err=True)


@type_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="报告类型的名称：已有此名称的类型则保存为它的新版本，否则新建")
def type_import(file, name):
    """Read a 字段表 (.xlsx): a new type, or the next version of the type
    named NAME; prints the type's id. A sheet with problems is refused
    whole, each problem on its own line, and nothing is stored."""
    name = " ".join(name.split())
    if not name or len(name) > 60:
        raise click.ClickException("--name：名称不能为空，最多 60 个字")
    record = ReportTypeRecord.get_or_none(ReportTypeRecord.name == name)
    try:
        definition = read_sheet(file.read_bytes(), record.newest().definition if record else None,
                                record.keys_ever_used() if record else ())
    except SheetRefused as refused:
        for message in refused.messages:
            click.echo(message, err=True)
        raise click.ClickException(f"字段表有 {len(refused.messages)} 处问题，未保存任何内容") from None
    definition["name"] = name
    if record is None:
        record = ReportTypeRecord.add(definition, name=name)
        click.echo(f"已新建报告类型「{name}」（第 1 版）", err=True)
    else:
        version, new = record.save_version(definition)
        click.echo(f"已保存为「{name}」第 {version.number} 版" if new else f"与「{name}」最新版本相同，未新建版本",
                   err=True)
    click.echo(record.id)
