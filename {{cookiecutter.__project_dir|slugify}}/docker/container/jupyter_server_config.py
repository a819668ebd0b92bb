"""Jupyter Server settings for the course image (also read by JupyterLab and Notebook 7)."""

import os
import secrets

c = get_config()  # noqa: F821 - provided by Jupyter when it loads this file

c.ServerApp.open_browser = False
# Extensions come with the image: no PyPI search or install button in the
# browser (the environment is not the student's to change, and this is one
# less thing loaded at start).
c.LabApp.extension_manager = "readonly"
# No language servers are installed: without this, every start would look for
# nineteen of them. JupyterLab's side is off too (docker/container/jupyterlab-page-config.json);
# code hints come from the kernel.
c.ServerApp.jpserver_extensions.update({"jupyter_lsp": False})
# The student's own folder: everything created in Jupyter is saved there. The
# course's notebooks appear in it as course/, read-only (compose.yaml).
c.ServerApp.root_dir = os.path.expanduser("~/work")
# Saves that a crash cannot cut, and at start what an interrupted save of an
# older image left behind brought back (docker/container/course_saving.py).
c.ServerApp.contents_manager_class = "course_saving.CourseContentsManager"
c.ServerApp.jpserver_extensions.update({"course_saving": True})
# "Course environment" in JupyterLab's launcher and Notebook's New menu: the
# page the image build wrote about what is installed (docker/build/course_inventory.py),
# served when opened, from this container only, behind Jupyter's token.
c.ServerProxy.servers = {
    "course-environment": {
        "command": ["python", "-m", "http.server", "--bind", "127.0.0.1", "--directory",
                    "/opt/course/inventory", "{port}"],
        "launcher_entry": {"title": "Course environment"},
        "new_browser_tab": True,
        "timeout": 20,
    },
}
# Terminals run bash as it is, not as a login shell: Debian's /etc/profile
# would reset PATH and `python` in a terminal would miss the course's packages.
c.ServerApp.terminado_settings = {"shell_command": ["/bin/bash"]}
{% if cookiecutter.jupyterhub %}
# nbgitpuller's links serve a hub's students only, and only into a visible
# folder of the work folder (docker/container/course_pull.py checks them first).
c.ServerApp.jpserver_extensions.update({"nbgitpuller": False, "course_pull": True})
{% endif %}
{% if cookiecutter.desktop %}
# "Desktop" in the launcher and the New menu opens the page at /desktop/, which
# the course_desktop extension serves (and which says why when the desktop
# cannot start). The page's connection starts the desktop: its VNC side is a
# unix socket that Jupyter makes, in a folder only this user can open, and
# proxies at /desktop-websockify/ behind the token (docker/container/course_desktop.py).
c.ServerProxy.servers["desktop-websockify"] = {
    "command": ["python", "-m", "course_desktop", "{unix_socket}"],
    "unix_socket": True,
    "raw_socket_proxy": True,
    "timeout": 30,
    "launcher_entry": {"title": "Desktop", "path_info": "desktop"},
    "new_browser_tab": True,
}
c.ServerApp.jpserver_extensions.update({"course_desktop": True})
{% endif %}


# docker/container/start-course.sh runs Jupyter as uid 0, without capabilities, only on a
# rootless engine (and says so in COURSE_ROOTLESS_ENGINE): there the student's
# files must be written by uid 0 to be theirs on the host. Anywhere else Jupyter
# still refuses to run as root.
c.ServerApp.allow_root = os.geteuid() == 0 and os.environ.get("COURSE_ROOTLESS_ENGINE") == "1"

# Started by `docker compose up` (or `docker run`). A hub or a launcher such
# as repo2docker sets its own address and port, so those are left to them.
if "JUPYTERHUB_SERVICE_URL" not in os.environ:
    port = int(os.environ.get("JUPYTER_PORT", "8888"))
    # Listen on every interface inside the container; compose.yaml publishes
    # the port on the host's 127.0.0.1 only.
    c.ServerApp.ip = "0.0.0.0"
    c.ServerApp.port = port
    # A busy port must fail loudly: another port would not be published.
    c.ServerApp.port_retries = 0
    # The address inside the container is not the one to open: print the
    # host's. The token is added to it.
    c.ServerApp.custom_display_url = f"http://127.0.0.1:{port}"
    # JUPYTER_TOKEN (.env), else a new random one at every start. Chosen here
    # rather than by Jupyter, which would print a generated one in a long
    # banner with addresses that do not work outside the container.
    c.IdentityProvider.token = os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(24)
    # The student's terminal shows the link in a short block of the course's
    # own (docker/container/course_banner.py); Jupyter's start-up log (extensions
    # loaded, language servers skipped) stays below warning level, while its
    # warnings and errors still show.
    c.Application.log_level = "WARN"
    c.ServerApp.jpserver_extensions.update({"course_banner": True})
