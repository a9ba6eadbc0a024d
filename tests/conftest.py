import os

os.environ["CERTNN_OFFLINE"] = "1"  # tests never download

# One BLAS thread: the suite's products are small, and a busy 2-core machine
# makes multi-threaded OpenBLAS orders of magnitude slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(limits=1, user_api="blas")
