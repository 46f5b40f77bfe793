"""The streaming probe (``sigterm_probe``) with a slow process exit after its work is done.

A real driver's JVM runs shutdown hooks (Spark's, Hadoop's file systems) after the
job's ``main`` returns, so its process, the YARN application, outlives the moment the
launcher releases the driver lease. The delay here makes that window wide enough that
a ``stop()`` which returned on the lease alone would be caught with the driver alive.
"""

import atexit
import time

from tests.aws_emr.sigterm_probe import main

EXIT_SECONDS = 3.0

if __name__ == "__main__":
    atexit.register(lambda: time.sleep(EXIT_SECONDS))
    main()
