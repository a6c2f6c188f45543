"""An office's own Word template on the 报告类型 page: refused with its
problems beside the form, or stored as the type's next version and used for
the documents of reports following that version."""
import io

from docx import Document

from pbforms.documents.official import starter_template
from pbforms.documents.uploaded import check_template
from pbforms.models import Report, ReportTypeRecord, TypeVersion

from .fillpage import docx_paragraphs, one, parse, report_of
from .test_access import header_token

MARKER = "本模板由青泥镇党建办提供"


def village_type():
    return ReportTypeRecord.by_builtin("village_report")


def upload(client, record, raw, filename="模板.docx"):
    token = header_token(client.get(f"/township/types/{record.id}").text)
    return client.post(f"/township/types/{record.id}/template",
                       data={"csrf_token": token, "template": (io.BytesIO(raw), filename)},
                       content_type="multipart/form-data")


def office_template(record, change=None):
    """The starter template as a clerk edits it in Word: a line of their own added."""
    doc = Document(io.BytesIO(starter_template(record.newest())))
    doc.paragraphs[0].insert_paragraph_before(MARKER)
    if change:
        change(doc)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def errors_shown(page):
    return [" ".join(li.text_content().split()) for li in parse(page).xpath('//*[@id="template-errors"]//li')]


def test_the_page_offers_the_starter_template_and_the_upload(client, auth):
    auth.county()  # the built-in types are the county's
    record = village_type()
    page = client.get(f"/township/types/{record.id}").text
    section = one(parse(page), '//section[@id="type-template"]')
    assert "由系统按本类型的项目生成" in section.text_content()
    one(section, './/input[@type="file"][@name="template"]')
    response = client.get(f"/township/types/{record.id}/starter.docx")
    assert response.status_code == 200
    assert check_template(response.data, record.newest()) == []


def test_an_accepted_template_is_the_next_version_and_prints_the_documents(client, auth):
    auth.county()  # the built-in types are the county's
    record = village_type()
    before = record.newest_version()
    template = office_template(record)
    response = upload(client, record, template)
    assert response.status_code == 303
    newest = record.newest_version()
    assert newest.number == before.number + 1 and newest.definition == before.definition
    assert bytes(newest.template) == template
    assert "本单位上传的 Word 模板" in client.get(f"/township/types/{record.id}").text

    report = report_of("河西村")
    assert MARKER not in docx_paragraphs(client.get(f"/reports/{report.id}/docx").data)
    Report.update(type_version=newest.id).where(Report.id == report.id).execute()
    paragraphs = docx_paragraphs(client.get(f"/reports/{report.id}/docx").data)
    assert paragraphs[0] == MARKER
    assert "2022年度河西村党支部书记" in paragraphs


def split_placeholder(doc):
    p = doc.add_paragraph()
    p.add_run("{{ 述职人")
    p.add_run("姓名 }}").bold = True


def test_a_template_with_problems_is_refused_beside_the_form(client, auth):
    auth.county()  # the built-in types are the county's
    record = village_type()
    before = record.newest_version().number
    response = upload(client, record, office_template(record, split_placeholder))
    assert response.status_code == 422
    assert any("占位符「{{ 述职人姓名 }}」被 Word 的格式拆成了几段" in e for e in errors_shown(response.text))
    response = upload(client, record, b"not a word file", "报告.doc")
    assert response.status_code == 422
    assert any("文件不是 Word 文档（.docx）" in e for e in errors_shown(response.text))
    assert record.newest_version().number == before


def test_going_back_to_the_generated_format(client, auth):
    auth.county()  # the built-in types are the county's
    record = village_type()
    assert upload(client, record, office_template(record)).status_code == 303
    token = header_token(client.get(f"/township/types/{record.id}").text)
    response = client.post(f"/township/types/{record.id}/template/remove", data={"csrf_token": token})
    assert response.status_code == 303
    newest = TypeVersion.get_by_id(record.newest_version().id)
    assert not newest.template
    assert "由系统按本类型的项目生成" in client.get(f"/township/types/{record.id}").text
