"""Run the explorer on an UNTRAINED demo net (same architecture) when the bundled demo weights
are not in the checkout yet: `python serve_untrained.py WEIGHTS.safetensors [streamlit flags]`.
Used only by the browser tests' fixture; the explorer itself never does this."""
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from regionprims.models.demo import generator as demo  # noqa: E402
from regionprims.models.demo.network import DemoNet  # noqa: E402

path = Path(sys.argv[1])
torch.manual_seed(0)
save_file({k: v.contiguous() for k, v in DemoNet().eval().state_dict().items()}, str(path))
demo.WEIGHTS_PATH = path

from streamlit.web import cli  # noqa: E402

sys.argv = ["streamlit", "run", str(Path(__file__).resolve().parents[2] / "app.py"), *sys.argv[2:]]
sys.exit(cli.main())
