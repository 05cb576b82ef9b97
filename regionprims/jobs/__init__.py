"""Background jobs for the explorer (no Streamlit in here): ORCHESTRATION, like `pipeline`.

job     one job: state, progress, owners, the time it has left
worker  the registry: a queue with one worker thread, its bounds, results kept in memory; the
        process-wide registries (`registry()` for decompositions and downloads, `study_registry()`)
submit  what runs as a job: decompositions (and `lookup` of finished ones), downloads, studies

May import `method`, `models`, `store`, `pipeline`, `study` and the core modules; never a front
end. The names below are its public face (the explorer and the tests use them as `jobs.X`).
"""
from regionprims.jobs.job import ACTIVE, CANCELLED, DONE, ERROR, QUEUED, RUNNING, Job, JobFn
from regionprims.jobs.submit import (download_key, lookup, result_cache, submit_decomposition, submit_download,
                                     submit_study)
from regionprims.jobs.worker import (KEEP_RECORD_SECONDS, MAX_ACTIVE, RESULT_BYTES, WATCH_SECONDS, Busy,
                                     JobRegistry, registry, reset_registry, result_nbytes, study_registry)

__all__ = ["ACTIVE", "CANCELLED", "DONE", "ERROR", "KEEP_RECORD_SECONDS", "MAX_ACTIVE", "QUEUED", "RESULT_BYTES",
           "RUNNING", "WATCH_SECONDS", "Busy", "Job", "JobFn", "JobRegistry", "download_key", "lookup",
           "registry", "reset_registry", "result_cache", "result_nbytes", "study_registry", "submit_decomposition",
           "submit_download", "submit_study"]
