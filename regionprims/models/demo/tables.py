"""The demo scenes' tables: which slice of z each object reads (SLICES), the planted
interactions (INTERACTIONS) and what every number means (OBJECT_DOCS). Documentation and code at
once: the painters read their numbers from here."""
from __future__ import annotations

Z_DIM = 32
PRESENCE_SHARPNESS = 10.0

DEMO_CLASSES: tuple[str, ...] = ("face", "traffic", "garden", "shelf", "house", "checker")

# class -> object -> (start, stop) slice of z. Presence number first where the object has one.
SLICES: dict[str, dict[str, tuple[int, int]]] = {
    "face": {"head": (0, 4), "left_eye": (4, 9), "right_eye": (9, 14), "nose": (14, 18),
             "mouth": (18, 23)},
    "traffic": {"housing": (0, 3), "red_lamp": (3, 6), "amber_lamp": (6, 9),
                "green_lamp": (9, 12), "sign": (12, 16), "car": (16, 20), "pedestrian": (20, 23),
                "birds": (23, 26)},
    "garden": {"sun": (0, 3), "cloud": (3, 6), "balloon": (6, 9), "flower_left": (9, 13),
               "flower_mid": (13, 17), "flower_right": (17, 21), "rainbow": (21, 24),
               "butterflies": (24, 27)},
    "shelf": {"box": (0, 4), "jar": (4, 8), "ball": (8, 12), "books": (12, 16), "can": (16, 20),
              "vases": (20, 24), "bookend": (24, 27)},
    "house": {"body": (0, 3), "roof": (3, 6), "door": (6, 10), "window_left": (10, 14),
              "window_right": (14, 18), "chimney": (18, 21), "smoke": (21, 24), "hedges": (24, 27)},
    "checker": {**{f"tile_{r}{c}": (3 * (3 * r + c), 3 * (3 * r + c) + 3) for r in range(3) for c in range(3)},
                "domino": (27, 30), "dot": (30, 32)},
}

# Planted interactions: objects whose drawing ties several cells together (docs/demo_model_card.md; the model
# card scores whether a decomposition finds them). kind: "straddle" (one object across cells),
# "pair" (two items in different cells, one presence number: they appear only together) or
# "conditional" (drawn only when the named trigger object is present as well).
INTERACTIONS: dict[str, dict[str, tuple[str, str | None]]] = {
    "face": {},
    "traffic": {"pedestrian": ("conditional", "green_lamp"), "birds": ("pair", None)},
    "garden": {"rainbow": ("straddle", None), "butterflies": ("pair", None)},
    "shelf": {"vases": ("pair", None), "bookend": ("conditional", "books")},
    "house": {"smoke": ("conditional", "chimney"), "hedges": ("pair", None)},
    "checker": {"domino": ("straddle", None), "dot": ("conditional", "tile_00")},
}

# Human-readable meaning of each slice: (cells in the 3x3 grid as (row, col), attribute names).
OBJECT_DOCS: dict[str, dict[str, tuple[str, str]]] = {
    "face": {
        "head": ("all; skin ellipse with darker rim", "width, height, skin colour a, skin colour b (always present)"),
        "left_eye": ("3x3 (0,0); 6x6 (1,1)", "presence (> -1.2), size, iris colour a, iris colour b, gaze"),
        "right_eye": ("3x3 (0,2); 6x6 (1,4)", "presence (> -1.2), size, iris colour a, iris colour b, gaze"),
        "nose": ("3x3 (1,1); 6x6 (2..3,2..3)", "presence (> -1.2), length, width, shade"),
        "mouth": ("3x3 (2,1); 6x6 (4,2..3)", "presence (> -1.2), curvature (smile/frown), width, colour, thickness"),
    },
    "traffic": {
        "housing": ("3x3 column 1", "colour a, colour b, corner radius (always present)"),
        "red_lamp": ("3x3 (0,1)", "lit (> -0.6), hue, radius"),
        "amber_lamp": ("3x3 (1,1)", "lit (> -0.6), hue, radius"),
        "green_lamp": ("3x3 (2,1)", "lit (> -0.6), hue, radius"),
        "sign": ("3x3 (0,2)", "presence (> -0.6), colour a, colour b, size"),
        "car": ("3x3 (2,0)", "presence (> -0.6), colour a, colour b, length"),
        "pedestrian": ("3x3 (2,2); only while green_lamp is lit", "presence (> -0.6), colour, height"),
        "birds": ("3x3 (1,0) and (1,2), together", "presence (> -0.6), grey level, size"),
    },
    "garden": {
        "sun": ("3x3 (0,2)", "presence (> -0.6), colour, radius"),
        "cloud": ("3x3 (0,0)", "presence (> -0.6), grey level, width"),
        "balloon": ("3x3 (1,1)", "presence (> -0.6), colour a, colour b"),
        "flower_left": ("3x3 (2,0)", "presence (> -0.6), petal colour a, petal colour b, head radius"),
        "flower_mid": ("3x3 (2,1)", "presence (> -0.6), petal colour a, petal colour b, head radius"),
        "flower_right": ("3x3 (2,2)", "presence (> -0.6), petal colour a, petal colour b, head radius"),
        "rainbow": ("3x3 row 0: an arc across (0,0), (0,1), (0,2), behind sun and cloud",
                    "presence (> -0.6), brightness, band width"),
        "butterflies": ("3x3 (1,0) and (1,2), together", "presence (> -0.6), colour a, colour b"),
    },
    "shelf": {
        "box": ("3x3 (0,0)", "presence (> -0.6), colour a, colour b, size"),
        "jar": ("3x3 (0,2)", "presence (> -0.6), colour a, colour b, size"),
        "ball": ("3x3 (1,1)", "presence (> -0.6), colour a, colour b, size"),
        "books": ("3x3 (2,0)", "presence (> -0.6), colour a, colour b, height"),
        "can": ("3x3 (2,2)", "presence (> -0.6), colour a, colour b, size"),
        "vases": ("3x3 (1,0) and (1,2), together", "presence (> -0.6), colour a, colour b, height"),
        "bookend": ("3x3 (2,1); only when books are present", "presence (> -0.6), colour a, colour b"),
    },
    "house": {
        "body": ("3x3 rows 1..2 (behind windows and door)", "colour a, colour b, roof-line height (always present)"),
        "roof": ("3x3 row 0 and the top 5 px of row 1", "colour a, colour b, apex height (always present)"),
        "door": ("3x3 (2,1)", "presence (> -0.6), colour a, colour b, height"),
        "window_left": ("3x3 (1,0); 6x6 (3,1)", "presence (> -0.6), light colour, warmth, size"),
        "window_right": ("3x3 (1,2); 6x6 (3,4)", "presence (> -0.6), light colour, warmth, size"),
        "chimney": ("3x3 (0,2) (0.5 px into (0,1)), above the roof", "presence (> -0.6), height, colour"),
        "smoke": ("3x3 (0,1); only when the chimney is present", "presence (> -0.6), grey level, puff size"),
        "hedges": ("3x3 (2,0) and (2,2), together", "presence (> -0.6), colour a, colour b"),
    },
    "checker": {**{f"tile_{r}{c}": (f"3x3 ({r},{c})", "presence (> -0.6), colour a, colour b")
                   for r in range(3) for c in range(3)},
                "domino": ("3x3 (1,0) and (1,1): a bar across their border, over the tiles",
                           "presence (> -0.6), colour a, colour b"),
                "dot": ("3x3 (2,2), over tile_22; only when tile_00 is present", "presence (> -0.6), grey level")},
}
