"""GB/T 9704-2012 (党政机关公文格式) layout rules for generated .docx files.

A port of every rule of the team's shared checker (shared/tools/
check_official_format.py). It lives here because the project must be testable
on its own: clones of this repository have no ../shared, and tests must not
reach outside the repository. It reads XML only (no rendering) and resolves
effective run/paragraph properties the way Word does: run -> paragraph style
(basedOn chain) -> document defaults. Keep it in step with the shared checker.

    format_problems(docx_bytes) -> ["rule name [detail]", ...]  # [] = passes
"""
import io
import re
import zipfile

from docx import Document
from docx.oxml.ns import qn

TWIPS_PER_MM = 1440 / 25.4
HEADING_FONTS = [  # (start of paragraph, eastAsia font must contain one of)
    (re.compile(r"^[一二三四五六七八九十]+、"), ("黑体", "SimHei")),
    (re.compile(r"^（[一二三四五六七八九十]+）"), ("楷体", "KaiTi")),
]
TEMPLATE_LEFTOVER = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")


class _Resolver:
    """Effective properties through run, paragraph style chain and docDefaults."""

    def __init__(self, doc):
        self.styles = {s.style_id: s.element for s in doc.styles}
        defaults = doc.styles.element.find(qn("w:docDefaults"))
        self.default_rpr = defaults.find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}") if defaults is not None else None
        self.default_ppr = defaults.find(f"{qn('w:pPrDefault')}/{qn('w:pPr')}") if defaults is not None else None
        self.default_style = next((s.element for s in doc.styles if s.element.get(qn("w:default")) == "1"
                                   and s.element.get(qn("w:type")) == "paragraph"), None)

    def _chain(self, style):
        chain = []
        while style is not None and all(style is not s for s in chain):
            chain.append(style)
            based = style.find(qn("w:basedOn"))
            style = self.styles.get(based.get(qn("w:val"))) if based is not None else None
        return chain

    def _para_style(self, p):
        ps = p._p.pPr.find(qn("w:pStyle")) if p._p.pPr is not None else None
        return self.styles.get(ps.get(qn("w:val"))) if ps is not None else self.default_style

    def _layers(self, p, r, kind):
        layers = []
        if kind == "w:rPr" and r is not None and r._r.rPr is not None:
            layers.append(r._r.rPr)
            rs = r._r.rPr.find(qn("w:rStyle"))
            if rs is not None and rs.get(qn("w:val")) in self.styles:
                layers += [s.find(qn(kind)) for s in self._chain(self.styles[rs.get(qn("w:val"))])]
        if kind == "w:pPr":
            layers.append(p._p.pPr)
        layers += [s.find(qn(kind)) for s in self._chain(self._para_style(p))]
        layers.append(self.default_rpr if kind == "w:rPr" else self.default_ppr)
        return [layer for layer in layers if layer is not None]

    def _first(self, p, r, kind, tag, attr):
        for layer in self._layers(p, r, kind):
            el = layer.find(qn(tag))
            if el is not None and el.get(qn(attr)):
                return el.get(qn(attr))
        return None

    def size_pt(self, p, r=None):
        sz = self._first(p, r, "w:rPr", "w:sz", "w:val")
        return int(sz) / 2 if sz else 10.0

    def east_asia(self, p, r=None):
        return self._first(p, r, "w:rPr", "w:rFonts", "w:eastAsia")

    def letter_spacing_pt(self, p, r=None):
        sp = self._first(p, r, "w:rPr", "w:spacing", "w:val")
        return int(sp) / 20 if sp else 0.0

    def ppr(self, p, tag, attr):
        return self._first(p, None, "w:pPr", tag, attr)


def _text_runs(p):
    return [r for r in p.runs if r.text.strip()]


def format_problems(docx_bytes):
    """Names (with details) of the GB/T 9704 rules the document fails."""
    problems = []

    def rule(name, ok, detail=""):
        if not ok:
            problems.append(f"{name} [{detail}]" if detail else name)

    doc = Document(io.BytesIO(docx_bytes))
    res = _Resolver(doc)
    sect = doc.sections[0]._sectPr
    pg, mar, grid = sect.find(qn("w:pgSz")), sect.find(qn("w:pgMar")), sect.find(qn("w:docGrid"))
    W, H = int(pg.get(qn("w:w"))), int(pg.get(qn("w:h")))
    m = {k: int(mar.get(qn("w:" + k))) for k in ("top", "bottom", "left", "right")}
    rule("paper A4 (11906x16838 twips)", abs(W - 11906) <= 3 and abs(H - 16838) <= 3, f"{W}x{H}")
    rule("top margin 37±1 mm", abs(m["top"] / TWIPS_PER_MM - 37) <= 1, f"{m['top'] / TWIPS_PER_MM:.1f} mm")
    rule("left margin 28±1 mm", abs(m["left"] / TWIPS_PER_MM - 28) <= 1, f"{m['left'] / TWIPS_PER_MM:.1f} mm")
    bw, bh = (W - m["left"] - m["right"]) / TWIPS_PER_MM, (H - m["top"] - m["bottom"]) / TWIPS_PER_MM
    rule("text block 156x225±1 mm", abs(bw - 156) <= 1 and abs(bh - 225) <= 1, f"{bw:.1f}x{bh:.1f} mm")

    paras = [p for p in doc.paragraphs if p.text.strip()]
    rule("document has text", len(paras) >= 3, f"{len(paras)} non-empty paragraphs")
    if not paras:
        return problems
    title, body = paras[0], [p for p in paras[1:] if len(p.text.strip()) >= 40]  # body = running prose
    body_runs = [(p, r) for p in body for r in _text_runs(p)]

    # Line pitch: exact line spacing on body paragraphs, else the document grid.
    grid_type = grid.get(qn("w:type")) if grid is not None else None
    pitches = set()
    for p in body:
        line = res.ppr(p, "w:spacing", "w:line")
        if res.ppr(p, "w:spacing", "w:lineRule") == "exact" and line:
            pitches.add(int(line))
        elif grid_type in ("lines", "linesAndChars", "snapToChars"):
            pitches.add(int(grid.get(qn("w:linePitch"))))
        else:
            pitches.add(None)
    lines = {pt: ((H - m["top"] - m["bottom"]) // pt if pt else None) for pt in pitches}
    rule("22 lines per page", lines and all(n == 22 for n in lines.values()), f"pitch twips -> lines: {lines}")

    sizes = {res.size_pt(p, r) for p, r in body_runs}
    fonts = {res.east_asia(p, r) for p, r in body_runs}
    rule("body text 3号 (16 pt)", sizes == {16.0}, f"sizes {sorted(sizes)}")
    rule("body text 仿宋", fonts and all(f and ("仿宋" in f or "FangSong" in f) for f in fonts),
         f"eastAsia {sorted(map(str, fonts))}")

    width_pt = (W - m["left"] - m["right"]) / 20
    char_space = int(grid.get(qn("w:charSpace")) or 0) if grid_type in ("linesAndChars", "snapToChars") else 0
    per_line = {int(width_pt // (res.size_pt(p, r) + char_space / 4096 + res.letter_spacing_pt(p, r)))
                for p, r in body_runs}
    rule("28 characters per line", per_line == {28}, f"chars/line {sorted(per_line)}")

    indents = set()
    for p in body:
        chars, tw = res.ppr(p, "w:ind", "w:firstLineChars"), res.ppr(p, "w:ind", "w:firstLine")
        indents.add("2ch" if chars == "200" or (tw and abs(int(tw) - 640) <= 20) else f"{chars}/{tw}")
    rule("body paragraphs indented two characters", indents == {"2ch"}, f"{sorted(indents)}")

    t_size = {res.size_pt(title, r) for r in _text_runs(title)}
    t_font = {res.east_asia(title, r) for r in _text_runs(title)}
    t_jc = res.ppr(title, "w:jc", "w:val")
    rule("title 2号 (22 pt) 小标宋, centred",
         t_size == {22.0} and all(f and "小标宋" in f for f in t_font) and t_jc == "center",
         f"'{title.text[:20]}' {sorted(t_size)} {sorted(map(str, t_font))} jc={t_jc}")

    bad = []
    for p in paras[1:]:
        for pattern, wanted in HEADING_FONTS:
            if pattern.match(p.text.strip()):
                runs = _text_runs(p)
                font = res.east_asia(p, runs[0]) if runs else None
                if not font or not any(w in font for w in wanted):
                    bad.append(f"{p.text.strip()[:8]}:{font}")
    rule("heading fonts (一、 黑体; （一） 楷体)", not bad, "; ".join(bad[:4]))

    settings = zipfile.ZipFile(io.BytesIO(docx_bytes)).read("word/settings.xml").decode("utf8")
    rule("odd and even page footers", "evenAndOddHeaders" in settings
         and 'w:val="0"' not in settings.split("evenAndOddHeaders")[1][:20])
    refs = {ref.get(qn("w:type")): ref.get(qn("r:id")) for ref in sect.findall(qn("w:footerReference"))}
    ok, details = True, []
    for kind, want_jc in (("default", "right"), ("even", "left")):
        rid = refs.get(kind)
        xml = doc.part.rels[rid].target_part.blob.decode("utf8") if rid in doc.part.rels else None
        if not xml:
            ok = False
            details.append(f"{kind}: missing")
            continue
        has_page, dashes = re.search(r"\bPAGE\b", xml) is not None, xml.count("—") >= 2
        jc = re.search(r'<w:jc w:val="(\w+)"', xml)
        jc = jc.group(1) if jc else None
        ok = ok and has_page and dashes and jc == want_jc
        details.append(f"{kind}: PAGE={has_page} dashes={dashes} jc={jc}")
    rule("page numbers '— N —', odd right, even left", ok, "; ".join(details))

    all_text = "\n".join([p.text for p in doc.paragraphs]
                         + [c.text for t in doc.tables for row in t.rows for c in row.cells])
    left = TEMPLATE_LEFTOVER.findall(all_text)
    rule("no template syntax left in the text", not left, f"{left[:5]}")
    dates = re.findall(r"\d{4}年\d{1,2}月\d{1,2}日", all_text)
    rule("dates without zero padding (2023年1月6日)", all(not re.search(r"年0|月0", d) for d in dates),
         f"{dates[:3]}")
    return problems
