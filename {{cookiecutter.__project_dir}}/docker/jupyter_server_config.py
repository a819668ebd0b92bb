"""Jupyter Server settings for the course image (also read by JupyterLab and Notebook 7)."""

import os

c = get_config()  # noqa: F821 - provided by Jupyter when it loads this file

port = int(os.environ.get("JUPYTER_PORT", "8888"))

# Listen on every interface inside the container; compose.yaml publishes the
# port on the host's 127.0.0.1 only.
c.ServerApp.ip = "0.0.0.0"
c.ServerApp.port = port
# A busy port must fail loudly: another port would not be published.
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
# The page it would write lives inside the container: useless to the student.
c.ServerApp.no_browser_open_file = True
c.ServerApp.root_dir = os.path.expanduser("~/work")
# The address inside the container is not the one to open: print the host's.
# The token is added to it (JUPYTER_TOKEN, or a random one when that is empty).
c.ServerApp.custom_display_url = f"http://127.0.0.1:{port}"
