"""What prints is exactly what was typed: every character of a report's
.docx is in the PDF LibreOffice lays out from it (the preview, the PDF
download, the 汇编), in order, and the sign-off never stands alone on a page.

The texts are built so punctuation falls at every place around a line's
end (a body line holds 28 characters, the first line of a paragraph 26
after its indent), where a layout that hangs punctuation into the margin
may lose it. Each document holds many such paragraphs, so a few
conversions cover them all.
"""
import io
import re
import zipfile

from pbforms import exports
from pbforms.documents import pdf as preview
from pbforms.documents import render, report_docx
from pbforms.documents.official import starter_template
from pbforms.documents.uploaded import uploaded_document
from pbforms.models import Round, Unit, User
from tests.fillpage import docx_paragraphs, report_of
from tests.test_print import every_report_filled, township_report, volume_docx, when_converted
from tests.test_township import complete
from tests.test_uploaded_template import META, SEED, demo_data

FOOTER = re.compile(r"^\s*—\s*\d+\s*—\s*$")
FILLER = "全面加强基层组织建设推进乡村振兴抓治理抓服务强化党员教育管理夯实战斗堡垒作用巩固拓展脱贫攻坚成果"
PUNCTUATION = "。，、；："
# Where the punctuation falls: around the end of the first line (26
# characters after the indent) and of the second (28 more), half-width
# digits shifting it by half a character in the variants with a year.
POSITIONS = [*range(24, 30), *range(51, 57)]


def paragraph(length, mark, year=False):
    """A paragraph whose `length`-th character is `mark`."""
    start = "2022年" if year else ""
    text = (start + FILLER * 3)[:length - 1] + mark
    return text + "后续文字在此继续，直到段落结束。"


def varied_paragraphs():
    return [paragraph(n, mark, year) for mark in PUNCTUATION for n in POSITIONS for year in (False, True)]


def page_texts(pdf_bytes, tmp_path):
    path = tmp_path / "printed.pdf"
    path.write_bytes(pdf_bytes)
    return preview.pdf_text_pages(path)


def squeezed(text):
    return re.sub(r"\s+", "", text)


def body_text(page):
    """A page's text without its page number."""
    return squeezed("".join(line for line in page.splitlines() if not FOOTER.match(line)))


def printed(pdf_bytes, tmp_path):
    return "".join(body_text(page) for page in page_texts(pdf_bytes, tmp_path))


def typed(docx_bytes):
    return squeezed("".join(docx_paragraphs(docx_bytes)))


def first_difference(a, b):
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"at {at}: document …{a[max(0, at - 15):at + 15]}… printed …{b[max(0, at - 15):at + 15]}…"


def assert_prints_every_character(docx, pdf, tmp_path):
    document, on_paper = typed(docx), printed(pdf, tmp_path)
    assert on_paper == document, first_difference(document, on_paper)


def village_with_texts(name, paragraphs):
    """The unit's report complete, its opening holding `paragraphs`."""
    report = report_of(name)
    complete(report, User.get(User.unit == report.unit))
    report = report_of(name)
    report.save_data({**report.data, "intro": "\n".join(paragraphs)}, None, report.version)
    return report_of(name)


# --- every character prints -----------------------------------------------------

def test_the_seed_reports_pdf_download_and_preview_print_every_character(client, auth, tmp_path, libreoffice):
    auth.login("qingnizhen")
    report = township_report()

    when_converted(client, f"/reports/{report.id}/preview")  # converts, and keeps the PDF the download sends
    pdf = client.get(f"/reports/{report.id}/pdf")

    assert pdf.mimetype == "application/pdf"
    assert_prints_every_character(report_docx(report), pdf.data, tmp_path)


def test_punctuation_at_every_place_around_a_lines_end_prints(app, tmp_path, libreoffice):
    docx = report_docx(village_with_texts("青泥村", varied_paragraphs()))
    assert_prints_every_character(docx, preview.docx_to_pdf(docx), tmp_path)


def test_the_volume_pdf_prints_every_character_of_every_report(app, tmp_path, libreoffice):
    reports = every_report_filled(Round.get())
    village_with_texts("柳湾村", varied_paragraphs()[::2])
    reports = [report_of(r.unit.name) for r in reports]
    volume, _ = volume_docx(app, tmp_path)
    pages = page_texts(preview.docx_to_pdf(volume), tmp_path)

    first_report = next(i for i, page in enumerate(pages)
                        if i > 2 and body_text(page).startswith(squeezed(reports[0].report_type.title_lines(
                            reports[0].meta)[0])))
    on_paper = "".join(body_text(page) for page in pages[first_report:])
    document = "".join(typed(report_docx(report)) for report in reports)
    assert on_paper == document, first_difference(document, on_paper)


# --- the sign-off never stands alone -------------------------------------------------

def one_line_paragraphs(count):
    """Paragraphs of one printed line each (26 characters after the indent)."""
    return [FILLER[n % 10:n % 10 + 25] + "。" for n in range(count)]


def assert_sign_off_keeps_with_its_text(pages, name, date, reports):
    """Every page ending a report ends with its name and date, and holds text before them."""
    endings = [body_text(page) for page in pages if body_text(page).endswith(date)]
    assert len(endings) == reports
    for text in endings:
        assert text.endswith(name + date), text[-40:]
        assert len(text) > len(name + date), "a page holding only the sign-off"
    assert not any(body_text(page).endswith(name) for page in pages)


def test_the_seed_reports_sign_off_keeps_with_its_text(app, tmp_path, libreoffice):
    pages = page_texts(preview.docx_to_pdf(report_docx(township_report())), tmp_path)
    assert_sign_off_keeps_with_its_text(pages, "王建华", "2023年1月6日", 1)


def test_no_sign_off_stands_alone_whatever_the_texts_length(app, tmp_path, libreoffice):
    """22 reports whose texts are 0 … 21 lines longer than the first's: one
    of them ends at every line of a page, in single reports' layout (each
    report of the 汇编 starts a page of its own)."""
    round_ = Round.get()
    reports = []
    for n in range(22):
        unit = Unit.create(name=f"测试村{n:02d}", kind="village", secretary_title="党支部书记", position=100 + n)
        round_.include(unit)
        report = report_of(unit.name)
        data = report.report_type.model_data(report.meta)
        data.update({f.key: 1 for f in report.report_type.counts})
        data.update({"reporter_name": "张三", "written_on": "2023-01-06"})
        data["intro"] = "\n".join([data["intro"], *one_line_paragraphs(n)])
        report.save_data(data, None, report.version)
        reports.append(report_of(unit.name))
    path = tmp_path / "汇编.pdf"

    exports.write_volume(round_, reports, path, pdf=True)

    assert_sign_off_keeps_with_its_text(page_texts(path.read_bytes(), tmp_path), "张三", "2023年1月6日", 22)


def official_settings_without_overflow_punctuation():
    """An office's template with the official layout, as Word saves it:
    the starter template, filled in Word, without the w:overflowPunct
    that is Word's default (and that starters made before it lacked)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(starter_template(SEED))) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "word/styles.xml":
                data = re.sub(rb"<w:overflowPunct[^>]*/>", b"", data)
            dst.writestr(info, data)
    return out.getvalue()


def test_a_report_in_an_offices_own_template_prints_every_character(app, tmp_path, libreoffice):
    data = {**demo_data(), "intro": "\n".join(varied_paragraphs()[::3])}
    docx = render(*uploaded_document(official_settings_without_overflow_punctuation(), SEED, data, META))
    assert_prints_every_character(docx, preview.docx_to_pdf(docx), tmp_path)
