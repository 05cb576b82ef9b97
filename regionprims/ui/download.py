"""The sidebar's weights panel: a released model whose weights are not on this machine yet gets a
Download button; the download runs as a background job (jobs.submit_download) with a progress bar
in bytes and a Cancel button, and the model is usable once it finishes."""
from __future__ import annotations

import streamlit as st

from regionprims import jobs
from regionprims.models import registry
from regionprims.ui import resources, state

POLL_SECONDS = 0.5
_SEEN = "download_seen"             # (job key, finish time) of the last finished download handled


def _mb(n: int) -> str:
    return f"{n / 2 ** 20:.0f} MB"


def panel(model: str) -> None:
    """Shown under the model choice when its weights are missing."""
    key = jobs.download_key(model)
    job = jobs.registry().get(key)
    if job is not None and job.active:
        _progress(key)
        return
    if job is not None and job.state == jobs.DONE and st.session_state.get(_SEEN) != (key, job.finished):
        st.session_state[_SEEN] = (key, job.finished)     # once per finished download:
        resources.models.clear()                          # the model list is read again
        st.rerun()
    if job is not None and job.state == jobs.ERROR:
        st.error(job.error)
    elif job is not None and job.state == jobs.CANCELLED:
        st.info("The download was cancelled; downloading again starts from the beginning.")
    st.caption(f":orange[The weights of {model} are not on this machine yet.] "
               + registry.how_to_get_weights(model) + ".")
    if registry.downloadable(model):
        st.button("Download weights", key="download", icon=":material/download:", on_click=jobs.submit_download,
                  args=(model, state.owner()), width="stretch",
                  help="From the Hugging Face Hub (pinned revision, sha256 checked), else the package's URLs.")


@st.fragment(run_every=POLL_SECONDS)
def _progress(key: str) -> None:
    job = jobs.registry().get(key)
    if job is None or not job.active:
        resources.models.clear()            # weights_present has changed
        st.rerun()
        return
    if job.state != jobs.RUNNING:
        text = "queued (another job is running)"
    elif job.total > 1:
        text = f"{job.message}: {_mb(job.done)} of {_mb(job.total)}"
    else:
        text = job.message
    st.progress(job.fraction, text=text)
    st.button("Cancel download", key="cancel_download", icon=":material/stop:",
              on_click=jobs.registry().cancel, args=(key, state.owner()))
