"""`flask --app app …` commands: list, export, import (checked like the form,
nothing stored on error), docx, init-db, create-user."""
import io
import json

import pytest
from docx import Document

from pbforms import cli, create_app
from pbforms.db import db
from pbforms.models import Report, Revision, User
from tests.fillpage import report_of
from tests.official_format import format_problems

ROUND = "2022年度抓基层党建工作述职"


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(*args, **kwargs):
        return runner.invoke(args=[str(a) for a in args], **kwargs)
    return invoke


@pytest.fixture
def township():
    return report_of("青泥镇")


def stored(report_id):
    with db.connection_context():
        return Report.get_by_id(report_id)


def write_json(tmp_path, obj):
    path = tmp_path / "report.json"
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


# --- report list / export ----------------------------------------------------------

def test_report_list_has_one_line_per_report(run):
    result = run("report", "list")
    assert result.exit_code == 0
    lines = [line.split("\t") for line in result.output.splitlines()]
    assert [(unit, status) for _, round_title, unit, status in lines] == [
        ("青泥镇", "草稿"), ("青泥村", "未开始"), ("柳湾村", "未开始"), ("石桥村", "未开始"),
        ("东坡村", "未开始"), ("河西村", "未开始"), ("新华社区", "未开始"),
        ("白石镇", "未开始"), ("白石村", "未开始"), ("松林村", "未开始"), ("杏花社区", "未开始"),
    ]
    assert {round_title for _, round_title, _, _ in lines} == {ROUND}


def test_report_list_ids_are_the_reports_ids(run, township):
    first = run("report", "list").output.splitlines()[0]
    assert first == f"{township.id}\t{ROUND}\t青泥镇\t草稿"


def test_report_export_gives_the_data_as_json(run, township):
    result = run("report", "export", "--report", township.id)
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data == township.data
    assert (data["reporter_name"], data["reading_classes"], data["member_files_checked"]) == ("王建华", 13, None)


def test_report_export_of_an_unknown_report_fails_in_chinese(run):
    result = run("report", "export", "--report", 999999)
    assert result.exit_code != 0
    assert "找不到编号为 999999 的报告" in result.output


# --- report import -----------------------------------------------------------------

def test_import_of_an_export_round_trips(run, tmp_path, township):
    data = json.loads(run("report", "export", "--report", township.id).output)
    data["reading_classes"] = 21
    data["plans"].append({"heading": "新的打算", "text": "内容。"})
    result = run("report", "import", "--report", township.id, write_json(tmp_path, data))
    assert result.exit_code == 0, result.output
    after = stored(township.id)
    assert after.version == township.version + 1
    assert after.data == data
    assert f"现为第 {after.version} 版" in result.output


def test_import_is_a_revision_of_its_own(run, tmp_path, township):
    run("report", "import", "--report", township.id, write_json(tmp_path, {"seminars": 7}))
    with db.connection_context():
        newest = Revision.history_of(township).first()
        assert (newest.version, newest.note, newest.data["seminars"]) == (
            township.version + 1, "从数据文件导入（命令行）", 7)


def test_import_of_some_fields_keeps_the_others(run, tmp_path, township):
    result = run("report", "import", "--report", township.id, write_json(tmp_path, {"seminars": "７"}))
    assert result.exit_code == 0, result.output
    assert stored(township.id).data == {**township.data, "seminars": 7}


BAD_FILES = [
    ("malformed", '{"reading_classes": 1,', "数据文件已损坏或被改动过：第 1 行第 23 个字符附近有误"),
    ("not-an-object", "[1, 2]", "这不是本系统导出的数据文件"),
    ("unknown-field", {"nonexistent": 1}, "未知字段「nonexistent」"),
    ("negative-count", {"reading_classes": -1}, "读书班：不能为负数"),
    ("fractional-count", {"reading_classes": 2.5}, "读书班：请填写整数，不能有小数"),
    ("text-count", {"reading_classes": "十二"}, "读书班：请填写数字，如 12"),
    ("boolean-count", {"reading_classes": True}, "读书班：请填写整数，如 12"),
    ("huge-count", {"reading_classes": 10 ** 30}, "读书班：不能超过 99999"),
    ("thousands-of-digits", '{"reading_classes": ' + "9" * 5000 + "}", "文件中有过长的数字"),
    ("deeply-nested", "[" * 100000 + "]" * 100000, "嵌套层数过多"),
    ("number-as-text", {"reporter_name": 12}, "述职人姓名：应为文字"),
    ("items-not-a-list", {"plans": "一是……"}, "下步打算：应为条目列表"),
    ("bad-date", {"written_on": "2023年1月6日"}, "成文日期：日期格式应为 2023-01-06"),
    ("overlong-heading", {"plans": [{"heading": "党" * 201, "text": ""}]}, "下步打算：第 1 条的标题最多 200 个字"),
    ("unknown-reference", {"intro": "⟦不存在⟧"}, "开头：引用了不存在的数字"),
]


@pytest.mark.parametrize("content, message", [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_import_of_a_bad_file_is_refused_and_stores_nothing(run, tmp_path, township, content, message):
    result = run("report", "import", "--report", township.id, write_json(tmp_path, content))
    assert result.exit_code != 0
    assert message in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    after = stored(township.id)
    assert after.version == township.version
    assert after.data == township.data


def test_import_with_one_bad_field_stores_none_of_the_good_ones(run, tmp_path, township):
    result = run("report", "import", "--report", township.id,
                 write_json(tmp_path, {"seminars": 9, "reading_classes": -1}))
    assert result.exit_code != 0
    assert result.stderr.splitlines()[-1] == "Error: 有错误，未保存任何内容"
    assert stored(township.id).data["seminars"] == 2


def test_import_of_a_file_not_in_utf8_is_refused(run, tmp_path, township):
    path = tmp_path / "gbk.json"
    path.write_bytes('{"reporter_name": "李四"}'.encode("gbk"))
    result = run("report", "import", "--report", township.id, path)
    assert result.exit_code != 0
    assert "这不是本系统的数据文件" in result.stderr
    assert stored(township.id).version == township.version


def test_import_of_a_utf8_file_with_byte_order_mark_is_accepted(run, tmp_path, township):
    """Windows Notepad saves UTF-8 with a BOM."""
    path = tmp_path / "notepad.json"
    path.write_bytes('{"reporter_name": "李四"}'.encode("utf-8-sig"))
    result = run("report", "import", "--report", township.id, path)
    assert result.exit_code == 0, result.output
    assert stored(township.id).data["reporter_name"] == "李四"


def test_import_of_a_missing_file_is_refused(run, tmp_path, township):
    result = run("report", "import", "--report", township.id, tmp_path / "none.json")
    assert result.exit_code != 0
    assert stored(township.id).version == township.version


# --- report docx -------------------------------------------------------------------

def test_report_docx_writes_the_official_document(run, tmp_path, township):
    out = tmp_path / "report.docx"
    result = run("report", "docx", "--report", township.id, "-o", out)
    assert result.exit_code == 0, result.output
    assert format_problems(out.read_bytes()) == []
    paragraphs = [p.text for p in Document(io.BytesIO(out.read_bytes())).paragraphs if p.text]
    assert paragraphs[:2] == ["2022年度青泥镇党委书记", "抓基层党建工作述职报告"]


def test_report_docx_into_a_missing_folder_fails_in_chinese(run, tmp_path, township):
    result = run("report", "docx", "--report", township.id, "-o", tmp_path / "none" / "report.docx")
    assert result.exit_code != 0
    assert "无法写入" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# --- init-db -----------------------------------------------------------------------

def test_init_db_creates_the_schema_of_an_empty_database(database_url):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                      "SKIP_MIGRATIONS": True})
    with db.connection_context():
        assert "report" not in db.get_tables()
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert "数据库已就绪" in result.output
    with db.connection_context():
        assert {"unit", "user", "round", "report", "revision"} <= set(db.get_tables())
    db.close()


@pytest.mark.parametrize("url, shown", [
    ("postgresql://pbforms:s3cret@db.local:5432/pbforms", "postgresql://pbforms:***@db.local:5432/pbforms"),
    ("sqlite:////srv/pbforms/instance/pbforms.sqlite3", "sqlite:////srv/pbforms/instance/pbforms.sqlite3"),
])
def test_database_url_is_shown_without_its_password(url, shown):
    assert cli.shown_url(url) == shown


def test_init_db_on_a_current_database_changes_nothing(run):
    result = run("init-db")
    assert result.exit_code == 0
    assert "新应用迁移 0 个" in result.output


# --- create-user -------------------------------------------------------------------

def test_create_user_with_password_option(run, auth):
    result = run("create-user", "zhangsan", "--role", "filler", "--unit", "青泥村", "--password", "secret123")
    assert result.exit_code == 0, result.output
    assert "已创建填报员：zhangsan" in result.output
    auth.login("zhangsan", "secret123")
    assert "青泥村" in auth.client.get("/").text


def test_create_user_asks_for_the_password_twice(run, auth):
    result = run("create-user", "zhangsan", "--unit", "青泥村", input="secret123\nsecret123\n")
    assert result.exit_code == 0, result.output
    assert "密码: \n再次输入密码: \n" in result.output
    assert "secret123" not in result.output  # typed hidden
    auth.login("zhangsan", "secret123")


def test_create_user_asks_again_when_the_two_passwords_differ(run, auth):
    result = run("create-user", "zhangsan", "--unit", "青泥村", input="secret123\nsecret124\nsecret125\nsecret125\n")
    assert result.exit_code == 0, result.output
    auth.login("zhangsan", "secret125")


@pytest.mark.parametrize("unit_args, unit_name", [([], "青泥县"), (["--unit", "白石镇"], "白石镇")])
def test_an_admin_is_the_office_of_its_unit_or_of_the_root(run, unit_args, unit_name):
    result = run("create-user", "office2", "--role", "admin", "--password", "secret123", *unit_args)
    assert result.exit_code == 0, result.output
    with db.connection_context():
        user = User.by_username("office2")
        assert (user.role, user.unit.name) == ("admin", unit_name)


def test_unit_add_puts_a_unit_below_its_parent_and_unit_list_shows_the_tree(run):
    added = run("unit", "add", "--name", "松树村", "--kind", "village", "--parent", "白石镇")
    listing = run("unit", "list")

    assert added.exit_code == 0, added.output
    assert "    松树村（村）" in listing.output.splitlines()
    assert listing.output.splitlines()[0] == "青泥县（县（区））"
    assert "  白石镇（乡镇）" in listing.output.splitlines()


@pytest.mark.parametrize("args, message", [
    (["--name", "新村", "--kind", "village"], "--parent：请给出上级单位"),
    (["--name", "新村", "--kind", "village", "--parent", "无此镇"], "找不到单位「无此镇」"),
    (["--name", "青泥村", "--kind", "village", "--parent", "青泥镇"], "已有名为「青泥村」的单位"),
])
def test_unit_add_refuses_with_a_message(run, args, message):
    result = run("unit", "add", *args)
    assert result.exit_code != 0 and message in result.output


def test_password_is_stored_hashed(run):
    run("create-user", "zhangsan", "--unit", "青泥村", "--password", "secret123")
    with db.connection_context():
        user = User.by_username("zhangsan")
        assert "secret123" not in user.password_hash
        assert user.check_password("secret123")


@pytest.mark.parametrize("args, message", [
    (["zhangsan", "--unit", "不存在村"], "找不到单位「不存在村」"),
    (["zhangsan"], "找不到单位「」"),
    (["qingnicun", "--unit", "青泥村"], "用户名「qingnicun」已存在"),
    (["zhangsan", "--unit", "青泥村", "--password", "short"], "密码至少 8 位"),
], ids=["unknown-unit", "filler-without-unit", "taken-username", "short-password"])
def test_create_user_refuses_with_a_chinese_message(run, args, message):
    if "--password" not in args:
        args = [*args, "--password", "secret123"]
    with db.connection_context():
        before = User.select().count()
    result = run("create-user", *args)
    assert result.exit_code != 0
    assert message in result.output
    with db.connection_context():
        assert User.select().count() == before
