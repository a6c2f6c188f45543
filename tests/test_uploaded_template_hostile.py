"""An uploaded Word template made to get past the checks: Jinja where the
text checks do not look (CDATA, XML comments, attributes, a header part
not named header*.xml), content fetched from outside or run (external
relationships, an attached template, altChunk, OLE objects, macros), a
DOCTYPE, a zip bomb (of any part, of XML, of elements). Each is refused with its message, without rendering.

The expression used is `'x' * 30` (the attack used 300,000,000: 16 s and
4.5 GB per render): small, so a check that lets it through fails the test
without costing the machine.
"""
import io
import re
import zipfile

import pytest

from pbforms.documents.uploaded import check_template

from .test_uploaded_template import GOOD, SEED, word_file

EXPRESSION = "{{ 'x' * 30 }}"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def altered(template, **changes):
    """The template with some parts changed: name -> new bytes, or a function of the old text.
    Names are given with / as __ and . as _dot_ (word__hdr1_dot_xml)."""
    changes = {k.replace("__", "/").replace("_dot_", "."): v for k, v in changes.items()}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(template)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            change = changes.pop(info.filename, None)
            if callable(change):
                data = change(data.decode("utf-8")).encode("utf-8")
            elif change is not None:
                data = change
            dst.writestr(info.filename, data)
        for name, data in changes.items():
            dst.writestr(name, data)
    return out.getvalue()


def in_body(xml_fragment):
    """The good template with `xml_fragment` added at the end of its first paragraph."""
    return altered(word_file(GOOD), word__document_dot_xml=lambda xml: xml.replace("</w:p>", xml_fragment + "</w:p>", 1))


def with_relationship(rel_type, target, external=True, rels="word/_rels/document.xml.rels"):
    mode = ' TargetMode="External"' if external else ""
    rel = f'<Relationship Id="rIdX1" Type="{RELS}/{rel_type}" Target="{target}"{mode}/>'
    return altered(word_file(GOOD), **{rels.replace("/", "__").replace(".", "_dot_"):
                                       lambda xml: xml.replace("</Relationships>", rel + "</Relationships>")})


def header_named(name, text):
    """The good template with a header holding `text`, stored as word/`name` (Word calls them header1.xml)."""
    from docx import Document

    document = Document(io.BytesIO(word_file(GOOD)))
    document.sections[0].header.paragraphs[0].text = text
    out = io.BytesIO()
    document.save(out)
    renamed = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as src, zipfile.ZipFile(renamed, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith((".rels", ".xml")):
                data = re.sub(rb"header(\d*)\.xml", name.encode(), data)
            dst.writestr(re.sub(r"header\d*\.xml", name, info.filename), data)
    return renamed.getvalue()


def settings_with_attached_template():
    rels = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns='
            f'"http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
            f'Type="{RELS}/attachedTemplate" Target="file:///C:/Normal.dotm" TargetMode="External"/></Relationships>')
    return altered(word_file(GOOD), word___rels__settings_dot_xml_dot_rels=rels.encode())


BYPASSES = {
    "in CDATA": lambda: in_body(f"<w:r><w:t><![CDATA[{EXPRESSION}]]></w:t></w:r>"),
    "in an XML comment": lambda: in_body(f"<!-- {EXPRESSION} -->"),
    "in an attribute": lambda: altered(word_file(GOOD), word__document_dot_xml=lambda xml: xml.replace(
        "<w:p>", f'<w:p w:rsidR="{EXPRESSION}">', 1).replace("<w:p ", f'<w:p w:rsidRDefault="{EXPRESSION}" ', 1)),
    "in a header named hdr1.xml": lambda: header_named("hdr1.xml", EXPRESSION),
    "a filter in a comment": lambda: in_body("<!-- {{ reporter_name | upper }} -->"),
    "an attribute of a known name": lambda: in_body("<!-- {{ reporter_name.__class__ }} -->"),
    "an unknown name in a comment": lambda: in_body("<!-- {{ config }} -->"),
    "a statement in a comment": lambda: in_body("<!-- {% for i in range(9) %}{% endfor %} -->"),
    "an unclosed statement in a comment": lambda: in_body("<!-- {% if reporter_name %} -->"),
}


@pytest.mark.parametrize("make", BYPASSES.values(), ids=BYPASSES.keys())
def test_jinja_hidden_from_the_text_checks_is_refused(make):
    problems = check_template(make(), SEED)

    assert problems and all("占位符" in p for p in problems), problems


@pytest.mark.parametrize("where", ["in CDATA", "in an XML comment", "in an attribute"])
def test_the_message_shows_what_was_found(where):
    problems = check_template(BYPASSES[where](), SEED)

    assert any("「{{ 'x' * 30 }}」" in p and "模板（正文）" in p for p in problems), problems


def test_the_message_names_the_header_part():
    template = altered(header_named("hdr1.xml", "页眉"),
                       word__hdr1_dot_xml=lambda xml: xml.replace("</w:p>", f"<!-- {EXPRESSION} --></w:p>", 1))
    problems = check_template(template, SEED)

    assert any("模板（hdr1.xml）里有「{{ 'x' * 30 }}」" in p for p in problems), problems


def test_a_known_placeholder_in_a_header_not_named_header_xml_still_prints():
    """The header is rendered whatever its name: a label placeholder there is
    translated and filled (before, it was left for Jinja to call undefined)."""
    from pbforms.documents.uploaded import render_uploaded

    from .test_uploaded_template import META, demo_data

    template = header_named("hdr1.xml", "{{ 述职人姓名 }}的报告")
    assert check_template(template, SEED) == []
    data = demo_data() | {"reporter_name": "张三"}
    with zipfile.ZipFile(io.BytesIO(render_uploaded(template, SEED, data, META))) as package:
        assert "张三的报告" in package.read("word/hdr1.xml").decode("utf-8")


DOCTYPE_FONTS = ('<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE w:fonts [<!ENTITY a "aaaa">]>'
                 '<w:fonts xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>').encode()

REFUSED = {
    "an external image": (lambda: with_relationship("image", "http://127.0.0.1:9/ext-image.png"),
                          "模板引用了外部的文件或图片（http://127.0.0.1:9/ext-image.png）"),
    "an external frame": (lambda: with_relationship("frame", "file:///C:/x.docx"), "模板引用了外部的文件或图片"),
    "an attached template": (settings_with_attached_template, "附加了一个外部模板（attachedTemplate"),
    "altChunk": (lambda: altered(with_relationship("aFChunk", "afchunk.mht", external=False),
                                 word__afchunk_dot_mht=b"MIME-Version: 1.0"), "嵌入了其他格式的内容（altChunk）"),
    "an OLE object": (lambda: altered(with_relationship("oleObject", "embeddings/oleObject1.bin", external=False),
                                      word__embeddings__oleObject1_dot_bin=b"\xd0\xcf\x11\xe0"), "嵌入或链接了 OLE 对象"),
    "a linked OLE object": (lambda: with_relationship("oleObject", "file:///C:/book.xlsx"), "嵌入或链接了 OLE 对象"),
    "an embedded package": (lambda: altered(with_relationship("package", "embeddings/book.xlsx", external=False),
                                            word__embeddings__book_dot_xlsx=b"PK"), "嵌入了其他文件"),
    "vbaProject.bin": (lambda: altered(word_file(GOOD), word__vbaProject_dot_bin=b"\xd0\xcf\x11\xe0"), "含有宏（vbaProject.bin）"),
    "a macro relationship": (lambda: with_relationship("vbaProject", "vbaProject.bin", external=False), "含有宏"),
    "a DOCTYPE in fontTable.xml": (lambda: altered(word_file(GOOD), word__fontTable_dot_xml=DOCTYPE_FONTS),
                                   "模板中的 word/fontTable.xml 有 DOCTYPE 声明"),
    "a zip bomb": (lambda: altered(word_file(GOOD), word__media__image9_dot_png=bytes(100 << 20)), "文件解压后超过 60 MB"),
    "20 MB of XML": (lambda: altered(word_file(GOOD), customXml__item1_dot_xml=b"<a>" + b" " * (20 << 20) + b"</a>"),
                     "文件的文字和格式部分解压后超过 16 MB"),
    "500,000 elements": (lambda: altered(word_file(GOOD), customXml__item1_dot_xml=b"<a>" + b"<b/>" * 500_000 + b"</a>"),
                         "模板的标记超过 400,000 个"),
}


@pytest.mark.parametrize("make, message", REFUSED.values(), ids=REFUSED.keys())
def test_what_a_template_must_not_carry_is_refused_with_its_message(make, message):
    problems = check_template(make(), SEED)

    assert any(message in p for p in problems), problems


def test_an_external_hyperlink_is_accepted():
    assert check_template(with_relationship("hyperlink", "http://example.org/"), SEED) == []
