"""nbgitpuller's links (/git-pull) on a hub, into visible folders of the work folder only.

nbgitpuller joins a link's targetpath onto the work folder unchecked: a link
with an absolute path, `..` or a hidden folder (~/.ipython/profile_default/startup)
would put someone else's files where the next kernel runs them. This server
extension serves nbgitpuller's own pages and API, after refusing such a link
with a clear message, before anything is written. jupyter_server_config.py
loads it in place of nbgitpuller's own, and only on a hub: a laptop's
`docker compose up` serves no /git-pull at all.
"""

import os
from pathlib import PurePosixPath

from tornado import web

REFUSED = ("This link would copy files {where} ({target}). Nothing was copied. "
           "Ask your instructor for a corrected link.")


def refusal(target: str, work_folder: str) -> str | None:
    """Why a link's target folder is refused, or None when it is a visible folder inside the work folder."""
    if not target.strip("/"):
        where = "into no folder of its own"
    elif os.path.isabs(target) or target.startswith("~") or ".." in PurePosixPath(target).parts:
        where = "outside your work folder"
    elif any(part.startswith(".") for part in target.split("/") if part):
        where = "into a hidden folder"
    else:
        inside = os.path.realpath(os.path.join(work_folder, target))
        root = os.path.realpath(work_folder)
        # A folder of the work folder that is a link to somewhere else.
        where = None if os.path.commonpath([inside, root]) == root else "outside your work folder"
    return REFUSED.format(where=where, target=target) if where else None


def _load_jupyter_server_extension(serverapp):
    if "JUPYTERHUB_SERVICE_URL" not in os.environ:
        return
    import nbgitpuller
    from jupyter_server.utils import url_path_join
    from nbgitpuller._compat import get_base_handler

    get_base_handler(serverapp)  # nbgitpuller picks its handlers' base class from the server first
    from nbgitpuller.handlers import SyncHandler, UIHandler

    def work_folder(handler) -> str:
        return os.path.join(os.path.expanduser(handler.settings["server_root_dir"]),
                            os.getenv("NBGITPULLER_PARENTPATH", ""))

    def checked(handler, target: str) -> None:
        reason = refusal(target, work_folder(handler))
        if reason:
            handler.log.warning("nbgitpuller link refused: targetpath=%r", target)
            raise web.HTTPError(400, reason)

    class CheckedUIHandler(UIHandler):
        @web.authenticated
        async def get(self):
            # The folder as nbgitpuller's page works it out, and the one its API call will use.
            repo = self.get_argument("repo")
            checked(self, self.get_argument("targetpath", None) or
                    self.get_argument("targetPath", repo.rstrip("/").split("/")[-1]))
            await super().get()

    class CheckedSyncHandler(SyncHandler):
        @web.authenticated
        async def get(self):
            repo = self.get_argument("repo")
            checked(self, self.get_argument("targetpath", repo.split("/")[-1]))
            await super().get()

    web_app = serverapp.web_app
    base = url_path_join(web_app.settings["base_url"], "git-pull")
    static = os.path.join(os.path.dirname(nbgitpuller.__file__), "static")
    web_app.settings["nbapp"] = serverapp  # nbgitpuller's handlers read the server from here
    web_app.add_handlers(".*", [
        (url_path_join(base, "api"), CheckedSyncHandler),
        (base, CheckedUIHandler),
        (url_path_join(base, "static", "(.*)"), web.StaticFileHandler, {"path": static}),
    ])


def _jupyter_server_extension_points():
    return [{"module": "course_pull"}]
