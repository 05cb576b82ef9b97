"""The build-up as a looping GIF: one frame per k, the composite of the k strongest components
next to x, labelled with k and the PSNR on the players."""
from __future__ import annotations

import io

from regionprims.errors import UserError
from regionprims.export.caption import title_line
from regionprims.export.panels import context
from regionprims.method.buildup import buildup
from regionprims.method.decomposition import Decomposition
from regionprims.method.render import to_rgb
from regionprims.models.base import SplitGenerator
from regionprims.pictures import font as pil_font


def buildup_gif(gen: SplitGenerator, dec: Decomposition, k_max: int = 20, frame_ms: int = 500, scale: int = 4,
                with_residual: bool = False) -> bytes:
    """A looping GIF of the build-up (buildup.buildup): one frame per k = 0..k_max (capped at the
    number of components), each the composite of the k strongest components next to x, labelled
    with k and the PSNR on the players. The last frame is held three times as long."""
    from PIL import Image, ImageDraw

    if not 0 <= int(k_max) <= 4096:
        raise UserError(f"k-max must be between 0 and 4096, got {k_max}")
    if not 20 <= int(frame_ms) <= 10_000:
        raise UserError(f"frame duration must be between 20 and 10000 ms, got {frame_ms}")
    if not 1 <= int(scale) <= 32:
        raise UserError(f"scale must be between 1 and 32, got {scale}")
    ctx = context(gen, dec)
    build = buildup(gen, ctx, dec, int(k_max), with_residual=with_residual)
    height, width = dec.image.shape[-2:]
    side_w, side_h = width * int(scale), height * int(scale)
    font, small = pil_font(15), pil_font(12)
    gap, pad, head, foot = 12, 8, 28, 22
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    titles = [f"k = {k}, PSNR on players {p:.1f} dB" for k, p in zip(build.ks, build.player_psnr)]
    names = ["baseline f0" if k == 0 else f"f0 + top {k}" for k in build.ks]
    names = [n + " + r" for n in names] if with_residual else names
    col = int(max(side_w + 2, max(probe.textlength(n, font=small) for n in names + ["x"]) + 8))
    title_w = max(probe.textlength(t, font=font) for t in titles)
    canvas_w = int(max(2 * col + gap, title_w) + 2 * pad)
    canvas_h = head + side_h + 2 + foot + pad // 2
    lefts = [(canvas_w - (2 * col + gap)) // 2 + i * (col + gap) for i in range(2)]
    x_img = Image.fromarray(to_rgb(dec.image)).resize((side_w, side_h), Image.Resampling.NEAREST)
    frames = []
    for title, name, img in zip(titles, names, build.images):
        frame = Image.new("RGB", (canvas_w, canvas_h), "white")
        draw = ImageDraw.Draw(frame)
        draw.text((canvas_w // 2, head // 2), title, fill="black", font=font, anchor="mm")
        shown = Image.fromarray(to_rgb(img)).resize((side_w, side_h), Image.Resampling.NEAREST)
        for left, picture, label in zip(lefts, (shown, x_img), (name, "x")):
            x0 = left + (col - side_w) // 2
            draw.rectangle((x0 - 1, head - 1, x0 + side_w, head + side_h), outline=(150, 150, 150))
            frame.paste(picture, (x0, head))
            draw.text((left + col // 2, head + side_h + 1 + foot // 2), label, fill=(60, 60, 60), font=small,
                      anchor="mm")
        frames.append(frame.convert("P", palette=Image.Palette.ADAPTIVE, colors=255))
    durations = [int(frame_ms)] * len(frames)
    durations[-1] = 3 * int(frame_ms)
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0,
                   disposal=1, optimize=False, comment=title_line(dec).encode("utf-8", "replace")[:250])
    return buf.getvalue()
