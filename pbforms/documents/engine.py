"""Rendering a docxtpl template, with what depends only on the template done once.

docxtpl, on every render, loads the whole package with python-docx (parsing
every XML part), turns the body, headers and footers into Jinja source
(`patch_xml`: merging the runs a tag was split over, `{%p %}` handling),
compiles that source, renders it, and saves the package again, re-serialising
and re-compressing every part. Only the rendered parts change from one
report to the next. So, once per template (`prepare`), the package is loaded,
each part docxtpl renders is pre-processed with docxtpl's own functions and
compiled, every part it does not render is saved the way python-docx saves
it and compressed; then a render (`render`) runs the compiled Jinja
templates, finishes their output exactly as docxtpl does (its
`resolve_listing`, `fix_tables`, `fix_docpr_ids`, python-docx's parser and
serialiser) and writes the .docx by copying the other parts' compressed
bytes as they are. The parts are equal, byte for byte, to what docxtpl
writes (tests/test_documents.py compares them).

The Jinja environment is sandboxed, autoescaping and refuses undefined
names: a template (the office may upload its own) is code, and text typed
by a user is data, never evaluated.
"""
import copy
import io
import re
import struct
import threading
import zipfile
import zlib
from collections import OrderedDict
from types import SimpleNamespace

from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.coreprops import CoreProperties
from docx.opc.oxml import serialize_part_xml
from docx.oxml.parser import parse_xml
from docxtpl import DocxTemplate
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

ENV = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
# The core properties docxtpl renders as templates (DocxTemplate.render_properties).
PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")
JINJA_SYNTAX = re.compile(r"\{\{|\{%|\{#")
CACHED_TEMPLATES = 32
# Zip entries: 1980-01-01 00:00, so the same report always gives the same bytes.
DOS_TIME, DOS_DATE = 0, (0 << 9) | (1 << 5) | 1


# --- docxtpl's steps, shared with DocxTemplate -----------------------------------

def jinja_source(patched_xml):
    """What DocxTemplate.render_xml_part hands Jinja: a line per paragraph."""
    return re.sub(r"<w:p([ >])", r"\n<w:p\1", patched_xml)


def finish(rendered):
    """DocxTemplate.render_xml_part after Jinja: the same steps, in order."""
    xml = re.sub(r"\n<w:p([ >])", r"<w:p\1", rendered)
    xml = xml.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%").replace("%_}", "%}")
    return DocxTemplate.resolve_listing(None, xml)


class Static:
    """A part written as it is: its bytes and their compressed form, made once."""

    __slots__ = ("name", "data", "crc", "compressed")

    def __init__(self, name, data):
        self.name, self.data = name, data
        self.crc = zlib.crc32(data)
        self.compressed = deflate(data)

    def render(self, context):
        return self.data


class Body:
    """word/document.xml: the body rendered, the rest of the part as loaded."""

    def __init__(self, name, template, shell):
        self.name, self.template, self.shell = name, template, shell

    def body(self, context):
        """The rendered <w:body> element, as docxtpl puts it into the document."""
        tree = DocxTemplate.fix_tables(None, finish(self.template.render(context)))
        DocxTemplate.fix_docpr_ids(SimpleNamespace(docx_ids_index=1000), tree)
        return tree

    def render(self, context):
        root = parse_xml(self.shell)
        root.replace(root.body, self.body(context))
        return serialize_part_xml(root)


class HeaderFooter:
    """A header or footer holding template tags: rendered and re-read as
    DocxTemplate.map_headers_footers_xml does (XmlPart.load, then saved)."""

    def __init__(self, name, template, encoding):
        self.name, self.template, self.encoding = name, template, encoding

    def render(self, context):
        return serialize_part_xml(parse_xml(finish(self.template.render(context)).encode(self.encoding)))


class Footnotes:
    """Footnotes holding template tags: docxtpl stores the rendered text as the part's bytes."""

    def __init__(self, name, template):
        self.name, self.template = name, template

    def render(self, context):
        return finish(self.template.render(context)).encode("utf-8")


class Core:
    """docProps/core.xml when a property holds template tags (DocxTemplate.render_properties)."""

    def __init__(self, name, xml, templates):
        self.name, self.xml, self.templates = name, xml, templates

    def render(self, context):
        element = parse_xml(self.xml)
        properties = CoreProperties(element)
        for prop, template in self.templates:
            setattr(properties, prop, template.render(context))
        return serialize_part_xml(element)


class Prepared:
    """A template ready to render: its parts in the order python-docx writes them."""

    def __init__(self, template_bytes):
        tpl = DocxTemplate(io.BytesIO(template_bytes))
        tpl.render_init()
        doc = tpl.docx
        dynamic = {}
        # (part name, Jinja source) of everything rendered: what an uploaded template's check reads.
        self.sources = []

        def compiled(name, source):
            self.sources.append((name, source))
            return ENV.from_string(source)

        # The body: its Jinja source compiled; the part's root kept as XML
        # with an empty body, for each render's body to go into.
        name = doc.part.partname.membername
        shell = copy.deepcopy(doc.element)
        for child in list(shell.body):
            shell.body.remove(child)
        dynamic[name] = Body(name, compiled(name, jinja_source(tpl.patch_xml(tpl.get_xml()))),
                             serialize_part_xml(shell))

        # Headers and footers: those without tags are rendered now, once.
        for uri in (tpl.HEADER_URI, tpl.FOOTER_URI):
            for rel_key, part in list(tpl.get_headers_footers(uri)):
                xml = tpl.get_part_xml(part)
                encoding = tpl.get_headers_footers_encoding(xml)
                source = jinja_source(tpl.patch_xml(xml))
                part_name = part.partname.membername
                if JINJA_SYNTAX.search(source):
                    dynamic[part_name] = HeaderFooter(part_name, compiled(part_name, source), encoding)
                else:
                    tpl.map_headers_footers_xml(rel_key, finish(ENV.from_string(source).render()).encode(encoding))

        # Core properties.
        core = doc.core_properties
        if any(JINJA_SYNTAX.search(getattr(core, prop) or "") for prop in PROPERTIES):
            part = doc.part.package._core_properties_part
            dynamic[part.partname.membername] = Core(
                part.partname.membername, serialize_part_xml(part._element),
                [(prop, compiled(f"{part.partname.membername}#{prop}", getattr(core, prop))) for prop in PROPERTIES])
        else:
            tpl.render_properties({}, ENV)

        # Footnotes.
        for part in doc.part.package.parts:
            if part.content_type == CT.WML_FOOTNOTES:
                source = jinja_source(tpl.patch_xml(part.blob.decode("utf-8")))
                if JINJA_SYNTAX.search(source):
                    dynamic[part.partname.membername] = Footnotes(part.partname.membername,
                                                                  compiled(part.partname.membername, source))
                else:
                    part._blob = finish(ENV.from_string(source).render()).encode("utf-8")

        # Every other part as python-docx saves it, in its order.
        saved = io.BytesIO()
        doc.save(saved)
        with zipfile.ZipFile(saved) as package:
            self.parts = [dynamic.get(info.filename) or Static(info.filename, package.read(info.filename))
                          for info in package.infolist()]

    def render_body(self, context):
        """The rendered <w:body> element alone (paragraphs, tables, the final w:sectPr)."""
        return next(part for part in self.parts if isinstance(part, Body)).body(context)

    def render_parts(self, context):
        """{part name: bytes} of the rendered document, in package order."""
        return {part.name: part.render(context) for part in self.parts}

    def render(self, context):
        """The .docx as bytes."""
        out = ZipOut()
        rendered = [(part, None if isinstance(part, Static) else part.render(context)) for part in self.parts]
        for part, data in rendered:
            if data is None:
                out.add_compressed(part.name, part.compressed, part.crc, len(part.data))
            else:
                out.add(part.name, data)
        return out.close()


# --- the zip, written directly ------------------------------------------------------

def deflate(data):
    """Raw deflate, as zipfile writes ZIP_DEFLATED entries."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


class ZipOut:
    """A zip of deflated entries in memory. Entries already compressed are
    copied as they are: the reason this exists rather than zipfile, which
    has no public way to write compressed bytes without compressing again."""

    def __init__(self):
        self.chunks, self.central, self.offset = [], [], 0

    def add(self, name, data):
        self.add_compressed(name, deflate(data), zlib.crc32(data), len(data))

    def add_compressed(self, name, compressed, crc, size):
        encoded = name.encode("ascii")
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, DOS_TIME, DOS_DATE,
                             crc, len(compressed), size, len(encoded), 0)
        self.central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, DOS_TIME, DOS_DATE,
                                        crc, len(compressed), size, len(encoded), 0, 0, 0, 0, 0o644 << 16,
                                        self.offset) + encoded)
        self.chunks += [header, encoded, compressed]
        self.offset += len(header) + len(encoded) + len(compressed)

    def close(self):
        directory = b"".join(self.central)
        end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(self.central), len(self.central),
                          len(directory), self.offset, 0)
        return b"".join(self.chunks) + directory + end


# --- the cache of prepared templates ---------------------------------------------------

_prepared = OrderedDict()
_lock = threading.Lock()


def prepared(template_bytes):
    """The Prepared form of a template, made once (the most recent few are kept)."""
    with _lock:
        found = _prepared.get(template_bytes)
        if found is not None:
            _prepared.move_to_end(template_bytes)
            return found
    found = Prepared(template_bytes)
    with _lock:
        _prepared[template_bytes] = found
        while len(_prepared) > CACHED_TEMPLATES:
            _prepared.popitem(last=False)
    return found


def render(template_bytes, context):
    return prepared(template_bytes).render(context)


def render_parts(template_bytes, context):
    return prepared(template_bytes).render_parts(context)


def render_body(template_bytes, context):
    return prepared(template_bytes).render_body(context)
