"""Docker HEALTHCHECK: healthy once the Jupyter server answers its API."""

import os
import sys
import urllib.request

port = os.environ.get("JUPYTER_PORT", "8888")
prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")
try:
    # /api answers without a token and costs the server almost nothing.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{prefix}api", timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError as error:
    sys.exit(f"Jupyter is not answering: {error}")
