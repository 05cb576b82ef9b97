"""The overview as one 16:9 PowerPoint slide: the title and the provenance caption as editable
text boxes, the panel (without its own title and caption) as a picture between them.
python-pptx (the `export` extra) is imported only when a slide is built."""
from __future__ import annotations

import io
from typing import Sequence

from torch import Tensor

from regionprims.errors import UserError
from regionprims.export.caption import provenance_caption, title_line
from regionprims.export.panels import SLIDE_INCHES, figure_bytes, overview_figure
from regionprims.method.decomposition import Decomposition
from regionprims.models.base import SplitGenerator


def panel_pptx(gen: SplitGenerator, dec: Decomposition, weights: Tensor | Sequence[float] | None = None,
               residual_weight: float = 1.0, top_k: int = 6, added: Tensor | None = None,
               note: str | None = None) -> bytes:
    """One 16:9 slide: the title and the provenance caption as editable text boxes, the panel
    (without its own title and caption) as a PNG picture between them. `added` and `note`: a
    transplant in the mix and its caption line (panels.overview_figure)."""
    try:
        from pptx import Presentation
        from pptx.enum.text import MSO_AUTO_SIZE
        from pptx.util import Emu, Inches, Pt
    except ImportError:
        raise UserError("PowerPoint export needs python-pptx: pip install 'regionprims[export]'") from None
    fig = overview_figure(gen, dec, weights, residual_weight, top_k, title=False, caption=False, added=added)
    fig_w, fig_h = fig.get_size_inches()
    png = figure_bytes(fig, "png", 200, dec, note)
    caption = provenance_caption(dec, width=10_000, transplant=note)

    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(SLIDE_INCHES[0]), Inches(SLIDE_INCHES[1])
    slide = prs.slides.add_slide(prs.slide_layouts[6])            # blank
    margin = Inches(0.3)
    box = slide.shapes.add_textbox(margin, Inches(0.12), prs.slide_width - 2 * margin, Inches(0.5))
    box.name = "Title"
    para = box.text_frame.paragraphs[0]
    para.text = title_line(dec)
    para.font.size, para.font.bold = Pt(18), True
    box.text_frame.word_wrap = True
    box.text_frame.auto_size = MSO_AUTO_SIZE.TEXT_TO_FIT_SHAPE     # a long class name shrinks, not spills

    cap_h = Inches(0.8)
    top, bottom = Inches(0.66), prs.slide_height - cap_h - Inches(0.08)
    avail_w, avail_h = prs.slide_width - 2 * margin, bottom - top
    scale = min(avail_w / Inches(fig_w), avail_h / Inches(fig_h))
    pic_w, pic_h = int(Inches(fig_w) * scale), int(Inches(fig_h) * scale)
    pic = slide.shapes.add_picture(io.BytesIO(png), Emu((prs.slide_width - pic_w) // 2), Emu(top), pic_w, pic_h)
    pic.name = "Overview panel"

    cap = slide.shapes.add_textbox(margin, bottom, prs.slide_width - 2 * margin, cap_h)
    cap.name = "Provenance"
    cap.text_frame.word_wrap = True
    cap.text_frame.auto_size = MSO_AUTO_SIZE.TEXT_TO_FIT_SHAPE
    for i, line in enumerate(caption.splitlines()):   # PowerPoint wraps
        p = cap.text_frame.paragraphs[0] if i == 0 else cap.text_frame.add_paragraph()
        p.text = line
        p.font.size = Pt(8)
    props = prs.core_properties
    props.title, props.subject = title_line(dec), "regionprims decomposition overview"
    props.comments = caption.replace("\n", " | ")[:255]   # the core property's limit
    buf = io.BytesIO()
    prs.save(buf)
    return buf.getvalue()
